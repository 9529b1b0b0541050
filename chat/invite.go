package chat

import (
	"time"

	"laird/codec"
)

func handleInvite(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if m.NParams() == 0 {
		listInvites(o)
		return
	}
	if m.NParams() < 2 {
		needMore(o, "INVITE")
		return
	}
	if !s.quotaAllows(c, false) {
		o.fail("INVITE", "RATE_LIMITED", "", "You have sent too many invitations; try again later")
		return
	}
	nick := string(m.Param(0))
	name := string(m.Param(1))
	nickFolded := s.cm.Fold(nick)
	chanFolded := s.cm.Fold(name)
	var target *user // written by the nick shard, read after its part completed
	o.toShard(s.shardOf(nickFolded), func(sh *shard, b *batch) {
		if t := sh.nicks[nickFolded]; t != nil && t.present() {
			target = t
			return
		}
		sh.numericTo(b, o, codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
	})
	o.then(func() {
		if target == nil {
			return
		}
		now := time.Now()
		o.toShard(s.shardOf(chanFolded), func(sh *shard, b *batch) {
			sh.invite(b, o, target, name, chanFolded, now)
		})
	})
}

func (sh *shard) invite(b *batch, o *op, target *user, name, folded string, now time.Time) {
	s, c := sh.srv, o.c
	ch, ok := sh.memberChannel(b, o, name, folded, func(ch *Channel, mb *Member) bool {
		return ch.modes&cmodeInvite == 0 || mb.modes&memberOp != 0
	})
	if !ok {
		return
	}
	tid := target.Identity()
	if ch.member(target) != nil {
		sh.numericTo(b, o, codec.ERR_USERONCHANNEL, tid.Nick, ch.name, "is already on channel")
		return
	}
	if ch.invited == nil {
		ch.invited = make(map[string]struct{})
	}
	if len(ch.invited) < 1000 {
		ch.invited[s.cm.Fold(tid.Nick)] = struct{}{}
	}
	id := c.Identity()
	sh.numericTo(b, o, codec.RPL_INVITING, tid.Nick, ch.name)
	msg := &outMsg{source: id.Prefix, command: "INVITE", params: []string{tid.Nick, ch.name}, plainLast: true, at: now, account: id.Account}
	msg.deliverUser(b, target, nil)
	if tid.Away != "" {
		sh.numericTo(b, o, codec.RPL_AWAY, tid.Nick, tid.Away)
	}
	// invite-notify: other members who may see invitations learn of it.
	for _, m := range ch.members {
		if m.u == target || (m.modes&memberOp == 0 && ch.modes&cmodeInvite != 0) {
			continue
		}
		for _, s := range m.u.sessionList() {
			if s != c && s.Has(CapInviteNotify) {
				msg.deliver(b, s)
			}
		}
	}
}

// listInvites answers INVITE without parameters: the channels the client
// is invited to (336/337), gathered from every shard.
func listInvites(o *op) {
	s := o.s
	folded := s.cm.Fold(o.c.Nick())
	gatherAll(o, func(sh *shard) []string {
		var mine []string
		for _, ch := range sh.channels {
			if _, ok := ch.invited[folded]; ok {
				mine = append(mine, ch.name)
			}
		}
		return mine
	}, func(names []string) {
		r := o.replies()
		for _, n := range names {
			r.numeric(codec.RPL_INVITELIST, n)
		}
		r.numeric(codec.RPL_ENDOFINVITELIST, "End of /INVITE list")
		o.reply(r)
	})
}
