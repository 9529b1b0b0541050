package guard

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func reloadConfig() Config {
	cfg := DefaultConfig()
	cfg.Connections.MaxPerIP = 2
	cfg.Connections.ThrottleCount = 0
	cfg.Connections.Exempt = nil
	return cfg
}

func mustGuard(t *testing.T, cfg Config) *Guard {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestReconfigureKeepsStateAppliesLimits(t *testing.T) {
	cfg := reloadConfig()
	g := mustGuard(t, cfg)
	now := t0
	a := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 2; i++ {
		if err := g.Conns.Admit(a, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Conns.Admit(a, now); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("third connection: %v", err)
	}
	if _, _, err := g.Bans.Add(Ban{Kind: DLine, Mask: "198.51.100.0/24", Reason: "spam"}, now); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 19; i++ {
		if _, fired := g.Detect.Observe(AuthFailIP, IPKey(a), now); fired {
			t.Fatal("fired early")
		}
	}
	oldClass := g.Flood.For(a, false)
	for i := 0; i < 5; i++ {
		g.Logins.Failed("alice", a, now)
	}

	next := cfg
	next.Connections.MaxPerIP = 3
	next.Flood.Classes = map[string]FloodClassConfig{"user": {Burst: 2, Rate: 1, Disconnect: 100, DefaultCost: 1}}
	ng, kept, err := g.Reconfigure(next)
	if err != nil || len(kept) != 0 {
		t.Fatalf("Reconfigure: kept %v, err %v", kept, err)
	}
	// The two open connections still count against the new limit of 3.
	if err := ng.Conns.Admit(a, now); err != nil {
		t.Fatalf("third connection under the new limit: %v", err)
	}
	if err := ng.Conns.Admit(a, now); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("fourth connection: %v", err)
	}
	for i := 0; i < 3; i++ {
		ng.Conns.Release(a)
	}
	if n := ng.Conns.Active(a); n != 0 {
		t.Fatalf("%d connections counted after releasing all", n)
	}
	if _, ok := ng.Bans.MatchIP(netip.MustParseAddr("198.51.100.7"), now); !ok || ng.Bans != g.Bans {
		t.Fatal("the D-line did not survive")
	}
	if ng.Suspensions != g.Suspensions {
		t.Fatal("suspensions replaced")
	}
	if v := ng.Logins.Check("alice", a, now); !v.Refused {
		t.Fatalf("the login throttle forgot a's failures: %+v", v)
	}

	if _, fired := ng.Detect.Observe(AuthFailIP, IPKey(a), now); !fired {
		t.Fatal("the 20th failure did not fire: the detector forgot the first 19")
	}
	// Budgets classed before: their class is no longer handed out.
	if ng.Flood.Owns(oldClass) || !g.Flood.Owns(oldClass) {
		t.Fatal("Owns does not tell the old class from the new")
	}
	b := NewBudget(ng.Flood.For(a, false))
	for i := 0; i < 2; i++ {
		if d := b.Charge(now, Point); d.Verdict != Proceed {
			t.Fatalf("command %d under burst 2: %v", i+1, d.Verdict)
		}
	}
	if d := b.Charge(now, Point); d.Verdict != Fakelag {
		t.Fatalf("third command past burst 2: %v", d.Verdict)
	}
	// The old guard is untouched: it still says 2.
	if err := g.Conns.Admit(netip.MustParseAddr("192.0.2.9"), now); err != nil {
		t.Fatal(err)
	}
}

func TestReconfigureKeepsKeyingSettings(t *testing.T) {
	cfg := reloadConfig()
	g := mustGuard(t, cfg)
	now := t0
	a := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 2; i++ {
		if err := g.Conns.Admit(a, now); err != nil {
			t.Fatal(err)
		}
	}
	next := cfg
	next.Connections.PrefixV4 = 24
	next.Connections.MaxEntries = 1 << 10
	next.Bans.MinPrefixV4 = 16
	next.CaseMapping = "ascii"
	ng, kept, err := g.Reconfigure(next)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"casemapping", "connections.prefix_v4", "connections.max_entries", "bans.min_prefix_v4"}
	if !slices.Equal(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
	// Still one address per block: a neighbour in the same /24 is not
	// counted with a.
	if err := ng.Conns.Admit(netip.MustParseAddr("192.0.2.2"), now); err != nil {
		t.Fatalf("neighbour: %v", err)
	}
	if err := ng.Conns.Admit(a, now); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("a's third connection: %v", err)
	}
	if _, _, err := ng.Bans.Add(Ban{Kind: DLine, Mask: "10.0.0.0/12", Reason: "x"}, now); err != nil {
		t.Fatalf("a /12 D-line under the kept minimum /8: %v", err)
	}
	if ng.CaseMapping != g.CaseMapping {
		t.Fatal("casemapping changed")
	}
}

func TestReconfigureDetectorRekeyedStartsAfresh(t *testing.T) {
	cfg := reloadConfig()
	g := mustGuard(t, cfg)
	a := IPKey(netip.MustParseAddr("192.0.2.1"))
	for i := 0; i < 19; i++ {
		g.Detect.Observe(AuthFailIP, a, t0)
		g.Registrations.Allow(a, t0)
	}
	next := cfg
	next.Detect.AuthFailIP.Window = 20 * time.Minute
	ng, _, err := g.Reconfigure(next)
	if err != nil {
		t.Fatal(err)
	}
	if _, fired := ng.Detect.Observe(AuthFailIP, a, t0); fired {
		t.Fatal("a detector with a new window kept counts in the old bucket width")
	}
	// The registration quota (3 an hour) was unchanged: still used up.
	if ng.Registrations.Allow(a, t0) {
		t.Fatal("the registration quota was reset by a reload")
	}
}

func TestReconfigureRefusesInvalid(t *testing.T) {
	cfg := reloadConfig()
	g := mustGuard(t, cfg)
	for _, mod := range []func(*Config){
		func(c *Config) { c.Flood.Classes = map[string]FloodClassConfig{"user": {Burst: 1, Rate: -1}} },
		func(c *Config) { c.Detect.ConnStorm.Action = "explode" },
		func(c *Config) { c.Connections.Exempt = []string{"not-an-address"} },
		func(c *Config) { c.CaseMapping = "klingon" },
	} {
		next := cfg
		next.Flood.Classes = cfg.Flood.Classes
		mod(&next)
		if ng, _, err := g.Reconfigure(next); err == nil || ng != nil {
			t.Errorf("invalid config accepted: %+v", next)
		}
	}
}
