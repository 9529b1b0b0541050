package codec

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzProxyHeader checks that no input panics, that a header never claims
// more than the input or the limits, and that Parse is incremental: over
// the prefixes of any input it answers "need more" up to some length and
// the whole input's answer from there on.
func FuzzProxyHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nNICK a\r\n",
		"PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 2\r\n",
		"PROXY UNKNOWN\r\n",
		"NICK a\r\n",
		string(AppendProxyV2(nil, netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2"))),
		string(AppendProxyV2(nil, netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[::1]:2"))),
		string(AppendProxyV2(nil, netip.AddrPort{}, netip.AddrPort{})),
		string(withCRC(true)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var h ProxyHeader
		n, err := h.Parse(in)
		if n < 0 || n > len(in) || err != nil && n != 0 {
			t.Fatalf("Parse(%q) = %d, %v", in, n, err)
		}
		if n > 0 {
			lim := MaxProxyV2
			if h.Version == 1 {
				lim = MaxProxyV1
			}
			if n > lim || h.Relayed() && h.Command != ProxyProxy {
				t.Fatalf("Parse(%q) = %d, %+v", in, n, h)
			}
		}
		checkPrefixes(t, in, n, err)
	})
}

// FuzzProxyIPv6 checks the allocation-free IPv6 parser against
// netip.ParseAddr on zone-free text.
func FuzzProxyIPv6(f *testing.F) {
	for _, s := range []string{"::", "::1", "1::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "1::2::3", "::01.2.3.4", "00000::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "%") {
			return
		}
		got, ok := parseIPv6([]byte(s))
		want, err := netip.ParseAddr(s)
		if err != nil || !want.Is6() {
			if ok {
				t.Fatalf("parseIPv6(%q) = %v, netip: %v", s, got, err)
			}
			return
		}
		if !ok || got != want {
			t.Fatalf("parseIPv6(%q) = %v, %v; netip: %v", s, got, ok, want)
		}
	})
}

// FuzzProxyAppend checks that what AppendProxyV1 and AppendProxyV2 write,
// Parse reads back as the same addresses.
func FuzzProxyAppend(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1}, []byte{198, 51, 100, 7}, uint16(56324), uint16(6697))
	f.Add(make([]byte, 16), []byte{0x20, 1, 0xd, 0xb8, 15: 1}, uint16(0), uint16(65535))
	f.Fuzz(func(t *testing.T, s, d []byte, sp, dp uint16) {
		sa, ok1 := netip.AddrFromSlice(s)
		da, ok2 := netip.AddrFromSlice(d)
		if !ok1 || !ok2 {
			return
		}
		src, dst := netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp)
		for _, b := range [][]byte{AppendProxyV1(nil, src, dst), AppendProxyV2(nil, src, dst)} {
			var h ProxyHeader
			n, err := h.Parse(b)
			if n != len(b) || err != nil {
				t.Fatalf("Parse(%q) = %d, %v", b, n, err)
			}
			if h.Source.Addr().Unmap() != sa.Unmap() || h.Dest.Addr().Unmap() != da.Unmap() || h.Source.Port() != sp || h.Dest.Port() != dp {
				t.Fatalf("%v -> %v became %v -> %v (%q)", src, dst, h.Source, h.Dest, b)
			}
		}
	})
}
