package chat

import (
	"fmt"
	"time"

	"laird/codec"
)

// Config is the chat layer's configuration. The zero value of every field
// means its documented default (see Defaults).
type Config struct {
	ServerName  string   // name in prefixes and numerics; default "laird.local"
	Network     string   // ISUPPORT NETWORK; default "laird"
	Description string   // server info in LINKS and WHOIS; default "laird IRC server"
	Password    string   // server password required by PASS; empty means none
	MOTD        []string // message of the day lines; empty sends 422
	Casemapping string   // "rfc1459" (default) or "ascii"

	NickLen     int // default 30
	ChannelLen  int // default 64
	TopicLen    int // default 390
	AwayLen     int // default 390
	KickLen     int // default 390
	MaxChannels int // channels one client may be in (CHANLIMIT); default 50
	MaxTargets  int // targets per PRIVMSG/NOTICE (TARGMAX); default 4
	MaxList     int // entries per +b/+e/+I list (MAXLIST); default 100
	MaxMonitor  int // MONITOR list size; default 100
	// KnockInterval is how long an address waits between KNOCKs on one
	// channel; default 1m.
	KnockInterval time.Duration
	// InviteTTL is how long a stored invitation (of an account) lasts;
	// default DefaultInviteTTL (7 days).
	InviteTTL time.Duration

	Shards       int // state partitions, each one goroutine; default one per CPU (at most GOMAXPROCS)
	ShardQueue   int // queued tasks per shard past which the loops hold client commands back; default 65536
	PipelineMax  int // same-shard commands a client may have in flight; default 32
	WhowasLength int // WHOWAS entries kept; default 1000
	// SendQ is the most fan-out bytes queued for one client (in mailboxes
	// and unsent at its loop) before shards cut it as a slow consumer; 0
	// leaves the limit to the loop alone. cmd sets it to loop's SendQ.
	SendQ int

	Opers []Oper

	// STS is the Strict Transport Security policy; the zero value
	// advertises none (sts.go).
	STS STSPolicy

	Accounts AccountConfig // accounts, services, nick protection (accounts.go)

	Messages MessagesConfig // deleting, editing, multiline messages
	Metadata MetadataConfig // draft/metadata-2 limits (metadata.go)

	Version string // server version string in 002/004/351
	Created time.Time
}

// MessagesConfig limits what clients do with messages.
type MessagesConfig struct {
	// RedactWindow is how long authors may REDACT their messages; channel
	// and server operators may at any time. 0: no limit (default).
	RedactWindow time.Duration
	// EditWindow is how long authors may EDIT their messages. 0: no limit
	// (default).
	EditWindow time.Duration
	// MultilineMaxBytes and MultilineMaxLines bound a draft/multiline
	// message: its text (joining newlines counted) and its lines; defaults
	// 4096 and 100.
	MultilineMaxBytes int
	MultilineMaxLines int
}

// MetadataConfig bounds draft/metadata-2 (advertised in the capability's
// value). Zero means the default.
type MetadataConfig struct {
	MaxKeys       int // keys one user or channel may have; default 20
	MaxSubs       int // keys one client may subscribe to; default 50
	MaxValueBytes int // bytes of one value; default 300 (a key and value must fit one line)
}

// Oper is an operator block: OPER name [password]. Every credential the
// block sets must match, as in ergo: with a password hash, the password;
// with a certificate fingerprint, the connection's client certificate
// (then OPER needs no password when the block has no hash). A block with
// neither matches nobody (Validate refuses it).
type Oper struct {
	Name         string   `toml:"name"`
	PasswordHash string   `toml:"password_hash"` // bcrypt hash
	Hosts        []string `toml:"hosts"`         // nick!user@host masks allowed; empty = any
	// CertFP is the SHA-256 fingerprint of the operator's client
	// certificate, in hex (upper or lower case, colons allowed).
	CertFP string `toml:"certfp"`
}

// validate reports what makes an operator block unusable.
func (o *Oper) validate() error {
	if o.PasswordHash == "" && o.CertFP == "" {
		return fmt.Errorf("chat: oper %q: set password_hash, certfp or both", o.Name)
	}
	if _, ok := normalizeCertFP(o.CertFP); o.CertFP != "" && !ok {
		return fmt.Errorf("chat: oper %q: certfp %q is not a SHA-256 fingerprint in hex", o.Name, o.CertFP)
	}
	return nil
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.ServerName == "" {
		c.ServerName = "laird.local"
	}
	if c.Network == "" {
		c.Network = "laird"
	}
	if c.Description == "" {
		c.Description = "laird IRC server"
	}
	if c.Casemapping == "" {
		c.Casemapping = "rfc1459"
	}
	def(&c.NickLen, codec.DefaultNickLen)
	def(&c.ChannelLen, codec.DefaultChannelLen)
	def(&c.TopicLen, codec.DefaultTopicLen)
	def(&c.AwayLen, codec.DefaultAwayLen)
	def(&c.KickLen, codec.DefaultKickLen)
	def(&c.MaxChannels, 50)
	def(&c.MaxTargets, 4)
	def(&c.MaxList, 100)
	def(&c.MaxMonitor, 100)
	def(&c.ShardQueue, 65536)
	def(&c.PipelineMax, 32)
	def(&c.WhowasLength, 1000)
	if c.KnockInterval <= 0 {
		c.KnockInterval = time.Minute
	}
	if c.InviteTTL <= 0 {
		c.InviteTTL = DefaultInviteTTL
	}
	c.Accounts.setDefaults()
	def(&c.Messages.MultilineMaxBytes, 4096)
	def(&c.Messages.MultilineMaxLines, 100)
	def(&c.Metadata.MaxKeys, 20)
	def(&c.Metadata.MaxSubs, 50)
	def(&c.Metadata.MaxValueBytes, 300)
	if c.Version == "" {
		c.Version = "laird-dev"
	}
	if c.Created.IsZero() {
		c.Created = time.Now()
	}
}

// Validate reports the error New would return for c.
func (c Config) Validate() error {
	c.setDefaults()
	return c.validate()
}

func (c *Config) validate() error {
	if _, err := codec.CasemappingByName(c.Casemapping); err != nil {
		return err
	}
	if c.NickLen > 64 || c.ChannelLen > 200 {
		return fmt.Errorf("chat: nick length %d or channel length %d too large", c.NickLen, c.ChannelLen)
	}
	for i := range c.Opers {
		if err := c.Opers[i].validate(); err != nil {
			return err
		}
	}
	return nil
}
