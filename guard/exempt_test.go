package guard

import (
	"net/netip"
	"testing"
)

func detectorWith(t testing.TB, l *ConnLimiter, mod func(*DetectConfig)) *Detector {
	t.Helper()
	cfg := DefaultDetectConfig()
	if mod != nil {
		mod(&cfg)
	}
	d, err := NewDetector(cfg, RFC1459, l)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// storm observes n connection attempts from addr and returns the last
// response.
func storm(d *Detector, addr string, n int) (Response, bool) {
	var r Response
	var ok bool
	for range n {
		if r, ok = d.Observe(ConnStorm, IPKey(netip.MustParseAddr(addr)), t0); ok {
			return r, ok
		}
	}
	return r, ok
}

// Issue 15: 60 connections from 127.0.0.1 D-lined 127.0.0.0/24 although
// loopback was "exempt". Exempt addresses are not observed at all.
func TestDetectorIgnoresExemptAddresses(t *testing.T) {
	loopback := func(c *ConnConfig) { c.Exempt = DefaultConnConfig().Exempt } // 127.0.0.0/8, ::1
	d := detectorWith(t, testLimiter(t, loopback, nil), nil)
	for _, a := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.2"} {
		if r, ok := storm(d, a, 1000); ok {
			t.Fatalf("storm from exempt %s fired: %+v", a, r)
		}
		for range 100 {
			if r, ok := d.Observe(AuthFailIP, IPKey(netip.MustParseAddr(a)), t0); ok {
				t.Fatalf("auth failures from exempt %s fired: %+v", a, r)
			}
		}
	}
	if r, ok := storm(d, "192.0.2.1", 50); !ok || r.Net != netip.MustParsePrefix("192.0.2.1/32") {
		t.Fatalf("storm from a plain address: %+v %v", r, ok)
	}
}

// Issue 15: a detector's block defaults to the connection limiter's, and
// is wider only when configured.
func TestDetectorPrefixFollowsConnLimiter(t *testing.T) {
	d := detectorWith(t, testLimiter(t, nil, nil), nil)
	if r, ok := storm(d, "2001:db8:1:2:3::9", 50); !ok || r.Net != netip.MustParsePrefix("2001:db8:1:2::/64") {
		t.Fatalf("v6 storm: %+v %v", r, ok)
	}
	d = detectorWith(t, testLimiter(t, func(c *ConnConfig) { c.PrefixV4 = 28 }, nil), nil)
	if r, ok := storm(d, "192.0.2.200", 50); !ok || r.Net != netip.MustParsePrefix("192.0.2.192/28") {
		t.Fatalf("v4 storm with /28 blocks: %+v %v", r, ok)
	}
	d = detectorWith(t, testLimiter(t, nil, nil), func(c *DetectConfig) { c.ConnStorm.PrefixV4 = 24 })
	if r, ok := storm(d, "192.0.2.200", 50); !ok || r.Net != netip.MustParsePrefix("192.0.2.0/24") {
		t.Fatalf("configured /24: %+v %v", r, ok)
	}
}

// A configured wide block that covers an exempt address is narrowed to
// the widest block around the offender that covers none.
func TestDetectorDLineNarrowedAroundExemptions(t *testing.T) {
	l := testLimiter(t, func(c *ConnConfig) { c.Exempt = []string{"198.51.100.7", "2001:db8::1"} }, nil)
	d := detectorWith(t, l, func(c *DetectConfig) { c.ConnStorm.PrefixV4, c.ConnStorm.PrefixV6 = 24, 48 })
	r, ok := storm(d, "198.51.100.9", 50)
	if !ok || r.Net != netip.MustParsePrefix("198.51.100.8/29") {
		t.Fatalf("v4: %+v %v", r, ok)
	}
	r, ok = storm(d, "2001:db8::8000", 50)
	if !ok || r.Net.Contains(netip.MustParseAddr("2001:db8::1")) || !r.Net.Contains(netip.MustParseAddr("2001:db8::8000")) || r.Net.Bits() != 113 {
		t.Fatalf("v6: %+v %v", r, ok)
	}
	// A block without exempt addresses keeps its size.
	if r, ok = storm(d, "203.0.113.5", 50); !ok || r.Net != netip.MustParsePrefix("203.0.113.0/24") {
		t.Fatalf("plain block: %+v %v", r, ok)
	}
}

func TestExemptions(t *testing.T) {
	e, err := NewExemptions([]string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{
		"10.1.2.3": true, "::ffff:10.1.2.3": true, "11.0.0.1": false, "2001:db8:5::1": true,
		"2001:db9::1": false, "192.0.2.1": true, "192.0.2.2": false,
	} {
		if got := e.Contains(netip.MustParseAddr(a)); got != want {
			t.Errorf("Contains(%s) = %v", a, got)
		}
	}
	if !e.Overlaps(netip.MustParsePrefix("192.0.2.0/24")) || e.Overlaps(netip.MustParsePrefix("192.0.2.2/31")) {
		t.Error("Overlaps")
	}
	var none *Exemptions
	if none.Contains(netip.MustParseAddr("10.0.0.1")) || none.Overlaps(netip.MustParsePrefix("0.0.0.0/0")) {
		t.Error("nil set exempts")
	}
	if _, err := NewExemptions([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad mask accepted")
	}
	if n := testing.AllocsPerRun(100, func() { e.Contains(netip.MustParseAddr("10.1.2.3")) }); n != 0 {
		t.Errorf("Contains allocates %v", n)
	}
}
