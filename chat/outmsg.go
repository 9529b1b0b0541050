package chat

import (
	"time"

	"laird/codec"
)

// outMsg is one line to many recipients. The line differs by what each
// recipient negotiated (server-time, message-tags, account-tag,
// extended-join), so it is encoded once per distinct variant, lazily, into
// the drain's batch, and each recipient costs one cache lookup and one
// delivery entry: no allocation and no encoding per recipient.
type outMsg struct {
	source  string
	command string
	params  []string // the last one is written as trailing
	// extParams, when set, replace params for extended-join recipients.
	extParams []string
	// plainLast writes the last parameter as trailing only when it must
	// be (JOIN #chan, NICK name); otherwise it is always trailing (text).
	plainLast bool
	// onlyTags drops the message for recipients without message-tags
	// (TAGMSG).
	onlyTags bool

	at         time.Time
	atNano     int64 // at in unix ns, once, for per-delivery latency
	msgid      string
	account    string
	bot        bool   // the sender has user mode +B: "bot" tag (IRCv3 bot-mode)
	clientTags []byte // escaped client-only tags ("+a=b;+c"), relayed as is

	cache [16]struct{ off, end int32 }
	have  uint16
}

// serverTimeFormat is the IRCv3 server-time format.
const serverTimeFormat = "2006-01-02T15:04:05.000Z"

const (
	variantTime = 1 << iota
	variantTags
	variantAccount
	variantExtJoin
)

// variantOf returns the cache key for recipient c.
func (o *outMsg) variantOf(c *Client) int {
	set := capSet(c.caps.Load())
	v := 0
	if set.has(CapServerTime) && !o.at.IsZero() {
		v |= variantTime
	}
	if set.has(CapMessageTags) && (o.msgid != "" || len(o.clientTags) > 0 || o.bot) {
		v |= variantTags
	}
	if set.has(CapAccountTag) && o.account != "" {
		v |= variantAccount
	}
	if o.extParams != nil && set.has(CapExtendedJoin) {
		v |= variantExtJoin
	}
	return v
}

// deliver queues the message for c in b, encoding its variant if needed.
// It reports false when c must not receive it (TAGMSG without
// message-tags) or is over its SendQ.
func (o *outMsg) deliver(b *batch, c *Client) bool {
	if o.onlyTags && !c.Has(CapMessageTags) {
		return false
	}
	v := o.variantOf(c)
	if o.have&(1<<v) == 0 {
		off := int32(len(b.buf))
		b.buf = o.appendVariant(b.buf, v)
		o.cache[v].off, o.cache[v].end = off, int32(len(b.buf))
		o.have |= 1 << v
	}
	span := o.cache[v]
	if !b.admit(c, span.end-span.off) {
		return false
	}
	b.perLoop[c.loop] = append(b.perLoop[c.loop], delivery{c: c, off: span.off, end: span.end, at: o.atNano})
	return true
}

// deliverUser queues the message for every session of u but except (the
// session that sent it, whose copy is its echo or its reply).
func (o *outMsg) deliverUser(b *batch, u *user, except *Client) {
	for _, s := range u.sessionList() {
		if s != except {
			o.deliver(b, s)
		}
	}
}

// toMembers queues the message for every member of ch: every session but
// from, which sent it (from's other sessions get it like any member).
func (o *outMsg) toMembers(b *batch, ch *Channel, from *Client) {
	for _, mb := range ch.members {
		o.deliverUser(b, mb.u, from)
	}
}

// appendVariant encodes the message for variant v.
func (o *outMsg) appendVariant(dst []byte, v int) []byte {
	return o.appendVariantIn(dst, v, "")
}

// appendVariantIn encodes the message for variant v as part of batch
// batchID ("" for none).
func (o *outMsg) appendVariantIn(dst []byte, v int, batchID string) []byte {
	start := len(dst)
	dst = o.appendTagsIn(dst, v, batchID)
	if len(dst) > start {
		dst = append(dst, ' ')
	}
	params := o.params
	if v&variantExtJoin != 0 {
		params = o.extParams
	}
	return appendCmd(dst, o.source, o.command, !o.plainLast, params...)
}

// appendTagsIn writes the tag section for variant v ("@a=b;c"), without
// the space after it; nothing when there are no tags.
func (o *outMsg) appendTagsIn(dst []byte, v int, batchID string) []byte {
	sep := byte('@')
	tag := func(key string) {
		dst = append(dst, sep)
		dst = append(dst, key...)
		sep = ';'
	}
	if batchID != "" {
		tag("batch=")
		dst = append(dst, batchID...)
	}
	if v&variantAccount != 0 {
		tag("account=")
		dst = codec.AppendEscapedTag(dst, []byte(o.account))
	}
	if v&variantTags != 0 && o.bot {
		tag("bot")
	}
	if v&variantTags != 0 && o.msgid != "" {
		tag("msgid=")
		dst = append(dst, o.msgid...)
	}
	if v&variantTime != 0 {
		tag("time=")
		dst = o.at.UTC().AppendFormat(dst, serverTimeFormat)
	}
	if v&variantTags != 0 && len(o.clientTags) > 0 {
		dst = append(dst, sep)
		dst = append(dst, o.clientTags...)
	}
	return dst
}

// echo queues the sender's own copy (echo-message) as output of its op.
func (o *outMsg) echo(b *batch, op *op) {
	if o.onlyTags && !op.c.Has(CapMessageTags) {
		return
	}
	off := int32(len(b.buf))
	b.buf = o.appendVariant(b.buf, o.variantOf(op.c))
	b.replySpan(op, off, int32(len(b.buf)))
}
