package chat

import (
	"fmt"
	"time"

	"laird/kv"
)

// The login throttle (guard.Logins) around every password check: SASL
// PLAIN and SCRAM-SHA-256, NickServ IDENTIFY, GHOST and DROP. An address
// block that has used its attempts on an account is answered at once
// without a check; an account under attack is slowed (its checks wait on
// a timer, never on a loop, a shard or a work pool) but never refused.
// Each outcome on an existing account is also recorded in its stored
// record (kv's RecordLogin), so that the owner is told at login how many
// logins failed since the last one, across restarts. Certificate logins
// cannot be guessed: they skip loginGate and call only loginSucceeded.

// loginGate asks the throttle about a password attempt from c on the
// casefolded account. It reports false when c's block has no attempt left
// (the caller answers authThrottled without checking), else how long the
// check must wait.
func (s *Server) loginGate(c *Client, folded string) (time.Duration, bool) {
	g := s.guard()
	if g == nil {
		return 0, true
	}
	now := time.Now()
	v := g.Logins.Check(folded, c.ip, now)
	if v.Refused {
		s.log.Info("login throttled", "account", folded, "ip", c.ip.String(), "retry_in", v.RetryIn.Round(time.Second))
		s.countFlood("login-throttle")
		// A refused guess is still a guess: a bot that keeps hammering
		// meets the auth-fail-ip detector.
		s.authFailure(c, "", now)
		return 0, false
	}
	if v.Delay > 0 {
		s.countFlood("login-delay")
	}
	return v.Delay, true
}

// loginFailed records a wrong password for the casefolded account with
// the throttle and, when the account exists, in its record.
func (s *Server) loginFailed(c *Client, folded string, exists bool, now time.Time) {
	if g := s.guard(); g != nil {
		g.Logins.Failed(folded, c.ip, now)
	}
	if exists {
		s.recordLogin(folded, now, false)
	}
}

// recordLogin stores a login's outcome in the account's record. The
// commit is not awaited: the client's answer does not depend on it.
func (s *Server) recordLogin(folded string, now time.Time, success bool) {
	if s.store == nil {
		return
	}
	t := s.store.NewTxn()
	t.RecordLogin(folded, now, success)
	logErr := func(err error) {
		if err != nil {
			s.log.Warn("login outcome not recorded", "account", folded, "err", err)
		}
	}
	if err := s.store.Commit(t, logErr); err != nil {
		logErr(err)
	}
}

// offloadAfter is o.offload started delay from now: the wait is a timer
// part of o, holding no goroutine and no work-pool slot, so a slowed login
// delays no other.
func offloadAfter(o *op, delay time.Duration, p *workPool, work, then func()) {
	if delay <= 0 {
		o.offload(p, work, then)
		return
	}
	o.waitFor(func(done func()) { time.AfterFunc(delay, done) }, func() { o.offload(p, work, then) })
}

// loginSucceeded records c's login to acct (as read for the login) and
// appends, for the owner, how many logins failed since the previous one.
// Loop only.
func (s *Server) loginSucceeded(r *replies, c *Client, acct kv.Account) {
	now := time.Now()
	if g := s.guard(); g != nil {
		g.Logins.Succeeded(acct.Name, c.ip)
	}
	s.recordLogin(acct.Name, now, true)
	if acct.FailedLogins == 0 {
		return
	}
	text := fmt.Sprintf("%d failed logins to %s since your last login", acct.FailedLogins, acct.DisplayName)
	if acct.FailedLogins == 1 {
		text = "1 failed login to " + acct.DisplayName + " since your last login"
	}
	if !acct.LastLogin.IsZero() {
		text += " (" + acct.LastLogin.UTC().Format("2006-01-02 15:04:05 MST") + ")"
	}
	s.appendServiceNotice(r, c, nickServ, text)
}
