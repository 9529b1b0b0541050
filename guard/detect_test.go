package guard

import (
	"net/netip"
	"testing"
	"time"
)

func testDetector(t testing.TB, mod func(*DetectConfig)) *Detector {
	t.Helper()
	cfg := DefaultDetectConfig()
	if mod != nil {
		mod(&cfg)
	}
	d, err := NewDetector(cfg, RFC1459, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthFailIPEscalates(t *testing.T) {
	d := testDetector(t, nil) // 20 in 10m -> DLINE 10m, 1h, 24h; memory 24h
	a := IPKey(netip.MustParseAddr("192.0.2.10"))
	now := t0
	fire := func() Response {
		t.Helper()
		for i := 1; i < 20; i++ {
			if r, ok := d.Observe(AuthFailIP, a, now); ok {
				t.Fatalf("fired after %d failures: %+v", i, r)
			}
		}
		r, ok := d.Observe(AuthFailIP, a, now)
		if !ok {
			t.Fatal("20th failure did not fire")
		}
		return r
	}
	r := fire()
	want := Response{Kind: AuthFailIP, Action: ActionDLine, Net: netip.MustParsePrefix("192.0.2.10/32"),
		Duration: 10 * time.Minute, Offence: 1, Events: 20, Notify: true}
	if r != want {
		t.Fatalf("first response %+v, want %+v", r, want)
	}
	if r.Reason() == "" {
		t.Fatal("empty reason")
	}
	// The window restarted: the next failure alone does not fire.
	if _, ok := d.Observe(AuthFailIP, a, now); ok {
		t.Fatal("fired again without a fresh burst")
	}
	now = now.Add(time.Hour)
	if r = fire(); r.Offence != 2 || r.Duration != time.Hour {
		t.Fatalf("second offence: %+v", r)
	}
	now = now.Add(time.Hour)
	if r = fire(); r.Offence != 3 || r.Duration != 24*time.Hour {
		t.Fatalf("third offence: %+v", r)
	}
	now = now.Add(time.Hour)
	if r = fire(); r.Offence != 4 || r.Duration != 24*time.Hour {
		t.Fatalf("the last duration repeats: %+v", r)
	}
	// Past the memory period the offence count starts over.
	now = now.Add(25 * time.Hour)
	if r = fire(); r.Offence != 1 || r.Duration != 10*time.Minute {
		t.Fatalf("after memory lapsed: %+v", r)
	}
}

func TestDetectorSlidingWindow(t *testing.T) {
	d := testDetector(t, func(c *DetectConfig) {
		c.FloodDisconnect = RuleConfig{Threshold: 3, Window: 8 * time.Minute, Action: "notice", PrefixV4: 32, PrefixV6: 64}
	})
	a := IPKey(netip.MustParseAddr("198.51.100.1"))
	// Spaced 5 minutes apart, three events never fall in one 8-minute
	// window...
	for i := range 6 {
		if r, ok := d.Observe(FloodDisconnect, a, at(time.Duration(i)*5*time.Minute)); ok {
			t.Fatalf("event %d fired: %+v", i, r)
		}
	}
	// ...but 3 within 7 minutes do, even across bucket boundaries.
	b := IPKey(netip.MustParseAddr("198.51.100.2"))
	d.Observe(FloodDisconnect, b, at(30*time.Second))
	d.Observe(FloodDisconnect, b, at(4*time.Minute))
	r, ok := d.Observe(FloodDisconnect, b, at(7*time.Minute+30*time.Second))
	if !ok || r.Action != ActionNotice || r.Duration != 0 || r.Events != 3 {
		t.Fatalf("3 in 7m: %+v %v", r, ok)
	}
}

func TestConnStormCIDR(t *testing.T) {
	d := testDetector(t, func(c *DetectConfig) {
		c.ConnStorm.Threshold = 5
		c.ConnStorm.PrefixV4, c.ConnStorm.PrefixV6 = 24, 48
	})
	// Five different addresses of one /24 make a storm of that /24.
	var r Response
	var ok bool
	for i := range 5 {
		r, ok = d.Observe(ConnStorm, IPKey(netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})), t0)
	}
	if !ok || r.Net != netip.MustParsePrefix("203.0.113.0/24") {
		t.Fatalf("storm: %+v %v", r, ok)
	}
	for i := range 5 {
		r, ok = d.Observe(ConnStorm, IPKey(netip.MustParseAddr("2001:db8:aa:"+string(rune('1'+i))+"::1")), t0)
	}
	if !ok || r.Net != netip.MustParsePrefix("2001:db8:aa::/48") {
		t.Fatalf("v6 storm: %+v %v", r, ok)
	}
	// The ban target is usable as a DLINE mask.
	if _, _, err := newBans().Add(Ban{Kind: DLine, Mask: IPMaskString(r.Net), Reason: r.Reason(), Expires: t0.Add(r.Duration)}, t0); err != nil {
		t.Fatal(err)
	}
}

func TestAuthFailAccountNotice(t *testing.T) {
	d := testDetector(t, nil) // 10 in 10m -> notice
	var r Response
	var ok bool
	// Case variations of one account count together.
	for i, name := range []string{"Alice", "ALICE", "alice", "aLiCe", "Alice", "Alice", "Alice", "Alice", "Alice", "alice"} {
		if r, ok = d.Observe(AuthFailAccount, AccountKey(name), t0); ok != (i == 9) {
			t.Fatalf("failure %d: fired=%v", i+1, ok)
		}
	}
	if r.Action != ActionNotice || r.Account != "alice" || r.Duration != 0 || r.Net.IsValid() || !r.Notify {
		t.Fatalf("account response: %+v", r)
	}
	// Keys of the wrong type are ignored.
	if _, ok := d.Observe(AuthFailAccount, IPKey(netip.MustParseAddr("192.0.2.1")), t0); ok {
		t.Fatal("account rule fired on an IP key")
	}
	if _, ok := d.Observe(AuthFailIP, AccountKey("alice"), t0); ok {
		t.Fatal("IP rule fired on an account key")
	}
	if d.Len(AuthFailIP) != 0 {
		t.Fatal("ignored observation stored")
	}
}

func TestDetectorResetAndDisabled(t *testing.T) {
	d := testDetector(t, func(c *DetectConfig) {
		c.RegTimeout.Threshold = 0
		c.AuthFailIP.Threshold = 3
	})
	a := IPKey(netip.MustParseAddr("192.0.2.1"))
	for range 100 {
		if _, ok := d.Observe(RegTimeout, a, t0); ok {
			t.Fatal("disabled rule fired")
		}
	}
	d.Observe(AuthFailIP, a, t0)
	d.Observe(AuthFailIP, a, t0)
	d.Reset(AuthFailIP, a) // a successful login
	if _, ok := d.Observe(AuthFailIP, a, t0); ok {
		t.Fatal("fired after reset")
	}
	if _, ok := d.Observe(numKinds, a, t0); ok {
		t.Fatal("unknown kind fired")
	}
}

func TestDetectorBoundedAndPrune(t *testing.T) {
	d := testDetector(t, func(c *DetectConfig) { c.MaxEntries = numShards * 2 })
	for i := range 10000 {
		d.Observe(AuthFailIP, IPKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})), t0)
		d.Observe(AuthFailAccount, AccountKey("acct"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676%26))), t0)
	}
	if n := d.Len(AuthFailIP); n > numShards*2 {
		t.Fatalf("IP table grew to %d", n)
	}
	if n := d.Len(AuthFailAccount); n > numShards*2 {
		t.Fatalf("account table grew to %d", n)
	}
	if n := d.Prune(at(time.Hour)); n == 0 || d.Len(AuthFailIP) != 0 || d.Len(AuthFailAccount) != 0 {
		t.Fatalf("Prune removed %d, left %d/%d", n, d.Len(AuthFailIP), d.Len(AuthFailAccount))
	}
	// Offenders are remembered for the memory period, not just the window.
	d2 := testDetector(t, func(c *DetectConfig) { c.FloodDisconnect.Threshold = 1 })
	k := IPKey(netip.MustParseAddr("192.0.2.1"))
	d2.Observe(FloodDisconnect, k, t0)
	if d2.Prune(at(time.Hour)); d2.Len(FloodDisconnect) != 1 {
		t.Fatal("offence forgotten before its memory period")
	}
	if r, _ := d2.Observe(FloodDisconnect, k, at(2*time.Hour)); r.Offence != 2 {
		t.Fatalf("offence %d, want 2", r.Offence)
	}
	if d2.Prune(at(27 * time.Hour)); d2.Len(FloodDisconnect) != 0 {
		t.Fatal("not pruned after memory lapsed")
	}
}

func TestDetectorConfigErrors(t *testing.T) {
	for i, mod := range []func(*DetectConfig){
		func(c *DetectConfig) { c.AuthFailIP.Action = "kill" },
		func(c *DetectConfig) { c.AuthFailIP.Action = "lockout" },
		func(c *DetectConfig) { c.AuthFailAccount.Action = "lockout" },
		func(c *DetectConfig) { c.AuthFailAccount.Action = "dline" },
		func(c *DetectConfig) { c.AuthFailIP.Durations = nil },
		func(c *DetectConfig) { c.AuthFailIP.Durations = []time.Duration{-1} },
		func(c *DetectConfig) { c.AuthFailIP.Window = 0 },
		func(c *DetectConfig) { c.AuthFailIP.Threshold = -1 },
		func(c *DetectConfig) { c.ConnStorm.PrefixV4 = -1 },
		func(c *DetectConfig) { c.ConnStorm.PrefixV6 = 129 },
		func(c *DetectConfig) { c.MaxEntries = 0 },
	} {
		cfg := DefaultDetectConfig()
		mod(&cfg)
		if _, err := NewDetector(cfg, nil, nil); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	// Notice-only rules need no durations.
	cfg := DefaultDetectConfig()
	cfg.RegTimeout.Action, cfg.RegTimeout.Durations = "notice", nil
	if _, err := NewDetector(cfg, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	d := testDetector(t, nil)
	a := IPKey(netip.MustParseAddr("192.0.2.1"))
	acct := AccountKey("alice")
	now := t0
	n := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Minute)
		d.Observe(ConnStorm, a, now)
		d.Observe(AuthFailAccount, acct, now)
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkObserveConnStorm(b *testing.B) {
	d := testDetector(b, nil)
	a := IPKey(netip.MustParseAddr("192.0.2.1"))
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(2 * time.Second) // below the storm threshold
		if _, ok := d.Observe(ConnStorm, a, now); ok {
			b.Fatal("fired")
		}
	}
}
