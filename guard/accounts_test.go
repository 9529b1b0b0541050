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
