package guard

import (
	"net/netip"
	"testing"
	"time"
)

func TestQuota(t *testing.T) {
	q, err := NewQuota(QuotaConfig{Limit: 3, Window: time.Hour, PrefixV4: 32, PrefixV6: 64, MaxEntries: 1024}, RFC1459)
	if err != nil {
		t.Fatal(err)
	}
	ip := IPKey(netip.MustParseAddr("2001:db8::1"))
	same64 := IPKey(netip.MustParseAddr("2001:db8::2"))
	for i := range 3 {
		if !q.Allow(ip, t0) {
			t.Fatalf("event %d refused", i+1)
		}
	}
	if q.Allow(same64, t0) {
		t.Fatal("4th event in one /64 allowed")
	}
	if !q.Allow(IPKey(netip.MustParseAddr("2001:db8:0:1::1")), t0) {
		t.Fatal("other /64 refused")
	}
	if q.Allow(ip, at(19*time.Minute)) || !q.Allow(ip, at(20*time.Minute)) {
		t.Fatal("one event per 20 minutes after the burst")
	}
	acct := AccountKey("Bob")
	for range 3 {
		q.Allow(acct, t0)
	}
	if q.Allow(AccountKey("BOB"), t0) {
		t.Fatal("account names must fold")
	}
	if !q.Allow(Key{}, t0) {
		t.Fatal("empty key refused")
	}
	if n := q.Prune(at(2 * time.Hour)); n != 3 {
		t.Fatalf("Prune = %d, want 3", n)
	}
	off, err := NewQuota(QuotaConfig{}, nil)
	if err != nil || !off.Allow(ip, t0) || off.Prune(t0) != 0 {
		t.Fatalf("disabled quota: %v", err)
	}
	for _, bad := range []QuotaConfig{{Limit: -1}, {Limit: 1}, {Limit: 1, Window: time.Hour, MaxEntries: 1024, PrefixV4: 40, PrefixV6: 64}} {
		if _, err := NewQuota(bad, nil); err == nil {
			t.Errorf("NewQuota(%+v) accepted", bad)
		}
	}
}
