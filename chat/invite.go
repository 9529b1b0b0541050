package chat

import (
	"time"

	"laird/codec"
)

func handleInvite(s *Server, c *Client, m *codec.Message) {
	if m.NParams() == 0 {
		listInvites(s, c)
		return
	}
	if m.NParams() < 2 {
		needMore(c, "INVITE")
		return
	}
	if !s.quotaAllows(c, false) {
		r := c.replies()
		r.fail("INVITE", "RATE_LIMITED", "", "You have sent too many invitations; try again later")
		c.sendReplies(r)
		return
	}
	nick := string(m.Param(0))
	name := string(m.Param(1))
	nickFolded := s.cm.Fold(nick)
	chanFolded := s.cm.Fold(name)
	label := c.takeLabel()
	var target *Client // written by the nick shard, read after its done
	c.sequence([]func(){
		func() {
			s.submit(c, s.shardOf(nickFolded), func(sh *shard, b *batch) {
				if t := sh.nicks[nickFolded]; t != nil && t.registeredShared() {
					target = t
					return
				}
				sh.numericTo(b, c, label, codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
			})
		},
		func() {
			if target == nil {
				return
			}
			now := time.Now()
			s.submit(c, s.shardOf(chanFolded), func(sh *shard, b *batch) {
				sh.invite(b, c, target, name, chanFolded, label, now)
			})
		},
	})
}

func (sh *shard) invite(b *batch, c, target *Client, name, folded string, label []byte, now time.Time) {
	s := sh.srv
	ch, ok := sh.memberChannel(b, c, name, folded, label, func(ch *Channel, mb *Member) bool {
		return ch.modes&cmodeInvite == 0 || mb.modes&memberOp != 0
	})
	if !ok {
		return
	}
	tid := target.Identity()
	if ch.member(target) != nil {
		sh.numericTo(b, c, label, codec.ERR_USERONCHANNEL, tid.Nick, ch.name, "is already on channel")
		return
	}
	if ch.invited == nil {
		ch.invited = make(map[string]struct{})
	}
	if len(ch.invited) < 1000 {
		ch.invited[s.cm.Fold(tid.Nick)] = struct{}{}
	}
	id := c.Identity()
	sh.numericTo(b, c, label, codec.RPL_INVITING, tid.Nick, ch.name)
	msg := &outMsg{source: id.Prefix, command: "INVITE", params: []string{tid.Nick, ch.name}, plainLast: true, at: now, account: id.Account}
	msg.deliver(b, target)
	if tid.Away != "" {
		sh.numericTo(b, c, nil, codec.RPL_AWAY, tid.Nick, tid.Away)
	}
	// invite-notify: other members who may see invitations learn of it.
	for _, m := range ch.members {
		if m.c != c && m.c != target && m.c.Has(CapInviteNotify) && (m.modes&memberOp != 0 || ch.modes&cmodeInvite == 0) {
			msg.deliver(b, m.c)
		}
	}
}

// listInvites answers INVITE without parameters: the channels c is
// invited to (336/337), gathered from every shard.
func listInvites(s *Server, c *Client) {
	label := c.takeLabel()
	folded := s.cm.Fold(c.Nick())
	gatherShards(s, c, func(sh *shard) []string {
		var mine []string
		for _, ch := range sh.channels {
			if _, ok := ch.invited[folded]; ok {
				mine = append(mine, ch.name)
			}
		}
		return mine
	}, func(sh *shard, b *batch, names []string) {
		r := sh.replies(c)
		for _, n := range names {
			r.numeric(codec.RPL_INVITELIST, n)
		}
		r.numeric(codec.RPL_ENDOFINVITELIST, "End of /INVITE list")
		b.replies(c, r, label)
		putReplies(r)
	})
}
