package guard

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// BanKind distinguishes server bans.
type BanKind uint8

const (
	// KLine bans nick!user@host or user@host masks, checked at registration.
	KLine BanKind = iota + 1
	// DLine bans an IP or CIDR, checked at accept.
	DLine
)

func (k BanKind) String() string {
	switch k {
	case KLine:
		return "KLINE"
	case DLine:
		return "DLINE"
	}
	return fmt.Sprintf("bankind(%d)", uint8(k))
}

// Ban is one server ban as a plain value: what the lead persists and what
// operators list. Mask is canonical (see Add), times are wall-clock.
type Ban struct {
	Kind    BanKind
	Mask    string
	Reason  string
	SetBy   string
	SetAt   time.Time
	Expires time.Time // zero: permanent
}

// Expired reports whether the ban has lapsed at now.
func (b *Ban) Expired(now time.Time) bool {
	return !b.Expires.IsZero() && !now.Before(b.Expires)
}

// Ban list errors.
var (
	ErrNoSuchBan  = errors.New("no such ban")
	ErrBanExpired = errors.New("ban already expired")
	ErrBadBan     = errors.New("invalid ban")
)

// BanConfig guards against typos that would ban the world.
type BanConfig struct {
	// Shortest DLINE prefixes accepted (KLINE CIDR hosts too).
	MinPrefixV4 int `toml:"min_prefix_v4"`
	MinPrefixV6 int `toml:"min_prefix_v6"`
}

// DefaultBanConfig refuses anything wider than an IPv4 /8 or an IPv6 /16.
func DefaultBanConfig() BanConfig { return BanConfig{MinPrefixV4: 8, MinPrefixV6: 16} }

// maxBanTextLen bounds reasons and setter names: they end up in ERROR lines
// and notices.
const maxBanTextLen = 390

// BanList holds KLINEs and DLINEs in memory. It is shared by all event
// loops; reads (MatchIP at accept, MatchUserHost at registration) take a
// read lock, operator changes a write lock. Expired bans stop matching at
// once and are removed by Prune.
type BanList struct {
	cm     *CaseMapping
	minV4  int
	minV6  int
	ndl    atomic.Int32 // DLINE count, read without the lock on the accept path
	mu     sync.RWMutex
	dlines cidrSet[*dlineEntry]
	klines map[string]*klineEntry
	klist  []*klineEntry // the same entries, for matching
}

type dlineEntry struct {
	ban    Ban
	prefix netip.Prefix
	exp    int64 // wall-clock Unix ns; MaxInt64 when permanent
}

type klineEntry struct {
	ban  Ban
	mask UserHostMask
	key  string // mask.Key(), the identity for replace and remove
	exp  int64
}

// NewBanList returns an empty list matching masks under cm.
func NewBanList(cfg BanConfig, cm *CaseMapping) *BanList {
	if cm == nil {
		cm = RFC1459
	}
	return &BanList{cm: cm, minV4: cfg.MinPrefixV4, minV6: cfg.MinPrefixV6, klines: make(map[string]*klineEntry)}
}

// Add validates b, canonicalizes its mask, and stores it, replacing any ban
// of the same kind and equivalent mask (KLINE masks compare under the
// casemapping; the stored spelling is the newest). It returns the stored value (persist
// that) and whether it replaced one. A ban that has already expired at now
// is refused with ErrBanExpired, which is also how the lead learns to drop
// stale records when loading bans at start-up.
func (l *BanList) Add(b Ban, now time.Time) (stored Ban, replaced bool, err error) {
	if err := checkBanText(&b); err != nil {
		return Ban{}, false, err
	}
	b.SetAt, b.Expires = b.SetAt.Round(0), b.Expires.Round(0)
	if b.Expired(now) {
		return Ban{}, false, fmt.Errorf("guard: %v %s: %w", b.Kind, b.Mask, ErrBanExpired)
	}
	exp := int64(math.MaxInt64)
	if !b.Expires.IsZero() {
		exp = b.Expires.UnixNano()
	}
	switch b.Kind {
	case DLine:
		p, err := l.parseDLine(b.Mask)
		if err != nil {
			return Ban{}, false, err
		}
		b.Mask = IPMaskString(p)
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.dlines.put(p, &dlineEntry{ban: b, prefix: p, exp: exp}) {
			l.ndl.Add(1)
			return b, false, nil
		}
		return b, true, nil
	case KLine:
		m, err := l.parseKLine(b.Mask)
		if err != nil {
			return Ban{}, false, err
		}
		b.Mask = m.String()
		k := m.Key()
		e := &klineEntry{ban: b, mask: m, key: k, exp: exp}
		l.mu.Lock()
		defer l.mu.Unlock()
		if old, ok := l.klines[k]; ok {
			i := slices.Index(l.klist, old)
			l.klist[i] = e
			l.klines[k] = e
			return b, true, nil
		}
		l.klines[k] = e
		l.klist = append(l.klist, e)
		return b, false, nil
	}
	return Ban{}, false, fmt.Errorf("guard: %w: kind %v", ErrBadBan, b.Kind)
}

func checkBanText(b *Ban) error {
	lim := Limits{ReasonLen: maxBanTextLen}
	if err := Check(&lim, FieldReason, b.Reason); err != nil {
		return fmt.Errorf("guard: %w: reason: %w", ErrBadBan, err)
	}
	if err := Check(&lim, FieldReason, b.SetBy); err != nil {
		return fmt.Errorf("guard: %w: setter: %w", ErrBadBan, err)
	}
	return nil
}

func (l *BanList) parseDLine(mask string) (netip.Prefix, error) {
	p, err := ParseIPMask(mask)
	if err != nil {
		return p, fmt.Errorf("guard: DLINE: %w", err)
	}
	if min := l.minPrefix(p.Addr()); p.Bits() < min {
		return p, fmt.Errorf("guard: DLINE %s: %w (shortest allowed prefix is /%d)", mask, ErrMaskTooBroad, min)
	}
	return p, nil
}

func (l *BanList) minPrefix(a netip.Addr) int {
	if a.Is4() {
		return l.minV4
	}
	return l.minV6
}

func (l *BanList) parseKLine(mask string) (UserHostMask, error) {
	m, err := ParseUserHostMask(mask, l.cm)
	if err != nil {
		return m, fmt.Errorf("guard: KLINE: %w", err)
	}
	if m.Broad() {
		return m, fmt.Errorf("guard: KLINE %s: %w", mask, ErrMaskTooBroad)
	}
	if m.net.IsValid() && m.net.Bits() < l.minPrefix(m.net.Addr()) {
		return m, fmt.Errorf("guard: KLINE %s: %w", mask, ErrMaskTooBroad)
	}
	return m, nil
}

// Remove deletes the ban of that kind whose canonical mask equals mask's,
// returning it, or ErrNoSuchBan.
func (l *BanList) Remove(kind BanKind, mask string) (Ban, error) {
	switch kind {
	case DLine:
		p, err := ParseIPMask(mask)
		if err != nil {
			return Ban{}, fmt.Errorf("guard: UNDLINE: %w", err)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if e, ok := l.dlines.remove(p); ok {
			l.ndl.Add(-1)
			return e.ban, nil
		}
	case KLine:
		m, err := ParseUserHostMask(mask, l.cm)
		if err != nil {
			return Ban{}, fmt.Errorf("guard: UNKLINE: %w", err)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if e, ok := l.klines[m.Key()]; ok {
			l.removeKLine(e)
			return e.ban, nil
		}
	default:
		return Ban{}, fmt.Errorf("guard: %w: kind %v", ErrBadBan, kind)
	}
	return Ban{}, fmt.Errorf("guard: %v %s: %w", kind, mask, ErrNoSuchBan)
}

func (l *BanList) removeKLine(e *klineEntry) {
	delete(l.klines, e.key)
	i := slices.Index(l.klist, e)
	last := len(l.klist) - 1
	l.klist[i] = l.klist[last]
	l.klist[last] = nil
	l.klist = l.klist[:last]
}

// MatchIP returns the most specific unexpired DLINE covering addr. It does
// not allocate.
func (l *BanList) MatchIP(addr netip.Addr, now time.Time) (Ban, bool) {
	if !addr.IsValid() || l.ndl.Load() == 0 {
		return Ban{}, false
	}
	addr = plainAddr(addr)
	t := now.UnixNano()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if e := l.matchIP(addr, t); e != nil {
		return e.ban, true
	}
	return Ban{}, false
}

// bannedIP is MatchIP without copying the ban, for Admit; addr is unmapped.
func (l *BanList) bannedIP(addr netip.Addr, now time.Time) bool {
	if l.ndl.Load() == 0 {
		return false
	}
	t := now.UnixNano()
	l.mu.RLock()
	e := l.matchIP(addr, t)
	l.mu.RUnlock()
	return e != nil
}

func (l *BanList) matchIP(addr netip.Addr, t int64) *dlineEntry {
	for i := 0; ; {
		e, ok := l.dlines.lookup(addr, &i)
		if !ok {
			return nil
		}
		if t < e.exp {
			return e
		}
	}
}

// MatchUserHost returns an unexpired KLINE matching the client. host is
// its hostname (its IP text when unresolved), ip its address. The cost is
// linear in the number of KLINEs; it does not allocate.
func (l *BanList) MatchUserHost(nick, user, host string, ip netip.Addr, now time.Time) (Ban, bool) {
	t := now.UnixNano()
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, e := range l.klist {
		if t < e.exp && e.mask.Match(nick, user, host, ip) {
			return e.ban, true
		}
	}
	return Ban{}, false
}

// List returns the unexpired bans of a kind, sorted by mask.
func (l *BanList) List(kind BanKind, now time.Time) []Ban {
	t := now.UnixNano()
	var out []Ban
	l.mu.RLock()
	switch kind {
	case DLine:
		for _, e := range l.dlines.m {
			if t < e.exp {
				out = append(out, e.ban)
			}
		}
	case KLine:
		for _, e := range l.klist {
			if t < e.exp {
				out = append(out, e.ban)
			}
		}
	}
	l.mu.RUnlock()
	slices.SortFunc(out, func(a, b Ban) int { return cmp.Compare(a.Mask, b.Mask) })
	return out
}

// Len returns the number of stored bans of a kind, expired ones included
// until Prune.
func (l *BanList) Len(kind BanKind) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if kind == DLine {
		return l.dlines.len()
	}
	return len(l.klist)
}

// Prune removes expired bans and returns them, so that the lead can delete
// their records and audit the expiry. Call it from a timer.
func (l *BanList) Prune(now time.Time) []Ban {
	t := now.UnixNano()
	var out []Ban
	l.mu.Lock()
	defer l.mu.Unlock()
	var dead []*dlineEntry
	for _, e := range l.dlines.m {
		if t >= e.exp {
			dead = append(dead, e)
		}
	}
	for _, e := range dead {
		l.dlines.remove(e.prefix)
		l.ndl.Add(-1)
		out = append(out, e.ban)
	}
	for i := len(l.klist) - 1; i >= 0; i-- {
		if e := l.klist[i]; t >= e.exp {
			out = append(out, e.ban)
			l.removeKLine(e)
		}
	}
	return out
}

// BanMatcher is one compiled ban, for applying a ban that was just added to
// the clients already connected (scan them once with Match). Immutable.
type BanMatcher struct {
	kind   BanKind
	prefix netip.Prefix
	mask   UserHostMask
}

// Matcher compiles b (as stored by Add, or any valid ban).
func (l *BanList) Matcher(b Ban) (BanMatcher, error) {
	switch b.Kind {
	case DLine:
		p, err := ParseIPMask(b.Mask)
		return BanMatcher{kind: DLine, prefix: p}, err
	case KLine:
		m, err := ParseUserHostMask(b.Mask, l.cm)
		return BanMatcher{kind: KLine, mask: m}, err
	}
	return BanMatcher{}, fmt.Errorf("guard: %w: kind %v", ErrBadBan, b.Kind)
}

// Match reports whether the ban covers a client. A DLINE looks only at ip.
// It does not allocate.
func (m *BanMatcher) Match(nick, user, host string, ip netip.Addr) bool {
	switch m.kind {
	case DLine:
		return ip.IsValid() && m.prefix.Contains(plainAddr(ip))
	case KLine:
		return m.mask.Match(nick, user, host, ip)
	}
	return false
}
