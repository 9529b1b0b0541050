package kv

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Reads run on the caller's goroutine against the latest committed state;
// they see every transaction whose done function has been called with nil.
// A missing record is ErrNotFound (the bare sentinel: misses are common and
// cost no allocation). Returned records are the caller's to keep.

// get reads one key and passes its value to decode.
func (s *Store) get(key []byte, decode func(v []byte) error) (err error) {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	defer s.recoverFatal(&err)
	v, closer, err := s.dbFor(key).Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("kv: read: %w", err)
	}
	defer closer.Close()
	return decode(v)
}

// iterate opens an iterator for fn and closes it afterwards.
func (s *Store) iterate(o *pebble.IterOptions, fn func(it *pebble.Iterator) error) (err error) {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	defer s.recoverFatal(&err)
	it, err := s.dbFor(o.LowerBound).NewIter(o)
	if err != nil {
		return fmt.Errorf("kv: read: %w", err)
	}
	err = fn(it)
	if ierr := it.Error(); err == nil && ierr != nil {
		err = fmt.Errorf("kv: read: %w", ierr)
	}
	if cerr := it.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("kv: read: %w", cerr)
	}
	return err
}

// scan calls fn for each key in [lower, upper), in key order or in reverse,
// until fn returns false or an error. The key and value passed to fn are
// valid only during the call.
func (s *Store) scan(lower, upper []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	return s.iterate(&pebble.IterOptions{LowerBound: lower, UpperBound: upper}, func(it *pebble.Iterator) error {
		var ok bool
		if reverse {
			ok = it.Last()
		} else {
			ok = it.First()
		}
		for ; ok; ok = step(it, reverse) {
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("kv: read: %w", err)
			}
			more, err := fn(it.Key(), v)
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
}

func step(it *pebble.Iterator, reverse bool) bool {
	if reverse {
		return it.Prev()
	}
	return it.Next()
}

// scanPrefix scans every key that starts with prefix, in order.
func (s *Store) scanPrefix(prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return s.scan(prefix, prefixEnd(prefix), false, fn)
}

// Account returns the account with the given casefolded name.
func (s *Store) Account(name string) (Account, error) {
	var a Account
	err := s.get(key1(nil, tagAccount, name), func(v []byte) (err error) {
		a, err = decodeAccount(name, v)
		return err
	})
	return a, err
}

// ScanAccounts calls fn for every account in name order until fn returns
// false. fn must not call Close.
func (s *Store) ScanAccounts(fn func(Account) bool) error {
	prefix := []byte{tagAccount}
	return s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
		a, err := decodeAccount(string(k[1:]), v)
		if err != nil {
			return false, err
		}
		return fn(a), nil
	})
}

// SuspendedAccounts returns the accounts that are suspended.
func (s *Store) SuspendedAccounts() ([]Account, error) {
	var names []string
	err := s.scanPrefix([]byte{tagSuspended}, func(k, _ []byte) (bool, error) {
		names = append(names, string(k[1:]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	list := make([]Account, 0, len(names))
	for _, name := range names {
		a, err := s.Account(name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, nil
}

// Nick returns the reservation of a casefolded nick.
func (s *Store) Nick(nick string) (NickRecord, error) {
	var n NickRecord
	err := s.get(key1(nil, tagNick, nick), func(v []byte) (err error) {
		n, err = decodeNick(nick, v)
		return err
	})
	return n, err
}

// NickOwner returns the casefolded account that has reserved a casefolded
// nick, or ErrNotFound.
func (s *Store) NickOwner(nick string) (string, error) {
	n, err := s.Nick(nick)
	return n.Account, err
}

// AccountNicks returns the nicks reserved for an account, in order.
func (s *Store) AccountNicks(account string) ([]string, error) {
	prefix := prefix2(nil, tagAccountNick, account)
	var nicks []string
	err := s.scanPrefix(prefix, func(k, _ []byte) (bool, error) {
		nicks = append(nicks, string(k[len(prefix):]))
		return true, nil
	})
	return nicks, err
}

// Channel returns the registered channel with the given casefolded name.
func (s *Store) Channel(name string) (Channel, error) {
	var c Channel
	err := s.get(key1(nil, tagChannel, name), func(v []byte) (err error) {
		c, err = decodeChannel(name, v)
		return err
	})
	return c, err
}

// ScanChannels calls fn for every registered channel in name order until fn
// returns false (chat loads them at startup this way). fn must not call
// Close.
func (s *Store) ScanChannels(fn func(Channel) bool) error {
	return s.scanPrefix([]byte{tagChannel}, func(k, v []byte) (bool, error) {
		c, err := decodeChannel(string(k[1:]), v)
		if err != nil {
			return false, err
		}
		return fn(c), nil
	})
}

// Access returns a channel's access list, ordered by account.
func (s *Store) Access(channel string) ([]Access, error) {
	prefix := prefix2(nil, tagAccess, channel)
	var list []Access
	err := s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
		a, err := decodeAccess(channel, string(k[len(prefix):]), v)
		list = append(list, a)
		return err == nil, err
	})
	return list, err
}

// AccessOf returns one account's access entry on a channel.
func (s *Store) AccessOf(channel, account string) (Access, error) {
	var a Access
	err := s.get(key2(nil, tagAccess, channel, account), func(v []byte) (err error) {
		a, err = decodeAccess(channel, account, v)
		return err
	})
	return a, err
}

// AccountAccess returns every access entry an account holds, ordered by
// channel.
func (s *Store) AccountAccess(account string) ([]Access, error) {
	prefix := prefix2(nil, tagAccountAccess, account)
	var channels []string
	err := s.scanPrefix(prefix, func(k, _ []byte) (bool, error) {
		channels = append(channels, string(k[len(prefix):]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	list := make([]Access, 0, len(channels))
	for _, ch := range channels {
		a, err := s.AccessOf(ch, account)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, nil
}

// Bans returns every server ban, expired ones included (see Ban.Expired),
// ordered by kind and mask.
func (s *Store) Bans() ([]Ban, error) {
	var list []Ban
	err := s.scanPrefix([]byte{tagBan}, func(k, v []byte) (bool, error) {
		if len(k) < 3 {
			return false, fmt.Errorf("%w: ban key %q", ErrCorrupt, k)
		}
		b, err := decodeBan(BanKind(k[1]), string(k[2:]), v)
		list = append(list, b)
		return err == nil, err
	})
	return list, err
}

// Ban returns one server ban.
func (s *Store) Ban(kind BanKind, mask string) (Ban, error) {
	var b Ban
	err := s.get(banKey(nil, kind, mask), func(v []byte) (err error) {
		b, err = decodeBan(kind, mask, v)
		return err
	})
	return b, err
}

// Meta returns a metadata value.
func (s *Store) Meta(name string) ([]byte, error) {
	var val []byte
	err := s.get(key1(nil, tagMeta, name), func(v []byte) error {
		val = append([]byte{}, v...)
		return nil
	})
	return val, err
}

// ScanMeta calls fn for each metadata name that starts with prefix, in
// order, until fn returns false. value is valid only during the call. fn
// must not call Close.
func (s *Store) ScanMeta(prefix string, fn func(name string, value []byte) bool) error {
	p := key1(nil, tagMeta, prefix)
	return s.scanPrefix(p, func(k, v []byte) (bool, error) {
		return fn(string(k[1:]), v), nil
	})
}
