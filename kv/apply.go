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
// *ConditionError or a *LimitError; any other error means the views could
// not be read.
func checkConds(vw *views, t *Txn) error {
	for i := range t.conds {
		c := &t.conds[i]
		if c.fn != nil {
			if err := c.fn(vw); err != nil {
				return err
			}
			continue
		}
		key := t.bytes(c.key)
		v, closer, err := vw.of(key).Get(key)
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

// applyOps applies t's operations to the views, in order. An error leaves
// them partly changed; the caller then abandons the whole group.
func applyOps(vw *views, t *Txn) error {
	for i := range t.ops {
		o := &t.ops[i]
		var err error
		switch o.kind {
		case opSet:
			err = vw.set(t.bytes(o.key), t.bytes(o.val))
		case opDelete:
			err = vw.del(t.bytes(o.key))
		case opDeleteRange:
			err = vw.delRange(t.bytes(o.key), t.bytes(o.val))
		case opPutNick:
			err = putNick(vw, t.bytes(o.key), t.bytes(o.val), o.a, o.b)
		case opDeleteNick:
			err = deleteNick(vw, o.a, "")
		case opDeleteAccount:
			err = deleteAccount(vw, o.a)
		case opDeleteChannel:
			err = deleteChannel(vw, o.a)
		case opDeleteHistory:
			err = deleteHistoryMsg(vw, o.a, o.b)
		case opFunc:
			err = o.fn(vw)
		default:
			err = fmt.Errorf("kv: unknown operation %d", o.kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func putNick(vw *views, key, val []byte, nick, account string) error {
	// A nick that changes owner must leave the old owner's index.
	if err := deleteNick(vw, nick, account); err != nil {
		return err
	}
	if err := vw.set(key, val); err != nil {
		return err
	}
	return vw.set(key2(nil, tagAccountNick, account, nick), nil)
}

// deleteNick deletes a nick and its reverse index entry, unless the nick is
// owned by keepFor (then both stay).
func deleteNick(vw *views, nick, keepFor string) error {
	key := key1(nil, tagNick, nick)
	v, found, err := vw.get(key)
	if err != nil || !found {
		return err
	}
	n, derr := decodeNick(nick, v)
	if derr == nil && n.Account == keepFor {
		return nil
	}
	if err := vw.del(key); err != nil {
		return err
	}
	if derr != nil {
		// Undecodable: the reverse entry cannot be found from here; the
		// account's deletion still removes it (see deleteAccount).
		return nil
	}
	return vw.del(key2(nil, tagAccountNick, n.Account, nick))
}

func deleteAccount(vw *views, name string) error {
	if a, err := storedAccount(vw, name); err == nil {
		for _, fp := range a.CertFPs {
			if err := deleteCert(vw, fp, name); err != nil {
				return err
			}
		}
	}
	if err := vw.del(key1(nil, tagAccount, name)); err != nil {
		return err
	}
	if err := vw.del(key1(nil, tagSuspended, name)); err != nil {
		return err
	}
	prefix := prefix2(nil, tagAccountNick, name)
	keys, err := vw.keys(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		nick := string(k[len(prefix):])
		// The nick record is deleted only if it still names this account.
		nk := key1(nil, tagNick, nick)
		v, found, err := vw.get(nk)
		if err != nil {
			return err
		}
		if found {
			if n, derr := decodeNick(nick, v); derr != nil || n.Account == name {
				if err := vw.del(nk); err != nil {
					return err
				}
			}
		}
		if err := vw.del(k); err != nil {
			return err
		}
	}
	prefix = prefix2(nil, tagAccountAccess, name)
	if keys, err = vw.keys(prefix); err != nil {
		return err
	}
	for _, k := range keys {
		channel := string(k[len(prefix):])
		if err := vw.del(key2(nil, tagAccess, channel, name)); err != nil {
			return err
		}
		if err := vw.del(k); err != nil {
			return err
		}
	}
	return deleteAccountData(vw, name)
}

// deleteAccountData deletes what an account owns besides its record, nicks
// and access: its private conversations (so that a later account of the
// same name cannot read them), its invitations, always-on channels and
// metadata, what it had unread, its read markers.
// (Offline expiry entries of its messages are left for ExpireOffline,
// which finds no unread state for them and drops them.)
func deleteAccountData(vw *views, name string) error {
	if err := deleteConversations(vw, AccountParty(name)); err != nil {
		return err
	}
	if err := deleteAccountInvites(vw, name); err != nil {
		return err
	}
	if err := clearAlwaysOn(vw, name); err != nil {
		return err
	}
	if err := vw.delPrefix(AccountMetadata(name).prefix()); err != nil {
		return err
	}
	for _, p := range [][]byte{prefix2(nil, tagUnread, name), prefix2(nil, tagMarker, name)} {
		if err := vw.delPrefix(p); err != nil {
			return err
		}
	}
	return vw.del(key1(nil, tagUnreadCount, name))
}

// deleteChannel unregisters a channel: its record, access list and
// metadata. Its history, invitations and always-on members belong to the
// channel whether registered or not, and stay.
func deleteChannel(vw *views, name string) error {
	if err := vw.del(key1(nil, tagChannel, name)); err != nil {
		return err
	}
	if err := vw.delPrefix(ChannelMetadata(name).prefix()); err != nil {
		return err
	}
	prefix := prefix2(nil, tagAccess, name)
	keys, err := vw.keys(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		account := string(k[len(prefix):])
		if err := vw.del(key2(nil, tagAccountAccess, account, name)); err != nil {
			return err
		}
		if err := vw.del(k); err != nil {
			return err
		}
	}
	return nil
}

func deleteHistoryMsg(vw *views, target, msgid string) error {
	ik := key2(nil, tagMsgID, target, msgid)
	v, found, err := vw.get(ik)
	if err != nil || !found {
		return err
	}
	if len(v) == timeSeqLen {
		hk := append(prefix2(nil, tagHistory, target), v...)
		if err := vw.del(hk); err != nil {
			return err
		}
	}
	return vw.del(ik)
}
