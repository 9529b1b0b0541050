package chat

import (
	"bytes"
	"strconv"
	"time"

	"laird/codec"
)

func handleJoin(o *op, m *codec.Message) {
	s := o.s
	if string(m.Param(0)) == "0" {
		partAll(o)
		return
	}
	if len(m.Param(0)) == 0 {
		// "JOIN :" is a JOIN without a channel: irssi sends it at connect
		// and waits for this numeric.
		o.numeric(codec.ERR_NEEDMOREPARAMS, "JOIN", "Not enough parameters")
		return
	}
	names := bytes.Split(m.Param(0), []byte{','})
	var keys [][]byte
	if m.NParams() > 1 {
		keys = bytes.Split(m.Param(1), []byte{','})
	}
	if len(names) == 1 {
		key := ""
		if len(keys) > 0 {
			key = string(keys[0])
		}
		s.joinOne(o, string(names[0]), key)
		return
	}
	for i, raw := range names {
		if len(raw) == 0 {
			continue
		}
		name := string(raw)
		key := ""
		if i < len(keys) {
			key = string(keys[i])
		}
		o.sequence(func() { s.joinOne(o, name, key) })
	}
}

// joinOne validates one channel of a JOIN on the loop and sends it to the
// channel's shard.
func (s *Server) joinOne(o *op, name, key string) {
	c := o.c
	if !codec.ValidChannel([]byte(name), s.cfg.ChannelLen) {
		o.numeric(codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	folded := s.cm.Fold(name)
	if c.user().channelCount() >= s.cfg.MaxChannels && !c.user().inChannel(folded) {
		o.numeric(codec.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
		return
	}
	now := time.Now()
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
		sh.join(b, o, name, folded, key, now)
	})
}

// join runs on the channel's shard, as part of o.
func (sh *shard) join(b *batch, o *op, name, folded, key string, now time.Time) {
	sh.joinAdmitted(b, o, name, folded, key, now, false)
}

// joinAdmitted is join; accepted reports that the joiner's stored
// invitation was just consumed for it (invites.go).
func (sh *shard) joinAdmitted(b *batch, o *op, name, folded, key string, now time.Time, accepted bool) {
	s, c := sh.srv, o.c
	ch := sh.channels[folded]
	id := c.Identity()
	if ch == nil { // an empty registered channel comes back from its record
		if ch = sh.regChannel(name, folded); ch != nil {
			defer sh.regDropIfEmpty(ch)
		}
	}
	if ch != nil && ch.member(c.user()) != nil {
		return
	}
	if ch != nil && ch.secureOnlyRefused(c.user()) {
		// Before any invitation is consumed: none lets a plaintext user in.
		sh.numericTo(b, o, codec.ERR_SECUREONLYCHAN, ch.name, "Cannot join channel (+Z): TLS users only")
		return
	}
	if ch == nil && sh.reserved[folded] {
		sh.numericTo(b, o, "437", name, "A channel is being renamed to this name; try again") // ERR_UNAVAILRESOURCE
		return
	}
	if !accepted && sh.acceptInvite(b, o, name, folded, key, id, now) {
		return // held: the join goes on once the invitation is consumed
	}
	if ch != nil {
		pass := sh.admissionOf(c, id, folded, accepted)
		if errNum, text := ch.joinDenied(s, id, key, pass); errNum != "" && !sh.regExempt(ch, id) {
			sh.numericTo(b, o, errNum, ch.name, text)
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
	u := c.user()
	sh.memberJoined(ch, ch.addMember(u, modes, now))
	u.addChannel(folded)
	u.invites.remove(folded) // used up

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
	sh.historyEvent(ch, msg)
	var away []byte
	if id.Away != "" {
		away = appendCmd(nil, id.Prefix, "AWAY", true, id.Away)
	}
	for _, mb := range ch.members {
		if mb.u == u {
			continue
		}
		for _, s := range mb.u.sessionList() {
			msg.deliver(b, s)
			if away != nil && s.Has(CapAwayNotify) {
				b.send(s, away)
			}
		}
	}
	// The joiner gets JOIN, the topic and NAMES (unless it opted out with
	// no-implicit-names), labeled as one response; its user's other
	// sessions the same, so that they show the channel.
	r := sh.replies(c)
	ch.joinReplies(r, msg, c)
	b.reply(o, r)
	for _, sib := range u.sessionList() {
		if sib != c {
			r := sh.replies(sib)
			ch.joinReplies(r, msg, sib)
			b.send(sib, r.buf)
			putReplies(r)
		}
	}
	sh.regAnnounce(b, ch, c, modes, now)
}

// joinReplies appends what a joining session sees: its JOIN, the topic,
// NAMES and the metadata it subscribed to.
func (ch *Channel) joinReplies(r *replies, msg *outMsg, c *Client) {
	r.begin()
	r.buf = msg.appendVariant(r.buf, msg.variantOf(c))
	if ch.topic != "" {
		ch.topicReplies(r)
	}
	c.joinMarker(r, ch)
	if !c.noImplicitNames() {
		ch.namesReplies(r, c)
	}
	ch.joinMetadata(c.srv, r, c)
}

// joinDenied applies +k, +l, +i and bans, past those pass lets the joiner;
// it returns the numeric and text of the refusal, or "" to admit.
func (ch *Channel) joinDenied(s *Server, id *Identity, key string, pass admission) (string, string) {
	invited := pass&admitInvited != 0
	past := pass != 0 // +i, +k and +l
	switch {
	case ch.key != "" && key != ch.key && !past:
		return codec.ERR_BADCHANNELKEY, "Cannot join channel (+k)"
	case ch.limit > 0 && len(ch.members) >= ch.limit && !past:
		return codec.ERR_CHANNELISFULL, "Cannot join channel (+l)"
	case ch.modes&cmodeInvite != 0 && !past && !matchesAny(s.cm, ch.invex, id):
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
	ch.nameLines(r, c)
	r.numeric(codec.RPL_ENDOFNAMES, ch.name, "End of /NAMES list")
}

// nameLines appends the 353 lines of ch as c may see them.
func (ch *Channel) nameLines(r *replies, c *Client) {
	multi := c.Has(CapMultiPrefix)
	uhnames := c.Has(CapUserhostInNames)
	symbol := "="
	if ch.modes&cmodeSecret != 0 {
		symbol = "@"
	}
	_, onChannel := ch.index[c.user()]
	const room = 400
	var line []byte
	flush := func() {
		if len(line) > 0 {
			r.numeric(codec.RPL_NAMREPLY, symbol, ch.name, string(line))
			line = line[:0]
		}
	}
	for _, mb := range ch.members {
		id := mb.u.Identity()
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
}

func handlePart(o *op, m *codec.Message) {
	s := o.s
	reason := ""
	if m.NParams() > 1 {
		reason = truncate(string(m.Param(1)), s.reasonLen())
	}
	for _, raw := range bytes.Split(m.Param(0), []byte{','}) {
		if len(raw) == 0 {
			continue
		}
		name := string(raw)
		o.sequence(func() {
			folded := s.cm.Fold(name)
			o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
				sh.part(b, o, name, folded, reason)
			})
		})
	}
}

func (sh *shard) part(b *batch, o *op, name, folded, reason string) {
	c := o.c
	ch := sh.channels[folded]
	if ch == nil || ch.member(c.user()) == nil {
		if ch == nil {
			sh.numericTo(b, o, codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		} else {
			sh.numericTo(b, o, codec.ERR_NOTONCHANNEL, ch.name, "You're not on that channel")
		}
		return
	}
	id := c.Identity()
	params := []string{ch.name}
	if reason != "" {
		params = append(params, reason)
	}
	msg := &outMsg{source: id.Prefix, command: "PART", params: params, plainLast: reason == "", at: time.Now(), account: id.Account}
	sh.historyEvent(ch, msg)
	msg.toMembers(b, ch, c)
	msg.echo(b, o)
	sh.removeMember(ch, c.user())
}

// partAll implements JOIN 0.
func partAll(o *op) {
	s := o.s
	for _, folded := range o.c.user().channelList() {
		o.sequence(func() {
			o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
				sh.part(b, o, folded, folded, "")
			})
		})
	}
}
