package guard

import (
	"fmt"
	"time"
)

// Config configures every guard mechanism. It decodes from TOML (the tags
// below; durations as strings such as "10m"). Decode a file over
// DefaultConfig() so that absent keys keep their defaults.
type Config struct {
	// CaseMapping for masks, accounts and detector keys: "ascii" or
	// "rfc1459". It must equal the server's ISUPPORT CASEMAPPING.
	CaseMapping string       `toml:"casemapping"`
	Flood       FloodConfig  `toml:"flood"`
	Connections ConnConfig   `toml:"connections"`
	Bans        BanConfig    `toml:"bans"`
	Detect      DetectConfig `toml:"detect"`
	Quotas      QuotasConfig `toml:"quotas"`
	Logins      LoginConfig  `toml:"logins"`
	Limits      Limits       `toml:"limits"`
}

// DefaultConfig returns the documented defaults of every section; see the
// Default* functions for the reasoning behind each number.
func DefaultConfig() Config {
	return Config{
		CaseMapping: "rfc1459",
		Flood:       DefaultFloodConfig(),
		Connections: DefaultConnConfig(),
		Bans:        DefaultBanConfig(),
		Detect:      DefaultDetectConfig(),
		Quotas:      DefaultQuotasConfig(),
		Logins:      DefaultLoginConfig(),
		Limits:      DefaultLimits(),
	}
}

// Validate reports the first problem New would report.
func (c Config) Validate() error {
	_, err := New(c)
	return err
}

// Guard bundles the mechanisms built from one Config. Every field is safe
// for concurrent use except as documented on Budget (which lives in each
// connection, not here). Limits is a plain value: read it, don't mutate it.
type Guard struct {
	CaseMapping   *CaseMapping
	Flood         *Flood
	Conns         *ConnLimiter
	Bans          *BanList
	Suspensions   *Suspensions
	Logins        *Logins
	Detect        *Detector
	Registrations *Quota
	Invites       *Quota
	Limits        Limits
}

// New builds every mechanism from cfg.
func New(cfg Config) (*Guard, error) {
	cm, err := CaseMappingByName(cfg.CaseMapping)
	if err != nil {
		return nil, err
	}
	g := &Guard{CaseMapping: cm, Limits: cfg.Limits}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"message_len", cfg.Limits.MessageLen}, {"realname_len", cfg.Limits.RealnameLen},
		{"away_len", cfg.Limits.AwayLen}, {"topic_len", cfg.Limits.TopicLen},
		{"kick_len", cfg.Limits.KickLen}, {"reason_len", cfg.Limits.ReasonLen},
		{"tag_data_len", cfg.Limits.TagDataLen}, {"max_targets", cfg.Limits.MaxTargets},
		{"max_channels", cfg.Limits.MaxChannels}, {"max_list", cfg.Limits.MaxList},
	} {
		if n.v < 0 {
			return nil, fmt.Errorf("guard: limits.%s is negative", n.name)
		}
	}
	if g.Flood, err = NewFlood(cfg.Flood); err != nil {
		return nil, err
	}
	if cfg.Bans.MinPrefixV4 < 0 || cfg.Bans.MinPrefixV4 > 32 || cfg.Bans.MinPrefixV6 < 0 || cfg.Bans.MinPrefixV6 > 128 {
		return nil, fmt.Errorf("guard: bans: minimum prefixes %d/%d out of range", cfg.Bans.MinPrefixV4, cfg.Bans.MinPrefixV6)
	}
	g.Bans = NewBanList(cfg.Bans, cm)
	if g.Conns, err = NewConnLimiter(cfg.Connections, g.Bans); err != nil {
		return nil, err
	}
	g.Suspensions = NewSuspensions(cm)
	if g.Logins, err = NewLogins(cfg.Logins, cm, g.Conns); err != nil {
		return nil, err
	}
	if g.Detect, err = NewDetector(cfg.Detect, cm, g.Conns); err != nil {
		return nil, err
	}
	if g.Registrations, err = NewQuota(cfg.Quotas.Registrations, cm); err != nil {
		return nil, fmt.Errorf("guard: quotas.registrations: %w", err)
	}
	if g.Invites, err = NewQuota(cfg.Quotas.Invites, cm); err != nil {
		return nil, fmt.Errorf("guard: quotas.invites: %w", err)
	}
	return g, nil
}

// Expired lists what a Prune sweep removed and the caller must delete from
// storage (and may audit).
type Expired struct {
	Bans        []Ban
	Suspensions []Suspension
}

// Prune sweeps every mechanism: expired bans and suspensions (returned),
// drained login throttle, limiter, detector and quota keys. Call it from
// one timer goroutine, about once a minute; it never needs to run for
// correctness, only to return memory and report expiries.
func (g *Guard) Prune(now time.Time) Expired {
	g.Conns.Prune(now)
	g.Detect.Prune(now)
	g.Registrations.Prune(now)
	g.Invites.Prune(now)
	g.Logins.Prune(now)
	return Expired{Bans: g.Bans.Prune(now), Suspensions: g.Suspensions.Prune(now)}
}
