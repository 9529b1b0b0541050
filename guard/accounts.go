package guard

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Suspension marks an account that may not log in; its live sessions are
// to be ended by the caller. A plain value for persistence.
type Suspension struct {
	Account string
	Reason  string
	SetBy   string
	SetAt   time.Time
	Expires time.Time // zero: until UNSUSPEND
}

// Expired reports whether the suspension has lapsed at now.
func (s *Suspension) Expired(now time.Time) bool {
	return !s.Expires.IsZero() && !now.Before(s.Expires)
}

// ErrNotSuspended is returned by Unsuspend for an account not suspended.
var ErrNotSuspended = errors.New("account not suspended")

// Suspensions is the set of suspended accounts, compared under the
// casemapping. Shared by all goroutines; read-mostly.
type Suspensions struct {
	cm *CaseMapping
	mu sync.RWMutex
	m  map[string]Suspension // key: folded account name
}

// NewSuspensions returns an empty set.
func NewSuspensions(cm *CaseMapping) *Suspensions {
	if cm == nil {
		cm = RFC1459
	}
	return &Suspensions{cm: cm, m: make(map[string]Suspension)}
}

// Suspend adds or replaces a suspension and returns the stored value.
func (s *Suspensions) Suspend(x Suspension, now time.Time) (Suspension, error) {
	if x.Account == "" || len(x.Account) > maxBanTextLen {
		return Suspension{}, fmt.Errorf("guard: SUSPEND: %w: account name %q", ErrBadBan, x.Account)
	}
	b := Ban{Reason: x.Reason, SetBy: x.SetBy}
	if err := checkBanText(&b); err != nil {
		return Suspension{}, fmt.Errorf("guard: SUSPEND %s: %w", x.Account, err)
	}
	x.SetAt, x.Expires = x.SetAt.Round(0), x.Expires.Round(0)
	if x.Expired(now) {
		return Suspension{}, fmt.Errorf("guard: SUSPEND %s: %w", x.Account, ErrBanExpired)
	}
	s.mu.Lock()
	s.m[s.cm.Fold(x.Account)] = x
	s.mu.Unlock()
	return x, nil
}

// Unsuspend lifts a suspension and returns it.
func (s *Suspensions) Unsuspend(account string) (Suspension, error) {
	k := s.cm.Fold(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[k]
	if !ok {
		return Suspension{}, fmt.Errorf("guard: UNSUSPEND %s: %w", account, ErrNotSuspended)
	}
	delete(s.m, k)
	return x, nil
}

// Suspended returns the account's unexpired suspension. It does not
// allocate for names up to 64 bytes.
func (s *Suspensions) Suspended(account string, now time.Time) (Suspension, bool) {
	var x Suspension
	var ok bool
	var buf [64]byte
	s.mu.RLock()
	if len(account) <= len(buf) {
		x, ok = s.m[string(foldInto(&s.cm.fold, buf[:0], account))]
	} else {
		x, ok = s.m[s.cm.Fold(account)]
	}
	s.mu.RUnlock()
	if !ok || x.Expired(now) {
		return Suspension{}, false
	}
	return x, true
}

// List returns the unexpired suspensions sorted by account.
func (s *Suspensions) List(now time.Time) []Suspension {
	var out []Suspension
	s.mu.RLock()
	for _, x := range s.m {
		if !x.Expired(now) {
			out = append(out, x)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Suspension) int { return cmp.Compare(a.Account, b.Account) })
	return out
}

// Prune removes and returns expired suspensions.
func (s *Suspensions) Prune(now time.Time) []Suspension {
	var out []Suspension
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, x := range s.m {
		if x.Expired(now) {
			out = append(out, x)
			delete(s.m, k)
		}
	}
	return out
}

func foldInto(fold *[256]byte, dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, fold[s[i]])
	}
	return dst
}
