package kv

import (
	"time"
)

// AuditQuery selects audit entries. Zero fields do not filter.
type AuditQuery struct {
	Since  time.Time // entries at or after Since
	Until  time.Time // entries before Until
	Actor  string    // exact match
	Action string    // exact match
	Target string    // exact match
	Limit  int       // at most this many; default 100
	Oldest bool      // oldest first; default newest first
}

// DefaultAuditLimit is the Limit of an AuditQuery that sets none.
const DefaultAuditLimit = 100

// auditBounds returns the key range of entries in [since, until).
func auditBounds(since, until time.Time) (lower, upper []byte) {
	lower = []byte{tagAudit}
	upper = []byte{tagAudit + 1}
	if !since.IsZero() && since.After(minKeyTime) {
		lower = appendTimeSeq(lower, since, 0)
	}
	if !until.IsZero() && until.Before(maxKeyTime) {
		upper = appendTimeSeq([]byte{tagAudit}, until, 0)
	}
	return lower, upper
}

// Audit returns the entries that match q. The time range is walked in key
// order and the other filters are applied to each entry, so a query costs
// in proportion to the entries in its time range.
func (s *Store) Audit(q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultAuditLimit
	}
	lower, upper := auditBounds(q.Since, q.Until)
	var list []AuditEntry
	err := s.scan(lower, upper, !q.Oldest, func(k, v []byte) (bool, error) {
		t, seq, ok := parseTimeSeq(k[1:])
		if !ok {
			return false, ErrCorrupt
		}
		e, err := decodeAudit(t, seq, v)
		if err != nil {
			return false, err
		}
		if (q.Actor == "" || q.Actor == e.Actor) &&
			(q.Action == "" || q.Action == e.Action) &&
			(q.Target == "" || q.Target == e.Target) {
			list = append(list, e)
		}
		return len(list) < q.Limit, nil
	})
	return list, err
}

// PruneAudit deletes every audit entry older than before, in one
// transaction (a range deletion), and returns how many there were.
func (s *Store) PruneAudit(before time.Time) (int, error) {
	lower, upper := auditBounds(time.Time{}, before)
	n := 0
	err := s.scan(lower, upper, false, func(_, _ []byte) (bool, error) {
		n++
		return true, nil
	})
	if err != nil || n == 0 {
		return 0, err
	}
	t := s.NewTxn()
	t.deleteRange(lower, upper)
	if err := s.CommitWait(t); err != nil {
		return 0, err
	}
	return n, nil
}
