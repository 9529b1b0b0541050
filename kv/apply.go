package kv

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// This file is the writer goroutine's side of a transaction: checking its
// preconditions and applying its operations to the group's indexed batch.
// The indexed batch reads through to the database, so each transaction sees
// the effects of the transactions before it in the same group.

// checkConds checks t's preconditions. A failed precondition returns a
// *ConditionError; any other error means the view could not be read.
func checkConds(view *pebble.Batch, t *Txn) error {
	for i := range t.conds {
		c := &t.conds[i]
		v, closer, err := view.Get(t.bytes(c.key))
		if errors.Is(err, pebble.ErrNotFound) {
			if c.kind != condAbsent {
				return &ConditionError{Kind: c.rk, Name: c.name, Err: ErrNotFound}
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("check %s %q: %w", c.rk, c.name, err)
		}
		var owner string
		var derr error
		if c.kind == condNickOwner {
			var n NickRecord
			n, derr = decodeNick(c.name, v)
			owner = n.Account
		}
		_ = closer.Close()
		switch {
		case c.kind == condAbsent:
			return &ConditionError{Kind: c.rk, Name: c.name, Err: ErrExists}
		case derr != nil:
			return derr
		case c.kind == condNickOwner && owner != c.acct:
			return &ConditionError{Kind: c.rk, Name: c.name, Err: ErrConflict}
		}
	}
	return nil
}

// applyOps applies t's operations to view, in order. An error leaves view
// partly changed; the caller then abandons the whole group.
func applyOps(view *pebble.Batch, t *Txn) error {
	for i := range t.ops {
		o := &t.ops[i]
		var err error
		switch o.kind {
		case opSet:
			err = view.Set(t.bytes(o.key), t.bytes(o.val), nil)
		case opDelete:
			err = view.Delete(t.bytes(o.key), nil)
		case opDeleteRange:
			err = view.DeleteRange(t.bytes(o.key), t.bytes(o.val), nil)
		case opPutNick:
			err = putNick(view, t.bytes(o.key), t.bytes(o.val), o.a, o.b)
		case opDeleteNick:
			err = deleteNick(view, o.a, "")
		case opDeleteAccount:
			err = deleteAccount(view, o.a)
		case opDeleteChannel:
			err = deleteChannel(view, o.a)
		case opDeleteHistory:
			err = deleteHistoryMsg(view, o.a, o.b)
		default:
			err = fmt.Errorf("kv: unknown operation %d", o.kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// getView reads a key from the view; found is false if it is absent. The
// returned value is a copy.
func getView(view *pebble.Batch, key []byte) (val []byte, found bool, err error) {
	v, closer, err := view.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	val = append([]byte(nil), v...)
	return val, true, closer.Close()
}

// keysWithPrefix lists the keys under prefix as the view sees them now.
func keysWithPrefix(view *pebble.Batch, prefix []byte) ([][]byte, error) {
	it, err := view.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	return keys, errors.Join(it.Error(), it.Close())
}

func putNick(view *pebble.Batch, key, val []byte, nick, account string) error {
	// A nick that changes owner must leave the old owner's index.
	if err := deleteNick(view, nick, account); err != nil {
		return err
	}
	if err := view.Set(key, val, nil); err != nil {
		return err
	}
	return view.Set(key2(nil, tagAccountNick, account, nick), nil, nil)
}

// deleteNick deletes a nick and its reverse index entry, unless the nick is
// owned by keepFor (then both stay).
func deleteNick(view *pebble.Batch, nick, keepFor string) error {
	key := key1(nil, tagNick, nick)
	v, found, err := getView(view, key)
	if err != nil || !found {
		return err
	}
	n, derr := decodeNick(nick, v)
	if derr == nil && n.Account == keepFor {
		return nil
	}
	if err := view.Delete(key, nil); err != nil {
		return err
	}
	if derr != nil {
		// Undecodable: the reverse entry cannot be found from here; the
		// account's deletion still removes it (see deleteAccount).
		return nil
	}
	return view.Delete(key2(nil, tagAccountNick, n.Account, nick), nil)
}

func deleteAccount(view *pebble.Batch, name string) error {
	if err := view.Delete(key1(nil, tagAccount, name), nil); err != nil {
		return err
	}
	if err := view.Delete(key1(nil, tagSuspended, name), nil); err != nil {
		return err
	}
	prefix := prefix2(nil, tagAccountNick, name)
	keys, err := keysWithPrefix(view, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		nick := string(k[len(prefix):])
		// The nick record is deleted only if it still names this account.
		nk := key1(nil, tagNick, nick)
		v, found, err := getView(view, nk)
		if err != nil {
			return err
		}
		if found {
			if n, derr := decodeNick(nick, v); derr != nil || n.Account == name {
				if err := view.Delete(nk, nil); err != nil {
					return err
				}
			}
		}
		if err := view.Delete(k, nil); err != nil {
			return err
		}
	}
	prefix = prefix2(nil, tagAccountAccess, name)
	if keys, err = keysWithPrefix(view, prefix); err != nil {
		return err
	}
	for _, k := range keys {
		channel := string(k[len(prefix):])
		if err := view.Delete(key2(nil, tagAccess, channel, name), nil); err != nil {
			return err
		}
		if err := view.Delete(k, nil); err != nil {
			return err
		}
	}
	return nil
}

func deleteChannel(view *pebble.Batch, name string) error {
	if err := view.Delete(key1(nil, tagChannel, name), nil); err != nil {
		return err
	}
	prefix := prefix2(nil, tagAccess, name)
	keys, err := keysWithPrefix(view, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		account := string(k[len(prefix):])
		if err := view.Delete(key2(nil, tagAccountAccess, account, name), nil); err != nil {
			return err
		}
		if err := view.Delete(k, nil); err != nil {
			return err
		}
	}
	return nil
}

func deleteHistoryMsg(view *pebble.Batch, target, msgid string) error {
	ik := key2(nil, tagMsgID, target, msgid)
	v, found, err := getView(view, ik)
	if err != nil || !found {
		return err
	}
	if len(v) == timeSeqLen {
		hk := append(prefix2(nil, tagHistory, target), v...)
		if err := view.Delete(hk, nil); err != nil {
			return err
		}
	}
	return view.Delete(ik, nil)
}
