package guard

import (
	"encoding/binary"
	"net/netip"
)

// prefixKey is an address block as a map key: the address masked to a
// prefix length, in 16-byte form with IPv4 in ::ffff:0:0/96, so IPv4 and
// IPv6 keys never collide. Two uint64 hash faster than netip.Addr.
type prefixKey struct{ hi, lo uint64 }

// keyOf masks addr to bits4 (IPv4) or bits6 (IPv6) leading bits.
// addr must already be unmapped; an invalid addr yields the zero key.
func keyOf(addr netip.Addr, bits4, bits6 int) prefixKey {
	a := addr.As16()
	hi := binary.BigEndian.Uint64(a[:8])
	lo := binary.BigEndian.Uint64(a[8:])
	if addr.Is4() {
		// The ::ffff marker sits above bit 32 and is kept by the mask.
		lo &= ^uint64(0) << (32 - uint(clampBits(bits4, 32)))
		return prefixKey{hi, lo}
	}
	b := uint(clampBits(bits6, 128))
	if b <= 64 {
		return prefixKey{hi & (^uint64(0) << (64 - b)), 0}
	}
	return prefixKey{hi, lo & (^uint64(0) << (128 - b))}
}

func clampBits(b, max int) int {
	if b < 0 {
		return 0
	}
	if b > max {
		return max
	}
	return b
}

// hash spreads a key over shards (splitmix64 finalizer). It only picks a
// lock; the maps inside use Go's seeded hash, so a chosen key set can at
// worst crowd one shard's lock, not degrade a map.
func (k prefixKey) hash() uint64 {
	h := k.hi ^ (k.lo * 0x9e3779b97f4a7c15)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// cidrKey names one prefix in a cidrSet: the masked address and its length
// within its family.
type cidrKey struct {
	key  prefixKey
	bits uint8
	v6   bool
}

// cidrSet maps IP prefixes to values and finds the prefixes containing an
// address with one map probe per distinct prefix length present, longest
// first. Not safe for concurrent mutation; owners lock around it.
type cidrSet[V any] struct {
	m      map[cidrKey]V
	count4 [33]int32
	count6 [129]int32
	lens4  []uint8 // lengths with count > 0, descending
	lens6  []uint8
}

func prefixCIDRKey(p netip.Prefix) cidrKey {
	a := p.Addr()
	if a.Is4() {
		return cidrKey{keyOf(a, p.Bits(), 0), uint8(p.Bits()), false}
	}
	return cidrKey{keyOf(a, 0, p.Bits()), uint8(p.Bits()), true}
}

// put stores v under p (which must be valid, masked and unmapped) and
// reports whether p was new.
func (s *cidrSet[V]) put(p netip.Prefix, v V) bool {
	if s.m == nil {
		s.m = make(map[cidrKey]V)
	}
	k := prefixCIDRKey(p)
	_, existed := s.m[k]
	s.m[k] = v
	if !existed {
		s.adjust(k, 1)
	}
	return !existed
}

func (s *cidrSet[V]) remove(p netip.Prefix) (V, bool) {
	k := prefixCIDRKey(p)
	v, ok := s.m[k]
	if ok {
		delete(s.m, k)
		s.adjust(k, -1)
	}
	return v, ok
}

func (s *cidrSet[V]) len() int { return len(s.m) }

func (s *cidrSet[V]) adjust(k cidrKey, d int32) {
	if k.v6 {
		s.count6[k.bits] += d
		s.lens6 = presentLens(s.count6[:], s.lens6[:0])
	} else {
		s.count4[k.bits] += d
		s.lens4 = presentLens(s.count4[:], s.lens4[:0])
	}
}

func presentLens(counts []int32, dst []uint8) []uint8 {
	for b := len(counts) - 1; b >= 0; b-- {
		if counts[b] > 0 {
			dst = append(dst, uint8(b))
		}
	}
	return dst
}

// lookup returns the value of the i-th longest prefix containing addr,
// searching lengths from index *i on; it advances *i past the match so the
// caller can continue with shorter prefixes. addr must be unmapped.
func (s *cidrSet[V]) lookup(addr netip.Addr, i *int) (V, bool) {
	var zero V
	if len(s.m) == 0 {
		return zero, false
	}
	lens, v6 := s.lens4, false
	if !addr.Is4() {
		lens, v6 = s.lens6, true
	}
	for *i < len(lens) {
		b := lens[*i]
		*i++
		var k cidrKey
		if v6 {
			k = cidrKey{keyOf(addr, 0, int(b)), b, true}
		} else {
			k = cidrKey{keyOf(addr, int(b), 0), b, false}
		}
		if v, ok := s.m[k]; ok {
			return v, true
		}
	}
	return zero, false
}

// contains reports whether any prefix in s contains addr.
func (s *cidrSet[V]) contains(addr netip.Addr) bool {
	i := 0
	_, ok := s.lookup(addr, &i)
	return ok
}

// plainAddr is the form every policy decision uses: IPv4-mapped IPv6 as
// IPv4, no zone (a zoned link-local address would otherwise never be
// contained in a prefix, and would print its zone in masks).
func plainAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }
