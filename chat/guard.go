package chat

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unicode/utf8"

	"laird/codec"
	"laird/guard"
	"laird/kv"
)

// Guard wiring: flood budgets per connection (charged on the client's
// loop), admission at accept, K/D-lines checked at accept and registration,
// detectors whose responses become temporary D-lines or operator notices,
// the login throttle (logins.go), and an audit trail of every
// security-relevant event in kv.

// SetGuard installs the policy engine; call it before Start. Without one
// nothing is limited (unit tests).
func (s *Server) SetGuard(g *guard.Guard) { s.guardp.Store(g) }

// Admit decides on a new connection from ip, on the accepting loop, before
// anything is allocated for it. It returns "" to admit, or the text of the
// ERROR line to refuse with. Admitted connections must be Released.
func (s *Server) Admit(ip netip.Addr, now time.Time) string {
	if s.guard() == nil {
		return ""
	}
	if resp, fired := s.guard().Detect.Observe(guard.ConnStorm, guard.IPKey(ip), now); fired {
		s.respond(resp, ip.String())
	}
	switch err := s.guard().Conns.Admit(ip, now); {
	case err == nil:
		return ""
	case errors.Is(err, guard.ErrBanned):
		if b, ok := s.guard().Bans.MatchIP(ip, now); ok {
			s.countBan("dline.refused")
			return "You are banned from this server (D-lined: " + b.Reason + ")"
		}
		return "You are banned from this server"
	case errors.Is(err, guard.ErrTooManyConns):
		return "Too many connections from your address"
	case errors.Is(err, guard.ErrThrottled):
		return "Reconnecting too fast, throttled"
	default:
		return "Server is full"
	}
}

// Release undoes an Admit when the connection closes.
func (s *Server) Release(ip netip.Addr) {
	if s.guard() != nil {
		s.guard().Conns.Release(ip)
	}
}

// RegistrationTimedOut is told by the loop before it drops a client that
// never registered; many from one address are a detector event.
func (s *Server) RegistrationTimedOut(c *Client, now time.Time) {
	if s.guard() == nil {
		return
	}
	if resp, fired := s.guard().Detect.Observe(guard.RegTimeout, guard.IPKey(c.ip), now); fired {
		s.respond(resp, c.ip.String())
	}
}

// charge applies the flood budget to one command on c's loop. It reports
// false when the command must wait (fakelag: the loop re-offers the line
// after the delay, without charging it again) or the client was cut.
func (s *Server) charge(c *Client, m *codec.Message, now time.Time) bool {
	if s.guard() == nil {
		return true
	}
	if c.lagPaid {
		if now.UnixNano() < c.lagUntil {
			return false
		}
		c.lagPaid = false
		return true
	}
	if !s.guard().Flood.Owns(c.budget.Class()) {
		s.setFloodClass(c) // the flood classes were reloaded
	}
	cost := c.budget.Class().Cost(m.Command, guard.CountTargets(m.Param(0)))
	d := c.budget.Charge(now, cost)
	switch d.Verdict {
	case guard.Fakelag:
		c.lagPaid = true
		until := now.Add(d.Delay)
		c.lagUntil = until.UnixNano()
		c.conn.Delay(until)
		s.countFlood("fakelag")
		return false
	case guard.ExcessFlood:
		s.countFlood("disconnect")
		c.quitting = true
		c.quitMsg = guard.ExcessFloodReason
		c.conn.Close(guard.ExcessFloodReason)
		if resp, fired := s.guard().Detect.Observe(guard.FloodDisconnect, guard.IPKey(c.ip), now); fired {
			s.respond(resp, c.ip.String())
		}
		return false
	}
	return true
}

// setFloodClass picks the client's flood class (again after OPER).
func (s *Server) setFloodClass(c *Client) {
	if s.guard() != nil {
		c.budget.SetClass(s.guard().Flood.For(c.ip, c.Identity().Modes&UModeOper != 0))
	}
}

// kLined checks a registering client against the K-lines (and D-lines
// added since it connected); it reports the reason when banned.
func (s *Server) kLined(c *Client, now time.Time) (string, bool) {
	if s.guard() == nil {
		return "", false
	}
	if b, ok := s.guard().Bans.MatchIP(c.ip, now); ok {
		return "D-lined: " + b.Reason, true
	}
	id := c.Identity()
	if b, ok := s.guard().Bans.MatchUserHost(id.Nick, id.User, id.Host, c.ip, now); ok {
		return "K-lined: " + b.Reason, true
	}
	return "", false
}

// authFailure records a failed authentication (OPER, SASL, IDENTIFY) from
// c for account ("" when none) with the detectors.
func (s *Server) authFailure(c *Client, account string, now time.Time) {
	if s.guard() == nil {
		return
	}
	if resp, fired := s.guard().Detect.Observe(guard.AuthFailIP, guard.IPKey(c.ip), now); fired {
		s.respond(resp, c.ip.String())
	}
	if account != "" {
		if resp, fired := s.guard().Detect.Observe(guard.AuthFailAccount, guard.AccountKey(account), now); fired {
			s.respond(resp, c.ip.String())
		}
	}
}

// respond applies a detector's response. Any goroutine.
func (s *Server) respond(r guard.Response, ip string) {
	now := time.Now()
	switch r.Action {
	case guard.ActionDLine:
		b := guard.Ban{Kind: guard.DLine, Mask: r.Net.String(), Reason: r.Reason(), SetBy: s.name, SetAt: now, Expires: now.Add(r.Duration)}
		s.addBan(b, "server", ip, func(err error) {
			if err != nil {
				s.log.Error("automatic D-line failed", "mask", b.Mask, "err", err)
			}
		})
		s.audit("server", "auto.dline", b.Mask, fmt.Sprintf("%s (offence %d, %d events, %v)", r.Reason(), r.Offence, r.Events, r.Duration), ip)
	case guard.ActionNotice:
		target := ip
		if r.Account != "" {
			target = r.Account
		}
		s.audit("server", "auto.notice", target, r.Reason(), ip)
	}
	if r.Notify || r.Action == guard.ActionNotice {
		target := r.Net.String()
		if r.Account != "" {
			target = "account " + r.Account
		}
		s.serverNotice(fmt.Sprintf("Automatic %s on %s: %s (%d events, offence %d)", r.Action, target, r.Reason(), r.Events, r.Offence))
	}
}

// audit appends one entry to the audit trail; errors are logged, never
// shown to clients. Any goroutine; never blocks.
func (s *Server) audit(actor, action, target, reason, ip string) {
	s.log.Info("audit", "actor", actor, "action", action, "target", target, "reason", reason, "ip", ip)
	if s.store == nil {
		return
	}
	t := s.store.NewTxn()
	t.AppendAudit(kv.AuditEntry{Actor: actor, Action: action, Target: target, Reason: reason, IP: ip})
	if err := s.store.Commit(t, func(err error) {
		if err != nil {
			s.log.Error("audit entry not stored", "action", action, "err", err)
		}
	}); err != nil {
		s.log.Error("audit entry not stored", "action", action, "err", err)
	}
}

func (s *Server) countFlood(action string) {
	if s.std != nil {
		s.std.FloodActions.With(action).Inc()
	}
}

func (s *Server) countBan(kind string) {
	if s.std != nil {
		s.std.Bans.With(kind).Inc()
	}
}

// InputFlood cuts a client whose unprocessed input passed the loop's cap:
// it kept sending while held back. On its loop.
func (s *Server) InputFlood(c *Client, now time.Time) {
	s.countFlood("disconnect")
	c.quitting = true
	c.quitMsg = guard.ExcessFloodReason
	c.conn.Close(guard.ExcessFloodReason)
	if s.guard() == nil {
		return
	}
	if resp, fired := s.guard().Detect.Observe(guard.FloodDisconnect, guard.IPKey(c.ip), now); fired {
		s.respond(resp, c.ip.String())
	}
}

// realnameLen and reasonLen are guard's text limits (defaults without a
// guard).
func (s *Server) realnameLen() int {
	if s.guard() != nil && s.guard().Limits.RealnameLen > 0 {
		return s.guard().Limits.RealnameLen
	}
	return 390
}

func (s *Server) reasonLen() int {
	if s.guard() != nil && s.guard().Limits.ReasonLen > 0 {
		return s.guard().Limits.ReasonLen
	}
	return 390
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// quotaAllows charges one account registration (registration true) or one
// invitation against the hourly quotas: per account when logged in, else
// per address block.
func (s *Server) quotaAllows(c *Client, registration bool) bool {
	if s.guard() == nil {
		return true
	}
	q := s.guard().Invites
	if registration {
		q = s.guard().Registrations
	}
	key := guard.IPKey(c.ip)
	if acct := c.Identity().Account; acct != "" && !registration {
		key = guard.AccountKey(acct)
	}
	return q.Allow(key, time.Now())
}
