package chat

import (
	"time"

	"laird/codec"
)

func handleKick(o *op, m *codec.Message) {
	s, c := o.s, o.c
	chans := splitList(m.Param(0))
	nicks := splitList(m.Param(1))
	// KICK #a,#b x,y pairs channels with nicks (RFC 2812); one channel
	// takes every nick.
	if len(chans) > 1 {
		if len(chans) != len(nicks) {
			needMore(o, "KICK")
			return
		}
		same := true
		for _, ch := range chans {
			same = same && s.cm.Equal(ch, chans[0])
		}
		if !same {
			kickPairs(o, m, chans, nicks)
			return
		}
	}
	if len(chans) == 0 {
		needMore(o, "KICK")
		return
	}
	name := chans[0]
	reason := c.Nick()
	if m.NParams() > 2 && len(m.Param(2)) > 0 {
		reason = string(m.Param(2))
	}
	if len(reason) > s.cfg.KickLen {
		reason = reason[:s.cfg.KickLen]
	}
	if len(nicks) > s.cfg.MaxTargets {
		r := c.replies()
		r.numeric(codec.ERR_TOOMANYTARGETS, string(m.Param(1)), "Too many targets")
		o.reply(r)
		return
	}
	folded := s.cm.Fold(name)
	now := time.Now()
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
		for _, nick := range nicks {
			sh.kick(b, o, name, folded, nick, reason, now)
		}
	})
}

func (sh *shard) kick(b *batch, o *op, name, folded, nick, reason string, now time.Time) {
	s, c := sh.srv, o.c
	ch, ok := sh.memberChannel(b, o, name, folded, func(_ *Channel, mb *Member) bool {
		return mb.modes&memberOp != 0
	})
	if !ok {
		return
	}
	victim := ch.memberByNick(s, nick)
	if victim == nil {
		sh.numericTo(b, o, codec.ERR_USERNOTINCHANNEL, nick, ch.name, "They aren't on that channel")
		return
	}
	id := c.Identity()
	msg := &outMsg{source: id.Prefix, command: "KICK", params: []string{ch.name, victim.u.Nick(), reason}, at: now, account: id.Account}
	sh.historyEvent(ch, msg)
	msg.toMembers(b, ch, c)
	msg.echo(b, o)
	sh.removeMember(ch, victim.u)
}

// memberByNick finds a member by nickname; channels are small enough that
// a scan beats keeping a second index in step with nick changes.
func (ch *Channel) memberByNick(s *Server, nick string) *Member {
	for _, m := range ch.members {
		if s.cm.Equal(m.u.Nick(), nick) {
			return m
		}
	}
	return nil
}

// kickPairs runs KICK #a,#b x,y as one kick per pair, in order.
func kickPairs(o *op, m *codec.Message, chans, nicks []string) {
	s, c := o.s, o.c
	reason := c.Nick()
	if m.NParams() > 2 && len(m.Param(2)) > 0 {
		reason = truncate(string(m.Param(2)), s.cfg.KickLen)
	}
	now := time.Now()
	for i := range chans {
		name, nick := chans[i], nicks[i]
		o.sequence(func() {
			folded := s.cm.Fold(name)
			o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
				sh.kick(b, o, name, folded, nick, reason, now)
			})
		})
	}
}
