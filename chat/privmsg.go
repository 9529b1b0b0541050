package chat

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"laird/codec"
)

func handlePrivmsg(s *Server, c *Client, m *codec.Message) { s.message(c, m, "PRIVMSG") }
func handleNotice(s *Server, c *Client, m *codec.Message)  { s.message(c, m, "NOTICE") }
func handleTagmsg(s *Server, c *Client, m *codec.Message)  { s.message(c, m, "TAGMSG") }

// message implements PRIVMSG, NOTICE and TAGMSG.
func (s *Server) message(c *Client, m *codec.Message, command string) {
	quiet := command == "NOTICE" // NOTICE never triggers error replies
	if m.NParams() == 0 || len(m.Param(0)) == 0 {
		if !quiet {
			r := c.replies()
			r.numeric(codec.ERR_NORECIPIENT, "No recipient given ("+command+")")
			c.sendReplies(r)
		}
		return
	}
	text := ""
	if command != "TAGMSG" {
		if m.NParams() < 2 || len(m.Param(1)) == 0 {
			if !quiet {
				r := c.replies()
				r.numeric(codec.ERR_NOTEXTTOSEND, "No text to send")
				c.sendReplies(r)
			}
			return
		}
		text = string(m.Param(1))
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
		s.messageOne(c, command, string(m.Param(0)), text, clientTags, c.takeLabel(), time.Now())
		return
	}
	targets := bytes.Split(m.Param(0), []byte{','})
	if len(targets) > s.cfg.MaxTargets {
		if !quiet {
			r := c.replies()
			r.numeric(codec.ERR_TOOMANYTARGETS, string(m.Param(0)), "Too many targets")
			c.sendReplies(r)
		}
		return
	}
	label := c.takeLabel()
	now := time.Now()
	steps := make([]func([]byte), 0, len(targets))
	for _, raw := range targets {
		if len(raw) == 0 {
			continue
		}
		target := string(raw)
		steps = append(steps, func(l []byte) {
			s.messageOne(c, command, target, text, clientTags, l, now)
		})
	}
	if len(steps) == 1 {
		steps[0](label)
		return
	}
	c.labeledSequence(label, steps)
}

func (s *Server) messageOne(c *Client, command, target, text string, clientTags, label []byte, now time.Time) {
	if s.serviceMessage(c, command, target, text, label) {
		return
	}
	name := target
	var status memberModes
	for len(name) > 1 && (name[0] == '@' || name[0] == '+') && codec.IsChannelName([]byte(name[1:])) {
		if name[0] == '@' {
			status |= memberOp
		} else {
			status |= memberVoice
		}
		name = name[1:]
	}
	folded := s.cm.Fold(name)
	msg := &outMsg{command: command, params: []string{target}, at: now, clientTags: clientTags, onlyTags: command == "TAGMSG"}
	if command != "TAGMSG" {
		msg.params = append(msg.params, text)
	}
	msg.msgid = newMsgID()
	msg.atNano = now.UnixNano()
	if codec.IsChannelName([]byte(name)) {
		s.submit(c, s.shardOf(folded), func(sh *shard, b *batch) {
			sh.channelMessage(b, c, msg, folded, status, label)
		})
		return
	}
	s.submit(c, s.shardOf(folded), func(sh *shard, b *batch) {
		sh.privateMessage(b, c, msg, folded, label)
	})
}

// channelMessage runs on the channel's shard.
func (sh *shard) channelMessage(b *batch, c *Client, msg *outMsg, folded string, status memberModes, label []byte) {
	s := sh.srv
	ch := sh.channels[folded]
	quiet := msg.command == "NOTICE"
	target := msg.params[0]
	if ch == nil {
		if !quiet {
			sh.numericTo(b, c, label, codec.ERR_NOSUCHCHANNEL, target, "No such channel")
		} else {
			ack(b, s, c, label)
		}
		return
	}
	id := c.Identity()
	if !ch.canSpeak(s, c, id) || (ch.modes&cmodeNoCTCP != 0 && isCTCP(msg) && ch.member(c).opOrNil() == 0) {
		if !quiet {
			sh.numericTo(b, c, label, codec.ERR_CANNOTSENDTOCHAN, ch.name, "Cannot send to channel")
		} else {
			ack(b, s, c, label)
		}
		return
	}
	msg.source = id.Prefix
	msg.account = id.Account
	msg.bot = id.Modes&UModeBot != 0
	if status == 0 {
		s.appendHistory(msg, ch.folded)
	}
	for _, mb := range ch.members {
		if mb.c == c {
			continue
		}
		if status != 0 && mb.modes&memberOp == 0 && (status&memberOp != 0 || mb.modes&memberVoice == 0) {
			continue
		}
		msg.deliver(b, mb.c)
	}
	if c.Has(CapEchoMessage) {
		msg.echo(b, c, label)
	} else {
		ack(b, s, c, label)
	}
}

// canSpeak applies +n, +m and bans.
func (ch *Channel) canSpeak(s *Server, c *Client, id *Identity) bool {
	mb := ch.member(c)
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
	return !(matchesAny(s.cm, ch.bans, id) && !matchesAny(s.cm, ch.excepts, id))
}

// privateMessage runs on the target nick's shard.
func (sh *shard) privateMessage(b *batch, c *Client, msg *outMsg, folded string, label []byte) {
	s := sh.srv
	to := sh.nicks[folded]
	if to == nil || !to.registeredShared() {
		if msg.command != "NOTICE" {
			sh.numericTo(b, c, label, codec.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
		} else {
			ack(b, s, c, label)
		}
		return
	}
	id := c.Identity()
	msg.source = id.Prefix
	msg.account = id.Account
	msg.bot = id.Modes&UModeBot != 0
	tid := to.Identity()
	msg.params[0] = tid.Nick
	s.appendHistory(msg, s.dmTarget(id.Nick, tid.Nick))
	msg.deliver(b, to)
	echoed := false
	if c.Has(CapEchoMessage) {
		msg.echo(b, c, label)
		echoed = true
	}
	if msg.command == "PRIVMSG" && tid.Away != "" {
		r := sh.replies(c)
		r.numeric(codec.RPL_AWAY, tid.Nick, tid.Away)
		if echoed {
			b.replies(c, r, nil)
		} else {
			b.replies(c, r, label)
			label = nil
		}
		putReplies(r)
	}
	if !echoed && len(label) > 0 {
		ack(b, s, c, label)
	}
}

// numericTo sends one numeric to c from a shard.
func (sh *shard) numericTo(b *batch, c *Client, label []byte, num string, params ...string) {
	r := sh.replies(c)
	r.numeric(num, params...)
	b.replies(c, r, label)
	putReplies(r)
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

var (
	msgidPrefix = func() string {
		var b [5]byte
		_, _ = rand.Read(b[:])
		return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
	}()
	msgidSeq atomic.Uint64
)

// newMsgID returns an identifier unique across restarts (random per-process
// prefix) and within the process (a counter).
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
