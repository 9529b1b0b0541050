package guard

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Admission refusals. Admit returns these values themselves (no wrapping,
// no allocation), so callers may compare with == or errors.Is.
var (
	ErrTooManyConns = errors.New("too many connections from your address")
	ErrThrottled    = errors.New("connecting too fast; try again later")
	ErrBanned       = errors.New("your address is banned")
	// ErrCapacity: the tracking table is full of live entries; the
	// connection is refused rather than let memory grow.
	ErrCapacity = errors.New("server is tracking too many addresses")
)

// ConnConfig limits connections per address block.
type ConnConfig struct {
	// MaxPerIP is the most concurrent connections from one block; 0 means
	// no limit.
	MaxPerIP int `toml:"max_per_ip"`
	// ThrottleCount new connections per ThrottleWindow are admitted from one
	// block; 0 disables the throttle. The count is admitted at once, then
	// one more every ThrottleWindow/ThrottleCount.
	ThrottleCount  int           `toml:"throttle_count"`
	ThrottleWindow time.Duration `toml:"throttle_window"`
	// PrefixV4 and PrefixV6 set the block size: one IPv4 address and one
	// IPv6 /64 (what an ISP hands one customer) by default.
	PrefixV4 int `toml:"prefix_v4"`
	PrefixV6 int `toml:"prefix_v6"`
	// Exempt lists IPs/CIDRs not subject to these limits nor to the
	// detectors' automatic D-lines (operators' bans still apply).
	Exempt []string `toml:"exempt"`
	// MaxEntries caps the blocks tracked; it must exceed the number of
	// distinct blocks with live connections you expect.
	MaxEntries int `toml:"max_entries"`
}

// DefaultConnConfig follows ergo's ip-limits: 16 concurrent connections and
// 32 new ones per 10 minutes per IPv4 address or IPv6 /64, loopback exempt
// (local bouncers and gateways). InspIRCd's connectban is stricter (10 per
// hour, then a Z-line); laird leaves banning to the ConnStorm detector.
func DefaultConnConfig() ConnConfig {
	return ConnConfig{
		MaxPerIP: 16, ThrottleCount: 32, ThrottleWindow: 10 * time.Minute,
		PrefixV4: 32, PrefixV6: 64,
		Exempt:     []string{"127.0.0.0/8", "::1"},
		MaxEntries: 1 << 18,
	}
}

// ConnLimiter enforces bans, the per-block concurrent connection limit and
// the connection rate throttle at accept time. It is shared by all event
// loops: state lives in a sharded table, so Admit and Release from
// different loops rarely contend. Memory is bounded by MaxEntries.
type ConnLimiter struct {
	maxPer   int32
	interval int64 // throttle: ticks per admitted connection (GCRA)
	window   int64
	bits4    int
	bits6    int
	exempt   *Exemptions
	bans     *BanList
	tab      *table[prefixKey, connEntry]
}

type connEntry struct {
	active int32
	tat    int64 // throttle penalty clock, ticks
}

// NewConnLimiter compiles cfg. bans may be nil (no DLINE check).
func NewConnLimiter(cfg ConnConfig, bans *BanList) (*ConnLimiter, error) {
	if cfg.MaxPerIP < 0 || cfg.ThrottleCount < 0 || cfg.ThrottleWindow < 0 {
		return nil, fmt.Errorf("guard: connection limits must not be negative")
	}
	if cfg.ThrottleCount > 0 && cfg.ThrottleWindow <= 0 {
		return nil, fmt.Errorf("guard: throttle_count needs a positive throttle_window")
	}
	if cfg.PrefixV4 < 1 || cfg.PrefixV4 > 32 || cfg.PrefixV6 < 1 || cfg.PrefixV6 > 128 {
		return nil, fmt.Errorf("guard: connection prefix lengths %d/%d out of range", cfg.PrefixV4, cfg.PrefixV6)
	}
	if cfg.MaxEntries < numShards {
		return nil, fmt.Errorf("guard: max_entries %d below %d", cfg.MaxEntries, numShards)
	}
	l := &ConnLimiter{
		maxPer: int32(min(cfg.MaxPerIP, 1<<30)),
		window: int64(cfg.ThrottleWindow),
		bits4:  cfg.PrefixV4, bits6: cfg.PrefixV6,
		bans: bans,
		tab:  newTable[prefixKey, connEntry](cfg.MaxEntries, hashPrefixKey),
	}
	if cfg.ThrottleCount > 0 {
		l.interval = max(1, int64(cfg.ThrottleWindow)/int64(cfg.ThrottleCount))
	}
	var err error
	if l.exempt, err = NewExemptions(cfg.Exempt); err != nil {
		return nil, fmt.Errorf("guard: connections: %w", err)
	}
	return l, nil
}

// Exempt returns the exempt blocks, which the detectors share.
func (l *ConnLimiter) Exempt() *Exemptions { return l.exempt }

// Prefixes returns the block sizes the limiter counts by.
func (l *ConnLimiter) Prefixes() (v4, v6 int) { return l.bits4, l.bits6 }

// Admit decides whether a new connection from addr may proceed. It returns
// nil, ErrBanned (look the ban up with BanList.MatchIP for its reason),
// ErrTooManyConns, ErrThrottled or ErrCapacity. Every nil return must be
// paired with exactly one Release(addr) when the connection closes.
//
// An invalid addr (a Unix-socket peer) is admitted untracked. Admit does
// not allocate except when a shard's map grows.
func (l *ConnLimiter) Admit(addr netip.Addr, now time.Time) error {
	if !addr.IsValid() {
		return nil
	}
	addr = plainAddr(addr)
	if l.bans != nil && l.bans.bannedIP(addr, now) {
		return ErrBanned
	}
	if l.exempt.Contains(addr) {
		return nil
	}
	t := ticks(now)
	k := keyOf(addr, l.bits4, l.bits6)
	s := l.tab.lock(k)
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		if !s.makeRoom(l.tab.perShard, t, connEvict) {
			return ErrCapacity
		}
		e.tat = t
	}
	if l.maxPer > 0 && e.active >= l.maxPer {
		return ErrTooManyConns
	}
	if l.interval > 0 {
		tat := max(e.tat, t) + l.interval
		if tat-t > l.window {
			return ErrThrottled
		}
		e.tat = tat
	}
	e.active++
	s.m[k] = e
	return nil
}

// Release records that an admitted connection from addr has closed.
func (l *ConnLimiter) Release(addr netip.Addr) {
	if !addr.IsValid() {
		return
	}
	addr = plainAddr(addr)
	if l.exempt.Contains(addr) {
		return
	}
	k := keyOf(addr, l.bits4, l.bits6)
	s := l.tab.lock(k)
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok && e.active > 0 {
		e.active--
		s.m[k] = e
	}
}

// Active returns the live connections counted for addr's block.
func (l *ConnLimiter) Active(addr netip.Addr) int {
	addr = plainAddr(addr)
	k := keyOf(addr, l.bits4, l.bits6)
	s := l.tab.lock(k)
	defer s.mu.Unlock()
	return int(s.m[k].active)
}

// Prune drops blocks with no live connection and a drained throttle; call
// it from a timer (a minute is plenty). Entries are also reused or evicted
// lazily, so Prune only returns memory sooner.
func (l *ConnLimiter) Prune(now time.Time) int { return l.tab.prune(ticks(now), connEvict) }

// Len returns the number of tracked blocks.
func (l *ConnLimiter) Len() int { return l.tab.len() }

func connEvict(e *connEntry, now int64) (expired, idle bool) {
	idle = e.active == 0
	return idle && e.tat <= now, idle
}
