package guard

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func testLimiter(t testing.TB, mod func(*ConnConfig), bans *BanList) *ConnLimiter {
	t.Helper()
	cfg := DefaultConnConfig()
	cfg.Exempt = nil
	if mod != nil {
		mod(&cfg)
	}
	l, err := NewConnLimiter(cfg, bans)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAdmitConcurrentLimit(t *testing.T) {
	l := testLimiter(t, func(c *ConnConfig) { c.MaxPerIP, c.ThrottleCount = 3, 0 }, nil)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 3 {
		if err := l.Admit(a, t0); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
	}
	if err := l.Admit(a, t0); err != ErrTooManyConns {
		t.Fatalf("4th: %v", err)
	}
	// Another address is unaffected; the mapped form is the same address.
	if err := l.Admit(netip.MustParseAddr("192.0.2.2"), t0); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(netip.MustParseAddr("::ffff:192.0.2.1"), t0); err != ErrTooManyConns {
		t.Fatalf("mapped address: %v", err)
	}
	l.Release(a)
	if l.Active(a) != 2 {
		t.Fatalf("Active = %d", l.Active(a))
	}
	if err := l.Admit(a, t0); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestAdmitIPv6Prefix(t *testing.T) {
	l := testLimiter(t, func(c *ConnConfig) { c.MaxPerIP, c.ThrottleCount = 2, 0 }, nil)
	// Two addresses in one /64 share the limit; another /64 does not.
	if err := l.Admit(netip.MustParseAddr("2001:db8:0:1::1"), t0); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(netip.MustParseAddr("2001:db8:0:1:ffff::2"), t0); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(netip.MustParseAddr("2001:db8:0:1::3"), t0); err != ErrTooManyConns {
		t.Fatalf("third in /64: %v", err)
	}
	if err := l.Admit(netip.MustParseAddr("2001:db8:0:2::1"), t0); err != nil {
		t.Fatalf("other /64: %v", err)
	}
}

func TestAdmitThrottle(t *testing.T) {
	// 4 per minute: 4 at once, then one every 15 s.
	l := testLimiter(t, func(c *ConnConfig) {
		c.MaxPerIP, c.ThrottleCount, c.ThrottleWindow = 0, 4, time.Minute
	}, nil)
	a := netip.MustParseAddr("198.51.100.7")
	for i := range 4 {
		if err := l.Admit(a, t0); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		l.Release(a) // closing does not refund the throttle
	}
	if err := l.Admit(a, t0); !errors.Is(err, ErrThrottled) {
		t.Fatalf("5th: %v", err)
	}
	if err := l.Admit(a, at(14*time.Second)); err != ErrThrottled {
		t.Fatalf("before the refill: %v", err)
	}
	if err := l.Admit(a, at(15*time.Second)); err != nil {
		t.Fatalf("after 15s: %v", err)
	}
	if err := l.Admit(a, at(15*time.Second)); err != ErrThrottled {
		t.Fatalf("second after 15s: %v", err)
	}
	if err := l.Admit(a, at(2*time.Minute)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestAdmitExemptBannedInvalid(t *testing.T) {
	bans := newBans()
	mustAdd(t, bans, Ban{Kind: DLine, Mask: "203.0.113.0/24", Expires: at(time.Hour)})
	mustAdd(t, bans, Ban{Kind: DLine, Mask: "192.0.2.66"})
	l := testLimiter(t, func(c *ConnConfig) {
		c.MaxPerIP = 1
		c.Exempt = []string{"192.0.2.0/24"}
	}, bans)
	ex := netip.MustParseAddr("192.0.2.1")
	for i := range 10 {
		if err := l.Admit(ex, t0); err != nil {
			t.Fatalf("exempt connection %d: %v", i, err)
		}
	}
	if l.Active(ex) != 0 {
		t.Fatal("exempt connections must not be counted")
	}
	l.Release(ex)
	if err := l.Admit(netip.MustParseAddr("192.0.2.66"), t0); err != ErrBanned {
		t.Fatalf("bans apply to exempt addresses too: %v", err)
	}
	if err := l.Admit(netip.MustParseAddr("203.0.113.9"), t0); err != ErrBanned {
		t.Fatalf("banned: %v", err)
	}
	if err := l.Admit(netip.MustParseAddr("203.0.113.9"), at(time.Hour)); err != nil {
		t.Fatalf("after the ban expired: %v", err)
	}
	for range 3 {
		if err := l.Admit(netip.Addr{}, t0); err != nil {
			t.Fatalf("invalid (unix socket) address: %v", err)
		}
		l.Release(netip.Addr{})
	}
}

func TestConnLimiterBoundedMemory(t *testing.T) {
	l := testLimiter(t, func(c *ConnConfig) {
		c.MaxEntries, c.ThrottleCount, c.ThrottleWindow = numShards*2, 1, time.Minute
	}, nil)
	// Thousands of distinct idle-but-throttled addresses: the table never
	// exceeds its cap; old entries are evicted to admit new ones.
	for i := range 5000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if err := l.Admit(a, t0); err != nil {
			t.Fatalf("address %d: %v", i, err)
		}
		l.Release(a)
		if n := l.Len(); n > numShards*2 {
			t.Fatalf("table grew to %d", n)
		}
	}
	// Live connections are never evicted: fill every slot with an open
	// connection, and new addresses are refused with ErrCapacity.
	l = testLimiter(t, func(c *ConnConfig) { c.MaxEntries, c.ThrottleCount = numShards, 0 }, nil)
	refused := 0
	var live []netip.Addr
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		switch err := l.Admit(a, t0); err {
		case nil:
			live = append(live, a)
		case ErrCapacity:
			refused++
		default:
			t.Fatal(err)
		}
	}
	if refused == 0 || l.Len() > numShards {
		t.Fatalf("refused %d, len %d", refused, l.Len())
	}
	for _, a := range live {
		l.Release(a)
	}
	if n := l.Prune(t0); n != len(live) || l.Len() != 0 {
		t.Fatalf("Prune removed %d of %d, left %d", n, len(live), l.Len())
	}
}

func TestConnLimiterConfigErrors(t *testing.T) {
	for i, mod := range []func(*ConnConfig){
		func(c *ConnConfig) { c.MaxPerIP = -1 },
		func(c *ConnConfig) { c.ThrottleWindow = 0 },
		func(c *ConnConfig) { c.PrefixV4 = 33 },
		func(c *ConnConfig) { c.PrefixV6 = 0 },
		func(c *ConnConfig) { c.MaxEntries = 1 },
		func(c *ConnConfig) { c.Exempt = []string{"x"} },
	} {
		cfg := DefaultConnConfig()
		mod(&cfg)
		if _, err := NewConnLimiter(cfg, nil); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

func TestConnLimiterConcurrent(t *testing.T) {
	l := testLimiter(t, func(c *ConnConfig) { c.MaxPerIP, c.ThrottleCount = 1000, 0 }, newBans())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				a := netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 8)})
				if err := l.Admit(a, t0); err != nil {
					t.Error(err)
					return
				}
				l.Release(a)
			}
		}()
	}
	wg.Wait()
	for g := range 4 {
		for i := range 8 {
			if n := l.Active(netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i)})); n != 0 {
				t.Fatalf("leaked %d connections", n)
			}
		}
	}
}

func TestAdmitDoesNotAllocate(t *testing.T) {
	l := testLimiter(t, nil, newBans())
	a := netip.MustParseAddr("2001:db8::1")
	l.Admit(a, t0)
	l.Release(a)
	now := t0
	n := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Hour) // stay under the throttle
		if err := l.Admit(a, now); err != nil {
			t.Fatal(err)
		}
		l.Release(a)
	})
	if n != 0 {
		t.Fatalf("%v allocs per Admit+Release", n)
	}
}

func BenchmarkAdmitRelease(b *testing.B) {
	bans := benchBans(b, 1000)
	l := testLimiter(b, func(c *ConnConfig) { c.ThrottleCount = 0 }, bans)
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			a := addrs[i&1023]
			i++
			if err := l.Admit(a, now); err != nil {
				b.Fatal(err)
			}
			l.Release(a)
		}
	})
}

func BenchmarkAdmitNoBans(b *testing.B) {
	l := testLimiter(b, func(c *ConnConfig) { c.ThrottleCount = 0 }, newBans())
	a := netip.MustParseAddr("198.51.100.1")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Admit(a, now); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
		l.Release(a)
	}
}

func TestZonedAddresses(t *testing.T) {
	bans := newBans()
	mustAdd(t, bans, Ban{Kind: DLine, Mask: "fe80::/64"})
	mustAdd(t, bans, Ban{Kind: KLine, Mask: "*@fe80::*"})
	zoned := netip.MustParseAddr("fe80::1%eth0")
	if _, ok := bans.MatchIP(zoned, t0); !ok {
		t.Fatal("zoned address escaped a DLINE")
	}
	if _, ok := bans.MatchUserHost("n", "u", "host", zoned, t0); !ok {
		t.Fatal("zoned address escaped a KLINE on its IP text")
	}
	l := testLimiter(t, func(c *ConnConfig) { c.MaxPerIP, c.ThrottleCount = 1, 0 }, nil)
	if err := l.Admit(netip.MustParseAddr("fe80::2%eth0"), t0); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(netip.MustParseAddr("fe80::3%eth1"), t0); err != ErrTooManyConns {
		t.Fatalf("zones must not split a /64: %v", err)
	}
	d := testDetector(t, func(c *DetectConfig) { c.FloodDisconnect.Threshold = 1 })
	if r, ok := d.Observe(FloodDisconnect, IPKey(zoned), t0); !ok || r.Net.String() != "fe80::/64" {
		t.Fatalf("response %+v", r)
	}
}
