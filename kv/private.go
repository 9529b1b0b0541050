package kv

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Private conversations. An entry goes into the history of
// PrivateTarget(from, to) like a channel's, and each party's conversation
// list (the "p" family) records the other party and the conversation's
// latest time, which is what CHATHISTORY TARGETS lists.

const convV1 = 1

// convEntry is the value of "p" party 0 conversation.
type convEntry struct {
	Peer   Peer
	Latest time.Time
	Seq    uint64
}

func (c *convEntry) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(convV1)
	e.str(string(c.Peer.Party))
	e.str(c.Peer.Name)
	e.time(c.Latest)
	e.uvarint(c.Seq)
	return e.b
}

func decodeConv(v []byte) (convEntry, error) {
	d := newDecoder(v)
	d.version("conversation", convV1)
	var c convEntry
	c.Peer.Party = Party(d.str())
	c.Peer.Name = d.str()
	c.Latest = d.time()
	c.Seq = d.uvarint()
	return c, d.finish("conversation")
}

// AppendPrivate stores m (a PRIVMSG, NOTICE or TAGMSG) in the private
// conversation between from and to, setting m.Target, and records the
// conversation in both parties' lists with the other's name. It is as
// durable as AppendHistory (see Options.LazyHistory).
func (t *Txn) AppendPrivate(m HistoryMessage, from, to Peer) {
	if t.appendPrivate(&m, from, to) && !t.s.opts.LazyHistory {
		t.durable = true
	}
}

func (t *Txn) appendPrivate(m *HistoryMessage, from, to Peer) bool {
	if !t.ok() {
		return false
	}
	if err := from.Party.check(); err != nil {
		t.setErr(err)
		return false
	}
	if err := to.Party.check(); err != nil {
		t.setErr(err)
		return false
	}
	m.Target = PrivateTarget(from.Party, to.Party)
	if !t.appendHistory(m) {
		return false
	}
	t.putConv(from.Party, m.Target, convEntry{Peer: to, Latest: m.Time, Seq: m.Seq})
	if to.Party != from.Party {
		t.putConv(to.Party, m.Target, convEntry{Peer: from, Latest: m.Time, Seq: m.Seq})
	}
	return true
}

func (t *Txn) putConv(p Party, target string, c convEntry) {
	k := t.mark(func(b []byte) []byte { return key2(b, tagConv, string(p), target) })
	t.ops = append(t.ops, op{kind: opSet, key: k, val: t.mark(c.appendValue)})
}

// HistoryTarget is one line of CHATHISTORY TARGETS.
type HistoryTarget struct {
	Target string    // the channel as given, or the private conversation
	Peer   Peer      // a private conversation's other party; zero for a channel
	Latest time.Time // the time of its latest entry
}

// TargetsQuery selects the conversations of CHATHISTORY TARGETS.
type TargetsQuery struct {
	Party    Party    // whose private conversations; "" for none
	Channels []string // casefolded channels to list too (the client's)
	// From and To bound the latest entry's time, exclusively and to the
	// millisecond, as CHATHISTORY BETWEEN does: if From is after To, the
	// Limit conversations nearest From are chosen going back. A zero
	// time does not bound.
	From, To time.Time
	Limit    int
	// Kinds says which entries count as a channel's latest (zero: all).
	// A private conversation's latest is its latest appended entry.
	Kinds HistoryKinds
}

// HistoryTargets answers q: the conversations whose latest entry is
// between the bounds, ordered by that time, oldest first (ties by
// target). It reads one conversation-list entry per private conversation
// of q.Party and the latest entry of each channel.
func (s *Store) HistoryTargets(q TargetsQuery) ([]HistoryTarget, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	lo, hi := q.From, q.To
	backwards := !lo.IsZero() && !hi.IsZero() && lo.After(hi)
	if backwards {
		lo, hi = hi, lo
	}
	in := func(t time.Time) bool {
		return (lo.IsZero() || t.After(msTime(lo))) && (hi.IsZero() || t.Before(msTime(hi)))
	}
	var list []HistoryTarget
	if q.Party != "" {
		if err := q.Party.check(); err != nil {
			return nil, err
		}
		prefix := prefix2(nil, tagConv, string(q.Party))
		err := s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
			c, err := decodeConv(v)
			if err != nil {
				return false, err
			}
			if in(c.Latest) {
				list = append(list, HistoryTarget{Target: string(k[len(prefix):]), Peer: c.Peer, Latest: c.Latest})
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, ch := range q.Channels {
		latest, err := s.QueryHistory(HistoryQuery{Target: ch, Select: SelectLatest, Limit: 1, Kinds: q.Kinds})
		if err != nil {
			return nil, fmt.Errorf("kv: latest entry of %q: %w", ch, err)
		}
		if len(latest) == 1 && in(latest[0].Time) {
			list = append(list, HistoryTarget{Target: ch, Latest: latest[0].Time})
		}
	}
	slices.SortFunc(list, func(a, b HistoryTarget) int {
		return cmp.Or(a.Latest.Compare(b.Latest), cmp.Compare(a.Target, b.Target))
	})
	if len(list) > q.Limit {
		if backwards {
			list = list[len(list)-q.Limit:]
		} else {
			list = list[:q.Limit]
		}
	}
	return list, nil
}

// deleteConversations deletes every private conversation of a party: the
// entries, their msgid index, both parties' list entries and what the
// other party had unread of it. (An account's deletion: a later account of
// the same name must not read them.)
func deleteConversations(vw *views, p Party) error {
	prefix := prefix2(nil, tagConv, string(p))
	type conv struct {
		target string
		peer   Party
	}
	var convs []conv
	err := vw.scan(prefix, prefixEnd(prefix), func(k, v []byte) (bool, error) {
		c := conv{target: string(k[len(prefix):])}
		if e, err := decodeConv(v); err == nil {
			c.peer = e.Peer.Party
		} else if a, b, ok := conversationParties(c.target); ok {
			c.peer = a
			if a == p {
				c.peer = b
			}
		}
		convs = append(convs, c)
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, c := range convs {
		for _, tag := range []byte{tagHistory, tagMsgID} {
			if err := vw.delPrefix(prefix2(nil, tag, c.target)); err != nil {
				return err
			}
		}
		if c.peer == "" || c.peer == p {
			continue
		}
		if err := vw.del(key2(nil, tagConv, string(c.peer), c.target)); err != nil {
			return err
		}
		if acct, ok := c.peer.Account(); ok {
			if err := clearUnread(vw, acct, c.target); err != nil {
				return err
			}
		}
	}
	return vw.delPrefix(prefix)
}

// pruneConversations deletes the conversation-list entries whose latest
// entry is older than before (their history is gone or going), at most
// pruneChunk per transaction, and returns how many it deleted.
func (s *Store) pruneConversations(before time.Time) (int, error) {
	total := 0
	lower := []byte{tagConv}
	for {
		var keys [][]byte
		var resume []byte
		err := s.scan(lower, []byte{tagConv + 1}, false, func(k, v []byte) (bool, error) {
			if len(keys) == pruneChunk {
				resume = append([]byte(nil), k...)
				return false, nil
			}
			if c, err := decodeConv(v); err != nil || c.Latest.Before(before) {
				keys = append(keys, bytes.Clone(k))
			}
			return true, nil
		})
		if err != nil {
			return total, err
		}
		n := 0
		if len(keys) > 0 {
			// A message appended since the scan keeps its entry.
			t := s.NewTxn()
			t.derive(false, func(vw *views) error {
				n = 0
				for _, k := range keys {
					v, found, err := vw.get(k)
					if err != nil {
						return err
					}
					if !found {
						continue
					}
					if c, err := decodeConv(v); err == nil && !c.Latest.Before(before) {
						continue
					}
					if err := vw.del(k); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err := s.CommitWait(t); err != nil {
				return total, err
			}
		}
		total += n
		if resume == nil {
			return total, nil
		}
		lower = resume
	}
}
