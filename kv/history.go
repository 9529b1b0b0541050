package kv

import (
	"bytes"
	"fmt"
	"time"
)

// History queries serve IRCv3 draft/chathistory. Every query returns
// entries in chronological order (oldest first), at most limit of them;
// limit <= 0 returns none. A target is a casefolded channel name or a
// private conversation (PrivateTarget).
//
// Times are milliseconds end to end: entries are stored with their time
// truncated to the millisecond (what server-time shows a client), and a
// time bound is truncated the same way. So "timestamp=T" names exactly the
// entries a client saw at T, and every bound is exclusive as the
// specification says: BEFORE T excludes the entries at T, AFTER T and
// LATEST T exclude them too. Entries with equal times keep the order in
// which they were appended.

// HistoryRef is a point in a target's history: an entry, by MsgID, or a
// time. MsgID wins if both are set. The zero HistoryRef means "no bound".
// A MsgID that the target's history does not hold makes the query fail
// with ErrNotFound.
type HistoryRef struct {
	MsgID string
	Time  time.Time
}

// IsZero reports whether r sets no bound.
func (r HistoryRef) IsZero() bool { return r.MsgID == "" && r.Time.IsZero() }

// HistorySelect is a CHATHISTORY subcommand.
type HistorySelect uint8

// The selections of draft/chathistory.
const (
	// SelectLatest: the latest entries, only those after Ref if it is set.
	SelectLatest HistorySelect = iota + 1
	// SelectBefore: the entries just before Ref.
	SelectBefore
	// SelectAfter: the entries just after Ref.
	SelectAfter
	// SelectAround: Limit/2 entries before Ref and the rest from Ref on
	// (the referenced entry, or the first at the referenced time, included).
	SelectAround
	// SelectBetween: the entries strictly between Ref and Ref2, counted
	// from Ref: forwards if Ref is the earlier, backwards otherwise.
	SelectBetween
)

func (sel HistorySelect) String() string {
	switch sel {
	case SelectLatest:
		return "LATEST"
	case SelectBefore:
		return "BEFORE"
	case SelectAfter:
		return "AFTER"
	case SelectAround:
		return "AROUND"
	case SelectBetween:
		return "BETWEEN"
	}
	return fmt.Sprintf("select(%d)", uint8(sel))
}

// HistoryQuery is one history read.
type HistoryQuery struct {
	Target string
	Select HistorySelect
	Ref    HistoryRef // LATEST: optional lower bound; the others: required
	Ref2   HistoryRef // BETWEEN's second bound
	Limit  int
	// Kinds selects the entries returned and counted against Limit; zero
	// selects all. A client without draft/event-playback gets
	// HistMessages; with it, HistAll.
	Kinds HistoryKinds
}

// QueryHistory runs q.
func (s *Store) QueryHistory(q HistoryQuery) ([]HistoryMessage, error) {
	if err := checkName("history target", q.Target); err != nil {
		return nil, err
	}
	h := newHistRange(q.Target)
	r := histReader{s: s, target: q.Target, kinds: q.Kinds}
	switch q.Select {
	case SelectLatest:
		lower, err := s.after(h, q.Target, q.Ref)
		if err != nil {
			return nil, err
		}
		return r.read(lower, h.upper, true, q.Limit)
	case SelectBefore:
		if q.Ref.IsZero() {
			return nil, fmt.Errorf("%w: BEFORE without a bound", ErrInvalid)
		}
		upper, err := s.before(h, q.Target, q.Ref)
		if err != nil {
			return nil, err
		}
		return r.read(h.lower, upper, true, q.Limit)
	case SelectAfter:
		if q.Ref.IsZero() {
			return nil, fmt.Errorf("%w: AFTER without a bound", ErrInvalid)
		}
		lower, err := s.after(h, q.Target, q.Ref)
		if err != nil {
			return nil, err
		}
		return r.read(lower, h.upper, false, q.Limit)
	case SelectAround:
		return s.around(h, r, q)
	case SelectBetween:
		return s.between(h, r, q)
	}
	return nil, fmt.Errorf("%w: history selection %v", ErrInvalid, q.Select)
}

func (s *Store) around(h histRange, r histReader, q HistoryQuery) ([]HistoryMessage, error) {
	if q.Ref.IsZero() {
		return nil, fmt.Errorf("%w: AROUND without a bound", ErrInvalid)
	}
	if q.Limit <= 0 {
		return nil, nil
	}
	at, err := s.before(h, q.Target, q.Ref)
	if err != nil {
		return nil, err
	}
	older, err := r.read(h.lower, at, true, q.Limit/2)
	if err != nil {
		return nil, err
	}
	newer, err := r.read(at, h.upper, false, q.Limit-len(older))
	return append(older, newer...), err
}

func (s *Store) between(h histRange, r histReader, q HistoryQuery) ([]HistoryMessage, error) {
	if q.Ref.IsZero() || q.Ref2.IsZero() {
		return nil, fmt.Errorf("%w: BETWEEN needs two bounds", ErrInvalid)
	}
	fromPos, err := s.before(h, q.Target, q.Ref)
	if err != nil {
		return nil, err
	}
	toPos, err := s.before(h, q.Target, q.Ref2)
	if err != nil {
		return nil, err
	}
	if bytes.Compare(fromPos, toPos) <= 0 {
		lower, err := s.after(h, q.Target, q.Ref)
		if err != nil {
			return nil, err
		}
		return r.read(lower, toPos, false, q.Limit)
	}
	lower, err := s.after(h, q.Target, q.Ref2)
	if err != nil {
		return nil, err
	}
	return r.read(lower, fromPos, true, q.Limit)
}

// HistoryLatest is QueryHistory with SelectLatest and every kind.
func (s *Store) HistoryLatest(target string, after HistoryRef, limit int) ([]HistoryMessage, error) {
	return s.QueryHistory(HistoryQuery{Target: target, Select: SelectLatest, Ref: after, Limit: limit})
}

// HistoryBefore is QueryHistory with SelectBefore and every kind.
func (s *Store) HistoryBefore(target string, ref HistoryRef, limit int) ([]HistoryMessage, error) {
	return s.QueryHistory(HistoryQuery{Target: target, Select: SelectBefore, Ref: ref, Limit: limit})
}

// HistoryAfter is QueryHistory with SelectAfter and every kind.
func (s *Store) HistoryAfter(target string, ref HistoryRef, limit int) ([]HistoryMessage, error) {
	return s.QueryHistory(HistoryQuery{Target: target, Select: SelectAfter, Ref: ref, Limit: limit})
}

// HistoryAround is QueryHistory with SelectAround and every kind.
func (s *Store) HistoryAround(target string, ref HistoryRef, limit int) ([]HistoryMessage, error) {
	return s.QueryHistory(HistoryQuery{Target: target, Select: SelectAround, Ref: ref, Limit: limit})
}

// HistoryBetween is QueryHistory with SelectBetween and every kind.
func (s *Store) HistoryBetween(target string, from, to HistoryRef, limit int) ([]HistoryMessage, error) {
	return s.QueryHistory(HistoryQuery{Target: target, Select: SelectBetween, Ref: from, Ref2: to, Limit: limit})
}

// HistoryMessageByID returns one stored entry, whatever its kind (a
// tombstone included: see HistoryMessage.Redacted).
func (s *Store) HistoryMessageByID(target, msgid string) (HistoryMessage, error) {
	h := newHistRange(target)
	pos, err := s.point(h, target, HistoryRef{MsgID: msgid})
	if err != nil {
		return HistoryMessage{}, err
	}
	r := histReader{s: s, target: target}
	list, err := r.read(pos, append(pos, 0), false, 1)
	if err == nil && len(list) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return HistoryMessage{}, err
	}
	return list[0], nil
}

// histRange is the part of one target's history that a query may return.
type histRange struct {
	prefix       []byte // "h" target 0x00
	lower, upper []byte // iterator bounds
}

func newHistRange(target string) histRange {
	p := prefix2(nil, tagHistory, target)
	return histRange{prefix: p, lower: p, upper: prefixEnd(p)}
}

// msTime truncates a time to the millisecond: what a client sees.
func msTime(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// point resolves r to a key position: the entry's own key for a MsgID, the
// first possible key at the time's millisecond otherwise.
func (s *Store) point(h histRange, target string, r HistoryRef) ([]byte, error) {
	if r.MsgID != "" {
		var pos []byte
		err := s.get(key2(nil, tagMsgID, target, r.MsgID), func(v []byte) error {
			if len(v) != timeSeqLen {
				return fmt.Errorf("%w: msgid index entry of %d bytes", ErrCorrupt, len(v))
			}
			pos = append(append([]byte(nil), h.prefix...), v...)
			return nil
		})
		return pos, err
	}
	return h.at(msTime(r.Time)), nil
}

// at returns the first key position at time t (already truncated).
func (h histRange) at(t time.Time) []byte {
	switch {
	case t.Before(minKeyTime):
		return h.lower
	case t.After(maxKeyTime):
		return h.upper
	}
	return appendTimeSeq(append([]byte(nil), h.prefix...), t, 0)
}

// after returns the lower bound that excludes r and everything before it:
// for a time, every entry of that millisecond.
func (s *Store) after(h histRange, target string, r HistoryRef) ([]byte, error) {
	if r.IsZero() {
		return h.lower, nil
	}
	if r.MsgID != "" {
		p, err := s.point(h, target, r)
		if err != nil {
			return nil, err
		}
		return append(p, 0), nil // the smallest key after the entry's
	}
	return h.at(msTime(r.Time).Add(time.Millisecond)), nil
}

// before returns the upper bound that excludes r and everything after it.
func (s *Store) before(h histRange, target string, r HistoryRef) ([]byte, error) {
	if r.IsZero() {
		return h.upper, nil
	}
	return s.point(h, target, r)
}

// histReader reads one target's entries of some kinds.
type histReader struct {
	s      *Store
	target string
	kinds  HistoryKinds
}

// read returns up to limit matching entries in [lower, upper): the first
// ones, or with fromEnd the last ones; oldest first either way.
func (r histReader) read(lower, upper []byte, fromEnd bool, limit int) ([]HistoryMessage, error) {
	if limit <= 0 || bytes.Compare(lower, upper) >= 0 {
		return nil, nil
	}
	prefixLen := 1 + len(r.target) + 1
	// Most queries fill their limit: one allocation instead of a doubling
	// series (a HistoryMessage is ~180 bytes).
	list := make([]HistoryMessage, 0, min(limit, 128))
	err := r.s.scan(lower, upper, fromEnd, func(k, v []byte) (bool, error) {
		if !histMatches(r.kinds, v) {
			return true, nil
		}
		t, seq, ok := parseTimeSeq(k[prefixLen:])
		if !ok {
			return false, fmt.Errorf("%w: history key %q", ErrCorrupt, k)
		}
		m, err := decodeHistory(r.target, t, seq, v)
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
