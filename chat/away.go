package chat

import (
	"laird/codec"
)

func handleAway(o *op, m *codec.Message) {
	s, c := o.s, o.c
	msg := string(m.Param(0))
	if len(msg) > s.cfg.AwayLen {
		msg = msg[:s.cfg.AwayLen]
	}
	id := c.update(func(id *Identity) { id.Away = msg })
	if msg == "" {
		o.numeric(codec.RPL_UNAWAY, "You are no longer marked as being away")
	} else {
		o.numeric(codec.RPL_NOWAWAY, "You have been marked as being away")
	}
	var line []byte
	if msg == "" {
		line = appendCmd(nil, id.Prefix, "AWAY", false)
	} else {
		line = appendCmd(nil, id.Prefix, "AWAY", true, msg)
	}
	s.broadcastCommonCap(o, line, false, CapAwayNotify)
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
