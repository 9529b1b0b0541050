package guard

import (
	"net/netip"
	"testing"
	"time"
)

func testLogins(t testing.TB, mod func(*LoginConfig)) *Logins {
	t.Helper()
	cfg := DefaultLoginConfig()
	if mod != nil {
		mod(&cfg)
	}
	l, err := NewLogins(cfg, RFC1459, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Issue 15: ten wrong passwords from ten addresses locked the owner out.
// Guesses are limited per (account, address block); the owner's block
// keeps its attempts.
func TestLoginsThrottlePerAddressBlock(t *testing.T) {
	l := testLogins(t, nil) // 5 per 10m per block, then one every 2m
	attacker, owner := addr("192.0.2.66"), addr("198.51.100.1")
	for i := range 5 {
		if v := l.Check("Alice", attacker, t0); v.Refused {
			t.Fatalf("attempt %d refused: %+v", i+1, v)
		}
		l.Failed("Alice", attacker, t0)
	}
	v := l.Check("ALICE", attacker, t0)
	if !v.Refused || v.RetryIn != 2*time.Minute {
		t.Fatalf("6th attempt from the attacker: %+v", v)
	}
	if v := l.Check("alice", owner, t0); v.Refused {
		t.Fatalf("owner refused: %+v", v)
	}
	if v := l.Check("bob", attacker, t0); v.Refused {
		t.Fatalf("another account refused: %+v", v)
	}
	// A neighbour in another /64 is another block; one in the same /64 is not.
	l.Failed("carol", addr("2001:db8:1:1::1"), t0)
	for range 4 {
		l.Failed("carol", addr("2001:db8:1:1::2"), t0)
	}
	if !l.Check("carol", addr("2001:db8:1:1::3"), t0).Refused || l.Check("carol", addr("2001:db8:1:2::3"), t0).Refused {
		t.Fatal("IPv6 blocks are not /64")
	}
	// One more attempt after one interval, then refused again.
	if v := l.Check("alice", attacker, at(2*time.Minute)); v.Refused {
		t.Fatalf("after 2m: %+v", v)
	}
	l.Failed("alice", attacker, at(2*time.Minute))
	if v := l.Check("alice", attacker, at(2*time.Minute)); !v.Refused {
		t.Fatalf("second burst allowed: %+v", v)
	}
	// The owner's successful login from the attacker's block (a shared
	// gateway) clears that block's failures.
	l.Succeeded("alice", attacker)
	if v := l.Check("alice", attacker, at(3*time.Minute)); v.Refused {
		t.Fatalf("after a successful login: %+v", v)
	}
}

// Across blocks an account under attack is slowed, never refused: the
// delay doubles with each failure past the threshold, up to the cap, and
// goes away as the failures drain.
func TestLoginsSlowDownIsNotRefusal(t *testing.T) {
	l := testLogins(t, nil) // past 5 failures in 10m: 1s, 2s, 4s, 8s, 10s
	fresh := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}) }
	want := []time.Duration{0, 0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		v := l.Check("victim", fresh(i), t0)
		if v.Refused || v.Delay != w {
			t.Fatalf("attempt %d from a fresh address: %+v, want delay %v", i+1, v, w)
		}
		l.Failed("victim", fresh(i), t0)
	}
	if v := l.Check("other", fresh(100), t0); v.Delay != 0 {
		t.Fatalf("another account slowed: %+v", v)
	}
	// The bucket drains 5 failures per 10 minutes.
	if v := l.Check("victim", fresh(200), at(2*time.Hour)); v.Delay != 0 || v.Refused {
		t.Fatalf("after the failures drained: %+v", v)
	}
	// A long attack cannot push the delay's end beyond a bounded time.
	for range 10000 {
		l.Failed("victim", fresh(1), at(2*time.Hour))
	}
	if v := l.Check("victim", fresh(201), at(2*time.Hour)); v.Delay != 10*time.Second {
		t.Fatalf("capped delay: %+v", v)
	}
	if v := l.Check("victim", fresh(201), at(2*time.Hour+time.Duration(5+32)*2*time.Minute)); v.Delay != 0 {
		t.Fatalf("bucket not bounded: %+v", v)
	}
}

// Names that do not exist are throttled like real ones, so that the
// answers tell nothing about which accounts exist.
func TestLoginsUnknownNamesThrottledAlike(t *testing.T) {
	l := testLogins(t, nil)
	for range 5 {
		l.Failed("ghost", addr("192.0.2.1"), t0)
	}
	if !l.Check("ghost", addr("192.0.2.1"), t0).Refused {
		t.Fatal("unknown names are not throttled like real ones")
	}
}

func TestLoginsDisabledAndBounded(t *testing.T) {
	l := testLogins(t, func(c *LoginConfig) { c.PerAddress, c.SlowAfter = 0, 0 })
	for range 100 {
		l.Failed("x", addr("192.0.2.1"), t0)
	}
	if v := l.Check("x", addr("192.0.2.1"), t0); v != (LoginVerdict{}) {
		t.Fatalf("disabled throttle: %+v", v)
	}
	l = testLogins(t, func(c *LoginConfig) { c.MaxEntries = numShards })
	for i := range 10 * numShards {
		l.Failed(string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), addr("192.0.2.1"), t0)
	}
	if n := l.pairs.len() + l.accts.len(); n > 2*numShards {
		t.Fatalf("%d entries tracked, bound %d", n, 2*numShards)
	}
	if n := l.Prune(at(24 * time.Hour)); n == 0 {
		t.Fatal("nothing pruned")
	}
	for i, mod := range []func(*LoginConfig){
		func(c *LoginConfig) { c.PerAddress = -1 },
		func(c *LoginConfig) { c.Window = 0 },
		func(c *LoginConfig) { c.Delay = -time.Second },
		func(c *LoginConfig) { c.PrefixV4 = 33 },
		func(c *LoginConfig) { c.MaxEntries = 1 },
	} {
		cfg := DefaultLoginConfig()
		mod(&cfg)
		if _, err := NewLogins(cfg, nil, nil); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}
