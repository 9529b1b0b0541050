package chat

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"laird/codec"
	"laird/kv"
)

func handlePrivmsg(o *op, m *codec.Message) { o.s.message(o, m, "PRIVMSG") }
func handleNotice(o *op, m *codec.Message)  { o.s.message(o, m, "NOTICE") }
func handleTagmsg(o *op, m *codec.Message)  { o.s.message(o, m, "TAGMSG") }

// message implements PRIVMSG, NOTICE and TAGMSG.
func (s *Server) message(o *op, m *codec.Message, command string) {
	c := o.c
	if (c.ml != nil || len(m.Tags) > 0 && c.Has(CapMultiline)) && command != "TAGMSG" && s.absorbMultiline(o, m, command) {
		return // a line of a draft/multiline batch (multiline.go)
	}
	quiet := command == "NOTICE" // NOTICE never triggers error replies
	if m.NParams() == 0 || len(m.Param(0)) == 0 {
		if !quiet {
			o.numeric(codec.ERR_NORECIPIENT, "No recipient given ("+command+")")
		}
		return
	}
	var text []byte
	if command != "TAGMSG" {
		if m.NParams() < 2 || len(m.Param(1)) == 0 {
			if !quiet {
				o.numeric(codec.ERR_NOTEXTTOSEND, "No text to send")
			}
			return
		}
		text = m.Param(1)
	}
	var clientTags []byte
	if c.Has(CapMessageTags) {
		clientTags = copyClientTags(m.Tags)
	}
	if command == "TAGMSG" && len(clientTags) == 0 {
		return // nothing to relay
	}
	if !containsComma(m.Param(0)) {
		// One target, the common case: no split, no steps.
		s.messageOne(o, command, m.Param(0), text, clientTags, o.start)
		return
	}
	targets := bytes.Split(m.Param(0), []byte{','})
	if len(targets) > s.cfg.MaxTargets {
		if !quiet {
			o.numeric(codec.ERR_TOOMANYTARGETS, string(m.Param(0)), "Too many targets")
		}
		return
	}
	s.messageMany(o, command, targets, text, clientTags)
}

// messageMany sends one message to several targets, one after another.
// Later steps run after the line is gone: they keep copies.
func (s *Server) messageMany(o *op, command string, targets [][]byte, text, clientTags []byte) {
	text = bytes.Clone(text)
	now := o.start
	for _, raw := range targets {
		if len(raw) == 0 {
			continue
		}
		target := bytes.Clone(raw)
		o.sequence(func() { s.messageOne(o, command, target, text, clientTags, now) })
	}
}

// messageOne sends one message to one target. target and text may be
// views into the input line: what outlives the call is copied, once.
func (s *Server) messageOne(o *op, command string, target, text, clientTags []byte, now time.Time) {
	if s.serviceMessage(o, command, target, text) {
		return
	}
	name := target
	var status memberModes
	for len(name) > 1 && (name[0] == '@' || name[0] == '+') && codec.IsChannelName(name[1:]) {
		if name[0] == '@' {
			status |= memberOp
		} else {
			status |= memberVoice
		}
		name = name[1:]
	}
	msg := newMessageTask(s, o, command, target, text, name, now)
	msg.out.clientTags = clientTags
	msg.status = status
	msg.channel = codec.IsChannelName(name)
	o.toShardMessage(s.shardOf(msg.folded), msg)
}

// messageTask is one PRIVMSG, NOTICE or TAGMSG to one target on its way to
// the target's shard: pooled, and run without a closure, so that a message
// costs one allocation on the way (its strings, in one block).
type messageTask struct {
	out     outMsg
	params  [2]string // out.params' backing array
	o       *op
	folded  string // the casefolded target name
	status  memberModes
	channel bool
}

var messagePool = sync.Pool{New: func() any { return new(messageTask) }}

func newMessageTask(s *Server, o *op, command string, target, text, name []byte, now time.Time) *messageTask {
	msg := messagePool.Get().(*messageTask)
	// msgid, target, text and the folded name share one string.
	var seq [16]byte
	id := strconv.AppendUint(seq[:0], msgidSeq.Add(1), 36)
	var sb strings.Builder
	sb.Grow(len(msgidPrefix) + len(id) + len(target) + len(text) + len(name))
	sb.WriteString(msgidPrefix)
	sb.Write(id)
	sb.Write(target)
	sb.Write(text)
	for _, ch := range name {
		sb.WriteByte(s.cm.Lower(ch))
	}
	all := sb.String()
	i := len(msgidPrefix) + len(id)
	j := i + len(target)
	k := j + len(text)
	msg.out = outMsg{command: command, at: now, atNano: now.UnixNano(), msgid: all[:i], onlyTags: command == "TAGMSG"}
	msg.params[0] = all[i:j]
	msg.out.params = msg.params[:1]
	if command != "TAGMSG" {
		msg.params[1] = all[j:k]
		msg.out.params = msg.params[:2]
	}
	msg.o = o
	msg.folded = all[k:]
	return msg
}

// run delivers the message on the target's shard and returns the task to
// its pool: nothing refers to it afterwards (recipients get the batch's
// bytes, history gets copies).
func (msg *messageTask) run(sh *shard, b *batch) {
	if msg.channel {
		sh.channelMessage(b, msg.o, &msg.out, msg.folded, msg.status)
	} else {
		sh.privateMessage(b, msg.o, &msg.out, msg.folded)
	}
	*msg = messageTask{}
	messagePool.Put(msg)
}

// channelMessage runs on the channel's shard.
func (sh *shard) channelMessage(b *batch, o *op, msg *outMsg, folded string, status memberModes) {
	s, c := sh.srv, o.c
	ch := sh.channels[folded]
	quiet := msg.command == "NOTICE"
	target := msg.params[0]
	if ch == nil {
		if !quiet {
			sh.numericTo(b, o, codec.ERR_NOSUCHCHANNEL, target, "No such channel")
		}
		return
	}
	id := c.Identity()
	if !ch.canSpeak(s, c, id) || (ch.modes&cmodeNoCTCP != 0 && isCTCP(msg) && ch.member(c.user()).opOrNil() == 0) {
		if !quiet {
			sh.numericTo(b, o, codec.ERR_CANNOTSENDTOCHAN, ch.name, "Cannot send to channel")
		}
		return
	}
	msg.source = id.Prefix
	msg.fitText(msg.source)
	msg.account = id.Account
	msg.bot = id.Modes&UModeBot != 0
	for _, mb := range ch.members {
		if status != 0 && mb.modes&memberOp == 0 && (status&memberOp != 0 || mb.modes&memberVoice == 0) {
			continue
		}
		msg.deliverUser(b, mb.u, c)
	}
	sh.storeAndEcho(b, o, msg, s.historyTxn(msg, ch.folded, status == 0), nil)
}

// canSpeak applies +n, +m, bans and mutes (m: extbans); exceptions lift
// both.
func (ch *Channel) canSpeak(s *Server, c *Client, id *Identity) bool {
	mb := ch.member(c.user())
	if mb == nil {
		if ch.modes&cmodeNoExternal != 0 {
			return false
		}
	} else if mb.modes != 0 {
		return true // ops and voiced speak through +m and bans
	}
	if ch.modes&cmodeModerated != 0 {
		return false
	}
	if matchesAny(s.cm, ch.excepts, id) {
		return true
	}
	return !matchesAny(s.cm, ch.bans, id) && !(matchesMute(s.cm, ch.bans, id) && !matchesMute(s.cm, ch.excepts, id))
}

// privateMessage runs on the target nick's shard.
func (sh *shard) privateMessage(b *batch, o *op, msg *outMsg, folded string) {
	s, c := sh.srv, o.c
	// The target is named as the recipient's nick, of the same length.
	msg.fitText(c.Identity().Prefix)
	to := sh.nicks[folded]
	if to == nil || !to.present() {
		if sh.offlineMessage(b, o, msg, folded) {
			return
		}
		if msg.command != "NOTICE" {
			sh.numericTo(b, o, codec.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
		}
		return
	}
	if sh.sessionlessMessage(b, o, msg, to) {
		return
	}
	id := c.Identity()
	msg.source = id.Prefix
	msg.account = id.Account
	msg.bot = id.Modes&UModeBot != 0
	tid := to.Identity()
	msg.params[0] = tid.Nick
	// Every session of the recipient gets it (the sending one too, when it
	// writes to itself); the sender's other sessions too (what one
	// connection sends, the others see).
	msg.deliverUser(b, to, nil)
	if from := c.user(); from != to {
		msg.deliverUser(b, from, c)
	}
	var after func(sh *shard, b *batch)
	if msg.command == "PRIVMSG" && tid.Away != "" {
		after = func(sh *shard, b *batch) { sh.numericTo(b, o, codec.RPL_AWAY, tid.Nick, tid.Away) }
	}
	from, dest := kv.Peer{Party: c.historyParty(), Name: id.Nick}, kv.Peer{Party: to.historyParty(), Name: tid.Nick}
	sh.storeAndEcho(b, o, msg, s.privateHistoryTxn(msg, from, dest), after)
}

// numericTo sends one numeric to o's client from a shard, as o's output.
func (sh *shard) numericTo(b *batch, o *op, num string, params ...string) {
	r := sh.replies(o.c)
	r.numeric(num, params...)
	b.reply(o, r)
}

// copyClientTags returns the client-only tags of a raw tag section, copied
// and still escaped; nil when there are none.
func copyClientTags(tags []byte) []byte {
	var out []byte
	rest := tags
	for {
		k, v, r, ok := codec.NextTag(rest)
		if !ok {
			return out
		}
		rest = r
		if len(k) < 2 || k[0] != '+' || !codec.ValidTagKey(k) {
			continue
		}
		if len(out) > 0 {
			out = append(out, ';')
		}
		out = append(out, k...)
		if len(v) > 0 {
			out = append(out, '=')
			out = append(out, v...)
		}
	}
}

// A msgid is unique across restarts (a random per-process prefix) and
// within the process (a counter).
var (
	msgidPrefix = func() string {
		var b [5]byte
		_, _ = rand.Read(b[:])
		return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
	}()
	msgidSeq atomic.Uint64
)

// newMsgID returns a fresh msgid for lines other than PRIVMSG, NOTICE and
// TAGMSG (which build theirs in one block with their text).
func newMsgID() string {
	return msgidPrefix + strconv.FormatUint(msgidSeq.Add(1), 36)
}

// isCTCP reports whether a PRIVMSG/NOTICE is a CTCP other than ACTION.
func isCTCP(msg *outMsg) bool {
	if len(msg.params) < 2 {
		return false
	}
	text := msg.params[1]
	return len(text) > 0 && text[0] == 1 && !strings.HasPrefix(text, "\x01ACTION")
}

// opOrNil returns the member's op bit, or 0 for a non-member.
func (m *Member) opOrNil() memberModes {
	if m == nil {
		return 0
	}
	return m.modes & memberOp
}

// fitText shortens a PRIVMSG or NOTICE's text, on a UTF-8 boundary, so
// that the line relayed from source fits the 512 bytes a line may have
// without its tags: a client's line of 512 bytes gains the sender's
// prefix on the way. ergo truncates likewise (its default).
func (o *outMsg) fitText(source string) {
	if len(o.params) != 2 {
		return
	}
	room := codec.MaxLineBody - len(":"+" "+" "+" :") - len(source) - len(o.command) - len(o.params[0])
	if len(o.params[1]) > room {
		o.params[1] = truncate(o.params[1], max(room, 0))
	}
}
