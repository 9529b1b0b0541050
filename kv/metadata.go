package kv

import (
	"fmt"
)

// User and channel metadata (draft/metadata-2), stored for accounts and
// registered channels:
//
//	M 'a' account 0 key    MetadataEntry
//	M 'c' channel 0 key    MetadataEntry
//
// Options.MetadataMaxKeys bounds the keys of one owner and
// Options.MetadataMaxValueBytes the size of a value; both are refused with
// a *LimitError. (The generic "m" family, PutMeta, is something else: the
// server's own opaque values.)

const metadataV1 = 1

// MetadataOwner is whose metadata: an account's or a registered channel's.
type MetadataOwner struct {
	kind byte // 'a' or 'c'
	name string
}

// AccountMetadata is the metadata of a casefolded account.
func AccountMetadata(account string) MetadataOwner { return MetadataOwner{'a', account} }

// ChannelMetadata is the metadata of a casefolded registered channel.
func ChannelMetadata(channel string) MetadataOwner { return MetadataOwner{'c', channel} }

func (o MetadataOwner) prefix() []byte {
	return append(append([]byte{tagMetadata, o.kind}, o.name...), 0)
}

func (o MetadataOwner) check() error {
	if o.kind != 'a' && o.kind != 'c' {
		return fmt.Errorf("%w: zero MetadataOwner", ErrInvalid)
	}
	return checkName("metadata owner", o.name)
}

// MetadataEntry is one key of an owner's metadata.
type MetadataEntry struct {
	Key        string
	Value      string
	Visibility string // "*" for everyone, or chat's visibility level
}

func (m *MetadataEntry) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(metadataV1)
	e.str(m.Value)
	e.str(m.Visibility)
	return e.b
}

func decodeMetadata(key string, v []byte) (MetadataEntry, error) {
	d := newDecoder(v)
	d.version("metadata", metadataV1)
	m := MetadataEntry{Key: key}
	m.Value = d.str()
	m.Visibility = d.str()
	return m, d.finish("metadata")
}

// CheckMetadataKey reports whether key is a valid metadata key name:
// non-empty, at most 256 bytes of a-z, 0-9 and "_./-" (draft/metadata-2).
func CheckMetadataKey(key string) error {
	if key == "" || len(key) > 256 {
		return fmt.Errorf("%w: metadata key of %d bytes", ErrInvalid, len(key))
	}
	for i := range len(key) {
		c := key[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '/' && c != '-' {
			return fmt.Errorf("%w: metadata key %q has %q", ErrInvalid, key, c)
		}
	}
	return nil
}

// SetMetadata sets one key of an owner's metadata. A key that is not valid
// (CheckMetadataKey) is ErrInvalid and a value longer than
// Options.MetadataMaxValueBytes a *LimitError (LimitMetadataValue), both
// returned by Commit. At commit time, a new key for an owner that already
// has Options.MetadataMaxKeys keys fails the transaction with a *LimitError
// (LimitMetadataKeys); replacing a key's value always fits.
func (t *Txn) SetMetadata(owner MetadataOwner, e MetadataEntry) {
	if !t.ok() {
		return
	}
	if err := owner.check(); err != nil {
		t.setErr(err)
		return
	}
	if err := CheckMetadataKey(e.Key); err != nil {
		t.setErr(err)
		return
	}
	if max := t.s.opts.MetadataMaxValueBytes; len(e.Value) > max {
		t.setErr(&LimitError{Limit: LimitMetadataValue, Name: e.Key, Max: max})
		return
	}
	key := append(owner.prefix(), e.Key...)
	max := t.s.opts.MetadataMaxKeys
	t.check(func(vw *views) error {
		if _, found, err := vw.get(key); err != nil || found {
			return err
		}
		n := 0
		p := owner.prefix()
		err := vw.scan(p, prefixEnd(p), func(_, _ []byte) (bool, error) {
			n++
			return n < max, nil
		})
		if err == nil && n >= max {
			err = &LimitError{Limit: LimitMetadataKeys, Name: owner.name, Max: max}
		}
		return err
	})
	k := t.mark(func(b []byte) []byte { return append(b, key...) })
	t.set(k, t.mark(e.appendValue))
}

// DeleteMetadata deletes one key of an owner's metadata (no-op if unset).
func (t *Txn) DeleteMetadata(owner MetadataOwner, key string) {
	if !t.ok() {
		return
	}
	if err := owner.check(); err != nil {
		t.setErr(err)
		return
	}
	if err := checkName("metadata key", key); err != nil {
		t.setErr(err)
		return
	}
	t.deleteKey(append(owner.prefix(), key...))
}

// ClearMetadata deletes all of an owner's metadata (METADATA CLEAR).
func (t *Txn) ClearMetadata(owner MetadataOwner) {
	if !t.ok() {
		return
	}
	if err := owner.check(); err != nil {
		t.setErr(err)
		return
	}
	p := owner.prefix()
	t.deleteRange(p, prefixEnd(p))
}

// Metadata returns all of an owner's metadata, ordered by key.
func (s *Store) Metadata(owner MetadataOwner) ([]MetadataEntry, error) {
	if err := owner.check(); err != nil {
		return nil, err
	}
	p := owner.prefix()
	var list []MetadataEntry
	err := s.scanPrefix(p, func(k, v []byte) (bool, error) {
		m, err := decodeMetadata(string(k[len(p):]), v)
		list = append(list, m)
		return err == nil, err
	})
	return list, err
}

// MetadataValue returns one key of an owner's metadata, or ErrNotFound.
func (s *Store) MetadataValue(owner MetadataOwner, key string) (MetadataEntry, error) {
	if err := owner.check(); err != nil {
		return MetadataEntry{}, err
	}
	var m MetadataEntry
	err := s.get(append(owner.prefix(), key...), func(v []byte) (err error) {
		m, err = decodeMetadata(key, v)
		return err
	})
	return m, err
}
