package chat

import (
	"errors"
	"fmt"
	"time"

	"laird/codec"
	"laird/kv"
)

// INVITE. An invitation belongs to whom it is for: a logged-in user's, or
// a registered account's named by its nick while it is offline, is stored
// for the account (invites.go) and lasts until it is accepted (JOIN),
// declined or revoked (UNINVITE, uninvite.go), or expires; one for a
// connection that is not logged in lives on that connection's user
// (connInvites) and dies with it. Either way a nick that changes hands
// takes no invitation with it.

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
	s.resolveInvitee(o, "INVITE", nick, func(t invitee) {
		if !codec.ValidChannel([]byte(name), s.cfg.ChannelLen) {
			o.numeric(codec.ERR_NOSUCHCHANNEL, name, "No such channel")
			return
		}
		folded := s.cm.Fold(name)
		now := time.Now()
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
			sh.invite(b, o, t, name, folded, now)
		})
	})
}

// invitee is whom an INVITE or UNINVITE names.
type invitee struct {
	nick string // as given
	// u is the present user: the nick's, or for an offline nick the
	// present user of the account reserving it; nil when nobody is.
	u *user
	// account is the casefolded account an invitation is stored for; ""
	// for a connection that is not logged in (its invitations are u's).
	account string
}

// currentNick is the invitee's nick as others see it now.
func (t *invitee) currentNick() string {
	if t.u != nil && t.u.present() {
		return t.u.Nick()
	}
	return t.nick
}

// resolveInvitee finds whom nick names: the present user holding it
// (logged in or not), else the registered account reserving it, and that
// account's present user if it has one under another nick. It answers 401
// (or FAIL cmd TEMPORARILY_UNAVAILABLE when the store cannot be read) and
// stops, or runs then on the loop as part of o.
func (s *Server) resolveInvitee(o *op, cmd, nick string, then func(t invitee)) {
	folded := s.cm.Fold(nick)
	t := invitee{nick: nick} // written by shard parts, read after they completed
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
		if u := sh.nicks[folded]; u != nil && u.present() {
			t.u = u
		}
	})
	o.then(func() {
		if t.u != nil {
			if a := t.u.Identity().Account; a != "" {
				t.account = s.cm.Fold(a)
			}
			then(t)
			return
		}
		if s.store == nil {
			o.numeric(codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
			return
		}
		var (
			owner string
			err   error
		)
		o.offload(readPool, func() { owner, err = s.store.NickOwner(folded) }, func() {
			switch {
			case errors.Is(err, kv.ErrNotFound):
				o.numeric(codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
				return
			case err != nil:
				s.log.Error("nick owner lookup failed", "nick", folded, "err", err)
				o.fail(cmd, "TEMPORARILY_UNAVAILABLE", nick, "Invitations cannot be read right now; try again later")
				return
			}
			t.account = owner
			o.toShard(s.shardOf(owner), func(sh *shard, b *batch) {
				if u := sh.accounts[owner]; u != nil && u.present() {
					t.u = u
				}
			})
			o.then(func() { then(t) })
		})
	})
}

// invite runs on the channel's shard: who may invite follows the
// channel's rules (a member; a channel operator on +i), then the
// invitation is kept for the connection, or stored for the account and
// announced once durable.
func (sh *shard) invite(b *batch, o *op, t invitee, name, folded string, now time.Time) {
	s, c := sh.srv, o.c
	ch, ok := sh.memberChannel(b, o, name, folded, func(ch *Channel, mb *Member) bool {
		return ch.modes&cmodeInvite == 0 || mb.modes&memberOp != 0
	})
	if !ok {
		return
	}
	if t.u != nil && ch.member(t.u) != nil {
		sh.numericTo(b, o, codec.ERR_USERONCHANNEL, t.currentNick(), ch.name, "is already on channel")
		return
	}
	id := c.Identity()
	inviter := s.cm.Fold(id.Account)
	if t.account == "" || s.store == nil {
		t.u.invites.add(connInvite{channel: folded, name: ch.name, inviter: inviter})
		sh.announceInvite(b, o, t, ch, ch.name, now)
		return
	}
	inv := kv.Invitation{Channel: folded, Account: t.account, ChannelName: ch.name, Inviter: inviter,
		InviterNick: id.Nick, Created: now, Expires: now.Add(s.inviteTTL())}
	txn := s.store.NewTxn()
	txn.RequireAccount(t.account)
	txn.Invite(inv, audit(c, "", ""))
	chName := ch.name
	sh.hold(b, o)
	sh.commitThen(b, txn, func(sh *shard, b *batch, err error) {
		defer sh.release(b, o)
		if err != nil {
			sh.inviteFailed(b, o, t, chName, err)
			return
		}
		sh.setInvite(folded, t.account, inviteEntry{inviter: inviter, expires: inv.Expires})
		sh.announceInvite(b, o, t, sh.channels[folded], chName, now)
	})
}

// announceInvite tells the inviter (341), the invitee on every session
// (INVITE), and the members who may see invitations (invite-notify: every
// member, or only operators on +i). ch is nil when the channel emptied
// meanwhile.
func (sh *shard) announceInvite(b *batch, o *op, t invitee, ch *Channel, chName string, now time.Time) {
	c := o.c
	tnick := t.currentNick()
	sh.numericTo(b, o, codec.RPL_INVITING, tnick, chName)
	id := c.Identity()
	msg := &outMsg{source: id.Prefix, command: "INVITE", params: []string{tnick, chName}, plainLast: true, at: now, account: id.Account}
	if t.u != nil && t.u.present() {
		msg.deliverUser(b, t.u, nil)
		if away := t.u.Identity().Away; away != "" {
			sh.numericTo(b, o, codec.RPL_AWAY, tnick, away)
		}
	}
	if ch == nil {
		return
	}
	for _, m := range ch.members {
		if m.u == t.u || (m.modes&memberOp == 0 && ch.modes&cmodeInvite != 0) {
			continue
		}
		for _, s := range m.u.sessionList() {
			if s != c && s.Has(CapInviteNotify) {
				msg.deliver(b, s)
			}
		}
	}
}

// inviteFailed answers an invitation the store refused.
func (sh *shard) inviteFailed(b *batch, o *op, t invitee, chName string, err error) {
	s := sh.srv
	var (
		le *kv.LimitError
		ce *kv.ConditionError
	)
	r := sh.replies(o.c)
	switch {
	case errors.As(err, &le) && le.Limit == kv.LimitInvitesPerAccount:
		r.cmd(s.name, "FAIL", true, "INVITE", "TOO_MANY_INVITES", t.currentNick(), chName,
			fmt.Sprintf("%s has too many pending invitations (at most %d)", t.currentNick(), le.Max))
	case errors.As(err, &le):
		r.cmd(s.name, "FAIL", true, "INVITE", "TOO_MANY_INVITES", t.currentNick(), chName,
			fmt.Sprintf("%s has too many pending invitations (at most %d)", chName, le.Max))
	case errors.As(err, &ce) && ce.Kind == kv.KindAccount:
		r.numeric(codec.ERR_NOSUCHNICK, t.nick, "No such nick/channel")
	default:
		s.log.Error("invitation not saved", "channel", chName, "account", t.account, "err", err)
		r.fail("INVITE", "TEMPORARILY_UNAVAILABLE", chName, "Invitation not saved: "+storeFailText(err))
	}
	b.reply(o, r)
}

// listInvites answers INVITE without parameters: the client's invitations
// (336), then 337. One kept for the connection shows the channel; a stored
// one also its inviter and when it expires (RFC 3339, UTC), as the ban
// lists show who set an entry and when.
func listInvites(o *op) {
	s, c := o.s, o.c
	conn := c.user().invites.all()
	acct := c.Identity().Account
	var (
		stored []kv.Invitation
		err    error
	)
	finish := func() {
		now := time.Now()
		r := o.replies()
		seen := make(map[string]bool, len(conn))
		for _, ci := range conn {
			seen[ci.channel] = true
			r.numeric(codec.RPL_INVITELIST, ci.name)
		}
		for _, inv := range stored {
			if inv.Pending(now) && !seen[inv.Channel] {
				r.numeric(codec.RPL_INVITELIST, inv.ChannelName, inv.InviterNick, inv.Expires.UTC().Format(time.RFC3339))
			}
		}
		if err != nil {
			s.log.Error("invitations not read", "account", acct, "err", err)
			r.fail("INVITE", "TEMPORARILY_UNAVAILABLE", "", "Your stored invitations cannot be read right now")
		}
		r.numeric(codec.RPL_ENDOFINVITELIST, "End of /INVITE list")
		o.reply(r)
	}
	if acct == "" || s.store == nil {
		finish()
		return
	}
	folded := s.cm.Fold(acct)
	o.offload(readPool, func() { stored, err = s.store.InvitesFor(folded) }, finish)
}
