package chat

import (
	"errors"
	"time"

	"laird/codec"
	"laird/kv"
)

// UNINVITE <nick> <#channel> (the command as ergo names it): with one's
// own nick it declines one's invitation, recorded as declined; with
// another's it revokes an invitation, which its inviter or a channel
// operator may do, also from outside the channel (an operator by access
// on a registered channel). Both answer with a standard reply: NOTE
// UNINVITE INVITE_DECLINED or INVITE_REVOKED, or FAIL UNINVITE
// NO_SUCH_INVITE, PRIVS_NEEDED or TEMPORARILY_UNAVAILABLE.

func handleUninvite(o *op, m *codec.Message) {
	s, c := o.s, o.c
	nick, name := string(m.Param(0)), string(m.Param(1))
	if !codec.ValidChannel([]byte(name), s.cfg.ChannelLen) {
		o.numeric(codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	folded := s.cm.Fold(name)
	if s.cm.Equal(nick, c.Nick()) {
		declineInvite(o, name, folded)
		return
	}
	s.resolveInvitee(o, "UNINVITE", nick, func(t invitee) {
		now := time.Now()
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
			sh.revokeInvite(b, o, t, name, folded, now)
		})
	})
}

// declineInvite declines o's client's invitations to the channel: the
// connection's, and its account's stored one.
func declineInvite(o *op, name, folded string) {
	s, c := o.s, o.c
	hadConn := c.user().invites.remove(folded)
	acct := c.Identity().Account
	if acct == "" || s.store == nil {
		r := o.replies()
		declineReply(r, name, hadConn)
		o.reply(r)
		return
	}
	account, now := s.cm.Fold(acct), time.Now()
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
		if _, ok := sh.storedInvite(folded, account, now); !ok {
			r := sh.replies(c)
			declineReply(r, name, hadConn)
			b.reply(o, r)
			return
		}
		txn := s.store.NewTxn()
		txn.DeclineInvite(folded, account, now, audit(c, "", ""))
		sh.hold(b, o)
		sh.commitThen(b, txn, func(sh *shard, b *batch, err error) {
			defer sh.release(b, o)
			r := sh.replies(c)
			defer b.reply(o, r)
			var ce *kv.ConditionError
			switch {
			case err == nil:
				sh.dropInvite(folded, account)
				declineReply(r, name, true)
			case errors.As(err, &ce) && ce.Kind == kv.KindInvite:
				sh.dropInvite(folded, account)
				declineReply(r, name, hadConn)
			default:
				s.log.Error("invitation not declined", "channel", folded, "account", account, "err", err)
				r.fail("UNINVITE", "TEMPORARILY_UNAVAILABLE", name, "Your invitation cannot be declined now: "+storeFailText(err))
			}
		})
	})
}

func declineReply(r *replies, name string, declined bool) {
	if declined {
		r.standard("NOTE", "UNINVITE", "INVITE_DECLINED", name, "You declined the invitation to "+name)
		return
	}
	r.standard("FAIL", "UNINVITE", "NO_SUCH_INVITE", name, "You have no pending invitation to "+name)
}

// revokeInvite runs on the channel's shard: t's invitation there (its
// account's stored one, or else its connection's) is revoked if o's
// client invited it or is a channel operator.
func (sh *shard) revokeInvite(b *batch, o *op, t invitee, name, folded string, now time.Time) {
	s, c := sh.srv, o.c
	id := c.Identity()
	me := s.cm.Fold(id.Account)
	chanOp := sh.chanOperator(c, id, folded)
	may := func(inviter string) bool { return chanOp || me != "" && inviter == me }
	tnick := t.currentNick()
	r := sh.replies(c)
	if t.account != "" && s.store != nil {
		if e, ok := sh.storedInvite(folded, t.account, now); ok {
			if !may(e.inviter) {
				revokeDenied(r, name)
				b.reply(o, r)
				return
			}
			putReplies(r)
			sh.revokeStored(b, o, t, name, folded, now)
			return
		}
	}
	ci, ok := connInvite{}, false
	if t.u != nil {
		ci, ok = t.u.invites.get(folded)
	}
	switch {
	case !ok:
		r.cmd(s.name, "FAIL", true, "UNINVITE", "NO_SUCH_INVITE", tnick, name, tnick+" has no pending invitation to "+name)
	case !may(ci.inviter):
		revokeDenied(r, name)
	default:
		t.u.invites.remove(folded)
		sh.revoked(b, r, o, t, name)
	}
	b.reply(o, r)
}

// revokeStored revokes t's stored invitation, answering once durable.
func (sh *shard) revokeStored(b *batch, o *op, t invitee, name, folded string, now time.Time) {
	s, c := sh.srv, o.c
	txn := s.store.NewTxn()
	txn.RevokeInvite(folded, t.account, now, audit(c, "", ""))
	sh.hold(b, o)
	sh.commitThen(b, txn, func(sh *shard, b *batch, err error) {
		defer sh.release(b, o)
		r := sh.replies(c)
		defer b.reply(o, r)
		tnick := t.currentNick()
		var ce *kv.ConditionError
		switch {
		case err == nil:
			sh.dropInvite(folded, t.account)
			sh.revoked(b, r, o, t, name)
		case errors.As(err, &ce) && ce.Kind == kv.KindInvite:
			sh.dropInvite(folded, t.account)
			r.cmd(s.name, "FAIL", true, "UNINVITE", "NO_SUCH_INVITE", tnick, name, tnick+" has no pending invitation to "+name)
		default:
			s.log.Error("invitation not revoked", "channel", folded, "account", t.account, "err", err)
			r.fail("UNINVITE", "TEMPORARILY_UNAVAILABLE", name, "The invitation cannot be revoked now: "+storeFailText(err))
		}
	})
}

// revoked answers a revocation and tells the invitee's sessions.
func (sh *shard) revoked(b *batch, r *replies, o *op, t invitee, name string) {
	s := sh.srv
	tnick := t.currentNick()
	r.cmd(s.name, "NOTE", true, "UNINVITE", "INVITE_REVOKED", tnick, name, "The invitation of "+tnick+" to "+name+" is revoked")
	if t.u == nil || !t.u.present() {
		return
	}
	line := appendCmd(nil, s.name, "NOTICE", true, tnick, o.c.Nick()+" revoked your invitation to "+name)
	for _, sess := range t.u.sessionList() {
		b.send(sess, line)
	}
}

func revokeDenied(r *replies, name string) {
	r.fail("UNINVITE", "PRIVS_NEEDED", name, "Only the inviter or a channel operator can revoke an invitation to "+name)
}

// chanOperator reports whether c is an operator of the channel: a member
// with +o, or by access (op or founder) on a registered channel, which
// counts from outside it too.
func (sh *shard) chanOperator(c *Client, id *Identity, folded string) bool {
	if ch := sh.channels[folded]; ch != nil {
		if mb := ch.member(c.user()); mb != nil && mb.modes&memberOp != 0 {
			return true
		}
	}
	return sh.regOf(folded).levelOf(sh.srv, id) >= kv.LevelOp
}
