package kv

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// pruneChunk bounds the entries handled by one transaction of retention
// and sweeps, so that none holds the writer long. (A variable for tests.)
var pruneChunk = 4096

// PruneHistory deletes every entry older than before, in every target,
// and the conversation-list entries of private conversations whose latest
// entry is older. It commits as it goes (at most pruneChunk entries per
// transaction, each through CommitWait) and returns how many history
// entries it deleted; an error (ErrBusy included) stops it, and a later
// call continues.
func (s *Store) PruneHistory(before time.Time) (int, error) {
	n, err := s.pruneHistory([]byte{tagHistory}, []byte{tagHistory + 1}, func(t time.Time) bool {
		return t.Before(before)
	})
	if err != nil {
		return n, err
	}
	_, err = s.pruneConversations(before)
	return n, err
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
