package codec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// proxyCase is one case of testdata/proxy.txt.
type proxyCase struct {
	line int
	in   []byte
	want string
}

func readProxyCases(t *testing.T) []proxyCase {
	t.Helper()
	f, err := os.Open("testdata/proxy.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []proxyCase
	var cur []string
	start, n := 0, 0
	flush := func() {
		if cur == nil {
			return
		}
		if len(cur) != 2 {
			t.Fatalf("proxy.txt:%d: want an input and a result, got %q", start, cur)
		}
		var in []byte
		switch {
		case strings.HasPrefix(cur[0], `"`):
			s, err := strconv.Unquote(cur[0])
			if err != nil {
				t.Fatalf("proxy.txt:%d: %v", start, err)
			}
			in = []byte(s)
		case strings.HasPrefix(cur[0], "hex "):
			in, err = hex.DecodeString(strings.ReplaceAll(cur[0][4:], " ", ""))
			if err != nil {
				t.Fatalf("proxy.txt:%d: %v", start, err)
			}
		default:
			t.Fatalf("proxy.txt:%d: input neither quoted nor hex: %q", start, cur[0])
		}
		cases = append(cases, proxyCase{start, in, cur[1]})
		cur = nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			flush()
		default:
			if cur == nil {
				start = n
			}
			cur = append(cur, line)
		}
	}
	flush()
	if len(cases) < 50 {
		t.Fatalf("only %d cases read", len(cases))
	}
	return cases
}

// describe renders a Parse result in the notation of testdata/proxy.txt.
func describe(h *ProxyHeader, n int, err error) string {
	switch {
	case err != nil:
		return "error: " + err.Error()
	case n == 0:
		return "need"
	}
	s := fmt.Sprintf("ok %d v%d %v %v", n, h.Version, h.Command, h.Family)
	if h.Relayed() {
		s += " " + h.Source.String() + " " + h.Dest.String()
	}
	return s
}

func TestProxyTable(t *testing.T) {
	for _, c := range readProxyCases(t) {
		var h ProxyHeader
		n, err := h.Parse(c.in)
		if got := describe(&h, n, err); got != c.want {
			t.Errorf("proxy.txt:%d: Parse(%q)\n got %s\nwant %s", c.line, c.in, got, c.want)
		}
		if err != nil {
			var pe ProxyError
			if !errors.As(err, &pe) {
				t.Errorf("proxy.txt:%d: error %v is not a ProxyError", c.line, err)
			}
			if h != (ProxyHeader{}) {
				t.Errorf("proxy.txt:%d: failed Parse left %+v", c.line, h)
			}
		}
	}
}

// TestProxyIncremental feeds every case byte by byte, as a slow proxy or a
// TCP stream split at any point would: each prefix of a valid header needs
// more, and no prefix is rejected that the whole input does not reject.
func TestProxyIncremental(t *testing.T) {
	for _, c := range readProxyCases(t) {
		var h ProxyHeader
		n, err := h.Parse(c.in)
		checkPrefixes(t, c.in, n, err)
	}
}

// checkPrefixes asserts that Parse over the prefixes of in is monotone:
// "need" up to some length, then the final answer (n, err) from there on.
func checkPrefixes(t *testing.T, in []byte, n int, err error) {
	t.Helper()
	decided := false
	for k := 0; k <= len(in); k++ {
		var h ProxyHeader
		nk, errk := h.Parse(in[:k])
		switch {
		case nk == 0 && errk == nil:
			if decided {
				t.Fatalf("Parse(%q) needs more after an earlier prefix was decided", in[:k])
			}
		case errk != nil:
			if errk != err {
				t.Fatalf("Parse(%q) = %v, but the whole input %q gives (%d, %v)", in[:k], errk, in, n, err)
			}
			decided = true
		default:
			if nk != n || err != nil {
				t.Fatalf("Parse(%q) = %d, but the whole input %q gives (%d, %v)", in[:k], nk, in, n, err)
			}
			if nk > k {
				t.Fatalf("Parse(%q) claims %d bytes", in[:k], nk)
			}
			decided = true
		}
	}
}

func TestProxyRoundTrip(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		src, dst netip.AddrPort
		family   ProxyFamily
	}{
		{ap("192.0.2.1:56324"), ap("198.51.100.7:6697"), ProxyTCP4},
		{ap("[2001:db8::1]:1"), ap("[2001:db8::2]:65535"), ProxyTCP6},
		// mixed families travel as IPv6 with the IPv4 one mapped
		{ap("192.0.2.1:0"), ap("[::1]:6667"), ProxyTCP6},
		{ap("[::ffff:192.0.2.1]:7"), ap("[::ffff:192.0.2.2]:8"), ProxyTCP4},
	}
	for _, tt := range tests {
		for v, appendFn := range map[int]func([]byte, netip.AddrPort, netip.AddrPort) []byte{1: AppendProxyV1, 2: AppendProxyV2} {
			buf := appendFn([]byte("x"), tt.src, tt.dst)[1:]
			buf = append(buf, "NICK a\r\n"...)
			var h ProxyHeader
			n, err := h.Parse(buf)
			if err != nil || n != len(buf)-len("NICK a\r\n") {
				t.Fatalf("v%d %v -> %v: Parse(%q) = %d, %v", v, tt.src, tt.dst, buf, n, err)
			}
			var wantSrc, wantDst netip.AddrPort
			if tt.family == ProxyTCP6 {
				wantSrc = netip.AddrPortFrom(netip.AddrFrom16(tt.src.Addr().As16()), tt.src.Port())
				wantDst = netip.AddrPortFrom(netip.AddrFrom16(tt.dst.Addr().As16()), tt.dst.Port())
			} else {
				wantSrc = netip.AddrPortFrom(tt.src.Addr().Unmap(), tt.src.Port())
				wantDst = netip.AddrPortFrom(tt.dst.Addr().Unmap(), tt.dst.Port())
			}
			if h.Version != v || h.Command != ProxyProxy || h.Family != tt.family || h.Source != wantSrc || h.Dest != wantDst {
				t.Errorf("v%d %v -> %v: got %+v", v, tt.src, tt.dst, h)
			}
		}
	}
	// Without a source: UNKNOWN (v1) and LOCAL (v2), both keeping the
	// connection's own endpoints.
	var h ProxyHeader
	if n, err := h.Parse(AppendProxyV1(nil, netip.AddrPort{}, netip.AddrPort{})); n != 15 || err != nil || h.Relayed() {
		t.Errorf("v1 UNKNOWN: %d, %v, %+v", n, err, h)
	}
	if n, err := h.Parse(AppendProxyV2(nil, netip.AddrPort{}, netip.AddrPort{})); n != 16 || err != nil || h.Command != ProxyLocal || h.Relayed() {
		t.Errorf("v2 LOCAL: %d, %v, %+v", n, err, h)
	}
}

// v2TCP4 returns a version 2 TCP4 header with the given TLV bytes.
func v2TCP4(tlvs []byte) []byte {
	b := AppendProxyV2(nil, netip.MustParseAddrPort("192.0.2.1:56324"), netip.MustParseAddrPort("198.51.100.7:6697"))
	b = append(b, tlvs...)
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-16))
	return b
}

// withCRC returns a TCP4 header carrying a CRC32C TLV (first or last among
// the TLVs) with its correct value.
func withCRC(first bool) []byte {
	crcTLV := []byte{0x03, 0, 4, 0, 0, 0, 0}
	other := []byte{0x02, 0, 7, 'e', 'x', '.', 'o', 'r', 'g', '!'}
	var b []byte
	if first {
		b = v2TCP4(append(append([]byte{}, crcTLV...), other...))
	} else {
		b = v2TCP4(append(append([]byte{}, other...), crcTLV...))
	}
	off := bytes.Index(b[28:], crcTLV) + 28 + 3
	binary.BigEndian.PutUint32(b[off:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestProxyV2Checksum(t *testing.T) {
	for _, first := range []bool{true, false} {
		b := withCRC(first)
		var h ProxyHeader
		if n, err := h.Parse(b); n != len(b) || err != nil || !h.Relayed() {
			t.Fatalf("valid CRC32C (first %v): %d, %v", first, n, err)
		}
		// Any flipped bit after the signature breaks the sum or the header;
		// none may pass, except in the CRC TLV's type byte, which turns it
		// into a TLV nobody checks.
		crcType := 28
		if !first {
			crcType += 10
		}
		for i := 16; i < len(b); i++ {
			if i == crcType {
				continue
			}
			for bit := range 8 {
				c := bytes.Clone(b)
				c[i] ^= 1 << bit
				if n, err := h.Parse(c); err == nil && n == len(c) {
					t.Fatalf("byte %d bit %d flipped: accepted %+v", i, bit, h)
				}
			}
		}
	}
}

func TestProxyV2Unix(t *testing.T) {
	b := append([]byte{}, proxyV2Sig[:]...)
	b = append(b, 0x21, byte(ProxyUnixStream), 0, 216)
	b = append(b, make([]byte, 216)...)
	copy(b[16:], "/run/haproxy.sock")
	var h ProxyHeader
	n, err := h.Parse(append(b, "PING x\r\n"...))
	if n != len(b) || err != nil || h.Family != ProxyUnixStream || h.Relayed() {
		t.Fatalf("UNIX stream: %d, %v, %+v", n, err, h)
	}
	// The largest header allowed, and one byte more.
	big := v2TCP4(append([]byte{0xe0, 0x07, 0xe1}, make([]byte, MaxProxyV2-16-12-3)...))
	if n, err := h.Parse(big); n != MaxProxyV2 || err != nil {
		t.Fatalf("MaxProxyV2 header: %d, %v", n, err)
	}
	big = v2TCP4(append([]byte{0xe0, 0x07, 0xe2}, make([]byte, MaxProxyV2-16-12-2)...))
	if _, err := h.Parse(big[:16]); err != ErrProxyTooLong {
		t.Fatalf("MaxProxyV2+1 header: %v", err)
	}
}

func TestProxyNoAllocs(t *testing.T) {
	inputs := [][]byte{
		[]byte("PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 1234 6697\r\n"),
		[]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
		AppendProxyV2(nil, netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:2")),
		withCRC(false),
	}
	for _, in := range inputs {
		var h ProxyHeader
		if allocs := testing.AllocsPerRun(100, func() {
			if n, err := h.Parse(in); n == 0 || err != nil {
				t.Fatalf("Parse(%q): %d, %v", in, n, err)
			}
		}); allocs != 0 {
			t.Errorf("Parse(%q): %v allocations", in, allocs)
		}
	}
}

func BenchmarkProxyV1(b *testing.B) {
	in := []byte("PROXY TCP6 2001:db8::1 2001:db8::2 1234 6697\r\n")
	var h ProxyHeader
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProxyV2(b *testing.B) {
	in := withCRC(false)
	var h ProxyHeader
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
