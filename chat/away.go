package chat

import (
	"laird/codec"
)

func handleAway(s *Server, c *Client, m *codec.Message) {
	msg := string(m.Param(0))
	if len(msg) > s.cfg.AwayLen {
		msg = msg[:s.cfg.AwayLen]
	}
	id := c.update(func(id *Identity) { id.Away = msg })
	r := c.replies()
	if msg == "" {
		r.numeric(codec.RPL_UNAWAY, "You are no longer marked as being away")
	} else {
		r.numeric(codec.RPL_NOWAWAY, "You have been marked as being away")
	}
	c.sendReplies(r)
	var line []byte
	if msg == "" {
		line = appendCmd(nil, id.Prefix, "AWAY", false)
	} else {
		line = appendCmd(nil, id.Prefix, "AWAY", true, msg)
	}
	s.broadcastCommonCap(c, line, false, nil, false, CapAwayNotify)
}

func handleSetname(s *Server, c *Client, m *codec.Message) {
	name := string(m.Param(0))
	if name == "" || len(name) > s.realnameLen() {
		r := c.replies()
		r.fail("SETNAME", "INVALID_REALNAME", "", "Realname is not valid")
		c.sendReplies(r)
		return
	}
	id := c.update(func(id *Identity) { id.Realname = name })
	line := appendCmd(nil, id.Prefix, "SETNAME", true, name)
	label := c.takeLabel()
	if !c.Has(CapSetname) {
		// Without the cap the client gets no echo; answer the label.
		if len(label) > 0 {
			c.outLabel = append(c.outLabel[:0], label...)
			c.sendReplies(c.replies())
		}
		s.broadcastCommonCap(c, line, false, nil, false, CapSetname)
		return
	}
	s.broadcastCommonCap(c, line, true, label, false, CapSetname)
}
