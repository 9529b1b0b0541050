package chat

import (
	"bytes"
	"strconv"
	"time"

	"laird/codec"
)

func handleJoin(s *Server, c *Client, m *codec.Message) {
	if string(m.Param(0)) == "0" {
		partAll(s, c)
		return
	}
	if len(m.Param(0)) == 0 {
		// "JOIN :" is a JOIN without a channel: irssi sends it at connect
		// and waits for this numeric.
		r := c.replies()
		r.numeric(codec.ERR_NEEDMOREPARAMS, "JOIN", "Not enough parameters")
		c.sendReplies(r)
		return
	}
	names := bytes.Split(m.Param(0), []byte{','})
	var keys [][]byte
	if m.NParams() > 1 {
		keys = bytes.Split(m.Param(1), []byte{','})
	}
	label := c.takeLabel()
	steps := make([]func([]byte), 0, len(names))
	for i, raw := range names {
		if len(raw) == 0 {
			continue
		}
		name := string(raw)
		key := ""
		if i < len(keys) {
			key = string(keys[i])
		}
		steps = append(steps, func(l []byte) { s.joinOne(c, name, key, l) })
	}
	c.labeledSequence(label, steps)
}

// joinOne validates one channel of a JOIN on the loop and sends it to the
// channel's shard.
func (s *Server) joinOne(c *Client, name, key string, label []byte) {
	if !codec.ValidChannel([]byte(name), s.cfg.ChannelLen) {
		r := c.replies()
		r.numeric(codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		c.outLabel = append(c.outLabel[:0], label...)
		c.sendReplies(r)
		return
	}
	folded := s.cm.Fold(name)
	if c.channelCount() >= s.cfg.MaxChannels {
		if !c.inChannel(folded) {
			r := c.replies()
			r.numeric(codec.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
			c.outLabel = append(c.outLabel[:0], label...)
			c.sendReplies(r)
			return
		}
	}
	now := time.Now()
	s.submit(c, s.shardOf(folded), func(sh *shard, b *batch) {
		sh.join(b, c, name, folded, key, label, now)
	})
}

// join runs on the channel's shard.
func (sh *shard) join(b *batch, c *Client, name, folded, key string, label []byte, now time.Time) {
	s := sh.srv
	ch := sh.channels[folded]
	id := c.Identity()
	if ch == nil { // an empty registered channel comes back from its record
		if ch = sh.regChannel(name, folded); ch != nil {
			defer sh.regDropIfEmpty(ch)
		}
	}
	if ch != nil {
		if ch.member(c) != nil {
			ack(b, s, c, label)
			return
		}
		if errNum, text := ch.joinDenied(s, c, id, key); errNum != "" && !sh.regExempt(ch, id) {
			r := sh.replies(c)
			r.numeric(errNum, ch.name, text)
			b.replies(c, r, label)
			putReplies(r)
			return
		}
	} else {
		ch = newChannel(name, folded, now)
		sh.channels[folded] = ch
		s.channels.Add(1)
	}
	modes := memberModes(0)
	if len(ch.members) == 0 {
		modes = memberOp
	}
	modes = sh.regJoinModes(ch, id, modes)
	ch.addMember(c, modes, now)
	c.addChannel(folded)
	if ch.invited != nil {
		delete(ch.invited, s.cm.Fold(id.Nick))
	}

	account := id.Account
	if account == "" {
		account = "*"
	}
	msg := &outMsg{
		source: id.Prefix, command: "JOIN", plainLast: true,
		params:    []string{ch.name},
		extParams: []string{ch.name, account, id.Realname},
		at:        now, account: id.Account,
	}
	var away []byte
	if id.Away != "" {
		away = appendCmd(nil, id.Prefix, "AWAY", true, id.Away)
	}
	for _, mb := range ch.members {
		if mb.c != c {
			msg.deliver(b, mb.c)
			if away != nil && mb.c.Has(CapAwayNotify) {
				b.send(mb.c, away)
			}
		}
	}
	// The joiner gets JOIN, the topic and NAMES, labeled as one response.
	r := sh.replies(c)
	r.begin()
	r.buf = msg.appendVariant(r.buf, msg.variantOf(c), nil)
	if ch.topic != "" {
		ch.topicReplies(r)
	}
	ch.namesReplies(r, c)
	b.replies(c, r, label)
	putReplies(r)
	sh.regAnnounce(b, ch, c, modes, now)
}

// joinDenied applies +k, +l, +i and bans; it returns the numeric and text
// of the refusal, or "" to admit.
func (ch *Channel) joinDenied(s *Server, c *Client, id *Identity, key string) (string, string) {
	invited := false
	if ch.invited != nil {
		_, invited = ch.invited[s.cm.Fold(id.Nick)]
	}
	switch {
	case ch.key != "" && key != ch.key && !invited:
		return codec.ERR_BADCHANNELKEY, "Cannot join channel (+k)"
	case ch.limit > 0 && len(ch.members) >= ch.limit && !invited:
		return codec.ERR_CHANNELISFULL, "Cannot join channel (+l)"
	case ch.modes&cmodeInvite != 0 && !invited && !matchesAny(s.cm, ch.invex, id):
		return codec.ERR_INVITEONLYCHAN, "Cannot join channel (+i)"
	case matchesAny(s.cm, ch.bans, id) && !matchesAny(s.cm, ch.excepts, id) && !invited:
		return codec.ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"
	}
	return "", ""
}

func (ch *Channel) topicReplies(r *replies) {
	r.numeric(codec.RPL_TOPIC, ch.name, ch.topic)
	r.numeric(codec.RPL_TOPICWHOTIME, ch.name, ch.topicBy, strconv.FormatInt(ch.topicAt.Unix(), 10))
}

// namesReplies appends 353 lines (packed under the line limit) and 366.
func (ch *Channel) namesReplies(r *replies, c *Client) {
	multi := c.Has(CapMultiPrefix)
	uhnames := c.Has(CapUserhostInNames)
	symbol := "="
	if ch.modes&cmodeSecret != 0 {
		symbol = "@"
	}
	_, onChannel := ch.index[c]
	const room = 400
	var line []byte
	flush := func() {
		if len(line) > 0 {
			r.numeric(codec.RPL_NAMREPLY, symbol, ch.name, string(line))
			line = line[:0]
		}
	}
	for _, mb := range ch.members {
		id := mb.c.Identity()
		if !onChannel && id.Modes&UModeInvisible != 0 {
			continue
		}
		name := id.Nick
		if uhnames {
			name = id.Prefix
		}
		p := mb.prefix(multi)
		if len(line)+len(p)+len(name)+1 > room {
			flush()
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, p...)
		line = append(line, name...)
	}
	flush()
	r.numeric(codec.RPL_ENDOFNAMES, ch.name, "End of /NAMES list")
}

func handlePart(s *Server, c *Client, m *codec.Message) {
	reason := ""
	if m.NParams() > 1 {
		reason = truncate(string(m.Param(1)), s.reasonLen())
	}
	label := c.takeLabel()
	var steps []func([]byte)
	for _, raw := range bytes.Split(m.Param(0), []byte{','}) {
		if len(raw) == 0 {
			continue
		}
		name := string(raw)
		steps = append(steps, func(l []byte) {
			folded := s.cm.Fold(name)
			s.submit(c, s.shardOf(folded), func(sh *shard, b *batch) {
				sh.part(b, c, name, folded, reason, l)
			})
		})
	}
	c.labeledSequence(label, steps)
}

func (sh *shard) part(b *batch, c *Client, name, folded, reason string, label []byte) {
	ch := sh.channels[folded]
	if ch == nil || ch.member(c) == nil {
		r := sh.replies(c)
		if ch == nil {
			r.numeric(codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		} else {
			r.numeric(codec.ERR_NOTONCHANNEL, ch.name, "You're not on that channel")
		}
		b.replies(c, r, label)
		putReplies(r)
		return
	}
	id := c.Identity()
	params := []string{ch.name}
	if reason != "" {
		params = append(params, reason)
	}
	msg := &outMsg{source: id.Prefix, command: "PART", params: params, plainLast: reason == "", at: time.Now(), account: id.Account}
	for _, mb := range ch.members {
		if mb.c != c {
			msg.deliver(b, mb.c)
		}
	}
	msg.echo(b, c, label)
	sh.removeMember(ch, c)
}

// partAll implements JOIN 0.
func partAll(s *Server, c *Client) {
	label := c.takeLabel()
	var steps []func([]byte)
	for _, folded := range c.channelList() {
		steps = append(steps, func(l []byte) {
			s.submit(c, s.shardOf(folded), func(sh *shard, b *batch) {
				sh.part(b, c, folded, folded, "", l)
			})
		})
	}
	c.labeledSequence(label, steps)
}
