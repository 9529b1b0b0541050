package kv

import (
	"time"
)

// Read markers (draft/read-marker): per account and target (a channel, or
// a private conversation's target), the time of the last message the user
// has read, to the millisecond. A marker never moves backwards.

const markerV1 = 1

func appendMarker(dst []byte, t time.Time) []byte {
	e := encoder{dst}
	e.byte(markerV1)
	e.time(t)
	return e.b
}

func decodeMarker(v []byte) (time.Time, error) {
	d := newDecoder(v)
	d.version("read marker", markerV1)
	t := d.time()
	return t, d.finish("read marker")
}

// MarkRead moves account's read marker on target to at (truncated to the
// millisecond), unless it is already there or later: the stored value is
// the maximum. If result is not nil, the writer stores the marker's value
// after this transaction in *result before done is called (what MARKREAD
// answers, and pushes to the account's other connections); it is
// meaningful only when done gets nil.
func (t *Txn) MarkRead(account, target string, at time.Time, result *time.Time) {
	if !t.ok("account name", account, "read marker target", target) {
		return
	}
	at = msTime(at)
	if err := checkKeyTime("read marker", at); err != nil {
		t.setErr(err)
		return
	}
	key := key2(nil, tagMarker, account, target)
	t.derive(true, func(vw *views) error {
		v, found, err := vw.get(key)
		if err != nil {
			return err
		}
		stored, write := at.UTC(), true
		if found {
			if old, err := decodeMarker(v); err == nil && !old.Before(at) {
				stored, write = old, false
			}
		}
		if result != nil {
			*result = stored
		}
		if !write {
			return nil
		}
		return vw.set(key, appendMarker(nil, stored))
	})
}

// ReadMarker returns account's read marker on target, or ErrNotFound.
func (s *Store) ReadMarker(account, target string) (time.Time, error) {
	var t time.Time
	err := s.get(key2(nil, tagMarker, account, target), func(v []byte) (err error) {
		t, err = decodeMarker(v)
		return err
	})
	return t, err
}

// ReadMarkers returns every read marker of an account, by target.
func (s *Store) ReadMarkers(account string) (map[string]time.Time, error) {
	prefix := prefix2(nil, tagMarker, account)
	m := map[string]time.Time{}
	err := s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
		t, err := decodeMarker(v)
		m[string(k[len(prefix):])] = t
		return err == nil, err
	})
	return m, err
}
