package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"laird/chat"
	"laird/guard"
	"laird/kv"
	"laird/perf"
)

// Config is the whole configuration file. Every field is documented, with
// its default, in laird.example.toml at the repository root; keep the two
// in step.
type Config struct {
	Server  ServerConfig     `toml:"server"`
	Limits  LimitsConfig     `toml:"limits"`
	Store   StoreConfig      `toml:"store"`
	Metrics MetricsConfig    `toml:"metrics"`
	Alerts  perf.AlertConfig `toml:"alerts"`
	Guard   guard.Config     `toml:"guard"`
	Log     LogConfig        `toml:"log"`
	Opers   []chat.Oper      `toml:"oper"`

	Accounts AccountsConfig `toml:"accounts"` // accounts.go
	Messages MessagesConfig `toml:"messages"`
	Channels ChannelsConfig `toml:"channels"` // invites.go
	Metadata MetadataConfig `toml:"metadata"`
	STS      STSConfig      `toml:"sts"` // sts.go

	// Listen are the [[listen]] blocks (listeners.go).
	Listen []ListenConfig `toml:"listen"`

	listenFlag string        // -listen: one more plain listener
	path       string        // the file it was read from (absolute), for reloads
	flags      func(*Config) // the command line's overrides, applied again on reload
}

type ServerConfig struct {
	Name        string   `toml:"name"`
	Network     string   `toml:"network"`
	Description string   `toml:"description"`
	Listen      string   `toml:"listen"`
	DataDir     string   `toml:"data_dir"`
	Password    string   `toml:"password"`
	MOTD        []string `toml:"motd"`
	MOTDFile    string   `toml:"motd_file"`
	Casemapping string   `toml:"casemapping"`
	Loops       int      `toml:"loops"`
	Shards      int      `toml:"shards"`
}

type LimitsConfig struct {
	NickLen             int      `toml:"nick_len"`
	ChannelLen          int      `toml:"channel_len"`
	TopicLen            int      `toml:"topic_len"`
	AwayLen             int      `toml:"away_len"`
	KickLen             int      `toml:"kick_len"`
	MaxChannels         int      `toml:"max_channels"`
	MaxTargets          int      `toml:"max_targets"`
	MaxList             int      `toml:"max_list"`
	MaxMonitor          int      `toml:"max_monitor"`
	KnockInterval       duration `toml:"knock_interval"`
	SendQ               int      `toml:"sendq"`
	RecvQ               int      `toml:"recvq"`
	RegistrationTimeout duration `toml:"registration_timeout"`
	TLSHandshakeTimeout duration `toml:"tls_handshake_timeout"`
	MaxTLSHandshakes    int      `toml:"max_tls_handshakes"`
	PingInterval        duration `toml:"ping_interval"`
	PingTimeout         duration `toml:"ping_timeout"`
}

type StoreConfig struct {
	// DiskReserveMB is the free space the data directory must keep;
	// below it writes are refused with a clear error.
	DiskReserveMB int64 `toml:"disk_reserve_mb"`
	// LazyHistory trades up to a second of message history on a crash for
	// history writes that nobody waits for. Default false: a sender's
	// echo and labeled reply wait for the group commit of its message.
	LazyHistory bool `toml:"lazy_history"`
	// HistoryRetention and AuditRetention bound how long messages and
	// audit entries are kept; 0 keeps them forever.
	HistoryRetention duration `toml:"history_retention"`
	AuditRetention   duration `toml:"audit_retention"`
	// OfflineMaxMessages bounds the offline messages (sent to an account
	// with nothing connected) one account may have unread; past it,
	// senders get FAIL ... OFFLINE_QUOTA_FULL. OfflineMaxAge is how long
	// an offline message counts as unread (it stays in history).
	OfflineMaxMessages int      `toml:"offline_max_messages"`
	OfflineMaxAge      duration `toml:"offline_max_age"`
	// SeparateHistory keeps message history in its own Pebble instance
	// (data/history), so that flushing and compacting history never
	// holds up accounts, channels and bans; HistoryMemTableMB sizes its
	// memtable (0: Pebble's default). Changing it moves history at the
	// next start.
	SeparateHistory   bool  `toml:"separate_history"`
	HistoryMemTableMB int64 `toml:"history_memtable_mb"`
}

type MetricsConfig struct {
	// Enabled turns latency recording, counters and alerts on (default).
	Enabled bool `toml:"enabled"`
	// Listen is the HTTP address of /metrics and /debug/status; "off"
	// disables the listener (recording goes on for STATS L).
	Listen string `toml:"listen"`
	// Token, when set, is required as a bearer token on every endpoint
	// with data, and enables the admin endpoints (backup).
	Token string `toml:"token"`
	// Interval between collections of the recorders.
	Interval duration `toml:"interval"`
}

// MessagesConfig is what clients may do with messages they sent.
type MessagesConfig struct {
	// RedactWindow and EditWindow bound how long after sending authors
	// may delete or edit a message ("0s": always).
	RedactWindow duration `toml:"redact_window"`
	EditWindow   duration `toml:"edit_window"`
	// MultilineMaxBytes and MultilineMaxLines bound one draft/multiline
	// message (advertised in the capability's value).
	MultilineMaxBytes int `toml:"multiline_max_bytes"`
	MultilineMaxLines int `toml:"multiline_max_lines"`
}

// MetadataConfig bounds draft/metadata-2 (advertised in the capability's
// value); accounts' and registered channels' metadata is stored.
type MetadataConfig struct {
	MaxKeys       int `toml:"max_keys"`
	MaxSubs       int `toml:"max_subs"`
	MaxValueBytes int `toml:"max_value_bytes"`
}

type LogConfig struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// duration decodes "30s"-style strings.
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

func defaultConfig() Config {
	return Config{
		Server: ServerConfig{
			Name:        "laird.local",
			Network:     "laird",
			Description: "laird IRC server",
			Listen:      "127.0.0.1:6667",
			DataDir:     "./data",
			Casemapping: "rfc1459",
		},
		Limits: LimitsConfig{
			SendQ:               1 << 20,
			RecvQ:               64 << 10,
			RegistrationTimeout: duration{30 * time.Second},
			TLSHandshakeTimeout: duration{10 * time.Second},
			MaxTLSHandshakes:    1024,
			KnockInterval:       duration{time.Minute},
			PingInterval:        duration{90 * time.Second},
			PingTimeout:         duration{90 * time.Second},
		},
		Store: StoreConfig{DiskReserveMB: 64, LazyHistory: false, HistoryRetention: duration{30 * 24 * time.Hour}, AuditRetention: duration{365 * 24 * time.Hour},
			OfflineMaxMessages: kv.DefaultOfflineMaxMessages, OfflineMaxAge: duration{kv.DefaultOfflineMaxAge}},
		Metrics: MetricsConfig{Enabled: true, Listen: "127.0.0.1:9100", Interval: duration{time.Second}},
		Log:     LogConfig{Level: "info", Format: "text"},
		Guard:   guard.DefaultConfig(),

		Accounts: defaultAccounts(),
		Messages: MessagesConfig{MultilineMaxBytes: 4096, MultilineMaxLines: 100},
		Channels: defaultChannels(),
		Metadata: MetadataConfig{MaxKeys: 20, MaxSubs: 50, MaxValueBytes: 300},
		STS:      defaultSTS(),
	}
}

// loadConfig reads path over the defaults. Unknown keys are an error, so a
// typo does not silently fall back to a default.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // the server may change directory; reports name the file fully
	}
	cfg.path = path
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return cfg, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	if cfg.Server.MOTDFile != "" {
		b, err := os.ReadFile(cfg.Server.MOTDFile)
		if err != nil {
			return cfg, fmt.Errorf("config %s: motd_file: %w", path, err)
		}
		cfg.Server.MOTD = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	}
	return cfg, nil
}

// validateConfig checks cfg as a start would, without starting anything,
// so that `laird check` and a reload refuse what the next start would.
// reg, when not nil, is the running server's metrics registry: alert
// rules must name its series.
func validateConfig(cfg *Config, reg *perf.Registry) error {
	if _, _, err := parseLog(cfg.Log); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(cfg.Server.Listen); err != nil {
		return fmt.Errorf("server.listen %q: %w", cfg.Server.Listen, err)
	}
	if _, err := cfg.loopListeners(); err != nil {
		return err
	}
	if l := cfg.Metrics.Listen; l != "off" && l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return fmt.Errorf("metrics.listen %q: %w", l, err)
		}
	}
	if err := cfg.STS.validate(); err != nil {
		return err
	}
	if err := cfg.chatConfig("").Validate(); err != nil {
		return err
	}
	if ch := cfg.Channels; ch.InviteTTL.Duration <= 0 || ch.MaxInvitesPerAccount < 1 || ch.MaxInvitesPerChannel < 1 {
		return fmt.Errorf("channels.invite_ttl %v, max_invites_per_account %d and max_invites_per_channel %d: each must be positive",
			ch.InviteTTL.Duration, ch.MaxInvitesPerAccount, ch.MaxInvitesPerChannel)
	}
	if mb := cfg.Store.HistoryMemTableMB; mb < 0 || mb > 1024 {
		return fmt.Errorf("store.history_memtable_mb %d: must be between 0 (Pebble's default) and 1024", mb)
	}
	if cfg.Store.OfflineMaxMessages < 1 || cfg.Store.OfflineMaxAge.Duration <= 0 {
		return fmt.Errorf("store.offline_max_messages %d and store.offline_max_age %v: both must be positive",
			cfg.Store.OfflineMaxMessages, cfg.Store.OfflineMaxAge.Duration)
	}
	if c := cfg.Accounts.BcryptCost; c < bcrypt.MinCost || c > bcrypt.MaxCost {
		return fmt.Errorf("accounts.bcrypt_cost %d: want %d to %d", c, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if _, err := guard.New(cfg.guardConfig()); err != nil {
		return err
	}
	if cfg.Metrics.Enabled {
		if reg == nil {
			reg = perf.NewRegistry(perf.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if _, err := chat.RegisterMetrics(reg); err != nil {
				return err
			}
		}
		if err := reg.CheckAlerts(cfg.Alerts); err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
	}
	return nil
}

func (cfg *Config) chatConfig(version string) chat.Config {
	return chat.Config{
		ServerName:    cfg.Server.Name,
		Network:       cfg.Server.Network,
		Description:   cfg.Server.Description,
		Password:      cfg.Server.Password,
		MOTD:          cfg.Server.MOTD,
		Casemapping:   cfg.Server.Casemapping,
		NickLen:       cfg.Limits.NickLen,
		ChannelLen:    cfg.Limits.ChannelLen,
		TopicLen:      cfg.Limits.TopicLen,
		AwayLen:       cfg.Limits.AwayLen,
		KickLen:       cfg.Limits.KickLen,
		MaxChannels:   cfg.Limits.MaxChannels,
		MaxTargets:    cfg.Limits.MaxTargets,
		MaxList:       cfg.Limits.MaxList,
		MaxMonitor:    cfg.Limits.MaxMonitor,
		KnockInterval: cfg.Limits.KnockInterval.Duration,
		Shards:        cfg.Server.Shards,
		Opers:         cfg.Opers,
		STS:           cfg.stsPolicy(),
		Version:       version,
		Accounts:      cfg.Accounts.chat(),
		Messages: chat.MessagesConfig{
			RedactWindow: cfg.Messages.RedactWindow.Duration,
			EditWindow:   cfg.Messages.EditWindow.Duration,

			MultilineMaxBytes: cfg.Messages.MultilineMaxBytes,
			MultilineMaxLines: cfg.Messages.MultilineMaxLines,
		},
		InviteTTL: cfg.Channels.InviteTTL.Duration,
		Metadata: chat.MetadataConfig{
			MaxKeys:       cfg.Metadata.MaxKeys,
			MaxSubs:       cfg.Metadata.MaxSubs,
			MaxValueBytes: cfg.Metadata.MaxValueBytes,
		},
	}
}

// guardConfig returns the guard configuration with the settings it shares
// with the rest of the server (casemapping, limits) taken from there.
func (cfg *Config) guardConfig() guard.Config {
	g := cfg.Guard
	g.CaseMapping = cfg.Server.Casemapping
	c := cfg.chatConfig("")
	g.Limits.TopicLen = c.TopicLen
	g.Limits.AwayLen = c.AwayLen
	g.Limits.KickLen = c.KickLen
	g.Limits.MaxTargets = c.MaxTargets
	g.Limits.MaxChannels = c.MaxChannels
	g.Limits.MaxList = c.MaxList
	return g
}
