package kv

import (
	"fmt"
	"time"
)

// Records are plain values: the store copies them in on Put and hands out
// fresh copies on reads, so callers may keep and modify what they get.
//
// A record's value does not repeat what its key already holds (the name of
// an account, the channel and account of an access entry, the time of an
// audit entry...); decoding takes the key parts back in.

// Record encoding versions (the first byte of every value).
const (
	nickV1    = 1
	channelV1 = 1
	accessV1  = 1
	banV1     = 1
	auditV1   = 1
)

// NickRecord reserves a nick for an account.
type NickRecord struct {
	Nick    string // casefolded nick: the key
	Account string // casefolded owning account
	Since   time.Time
}

func (n *NickRecord) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(nickV1)
	e.str(n.Account)
	e.time(n.Since)
	return e.b
}

func decodeNick(nick string, v []byte) (NickRecord, error) {
	d := newDecoder(v)
	d.version("nick", nickV1)
	n := NickRecord{Nick: nick}
	n.Account = d.str()
	n.Since = d.time()
	return n, d.finish("nick")
}

// ListEntry is one entry of a channel's ban, exception or invite-exception
// list.
type ListEntry struct {
	Mask  string
	SetBy string
	SetAt time.Time
}

// Channel is a registered channel and the state that persists across
// restarts.
type Channel struct {
	Name        string // casefolded channel name: the key
	DisplayName string // the name as registered, for display
	Founder     string // casefolded account
	Created     time.Time
	Topic       string
	TopicSetBy  string
	TopicSetAt  time.Time
	Modes       string // simple modes without parameters, e.g. "nt"
	Key         string // +k parameter, empty if none
	Limit       int    // +l parameter, 0 if none
	Bans        []ListEntry
	Excepts     []ListEntry
	Invex       []ListEntry
}

func appendList(e *encoder, list []ListEntry) {
	e.uvarint(uint64(len(list)))
	for i := range list {
		e.str(list[i].Mask)
		e.str(list[i].SetBy)
		e.time(list[i].SetAt)
	}
}

// minListEntryLen is the smallest encoding of a ListEntry: two empty strings
// and a time of two one-byte varints.
const minListEntryLen = 4

func decodeList(d *decoder) []ListEntry {
	n := d.count(minListEntryLen)
	if n == 0 {
		return nil
	}
	list := make([]ListEntry, n)
	for i := range list {
		list[i].Mask = d.str()
		list[i].SetBy = d.str()
		list[i].SetAt = d.time()
	}
	return list
}

func (c *Channel) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(channelV1)
	e.str(c.DisplayName)
	e.str(c.Founder)
	e.time(c.Created)
	e.str(c.Topic)
	e.str(c.TopicSetBy)
	e.time(c.TopicSetAt)
	e.str(c.Modes)
	e.str(c.Key)
	e.varint(int64(c.Limit))
	appendList(&e, c.Bans)
	appendList(&e, c.Excepts)
	appendList(&e, c.Invex)
	return e.b
}

func decodeChannel(name string, v []byte) (Channel, error) {
	d := newDecoder(v)
	d.version("channel", channelV1)
	c := Channel{Name: name}
	c.DisplayName = d.str()
	c.Founder = d.str()
	c.Created = d.time()
	c.Topic = d.str()
	c.TopicSetBy = d.str()
	c.TopicSetAt = d.time()
	c.Modes = d.str()
	c.Key = d.str()
	c.Limit = int(d.varint())
	c.Bans = decodeList(&d)
	c.Excepts = decodeList(&d)
	c.Invex = decodeList(&d)
	return c, d.finish("channel")
}

// Level is an access level on a registered channel. The values are stored;
// the gaps leave room for levels added later.
type Level uint8

// Access levels, lowest first.
const (
	// LevelMember admits an account past +i, +k and +l without a status
	// mode (what accepting an invitation may grant).
	LevelMember  Level = 5
	LevelVoice   Level = 10
	LevelHalfOp  Level = 20
	LevelOp      Level = 30
	LevelFounder Level = 40
)

func (l Level) String() string {
	switch l {
	case LevelMember:
		return "member"
	case LevelVoice:
		return "voice"
	case LevelHalfOp:
		return "halfop"
	case LevelOp:
		return "op"
	case LevelFounder:
		return "founder"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// Access is one entry of a registered channel's access list.
type Access struct {
	Channel string // casefolded channel
	Account string // casefolded account
	Level   Level
	SetBy   string
	SetAt   time.Time
}

func (a *Access) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(accessV1)
	e.byte(byte(a.Level))
	e.str(a.SetBy)
	e.time(a.SetAt)
	return e.b
}

func decodeAccess(channel, account string, v []byte) (Access, error) {
	d := newDecoder(v)
	d.version("access", accessV1)
	a := Access{Channel: channel, Account: account}
	a.Level = Level(d.byte())
	a.SetBy = d.str()
	a.SetAt = d.time()
	return a, d.finish("access")
}

// BanKind says what a server ban matches.
type BanKind uint8

// Server ban kinds. The values are stored.
const (
	KLine BanKind = 1 // user@host mask
	DLine BanKind = 2 // IP address or CIDR
)

func (k BanKind) String() string {
	switch k {
	case KLine:
		return "KLINE"
	case DLine:
		return "DLINE"
	}
	return fmt.Sprintf("BAN(%d)", uint8(k))
}

// Ban is a server-wide ban.
type Ban struct {
	Kind    BanKind
	Mask    string // normalised by the caller: the key
	Reason  string
	SetBy   string
	SetAt   time.Time
	Expires time.Time // zero: never
}

// Expired reports whether the ban has an expiry time and it has passed.
func (b *Ban) Expired(now time.Time) bool {
	return !b.Expires.IsZero() && !now.Before(b.Expires)
}

func (b *Ban) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(banV1)
	e.str(b.Reason)
	e.str(b.SetBy)
	e.time(b.SetAt)
	e.time(b.Expires)
	return e.b
}

func decodeBan(kind BanKind, mask string, v []byte) (Ban, error) {
	d := newDecoder(v)
	d.version("ban", banV1)
	b := Ban{Kind: kind, Mask: mask}
	b.Reason = d.str()
	b.SetBy = d.str()
	b.SetAt = d.time()
	b.Expires = d.time()
	return b, d.finish("ban")
}

// AuditEntry is one line of the audit trail.
type AuditEntry struct {
	Time   time.Time // zero on append: the store uses the current time
	Seq    uint64    // set by the store; with Time it identifies the entry
	Actor  string    // who did it (account or nick, or "server")
	Action string    // what, e.g. "account.register", "kline.add"
	Target string    // on what
	Reason string
	IP     string
}

func (a *AuditEntry) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(auditV1)
	e.str(a.Actor)
	e.str(a.Action)
	e.str(a.Target)
	e.str(a.Reason)
	e.str(a.IP)
	return e.b
}

func decodeAudit(t time.Time, seq uint64, v []byte) (AuditEntry, error) {
	d := newDecoder(v)
	d.version("audit", auditV1)
	a := AuditEntry{Time: t, Seq: seq}
	a.Actor = d.str()
	a.Action = d.str()
	a.Target = d.str()
	a.Reason = d.str()
	a.IP = d.str()
	return a, d.finish("audit entry")
}
