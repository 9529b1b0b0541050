package chat

import (
	"strings"
	"time"

	"laird/codec"
)

func handleTopic(o *op, m *codec.Message) {
	s := o.s
	name := string(m.Param(0))
	folded := s.cm.Fold(name)
	set := m.NParams() > 1
	topic := string(m.Param(1))
	if len(topic) > s.cfg.TopicLen {
		topic = topic[:s.cfg.TopicLen]
	}
	now := time.Now()
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
		sh.topic(b, o, name, folded, set, topic, now)
	})
}

func (sh *shard) topic(b *batch, o *op, name, folded string, set bool, topic string, now time.Time) {
	c := o.c
	ch := sh.channels[folded]
	if ch == nil && !set {
		ch = sh.regView(name, folded) // a query on an empty registered channel
	}
	if ch == nil {
		sh.numericTo(b, o, codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	if sh.regWait(b, o, folded, func(sh *shard, b *batch) { // a registered channel's change is being saved
		sh.topic(b, o, name, folded, set, topic, now)
	}) {
		return
	}
	mb := ch.member(c.user())
	if !set {
		if mb == nil && ch.modes&cmodeSecret != 0 {
			sh.numericTo(b, o, codec.ERR_NOTONCHANNEL, ch.name, "You're not on that channel")
			return
		}
		r := sh.replies(c)
		if ch.topic == "" {
			r.numeric(codec.RPL_NOTOPIC, ch.name, "No topic is set")
		} else {
			ch.topicReplies(r)
		}
		b.reply(o, r)
		return
	}
	if mb == nil {
		sh.numericTo(b, o, codec.ERR_NOTONCHANNEL, ch.name, "You're not on that channel")
		return
	}
	if ch.modes&cmodeTopicLock != 0 && mb.modes&memberOp == 0 {
		sh.numericTo(b, o, codec.ERR_CHANOPRIVSNEEDED, ch.name, "You're not channel operator")
		return
	}
	if sh.regTopic(b, o, ch, topic, now) {
		return // a registered channel: announced once saved
	}
	id := c.Identity()
	ch.topic, ch.topicBy, ch.topicAt = topic, id.Prefix, now
	msg := &outMsg{source: id.Prefix, command: "TOPIC", params: []string{ch.name, topic}, at: now, account: id.Account}
	sh.historyEvent(ch, msg)
	msg.toMembers(b, ch, c)
	msg.echo(b, o)
}

func handleNames(o *op, m *codec.Message) {
	s, c := o.s, o.c
	var names []string
	if m.NParams() > 0 {
		names = splitList(m.Param(0))
	}
	if len(names) == 0 {
		o.numeric(codec.RPL_ENDOFNAMES, "*", "End of /NAMES list")
		return
	}
	if len(names) > s.cfg.MaxTargets {
		o.numeric(codec.ERR_TOOMANYTARGETS, string(m.Param(0)), "Too many targets")
		return
	}
	// Several channels (TARGMAX NAMES): each one's 353 lines in the order
	// asked, then one 366 naming them all, as RFC 2812 has it.
	last := len(names) - 1
	for i, name := range names {
		folded := s.cm.Fold(name)
		end := ""
		if i == last {
			end = strings.Join(names, ",")
		}
		o.sequence(func() {
			o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
				r := sh.replies(c)
				if ch := sh.channels[folded]; ch != nil && (ch.modes&cmodeSecret == 0 || ch.member(c.user()) != nil) {
					ch.nameLines(r, c)
					if len(names) == 1 {
						end = ch.name
					}
				}
				if end != "" {
					r.numeric(codec.RPL_ENDOFNAMES, end, "End of /NAMES list")
				}
				b.reply(o, r)
			})
		})
	}
}

// splitList splits a comma-separated parameter, dropping empty items.
func splitList(p []byte) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == ',' {
			if i > start {
				out = append(out, string(p[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
