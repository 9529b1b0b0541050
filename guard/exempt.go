package guard

import (
	"fmt"
	"net/netip"
)

// Exemptions is the set of address blocks trusted to carry many users
// (loopback, local gateways and bouncers): they are exempt from the
// per-address connection limit and throttle, and from every detector's
// automatic D-line. Operators' own bans still apply to them. Immutable
// once built, so any goroutine may read it.
type Exemptions struct {
	set  cidrSet[struct{}]
	list []netip.Prefix
}

// NewExemptions compiles a list of IP addresses and CIDR blocks.
func NewExemptions(masks []string) (*Exemptions, error) {
	e := &Exemptions{}
	for _, s := range masks {
		p, err := ParseIPMask(s)
		if err != nil {
			return nil, fmt.Errorf("guard: exempt list: %w", err)
		}
		if e.set.put(p, struct{}{}) {
			e.list = append(e.list, p)
		}
	}
	return e, nil
}

// Contains reports whether addr lies in an exempt block. A nil set
// exempts nothing. It does not allocate.
func (e *Exemptions) Contains(addr netip.Addr) bool {
	return e != nil && addr.IsValid() && e.set.contains(plainAddr(addr))
}

// Overlaps reports whether the block p shares any address with an exempt
// block (p must be unmapped, as guard's prefixes are).
func (e *Exemptions) Overlaps(p netip.Prefix) bool {
	if e == nil {
		return false
	}
	for _, x := range e.list {
		if x.Overlaps(p) {
			return true
		}
	}
	return false
}

// Narrow returns the widest block around addr, no wider than p, that
// covers no exempt address: p itself when it covers none. addr must be in
// p and not itself exempt, so its single-address block always qualifies.
func (e *Exemptions) Narrow(p netip.Prefix, addr netip.Addr) netip.Prefix {
	for bits := p.Bits(); bits < addr.BitLen(); bits++ {
		q := netip.PrefixFrom(addr, bits).Masked()
		if !e.Overlaps(q) {
			return q
		}
	}
	return netip.PrefixFrom(addr, addr.BitLen())
}
