package guard

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// CaseMapping folds the letters of nicks, users and hosts in masks. It must
// be the server's CASEMAPPING so that a ban on "[x]" also covers "{x}".
type CaseMapping struct {
	name string
	fold [256]byte
}

var (
	// ASCII folds A-Z to a-z.
	ASCII = newCaseMapping("ascii", false)
	// RFC1459 also folds []\~ to {}|^.
	RFC1459 = newCaseMapping("rfc1459", true)
)

func newCaseMapping(name string, scandinavian bool) *CaseMapping {
	cm := &CaseMapping{name: name}
	for i := range cm.fold {
		cm.fold[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		cm.fold[c] = byte(c) + 'a' - 'A'
	}
	if scandinavian {
		cm.fold['['], cm.fold[']'], cm.fold['\\'], cm.fold['~'] = '{', '}', '|', '^'
	}
	return cm
}

// CaseMappingByName returns the mapping for an ISUPPORT CASEMAPPING value
// ("" means rfc1459, the protocol default).
func CaseMappingByName(name string) (*CaseMapping, error) {
	switch strings.ToLower(name) {
	case "ascii":
		return ASCII, nil
	case "rfc1459", "":
		return RFC1459, nil
	}
	return nil, fmt.Errorf("guard: unknown casemapping %q (want ascii or rfc1459)", name)
}

// Name returns the ISUPPORT name.
func (cm *CaseMapping) Name() string { return cm.name }

// Fold returns s folded; it allocates only when s is not already folded.
func (cm *CaseMapping) Fold(s string) string {
	for i := 0; i < len(s); i++ {
		if cm.fold[s[i]] != s[i] {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = cm.fold[b[j]]
			}
			return string(b)
		}
	}
	return s
}

// Match reports whether s matches the glob pattern: '*' matches any run of
// bytes (also none), '?' exactly one byte, anything else itself under the
// casemapping. There is no escape character. It runs in O(len(pattern) *
// len(s)) time at worst (no exponential backtracking: only the latest '*'
// is ever retried) and does not allocate.
func (cm *CaseMapping) Match(pattern, s string) bool {
	return globMatch(&cm.fold, pattern, s, false)
}

// globMatch is the matcher behind Match and the ban masks. When folded, the
// pattern is already folded, which saves one table lookup per byte.
func globMatch[T Text](fold *[256]byte, pat string, s T, folded bool) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pat) {
			c := pat[p]
			if c == '*' {
				starP, starI = p, i
				p++
				continue
			}
			if !folded {
				c = fold[c]
			}
			if c == '?' || c == fold[s[i]] {
				p++
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star absorb one more byte and retry after it.
		// Earlier stars never need revisiting: any match they could
		// enable, the last star enables too.
		starI++
		p, i = starP+1, starI
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

// Mask errors.
var (
	// ErrBadMask: the mask is not a valid IP, CIDR or user@host mask.
	ErrBadMask = errors.New("invalid mask")
	// ErrMaskTooBroad: the mask would match (nearly) everyone.
	ErrMaskTooBroad = errors.New("mask too broad")
)

// maxMaskLen bounds masks: nick, user, and a 255-byte host, with room.
const maxMaskLen = 400

// ParseIPMask parses a DLINE target: an IP ("192.0.2.1", "2001:db8::1"), a
// CIDR ("192.0.2.0/24", "2001:db8::/32") or an IPv4 octet glob whose
// wildcards are whole trailing octets ("192.0.2.*", "10.*"). IPv4-mapped
// IPv6 forms become IPv4. The result is masked (host bits cleared).
func ParseIPMask(s string) (netip.Prefix, error) {
	if len(s) == 0 || len(s) > 64 {
		return netip.Prefix{}, fmt.Errorf("%w: %q: empty or too long", ErrBadMask, s)
	}
	if strings.IndexByte(s, '*') >= 0 {
		return parseOctetGlob(s)
	}
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %v", ErrBadMask, err)
		}
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, fmt.Errorf("%w: %q: mapped IPv4 prefix shorter than /96", ErrBadMask, s)
			}
			a, bits = a.Unmap(), bits-96
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %v", ErrBadMask, err)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%w: %q: zoned address", ErrBadMask, s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseOctetGlob(s string) (netip.Prefix, error) {
	var oct [4]byte
	n, fixed := 0, 0
	for part := range strings.SplitSeq(s, ".") {
		switch {
		case n == 4:
			return netip.Prefix{}, fmt.Errorf("%w: %q: more than four octets", ErrBadMask, s)
		case part == "*":
		case fixed < n:
			return netip.Prefix{}, fmt.Errorf("%w: %q: wildcard must cover whole trailing octets", ErrBadMask, s)
		default:
			v, err := strconv.ParseUint(part, 10, 8)
			if err != nil || (len(part) > 1 && part[0] == '0') {
				return netip.Prefix{}, fmt.Errorf("%w: %q: bad octet %q", ErrBadMask, s, part)
			}
			oct[fixed] = byte(v)
			fixed++
		}
		n++
	}
	return netip.PrefixFrom(netip.AddrFrom4(oct), fixed*8), nil
}

// IPMaskString formats a prefix the way ParseIPMask's result is stored: a
// bare address for a single host, CIDR notation otherwise.
func IPMaskString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// UserHostMask is a compiled KLINE mask, nick!user@host or user@host, each
// part a glob pattern; the host part may instead be a CIDR, which then
// matches the client's IP. Immutable once parsed.
type UserHostMask struct {
	text             string // canonical spelling, as the operator wrote it
	nick, user, host string // folded, runs of '*' collapsed
	net              netip.Prefix
	hostMayBeIP      bool // host pattern could match an IP's text form
	cm               *CaseMapping
}

// ParseUserHostMask parses a KLINE mask under cm. The nick part is optional
// ("*" when absent); user and host are required.
func ParseUserHostMask(s string, cm *CaseMapping) (UserHostMask, error) {
	if len(s) == 0 || len(s) > maxMaskLen {
		return UserHostMask{}, fmt.Errorf("%w: %q: empty or too long", ErrBadMask, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == ',' {
			return UserHostMask{}, fmt.Errorf("%w: %q: contains %q", ErrBadMask, s, c)
		}
	}
	nickUser, host, ok := strings.Cut(s, "@")
	if !ok || strings.IndexByte(host, '@') >= 0 {
		return UserHostMask{}, fmt.Errorf("%w: %q: want user@host or nick!user@host", ErrBadMask, s)
	}
	nick, user := "*", nickUser
	if n, u, ok := strings.Cut(nickUser, "!"); ok {
		nick, user = n, u
	}
	if nick == "" || user == "" || host == "" || strings.IndexByte(user, '!') >= 0 || strings.IndexByte(host, '!') >= 0 {
		return UserHostMask{}, fmt.Errorf("%w: %q: empty or malformed part", ErrBadMask, s)
	}
	m := UserHostMask{nick: canonGlob(nick, cm), user: canonGlob(user, cm), cm: cm}
	if strings.IndexByte(host, '/') >= 0 {
		p, err := ParseIPMask(host)
		if err != nil {
			return UserHostMask{}, err
		}
		m.net, m.host = p, IPMaskString(p)
		host = m.host
	} else {
		m.host = canonGlob(host, cm)
		m.hostMayBeIP = strings.Trim(m.host, "0123456789abcdef.:*?") == ""
		host = canonGlob(host, nil)
	}
	m.text = joinMask(canonGlob(nick, nil), canonGlob(user, nil), host)
	return m, nil
}

func joinMask(nick, user, host string) string {
	if nick == "*" {
		return user + "@" + host
	}
	return nick + "!" + user + "@" + host
}

// canonGlob folds a pattern under cm (unless nil) and collapses runs of
// '*', which match the same strings and would only cost the matcher time.
func canonGlob(p string, cm *CaseMapping) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '*' && i > 0 && p[i-1] == '*' {
			continue
		}
		c := p[i]
		if cm != nil {
			c = cm.fold[c]
		}
		b.WriteByte(c)
	}
	return b.String()
}

// String returns the canonical spelling: "user@host", or "nick!user@host"
// when the nick part is not "*", with runs of '*' collapsed and the case
// as written.
func (m UserHostMask) String() string { return m.text }

// Key returns the folded canonical form: two masks matching the same
// clients under the casemapping have equal keys.
func (m UserHostMask) Key() string { return joinMask(m.nick, m.user, m.host) }

// Broad reports whether the mask leaves the user and host unconstrained
// (every byte a wildcard, dot or colon, or a CIDR host of length 0): such a
// KLINE would ban nearly everyone.
func (m UserHostMask) Broad() bool {
	wild := func(p string) bool { return strings.Trim(p, "*?.:") == "" }
	if !wild(m.user) {
		return false
	}
	if m.net.IsValid() {
		return m.net.Bits() == 0
	}
	return wild(m.host)
}

// Match reports whether a client matches. host is its hostname (or IP
// text); ip is its address, matched against CIDR hosts and, when the host
// pattern looks numeric, against its text form too. It does not allocate.
func (m *UserHostMask) Match(nick, user, host string, ip netip.Addr) bool {
	f := &m.cm.fold
	if m.nick != "*" && !globMatch(f, m.nick, nick, true) {
		return false
	}
	if !globMatch(f, m.user, user, true) {
		return false
	}
	if m.net.IsValid() {
		return ip.IsValid() && m.net.Contains(plainAddr(ip))
	}
	if globMatch(f, m.host, host, true) {
		return true
	}
	if !m.hostMayBeIP || !ip.IsValid() {
		return false
	}
	var buf [64]byte
	return globMatch(f, m.host, plainAddr(ip).AppendTo(buf[:0]), true)
}
