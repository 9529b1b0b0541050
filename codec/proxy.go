package codec

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"strconv"
)

// The PROXY protocol (haproxy's doc/proxy-protocol.txt, versions 1 and 2) is
// the header a trusted load balancer sends before any other byte to name the
// client it relays. Parsing is zero-copy and allocation-free, bounded by the
// limits below, and incremental in the bufio.SplitFunc way: call Parse with
// everything received so far until it returns a length or an error.

const (
	// MaxProxyV1 is the longest version 1 header, CRLF included: "PROXY
	// UNKNOWN" followed by two full IPv6 addresses and two ports. The
	// specification tells receivers to reject a line without CRLF by then.
	MaxProxyV1 = 107
	// MaxProxyV2 is the longest version 2 header accepted: the 16-byte fixed
	// part, the addresses (216 bytes at most, for AF_UNIX) and TLVs. The
	// specification sets no bound; what proxies send (ALPN, authority,
	// unique ID up to 128 bytes, SSL sub-TLVs, cloud endpoint IDs) stays far
	// below 2 KiB, and a bound keeps a connection that has not yet said who
	// it is from holding more.
	MaxProxyV2 = 2048
)

// proxyV2Sig opens every version 2 header; its NUL and CRLFs make it
// invalid in every text protocol, IRC included.
var proxyV2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// castagnoli is the CRC32C table for the PP2_TYPE_CRC32C TLV; zero4 stands
// for the checksum field while summing (a package variable, since a local
// array passed to crc32 escapes to the heap).
var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	zero4      [4]byte
)

// ProxyCommand says whether a header relays a client.
type ProxyCommand uint8

const (
	// ProxyLocal: the proxy opened the connection itself (a health check);
	// the connection's own endpoints stand. Version 2 only.
	ProxyLocal ProxyCommand = 0
	// ProxyProxy: the connection relays a client, named by the header
	// unless its family is ProxyUnspec or a UNIX one.
	ProxyProxy ProxyCommand = 1
)

// ProxyFamily is the transport and address family a header announces. Its
// values are version 2's family/transport byte; version 1's TCP4, TCP6 and
// UNKNOWN map to ProxyTCP4, ProxyTCP6 and ProxyUnspec.
type ProxyFamily uint8

// The families of the specification.
const (
	ProxyUnspec     ProxyFamily = 0x00
	ProxyTCP4       ProxyFamily = 0x11
	ProxyUDP4       ProxyFamily = 0x12
	ProxyTCP6       ProxyFamily = 0x21
	ProxyUDP6       ProxyFamily = 0x22
	ProxyUnixStream ProxyFamily = 0x31
	ProxyUnixDgram  ProxyFamily = 0x32
)

// ProxyError is the type of every error ProxyHeader.Parse returns; the
// values below are its only values, so callers compare with errors.Is. Any
// of them means the connection must be closed: the specification forbids
// guessing or skipping.
type ProxyError string

func (e ProxyError) Error() string { return string(e) }

// Errors returned by ProxyHeader.Parse.
const (
	ErrProxySignature = ProxyError("codec: not a PROXY protocol header")
	ErrProxyV1Syntax  = ProxyError("codec: malformed PROXY v1 header")
	ErrProxyV1TooLong = ProxyError("codec: PROXY v1 header without CRLF in 107 bytes")
	ErrProxyVersion   = ProxyError("codec: PROXY v2 header with a version other than 2")
	ErrProxyCommand   = ProxyError("codec: PROXY v2 header with an unknown command")
	ErrProxyFamily    = ProxyError("codec: PROXY v2 header with an unknown address family or transport")
	ErrProxyTooLong   = ProxyError("codec: PROXY v2 header longer than MaxProxyV2")
	ErrProxyTruncated = ProxyError("codec: PROXY v2 address block shorter than its family needs")
	ErrProxyTLV       = ProxyError("codec: PROXY v2 TLV runs past the end of the header")
	ErrProxyChecksum  = ProxyError("codec: PROXY v2 CRC32C checksum mismatch")
)

// ProxyHeader is one parsed PROXY protocol header. It holds values only
// (nothing aliases the parsed bytes); the zero value is ready for Parse.
type ProxyHeader struct {
	Version int // 1 or 2
	Command ProxyCommand
	Family  ProxyFamily
	// Source and Dest are the relayed client's address and the address it
	// connected to; both are invalid unless Relayed.
	Source, Dest netip.AddrPort
}

// Relayed reports whether the header names the client: then Source replaces
// the connection's peer address. Otherwise (LOCAL, UNKNOWN, UNSPEC, UNIX)
// the connection's own endpoints stand, as the specification says.
func (h *ProxyHeader) Relayed() bool { return h.Source.IsValid() }

// Parse reads a PROXY header (version 1 or 2) at the start of b. It returns
// the header's length when b holds a whole valid header (the bytes after it
// belong to the relayed protocol); 0 and a nil error when b is a valid
// beginning that needs more bytes (call again with b and what follows); or
// 0 and a ProxyError. It rejects as soon as the bytes seen cannot begin a
// valid header, so a client speaking IRC on a PROXY listener fails on its
// first byte. Parse never allocates and never panics.
func (h *ProxyHeader) Parse(b []byte) (int, error) {
	*h = ProxyHeader{}
	if len(b) == 0 {
		return 0, nil
	}
	switch b[0] {
	case 'P':
		return h.parseV1(b)
	case proxyV2Sig[0]:
		return h.parseV2(b)
	}
	return 0, ErrProxySignature
}

// parseV1 parses "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN[ anything]\r\n".
func (h *ProxyHeader) parseV1(b []byte) (int, error) {
	const magic = "PROXY "
	if k := min(len(b), len(magic)); !bytes.Equal(b[:k], []byte(magic)[:k]) {
		return 0, ErrProxySignature
	}
	end := -1 // index of the LF
	for i := 0; i < min(len(b), MaxProxyV1); i++ {
		c := b[i]
		if c == '\n' {
			if i == 0 || b[i-1] != '\r' {
				return 0, ErrProxyV1Syntax // a bare LF
			}
			end = i
			break
		}
		// Only printable US-ASCII, and CR right before LF.
		if (c < 0x20 || c > 0x7e) && c != '\r' || c == '\r' && i+1 < len(b) && b[i+1] != '\n' {
			return 0, ErrProxyV1Syntax
		}
	}
	if end < 0 {
		if len(b) >= MaxProxyV1 {
			return 0, ErrProxyV1TooLong
		}
		return 0, nil
	}
	rest := b[len(magic) : end-1]
	proto, rest, _ := cutSpace(rest)
	switch string(proto) {
	case "UNKNOWN":
		// The sender may omit the rest; the receiver ignores whatever
		// precedes the CRLF and keeps the connection's own endpoints.
		*h = ProxyHeader{Version: 1, Command: ProxyProxy, Family: ProxyUnspec}
		return end + 1, nil
	case "TCP4", "TCP6":
	default:
		return 0, ErrProxyV1Syntax
	}
	// src dst sport dport: exactly one space between fields, none after.
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = cutSpace(rest)
		if ok != (i < len(f)-1) {
			return 0, ErrProxyV1Syntax
		}
	}
	parse := parseIPv4
	family := ProxyTCP4
	if proto[3] == '6' {
		parse, family = parseIPv6, ProxyTCP6
	}
	src, ok1 := parse(f[0])
	dst, ok2 := parse(f[1])
	sport, ok3 := parsePort(f[2])
	dport, ok4 := parsePort(f[3])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, ErrProxyV1Syntax
	}
	*h = ProxyHeader{
		Version: 1, Command: ProxyProxy, Family: family,
		Source: netip.AddrPortFrom(src, sport),
		Dest:   netip.AddrPortFrom(dst, dport),
	}
	return end + 1, nil
}

// cutSpace splits b at its first space. A field must be non-empty: "a  b"
// and a leading space are malformed (ok false), as is a missing space.
func cutSpace(b []byte) (field, rest []byte, ok bool) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil, false
	}
	if i == 0 {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}

// parseV2 parses the binary header: signature, version/command, family,
// length, then the address block and TLVs.
func (h *ProxyHeader) parseV2(b []byte) (int, error) {
	if k := min(len(b), len(proxyV2Sig)); !bytes.Equal(b[:k], proxyV2Sig[:k]) {
		return 0, ErrProxySignature
	}
	if len(b) > 12 {
		if b[12]>>4 != 2 {
			return 0, ErrProxyVersion
		}
		if b[12]&0xf > 1 {
			return 0, ErrProxyCommand
		}
	}
	if len(b) < 16 {
		return 0, nil
	}
	cmd := ProxyCommand(b[12] & 0xf)
	total := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if total > MaxProxyV2 {
		return 0, ErrProxyTooLong
	}
	// The family is checked before the block arrives, so a bad header fails
	// at once rather than after its (bounded) length.
	var need int
	if cmd == ProxyProxy {
		switch ProxyFamily(b[13]) {
		case ProxyUnspec:
		case ProxyTCP4, ProxyUDP4:
			need = 12
		case ProxyTCP6, ProxyUDP6:
			need = 36
		case ProxyUnixStream, ProxyUnixDgram:
			need = 216
		default:
			return 0, ErrProxyFamily
		}
		if total-16 < need {
			return 0, ErrProxyTruncated
		}
	}
	if len(b) < total {
		return 0, nil
	}
	*h = ProxyHeader{Version: 2, Command: cmd}
	if cmd == ProxyLocal || ProxyFamily(b[13]) == ProxyUnspec {
		// LOCAL: the family and block are to be discarded. UNSPEC: the
		// block has no known layout, so its TLVs cannot be found.
		return total, nil
	}
	h.Family = ProxyFamily(b[13])
	a := b[16:total]
	switch h.Family {
	case ProxyTCP4, ProxyUDP4:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case ProxyTCP6, ProxyUDP6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	}
	if err := checkTLVs(b[:total], 16+need); err != nil {
		*h = ProxyHeader{}
		return 0, err
	}
	return total, nil
}

// checkTLVs walks the TLVs of the header hdr from offset off: each must fit
// in the header, and a CRC32C TLV must match the header's checksum. The
// others are skipped; laird uses none of them.
func checkTLVs(hdr []byte, off int) error {
	const tlvCRC32C = 0x03
	for off < len(hdr) {
		if len(hdr)-off < 3 {
			return ErrProxyTLV
		}
		typ, n := hdr[off], int(binary.BigEndian.Uint16(hdr[off+1:off+3]))
		v := off + 3
		if n > len(hdr)-v {
			return ErrProxyTLV
		}
		if typ == tlvCRC32C {
			if n != 4 {
				return ErrProxyTLV
			}
			// The checksum covers the whole header with its own field
			// zeroed; summed in three pieces to leave the input untouched.
			sum := crc32.Update(0, castagnoli, hdr[:v])
			sum = crc32.Update(sum, castagnoli, zero4[:])
			sum = crc32.Update(sum, castagnoli, hdr[v+4:])
			if sum != binary.BigEndian.Uint32(hdr[v:v+4]) {
				return ErrProxyChecksum
			}
		}
		off = v + n
	}
	return nil
}

// parseIPv4 parses dotted-quad notation strictly: four decimal numbers of
// 0-255 without leading zeros (the specification forbids them to rule out
// octal readings).
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	for i := range ip {
		if i > 0 {
			if len(b) == 0 || b[0] != '.' {
				return netip.Addr{}, false
			}
			b = b[1:]
		}
		n, v := 0, 0
		for n < len(b) && n < 4 && b[n] >= '0' && b[n] <= '9' {
			v = v*10 + int(b[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 || n > 1 && b[0] == '0' {
			return netip.Addr{}, false
		}
		ip[i] = byte(v)
		b = b[n:]
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// parseIPv6 parses RFC 4291 text: eight groups of 1-4 hex digits, one "::"
// standing for at least one zero group, and an optional dotted-quad tail
// (inet_ntop writes IPv4-mapped addresses as ::ffff:a.b.c.d). Zones are
// rejected. It accepts exactly what netip.ParseAddr accepts for such text,
// without the string conversion that would allocate.
func parseIPv6(b []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // byte index in ip where "::" stands
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
	}
	i := 0
	for len(b) > 0 && i < 16 {
		n, v := 0, 0
		for n < len(b) && n < 5 {
			d, ok := hexDigit(b[n])
			if !ok {
				break
			}
			v = v<<4 | d
			n++
		}
		if n == 0 || n > 4 {
			return netip.Addr{}, false
		}
		if n < len(b) && b[n] == '.' {
			if i > 12 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			a4 := v4.As4()
			copy(ip[i:], a4[:])
			i += 4
			b = nil
			break
		}
		ip[i], ip[i+1] = byte(v>>8), byte(v)
		i += 2
		b = b[n:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return netip.Addr{}, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			b = b[1:]
		}
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		gap := 16 - i
		copy(ip[ellipsis+gap:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+gap])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// parsePort parses a decimal port of 0-65535 without leading zeros.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 65535 {
		return 0, false
	}
	return uint16(v), true
}

// AppendProxyV1 appends a version 1 header relaying src (connected to dst)
// to buf: TCP4 when both are IPv4, TCP6 otherwise (an IPv4 address then in
// its IPv4-mapped form), UNKNOWN when src is invalid.
func AppendProxyV1(buf []byte, src, dst netip.AddrPort) []byte {
	if !src.IsValid() || !dst.IsValid() {
		return append(buf, "PROXY UNKNOWN\r\n"...)
	}
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if s.Is4() && d.Is4() {
		buf = append(buf, "PROXY TCP4 "...)
	} else {
		buf = append(buf, "PROXY TCP6 "...)
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	buf = s.WithZone("").AppendTo(buf)
	buf = append(buf, ' ')
	buf = d.WithZone("").AppendTo(buf)
	buf = append(buf, ' ')
	buf = strconv.AppendUint(buf, uint64(src.Port()), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendUint(buf, uint64(dst.Port()), 10)
	return append(buf, '\r', '\n')
}

// AppendProxyV2 appends a version 2 header to buf: PROXY over TCP relaying
// src (connected to dst), with the families chosen as AppendProxyV1 does, or
// LOCAL without addresses when src is invalid.
func AppendProxyV2(buf []byte, src, dst netip.AddrPort) []byte {
	buf = append(buf, proxyV2Sig[:]...)
	if !src.IsValid() || !dst.IsValid() {
		return append(buf, 0x20, byte(ProxyUnspec), 0, 0)
	}
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if s.Is4() && d.Is4() {
		buf = append(buf, 0x21, byte(ProxyTCP4), 0, 12)
		buf = append(buf, s.AsSlice()...)
		buf = append(buf, d.AsSlice()...)
	} else {
		s16, d16 := s.As16(), d.As16()
		buf = append(buf, 0x21, byte(ProxyTCP6), 0, 36)
		buf = append(buf, s16[:]...)
		buf = append(buf, d16[:]...)
	}
	buf = binary.BigEndian.AppendUint16(buf, src.Port())
	return binary.BigEndian.AppendUint16(buf, dst.Port())
}

// String returns the command's name in the specification.
func (c ProxyCommand) String() string {
	if c == ProxyLocal {
		return "LOCAL"
	}
	return "PROXY"
}

// String returns the family as the specification and logs name it.
func (f ProxyFamily) String() string {
	switch f {
	case ProxyUnspec:
		return "UNSPEC"
	case ProxyTCP4:
		return "TCP4"
	case ProxyUDP4:
		return "UDP4"
	case ProxyTCP6:
		return "TCP6"
	case ProxyUDP6:
		return "UDP6"
	case ProxyUnixStream:
		return "UNIX-STREAM"
	case ProxyUnixDgram:
		return "UNIX-DGRAM"
	}
	return "0x" + strconv.FormatUint(uint64(f), 16)
}
