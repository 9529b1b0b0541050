package chat

import (
	"errors"
	"time"

	"laird/codec"
	"laird/kv"
)

// SUSPEND <account> [:reason] and UNSUSPEND <account> (operators). The
// account record in kv is the truth: logins check it (SASL, IDENTIFY), so a
// suspension survives restarts; suspending also ends the account's
// current sessions.

func handleSuspend(o *op, m *codec.Message) {
	reason := "No reason given"
	if m.NParams() > 1 && len(m.Param(1)) > 0 {
		reason = string(m.Param(1))
	}
	setSuspended(o, "SUSPEND", string(m.Param(0)), true, reason)
}

func handleUnsuspend(o *op, m *codec.Message) {
	setSuspended(o, "UNSUSPEND", string(m.Param(0)), false, "")
}

func setSuspended(o *op, cmd, name string, suspend bool, reason string) {
	s, c := o.s, o.c
	if s.store == nil {
		r := c.replies()
		r.fail(cmd, "DISABLED", "", "Accounts are not enabled")
		o.reply(r)
		return
	}
	folded := s.cm.Fold(name)
	actor := c.Identity().Nick
	ip := c.ip.String()
	s.updateAccount(o, folded, func(acct *kv.Account, t *kv.Txn) error {
		acct.Suspended = suspend
		acct.SuspendReason, acct.SuspendedBy, acct.SuspendedAt = "", "", time.Time{}
		action := "account.unsuspend"
		if suspend {
			acct.SuspendReason, acct.SuspendedBy, acct.SuspendedAt = reason, actor, time.Now()
			action = "account.suspend"
		}
		t.AppendAudit(kv.AuditEntry{Actor: actor, Action: action, Target: folded, Reason: reason, IP: ip})
		return nil
	}, func(_ kv.Account, err error) {
		r := o.replies()
		defer o.reply(r)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			r.fail(cmd, "ACCOUNT_DOES_NOT_EXIST", name, "No such account")
			return
		case err != nil:
			r.fail(cmd, "TEMPORARILY_UNAVAILABLE", name, "Could not change the account: "+err.Error())
			return
		}
		if !suspend {
			r.cmd(s.name, "NOTICE", true, c.Nick(), "Account "+name+" is no longer suspended")
			s.serverNotice(actor + " unsuspended account " + name)
			return
		}
		r.cmd(s.name, "NOTICE", true, c.Nick(), "Account "+name+" is suspended: "+reason)
		s.serverNotice(actor + " suspended account " + name + ": " + reason)
		s.endSessions(folded, "Account suspended: "+reason)
	})
}

// endSessions disconnects every client logged in to the casefolded
// account.
func (s *Server) endSessions(account, reason string) {
	for i := range s.shards {
		s.post(i, func(sh *shard, _ *batch) {
			for _, t := range sh.nicks {
				if !t.present() || s.cm.Fold(t.Identity().Account) != account {
					continue
				}
				s.disconnectUser(t, reason)
			}
		})
	}
}
