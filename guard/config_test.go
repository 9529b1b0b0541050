package guard

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFromTOML(t *testing.T) {
	const file = `
casemapping = "ascii"

[flood]
exempt = ["192.0.2.0/24"]

[flood.classes.user]
burst = 30
[flood.classes.user.costs]
JOIN = { base = 1, per_target = 1 }

[flood.classes.bots]
rate = 5
no_fakelag = true

[connections]
max_per_ip = 4
throttle_window = "1m"

[detect.auth_fail_ip]
threshold = 5
durations = ["1m", "2h"]

[limits]
topic_len = 300
`
	cfg := DefaultConfig()
	md, err := toml.Decode(file, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if un := md.Undecoded(); len(un) != 0 {
		t.Fatalf("undecoded keys: %v", un)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if g.CaseMapping != ASCII || g.Limits.TopicLen != 300 || g.Limits.AwayLen != 390 {
		t.Fatalf("casemapping %s, limits %+v", g.CaseMapping.Name(), g.Limits)
	}
	// Keys absent from the file keep their defaults.
	if cfg.Connections.ThrottleCount != 32 || cfg.Connections.ThrottleWindow != time.Minute || cfg.Connections.MaxPerIP != 4 {
		t.Fatalf("connections %+v", cfg.Connections)
	}
	if r := cfg.Detect.AuthFailIP; r.Threshold != 5 || r.Window != 10*time.Minute || len(r.Durations) != 2 || r.Durations[1] != 2*time.Hour {
		t.Fatalf("auth_fail_ip %+v", r)
	}
	// A class given in the file keeps defaults for its zero fields.
	user, _ := g.Flood.Class("user")
	if user.burstNs != int64(15*time.Second) || user.Cost([]byte("JOIN"), 3) != 3*Point || user.Cost([]byte("PRIVMSG"), 1) != Point {
		t.Fatalf("user class burst %v, JOIN %d", time.Duration(user.burstNs), user.Cost([]byte("JOIN"), 3))
	}
	if bots, ok := g.Flood.Class("bots"); !ok || !bots.noFakelag {
		t.Fatal("bots class")
	}
	if !g.Flood.For(netip.MustParseAddr("192.0.2.1"), false).Exempt() {
		t.Fatal("flood exempt")
	}
}

func TestConfigErrors(t *testing.T) {
	for i, mod := range []func(*Config){
		func(c *Config) { c.CaseMapping = "utf8" },
		func(c *Config) { c.Limits.TopicLen = -1 },
		func(c *Config) { c.Bans.MinPrefixV6 = 200 },
		func(c *Config) { c.Flood.Classes = map[string]FloodClassConfig{"user": {Rate: -1}} },
		func(c *Config) { c.Connections.PrefixV6 = 0 },
		func(c *Config) { c.Detect.ConnStorm.Action = "explode" },
		func(c *Config) { c.Quotas.Invites.Window = 0 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

// TestGuardScenario walks issue 7's acceptance story through the API with
// a fake clock: twenty wrong passwords from one address lead to a
// temporary DLINE, the address cannot reconnect until it expires, and the
// expiry is reported by Prune for the caller to delete from storage.
func TestGuardScenario(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Connections.Exempt = nil
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("198.51.100.23")
	now := t0
	var resp Response
	fired := false
	for i := 0; i < 20 && !fired; i++ {
		if err := g.Conns.Admit(ip, now); err != nil {
			t.Fatalf("attempt %d refused early: %v", i+1, err)
		}
		resp, fired = g.Detect.Observe(AuthFailIP, IPKey(ip), now)
		g.Conns.Release(ip)
		now = now.Add(time.Second)
	}
	if !fired || resp.Action != ActionDLine {
		t.Fatalf("no DLINE after 20 failures: %+v", resp)
	}
	ban, _, err := g.Bans.Add(Ban{Kind: DLine, Mask: IPMaskString(resp.Net), Reason: resp.Reason(),
		SetBy: "guard", SetAt: now, Expires: now.Add(resp.Duration)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Conns.Admit(ip, now); !errors.Is(err, ErrBanned) {
		t.Fatalf("banned address admitted: %v", err)
	}
	if b, ok := g.Bans.MatchIP(ip, now); !ok || b.Reason != ban.Reason {
		t.Fatalf("MatchIP: %+v", b)
	}
	now = now.Add(resp.Duration)
	if err := g.Conns.Admit(ip, now); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	exp := g.Prune(now)
	if len(exp.Bans) != 1 || exp.Bans[0].Mask != "198.51.100.23" {
		t.Fatalf("Prune: %+v", exp)
	}
}
