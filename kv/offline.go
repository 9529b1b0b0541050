package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Offline messages: a private message to an account with nothing
// connected. It is stored in the conversation's history like any other
// (AppendOffline), durably whatever Options.LazyHistory says, and counted
// unread for the account:
//
//	U account 0 conversation   Unread: count, oldest and latest time, sender
//	u account                  total unread of the account (the quota's count)
//	o time seq account 0 conv  one per offline message, oldest first: the expiry queue
//
// The quota (Options.OfflineMaxMessages) bounds an account's unread
// total; ClearUnread (the messages were delivered or read) frees it, and so
// does ExpireOffline for messages older than Options.OfflineMaxAge. The
// messages themselves stay in the conversation's history, which has its own
// retention (PruneHistory): expiry ends only their unread state.

const unreadV1 = 1

// Unread is what an account has not yet received of one conversation.
type Unread struct {
	Account string // casefolded: the key
	Target  string // the conversation: the key
	Peer    Peer   // who sent them (the conversation's other party), as last named
	Count   int
	Oldest  time.Time // the oldest unread message's time
	Latest  time.Time // the newest's

	oldestSeq uint64 // with Oldest, the key of the oldest: older expiry entries are stale
}

func (u *Unread) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(unreadV1)
	e.str(string(u.Peer.Party))
	e.str(u.Peer.Name)
	e.uvarint(uint64(u.Count))
	e.time(u.Oldest)
	e.uvarint(u.oldestSeq)
	e.time(u.Latest)
	return e.b
}

func decodeUnread(account, target string, v []byte) (Unread, error) {
	d := newDecoder(v)
	d.version("unread", unreadV1)
	u := Unread{Account: account, Target: target}
	u.Peer.Party = Party(d.str())
	u.Peer.Name = d.str()
	n := d.uvarint()
	if d.err == nil && n > 1<<31 {
		d.fail("unread count %d", n)
	}
	u.Count = int(n)
	u.Oldest = d.time()
	u.oldestSeq = d.uvarint()
	u.Latest = d.time()
	return u, d.finish("unread")
}

// AppendOffline is AppendPrivate for a message to an account (to.Party is
// an account party) that has nothing connected: the message is stored
// durably (synced whatever Options.LazyHistory says) and counted unread for
// the account. If the account's unread total has reached
// Options.OfflineMaxMessages the transaction fails with a *LimitError
// (LimitOffline) and nothing of it is written.
func (t *Txn) AppendOffline(m HistoryMessage, from, to Peer) {
	acct, isAccount := to.Party.Account()
	if t.ok() && !isAccount {
		t.setErr(fmt.Errorf("%w: offline message to %q, which is not an account", ErrInvalid, to.Party))
	}
	if !t.appendPrivate(&m, from, to) {
		return
	}
	t.durable = true
	max := t.s.opts.OfflineMaxMessages
	countKey := key1(nil, tagUnreadCount, acct)
	t.check(func(vw *views) error {
		n, err := getCount(vw, countKey)
		if err == nil && n >= max {
			err = &LimitError{Limit: LimitOffline, Name: acct, Max: max}
		}
		return err
	})
	qk := t.mark(func(b []byte) []byte {
		b = appendTimeSeq(append(b, tagOffline), m.Time, m.Seq)
		return append(append(append(b, acct...), 0), m.Target...)
	})
	t.ops = append(t.ops, op{kind: opSet, key: qk, val: t.mark(noValue)})
	target, tm, seq := m.Target, m.Time, m.Seq
	t.derive(true, func(vw *views) error {
		uk := key2(nil, tagUnread, acct, target)
		u := Unread{Account: acct, Target: target, Oldest: tm, oldestSeq: seq}
		v, found, err := vw.get(uk)
		if err != nil {
			return err
		}
		if found {
			if u, err = decodeUnread(acct, target, v); err != nil {
				return err
			}
		}
		u.Peer, u.Count, u.Latest = from, u.Count+1, tm
		if err := vw.set(uk, u.appendValue(nil)); err != nil {
			return err
		}
		return addCount(vw, countKey, 1)
	})
}

// ClearUnread ends the unread state of an account's conversation (the
// messages were delivered or read); target "" clears every conversation of
// the account. It frees the quota they held.
func (t *Txn) ClearUnread(account, target string) {
	if !t.ok("account name", account) || target != "" && !t.ok("history target", target) {
		return
	}
	t.derive(false, func(vw *views) error {
		if target != "" {
			return clearUnread(vw, account, target)
		}
		if err := vw.delPrefix(prefix2(nil, tagUnread, account)); err != nil {
			return err
		}
		return vw.del(key1(nil, tagUnreadCount, account))
	})
}

func clearUnread(vw *views, account, target string) error {
	uk := key2(nil, tagUnread, account, target)
	v, found, err := vw.get(uk)
	if err != nil || !found {
		return err
	}
	n := 0
	if u, err := decodeUnread(account, target, v); err == nil {
		n = u.Count
	}
	if err := vw.del(uk); err != nil {
		return err
	}
	return addCount(vw, key1(nil, tagUnreadCount, account), -n)
}

// Unread returns what an account has not received, one entry per
// conversation, ordered by conversation.
func (s *Store) Unread(account string) ([]Unread, error) {
	prefix := prefix2(nil, tagUnread, account)
	var list []Unread
	err := s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
		u, err := decodeUnread(account, string(k[len(prefix):]), v)
		list = append(list, u)
		return err == nil, err
	})
	return list, err
}

// UnreadCount returns an account's unread total, what the offline quota
// counts.
func (s *Store) UnreadCount(account string) (int, error) {
	var n int
	err := s.get(key1(nil, tagUnreadCount, account), func(v []byte) (err error) {
		n, err = decodeCount(v)
		return err
	})
	if err == ErrNotFound {
		return 0, nil
	}
	return n, err
}

// ExpireOffline ends the unread state of offline messages older than
// Options.OfflineMaxAge before now, freeing their quota, and drops expiry
// entries of messages already delivered. It works in bounded batches (at
// most pruneChunk entries per transaction, each through CommitWait) and
// returns how many unread messages expired; an error stops it and a later
// call continues.
func (s *Store) ExpireOffline(now time.Time) (int, error) {
	cutoff := now.Add(-s.opts.OfflineMaxAge)
	if cutoff.Before(minKeyTime) {
		return 0, nil
	}
	upper := appendTimeSeq([]byte{tagOffline}, cutoff, 0)
	total := 0
	for {
		var keys [][]byte
		err := s.scan([]byte{tagOffline}, upper, false, func(k, _ []byte) (bool, error) {
			keys = append(keys, bytes.Clone(k))
			return len(keys) < pruneChunk, nil
		})
		if err != nil || len(keys) == 0 {
			return total, err
		}
		n := 0
		t := s.NewTxn()
		t.derive(false, func(vw *views) error {
			n = 0
			for _, k := range keys {
				expired, err := expireOne(vw, k)
				if err != nil {
					return err
				}
				if expired {
					n++
				}
			}
			return nil
		})
		if err := s.CommitWait(t); err != nil {
			return total, err
		}
		total += n
		if len(keys) < pruneChunk {
			return total, nil
		}
	}
}

// expireOne deletes an expiry entry and, if its message is still unread,
// takes it off the conversation's unread count.
func expireOne(vw *views, k []byte) (bool, error) {
	if err := vw.del(k); err != nil {
		return false, err
	}
	if len(k) < 1+timeSeqLen {
		return false, nil
	}
	tm, seq, _ := parseTimeSeq(k[1 : 1+timeSeqLen])
	acct, target, ok := splitKey2(k[1+timeSeqLen:])
	if !ok {
		return false, nil
	}
	uk := key2(nil, tagUnread, string(acct), string(target))
	v, found, err := vw.get(uk)
	if err != nil || !found {
		return false, err
	}
	u, err := decodeUnread(string(acct), string(target), v)
	if err != nil {
		return false, nil // left for ClearUnread to remove
	}
	if tm.Before(u.Oldest) || tm.Equal(u.Oldest) && seq < u.oldestSeq {
		return false, nil // delivered before the current unread ones
	}
	u.Count--
	if u.Count <= 0 {
		err = vw.del(uk)
	} else {
		u.Oldest, u.oldestSeq = tm, seq+1 // the rest are newer
		err = vw.set(uk, u.appendValue(nil))
	}
	if err != nil {
		return false, err
	}
	return true, addCount(vw, key1(nil, tagUnreadCount, string(acct)), -1)
}

// Counters are a uvarint.

func decodeCount(v []byte) (int, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || k != len(v) || n > 1<<31 || n == 0 || k != binary.PutUvarint(make([]byte, binary.MaxVarintLen64), n) {
		return 0, fmt.Errorf("%w: counter %x", ErrCorrupt, v)
	}
	return int(n), nil
}

func getCount(vw *views, key []byte) (int, error) {
	v, found, err := vw.get(key)
	if err != nil || !found {
		return 0, err
	}
	return decodeCount(v)
}

// addCount adds d to a counter, deleting it at zero (never below).
func addCount(vw *views, key []byte, d int) error {
	n, err := getCount(vw, key)
	if err != nil {
		n = 0 // a corrupt counter restarts from what is known
	}
	if n += d; n <= 0 {
		return vw.del(key)
	}
	return vw.set(key, binary.AppendUvarint(nil, uint64(n)))
}
