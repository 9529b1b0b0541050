package guard

import (
	"fmt"
	"time"
)

// QuotaConfig allows Limit events per Window for one key: an address block
// or an account.
type QuotaConfig struct {
	Limit  int           `toml:"limit"` // 0 disables the quota
	Window time.Duration `toml:"window"`
	// Prefix lengths grouping address keys.
	PrefixV4 int `toml:"prefix_v4"`
	PrefixV6 int `toml:"prefix_v6"`
	// MaxEntries caps the keys tracked.
	MaxEntries int `toml:"max_entries"`
}

// QuotasConfig holds the per-hour limits of issue 7.
type QuotasConfig struct {
	// Registrations: account registrations per address block.
	Registrations QuotaConfig `toml:"registrations"`
	// Invites: INVITEs per account (key unauthenticated users by address).
	Invites QuotaConfig `toml:"invites"`
}

// DefaultQuotasConfig: 3 account registrations per hour per IPv4 address
// or IPv6 /64 (ergo throttles 30 per 10 minutes server-wide, which one
// address can exhaust), and 30 invitations per hour per sender.
func DefaultQuotasConfig() QuotasConfig {
	return QuotasConfig{
		Registrations: QuotaConfig{Limit: 3, Window: time.Hour, PrefixV4: 32, PrefixV6: 64, MaxEntries: 1 << 14},
		Invites:       QuotaConfig{Limit: 30, Window: time.Hour, PrefixV4: 32, PrefixV6: 64, MaxEntries: 1 << 14},
	}
}

// Quota is a keyed rate limit: Limit events at once, then one more every
// Window/Limit (a token bucket per key, kept as a penalty clock). Shared by
// all goroutines; memory bounded by MaxEntries.
type Quota struct {
	interval int64
	window   int64
	bits4    int
	bits6    int
	cm       *CaseMapping
	ips      *table[prefixKey, int64]
	names    *table[string, int64]
}

// NewQuota compiles cfg; names are compared under cm.
func NewQuota(cfg QuotaConfig, cm *CaseMapping) (*Quota, error) {
	if cm == nil {
		cm = RFC1459
	}
	q := &Quota{cm: cm, bits4: cfg.PrefixV4, bits6: cfg.PrefixV6}
	if cfg.Limit < 0 {
		return nil, fmt.Errorf("guard: quota limit %d is negative", cfg.Limit)
	}
	if cfg.Limit == 0 {
		return q, nil
	}
	if cfg.Window <= 0 || cfg.MaxEntries < numShards {
		return nil, fmt.Errorf("guard: quota needs a positive window and max_entries >= %d", numShards)
	}
	if cfg.PrefixV4 < 1 || cfg.PrefixV4 > 32 || cfg.PrefixV6 < 1 || cfg.PrefixV6 > 128 {
		return nil, fmt.Errorf("guard: quota prefix lengths %d/%d out of range", cfg.PrefixV4, cfg.PrefixV6)
	}
	q.window = int64(cfg.Window)
	q.interval = max(1, q.window/int64(cfg.Limit))
	q.ips = newTable[prefixKey, int64](cfg.MaxEntries, hashPrefixKey)
	q.names = newTable[string, int64](cfg.MaxEntries, hashString)
	return q, nil
}

// Allow reports whether one more event for key is within quota, and if so
// counts it. A disabled quota allows everything; so does an empty key. When
// the table is full of live keys the event is refused.
func (q *Quota) Allow(key Key, now time.Time) bool {
	if q.interval == 0 {
		return true
	}
	t := ticks(now)
	if key.addr.IsValid() {
		k := keyOf(key.addr, q.bits4, q.bits6)
		s := q.ips.lock(k)
		defer s.mu.Unlock()
		return gcraAllow(s, q.ips.perShard, k, t, q.interval, q.window)
	}
	if key.name == "" {
		return true
	}
	name := key.name
	if len(name) > maxAccountKey {
		name = name[:maxAccountKey]
	}
	name = q.cm.Fold(name)
	s := q.names.lock(name)
	defer s.mu.Unlock()
	return gcraAllow(s, q.names.perShard, name, t, q.interval, q.window)
}

func gcraAllow[K comparable](s *shard[K, int64], per int, k K, t, interval, window int64) bool {
	tat, ok := s.m[k]
	if !ok {
		if !s.makeRoom(per, t, quotaEvict) {
			return false
		}
		tat = t
	}
	tat = max(tat, t) + interval
	if tat-t > window {
		return false
	}
	s.m[k] = tat
	return true
}

// quotaEvict: a key whose clock has drained carries nothing; any key may be
// evicted under pressure (which forgives it its quota).
func quotaEvict(tat *int64, now int64) (expired, idle bool) { return *tat <= now, true }

// Prune drops drained keys and returns how many.
func (q *Quota) Prune(now time.Time) int {
	if q.interval == 0 {
		return 0
	}
	t := ticks(now)
	return q.ips.prune(t, quotaEvict) + q.names.prune(t, quotaEvict)
}
