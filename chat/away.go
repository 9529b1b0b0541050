package chat

import (
	"laird/codec"
)

// Away state belongs to the user, but each session sets its own: the user
// is away when every session is (the message is the one set last), and back
// as soon as one session is back. With draft/pre-away a session may set it
// before registration, and "AWAY *" marks a session that has no person
// behind it (a bot-like reconnect), which counts as away.

// defaultAway is shown for "AWAY *".
const defaultAway = "Away"

func handleAway(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if !c.Registered() && !c.Has(CapPreAway) {
		o.numeric(codec.ERR_NOTREGISTERED, "You have not registered")
		return
	}
	msg := string(m.Param(0))
	if msg == "*" {
		msg = defaultAway
	}
	if len(msg) > s.cfg.AwayLen {
		msg = truncate(msg, s.cfg.AwayLen)
	}
	c.away.Store(&msg)
	if msg == "" {
		o.numeric(codec.RPL_UNAWAY, "You are no longer marked as being away")
	} else {
		o.numeric(codec.RPL_NOWAWAY, "You have been marked as being away")
	}
	if c.Registered() {
		s.updateAway(o, msg)
	}
}

// updateAway recomputes the user's away state after a session of it
// changed its own to msg, and tells away-notify co-members of a change.
func (s *Server) updateAway(o *op, msg string) {
	u := o.c.user()
	want := ""
	if msg != "" && allAway(u) {
		want = msg
	}
	if u.Identity().Away == want {
		return
	}
	id := u.update(func(id *Identity) { id.Away = want })
	var line []byte
	if want == "" {
		line = appendCmd(nil, id.Prefix, "AWAY", false)
	} else {
		line = appendCmd(nil, id.Prefix, "AWAY", true, want)
	}
	s.broadcastCommonCap(o, line, false, CapAwayNotify)
}

// allAway reports whether every session of u is away.
func allAway(u *user) bool {
	for _, sess := range u.sessionList() {
		if p := sess.away.Load(); p == nil || *p == "" {
			return false
		}
	}
	return true
}

func handleSetname(o *op, m *codec.Message) {
	s, c := o.s, o.c
	name := string(m.Param(0))
	if name == "" || len(name) > s.realnameLen() {
		o.fail("SETNAME", "INVALID_REALNAME", "", "Realname is not valid")
		return
	}
	id := c.update(func(id *Identity) { id.Realname = name })
	line := appendCmd(nil, id.Prefix, "SETNAME", true, name)
	// Without the cap the client gets no echo (and a labeled command an
	// ACK).
	s.broadcastCommonCap(o, line, c.Has(CapSetname), CapSetname)
}
