package guard

import (
	"errors"
	"testing"
	"time"
)

func TestSuspensions(t *testing.T) {
	s := NewSuspensions(RFC1459)
	if _, err := s.Suspend(Suspension{Account: "Bad[Guy]", Reason: "spam", SetBy: "oper", SetAt: t0}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Suspend(Suspension{Account: "temp", Expires: at(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if x, ok := s.Suspended("bad{guy}", t0); !ok || x.Reason != "spam" || x.Account != "Bad[Guy]" {
		t.Fatalf("folded lookup: %+v %v", x, ok)
	}
	if _, ok := s.Suspended("TEMP", at(time.Hour)); ok {
		t.Fatal("expired suspension still applies")
	}
	if got := s.List(t0); len(got) != 2 || got[0].Account != "Bad[Guy]" {
		t.Fatalf("List: %+v", got)
	}
	if got := s.Prune(at(time.Hour)); len(got) != 1 || got[0].Account != "temp" {
		t.Fatalf("Prune: %+v", got)
	}
	if _, err := s.Unsuspend("BAD[GUY]"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unsuspend("bad[guy]"); !errors.Is(err, ErrNotSuspended) {
		t.Fatalf("second unsuspend: %v", err)
	}
	for _, bad := range []Suspension{{}, {Account: "x", Reason: "a\nb"}, {Account: "x", Expires: t0}} {
		if _, err := s.Suspend(bad, t0); err == nil {
			t.Errorf("Suspend(%+v) accepted", bad)
		}
	}
	n := testing.AllocsPerRun(100, func() { s.Suspended("SomeAccount", t0) })
	if n != 0 {
		t.Fatalf("Suspended: %v allocs", n)
	}
}

func TestLockouts(t *testing.T) {
	l := NewLockouts(ASCII, 2)
	if !l.Lock("Alice", at(time.Minute), t0) {
		t.Fatal("lock refused")
	}
	if until, ok := l.Locked("ALICE", t0); !ok || !until.Equal(at(time.Minute)) {
		t.Fatalf("Locked = %v %v", until, ok)
	}
	// A shorter lockout never shortens a longer one.
	l.Lock("alice", at(time.Second), t0)
	if _, ok := l.Locked("alice", at(30*time.Second)); !ok {
		t.Fatal("lockout shortened")
	}
	if _, ok := l.Locked("alice", at(time.Minute)); ok {
		t.Fatal("lockout outlived its end")
	}
	// Bounded: a third live lockout does not fit...
	l.Lock("bob", at(time.Hour), t0)
	if l.Lock("carol", at(time.Hour), t0) {
		t.Fatal("table over capacity")
	}
	// ...until an expired one can be swept.
	if !l.Lock("carol", at(time.Hour), at(2*time.Minute)) {
		t.Fatal("expired lockout not swept to make room")
	}
	if !l.Unlock("BOB") || l.Unlock("bob") {
		t.Fatal("Unlock")
	}
	if n := l.Prune(at(2 * time.Hour)); n != 1 {
		t.Fatalf("Prune = %d", n)
	}
	n := testing.AllocsPerRun(100, func() { l.Locked("SomeAccount", t0) })
	if n != 0 {
		t.Fatalf("Locked: %v allocs", n)
	}
}
