package chat

import (
	"net/netip"
	"testing"
	"time"

	"laird/codec"
)

func TestListMask(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"bob", "bob!*@*", true},
		{"*@host", "*!*@host", true},
		{"a:acct", "a:acct", true},
		{"a:", "", false},
		{"m:bob", "m:bob!*@*", true},
		{"m:a:acct", "m:a:acct", true},
		{"m:", "", false},
		{"m:a:", "", false},
		{"m:m:bob", "", false},
		{"x:bob", "x:bob!*@*", true}, // not an extban type: a hostmask
	} {
		got, ok := listMask(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("listMask(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExtbanMatching(t *testing.T) {
	cm, _ := codec.CasemappingByName("rfc1459")
	guest := (&Identity{Nick: "bob", User: "u", Host: "h"}).withPrefix()
	logged := (&Identity{Nick: "robert", User: "u", Host: "h", Account: "Bob"}).withPrefix()
	list := func(masks ...string) []listEntry {
		var l []listEntry
		for _, m := range masks {
			l = append(l, listEntry{mask: m})
		}
		return l
	}
	if matchesAny(cm, list("a:bob"), guest) {
		t.Error("a:bob matched a guest whose nick is bob")
	}
	if !matchesAny(cm, list("a:bob"), logged) || !matchesAny(cm, list("a:B*"), logged) {
		t.Error("a: did not match the account (casemapped, with a glob)")
	}
	if matchesAny(cm, list("m:bob!*@*"), guest) {
		t.Error("a mute counted as a ban")
	}
	if !matchesMute(cm, list("m:bob!*@*"), guest) || !matchesMute(cm, list("m:a:bob"), logged) {
		t.Error("mute did not match")
	}
	if matchesMute(cm, list("bob!*@*", "a:bob"), logged) {
		t.Error("a plain ban counted as a mute")
	}
}

func TestAdmitKnock(t *testing.T) {
	ch := newChannel("#k", "#k", time.Now())
	now := time.Now()
	a := netip.MustParseAddr("192.0.2.1")
	if !ch.admitKnock(a, now, time.Minute) {
		t.Fatal("first knock refused")
	}
	if ch.admitKnock(a, now.Add(30*time.Second), time.Minute) {
		t.Fatal("second knock within the interval admitted")
	}
	if !ch.admitKnock(a, now.Add(time.Minute), time.Minute) {
		t.Fatal("knock after the interval refused")
	}
	// The channel remembers at most knockMemory addresses at once.
	for i := 0; i < knockMemory-1; i++ {
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		if !ch.admitKnock(ip, now.Add(time.Minute), time.Minute) {
			t.Fatalf("knock %d refused", i)
		}
	}
	late := netip.MustParseAddr("203.0.113.9")
	if ch.admitKnock(late, now.Add(time.Minute), time.Minute) {
		t.Fatal("knock admitted past knockMemory")
	}
	if !ch.admitKnock(late, now.Add(2*time.Minute), time.Minute) || len(ch.knocks) != 1 {
		t.Fatalf("expired knocks not forgotten: %d remembered", len(ch.knocks))
	}
}

// FuzzListMask: any +b/+e/+I argument normalises without panicking, to a
// mask that normalises to itself (an entry read back from the store is
// stored again unchanged), and matching it never panics.
func FuzzListMask(f *testing.F) {
	for _, s := range []string{"bob", "a:acct", "m:a:x", "m:", "x:y", "*!*@*", "m:m:z", "a:", ""} {
		f.Add(s)
	}
	cm, _ := codec.CasemappingByName("rfc1459")
	id := (&Identity{Nick: "n", User: "u", Host: "h", Account: "acct"}).withPrefix()
	f.Fuzz(func(t *testing.T, arg string) {
		mask, ok := listMask(arg)
		if !ok {
			return
		}
		if again, ok2 := listMask(mask); !ok2 || again != mask {
			t.Fatalf("listMask(%q) = %q, which normalises to %q, %v", arg, mask, again, ok2)
		}
		l := []listEntry{{mask: mask}}
		matchesAny(cm, l, id)
		matchesMute(cm, l, id)
	})
}
