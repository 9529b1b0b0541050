package kv

import (
	"bytes"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// History queries serve IRCv3 CHATHISTORY. Every query returns messages in
// chronological order (oldest first), at most limit of them; limit <= 0
// returns none. A target is a casefolded channel name or a DMTarget.

// HistoryRef is a point in a target's history: a message, by MsgID, or a
// time. MsgID wins if both are set. The zero HistoryRef means "no bound".
// A MsgID that the target's history does not hold makes the query fail
// with ErrNotFound.
type HistoryRef struct {
	MsgID string
	Time  time.Time
}

// IsZero reports whether r sets no bound.
func (r HistoryRef) IsZero() bool { return r.MsgID == "" && r.Time.IsZero() }

// histRange is the part of one target's history that a query may return.
type histRange struct {
	prefix       []byte // "h" target 0x00
	lower, upper []byte // iterator bounds
}

func newHistRange(target string) histRange {
	p := prefix2(nil, tagHistory, target)
	return histRange{prefix: p, lower: p, upper: prefixEnd(p)}
}

// point resolves r to a key position: the message's own key for a MsgID,
// the first possible key at the time otherwise.
func (s *Store) point(h histRange, target string, r HistoryRef) ([]byte, error) {
	if r.MsgID != "" {
		var pos []byte
		err := s.get(key2(nil, tagMsgID, target, r.MsgID), func(v []byte) error {
			if len(v) != timeSeqLen {
				return ErrCorrupt
			}
			pos = append(append([]byte(nil), h.prefix...), v...)
			return nil
		})
		return pos, err
	}
	t := r.Time
	if t.Before(minKeyTime) {
		return h.lower, nil
	}
	if t.After(maxKeyTime) {
		return h.upper, nil
	}
	return appendTimeSeq(append([]byte(nil), h.prefix...), t, 0), nil
}

// after returns the lower bound that excludes r and everything before it.
func (s *Store) after(h histRange, target string, r HistoryRef) ([]byte, error) {
	if r.IsZero() {
		return h.lower, nil
	}
	if r.MsgID != "" {
		p, err := s.point(h, target, r)
		if err != nil {
			return nil, err
		}
		return append(p, 0), nil // the smallest key after the message's
	}
	if !r.Time.Before(maxKeyTime) {
		return h.upper, nil
	}
	return s.point(h, target, HistoryRef{Time: r.Time.Add(time.Nanosecond)})
}

// before returns the upper bound that excludes r and everything after it.
func (s *Store) before(h histRange, target string, r HistoryRef) ([]byte, error) {
	if r.IsZero() {
		return h.upper, nil
	}
	return s.point(h, target, r)
}

// readHistory returns up to limit messages in [lower, upper): the first
// ones, or with fromEnd the last ones; oldest first either way.
func (s *Store) readHistory(target string, lower, upper []byte, fromEnd bool, limit int) ([]HistoryMessage, error) {
	if limit <= 0 || bytes.Compare(lower, upper) >= 0 {
		return nil, nil
	}
	prefixLen := 1 + len(target) + 1
	var list []HistoryMessage
	err := s.scan(lower, upper, fromEnd, func(k, v []byte) (bool, error) {
		t, seq, ok := parseTimeSeq(k[prefixLen:])
		if !ok {
			return false, ErrCorrupt
		}
		m, err := decodeHistory(target, t, seq, v)
		if err != nil {
			return false, err
		}
		list = append(list, m)
		return len(list) < limit, nil
	})
	if fromEnd {
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	}
	return list, err
}

// HistoryLatest returns the latest limit messages, only those after the
// bound if one is given (CHATHISTORY LATEST).
func (s *Store) HistoryLatest(target string, after HistoryRef, limit int) ([]HistoryMessage, error) {
	h := newHistRange(target)
	lower, err := s.after(h, target, after)
	if err != nil {
		return nil, err
	}
	return s.readHistory(target, lower, h.upper, true, limit)
}

// HistoryBefore returns the limit messages just before ref (CHATHISTORY
// BEFORE); ref itself is excluded.
func (s *Store) HistoryBefore(target string, ref HistoryRef, limit int) ([]HistoryMessage, error) {
	h := newHistRange(target)
	upper, err := s.before(h, target, ref)
	if err != nil {
		return nil, err
	}
	return s.readHistory(target, h.lower, upper, true, limit)
}

// HistoryAfter returns the limit messages just after ref (CHATHISTORY
// AFTER); ref itself is excluded.
func (s *Store) HistoryAfter(target string, ref HistoryRef, limit int) ([]HistoryMessage, error) {
	h := newHistRange(target)
	lower, err := s.after(h, target, ref)
	if err != nil {
		return nil, err
	}
	return s.readHistory(target, lower, h.upper, false, limit)
}

// HistoryAround returns up to limit messages around ref (CHATHISTORY
// AROUND): limit/2 before it, and the rest from ref on (the referenced
// message itself included).
func (s *Store) HistoryAround(target string, ref HistoryRef, limit int) ([]HistoryMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	h := newHistRange(target)
	at, err := s.before(h, target, ref)
	if err != nil {
		return nil, err
	}
	older, err := s.readHistory(target, h.lower, at, true, limit/2)
	if err != nil {
		return nil, err
	}
	newer, err := s.readHistory(target, at, h.upper, false, limit-len(older))
	return append(older, newer...), err
}

// HistoryBetween returns up to limit messages strictly between from and to
// (CHATHISTORY BETWEEN). If from is earlier than to, the ones nearest from
// are returned; if later, the ones nearest from going back.
func (s *Store) HistoryBetween(target string, from, to HistoryRef, limit int) ([]HistoryMessage, error) {
	h := newHistRange(target)
	fromPos, err := s.before(h, target, from)
	if err != nil {
		return nil, err
	}
	toPos, err := s.before(h, target, to)
	if err != nil {
		return nil, err
	}
	if bytes.Compare(fromPos, toPos) <= 0 {
		lower, err := s.after(h, target, from)
		if err != nil {
			return nil, err
		}
		return s.readHistory(target, lower, toPos, false, limit)
	}
	lower, err := s.after(h, target, to)
	if err != nil {
		return nil, err
	}
	return s.readHistory(target, lower, fromPos, true, limit)
}

// HistoryMessageByID returns one stored message.
func (s *Store) HistoryMessageByID(target, msgid string) (HistoryMessage, error) {
	h := newHistRange(target)
	pos, err := s.point(h, target, HistoryRef{MsgID: msgid})
	if err != nil {
		return HistoryMessage{}, err
	}
	list, err := s.readHistory(target, pos, append(pos, 0), false, 1)
	if err == nil && len(list) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return HistoryMessage{}, err
	}
	return list[0], nil
}

// pruneChunk bounds the messages deleted by one retention transaction.
const pruneChunk = 4096

// PruneHistory deletes every message older than before, in every target.
// It commits as it goes (at most pruneChunk messages per transaction, each
// through CommitWait) and returns how many it deleted; an error (ErrBusy
// included) stops it, and a later call continues.
func (s *Store) PruneHistory(before time.Time) (int, error) {
	return s.pruneHistory([]byte{tagHistory}, []byte{tagHistory + 1}, func(t time.Time) bool {
		return t.Before(before)
	})
}

// TrimHistory deletes a target's oldest messages so that at most keep
// remain, and returns how many it deleted.
func (s *Store) TrimHistory(target string, keep int) (int, error) {
	h := newHistRange(target)
	var boundary []byte
	seen := 0
	err := s.scan(h.lower, h.upper, true, func(k, _ []byte) (bool, error) {
		if seen == keep {
			boundary = append([]byte(nil), k...)
			return false, nil
		}
		seen++
		return true, nil
	})
	if err != nil || boundary == nil {
		return 0, err
	}
	// boundary is the newest message to delete.
	return s.pruneHistory(h.lower, append(boundary, 0), func(time.Time) bool { return true })
}

// pruneHistory deletes the messages in [lower, upper) whose time expired
// says so, skipping the rest of a target at its first unexpired message.
func (s *Store) pruneHistory(lower, upper []byte, expired func(time.Time) bool) (int, error) {
	total := 0
	for {
		t := s.NewTxn()
		n := 0
		var resume []byte
		err := s.iterate(&pebble.IterOptions{LowerBound: lower, UpperBound: upper}, func(it *pebble.Iterator) error {
			for ok := it.First(); ok; {
				k := it.Key()
				if n == pruneChunk {
					resume = append([]byte(nil), k...)
					return nil
				}
				target, suffix, good := splitKey2(k[1:])
				tm, _, good2 := parseTimeSeq(suffix)
				if !good || !good2 {
					ok = it.Next()
					continue
				}
				if !expired(tm) {
					ok = it.SeekGE(prefixEnd(prefix2(nil, tagHistory, string(target))))
					continue
				}
				v, err := it.ValueAndErr()
				if err != nil {
					return err
				}
				t.deleteKey(k)
				if id := msgIDOf(v); id != "" {
					t.deleteKey(key2(nil, tagMsgID, string(target), id))
				}
				n++
				ok = it.Next()
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if n > 0 {
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

// msgIDOf returns the msgid of an encoded history message, "" if none or
// undecodable.
func msgIDOf(v []byte) string {
	d := newDecoder(v)
	d.version("history", historyV1)
	id := d.str()
	if d.err != nil {
		return ""
	}
	return id
}
