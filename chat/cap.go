package chat

import (
	"strings"

	"laird/codec"
)

func handleCap(o *op, m *codec.Message) {
	s, c := o.s, o.c
	sub := strings.ToUpper(string(m.Param(0)))
	nick := c.Nick()
	switch sub {
	case "LS":
		if !c.Registered() {
			c.reg |= regCapPending
		}
		if v := string(m.Param(1)); v != "" {
			if n, ok := atoiSmall(v); ok && n >= 302 {
				c.capVersion = 302
				// CAP LS 302 implicitly enables cap-notify.
				c.caps.Store(c.caps.Load() | 1<<CapCapNotify)
			}
		}
		s.sendCapList(o, nick, "LS", s.offered(c, c.capVersion >= 302))
	case "LIST":
		var on []string
		set := capSet(c.caps.Load())
		for cp := Cap(0); cp < capCount; cp++ {
			if set.has(cp) {
				on = append(on, cp.String())
			}
		}
		s.sendCapList(o, nick, "LIST", on)
	case "REQ":
		if !c.Registered() {
			c.reg |= regCapPending
		}
		req := string(m.Param(1))
		set := capSet(c.caps.Load())
		ok := len(strings.Fields(req)) > 0
		for _, name := range strings.Fields(req) {
			remove := strings.HasPrefix(name, "-")
			cp, known := capByName(strings.TrimPrefix(name, "-"))
			if !known || !s.offers(cp) {
				ok = false
				break
			}
			if remove {
				set &^= 1 << cp
			} else {
				set |= 1 << cp
			}
		}
		r := c.replies()
		if ok {
			c.caps.Store(uint64(set))
			r.cmd(s.name, "CAP", true, nick, "ACK", req)
		} else {
			r.cmd(s.name, "CAP", true, nick, "NAK", req)
		}
		o.reply(r)
	case "END":
		if !c.Registered() {
			c.reg &^= regCapPending
			s.tryRegister(o)
		}
	default:
		r := c.replies()
		r.numeric(codec.ERR_INVALIDCAPCMD, string(m.Param(0)), "Invalid CAP command")
		o.reply(r)
	}
}

// sendCapList writes a CAP LS/LIST reply, split over several lines with
// the "*" continuation marker for 302 clients to stay under 512 bytes.
func (s *Server) sendCapList(o *op, nick, sub string, caps []string) {
	c := o.c
	r := o.replies()
	// A client before 302 takes one line only: what does not fit under
	// the 512-byte limit is left out (the latest drafts, listed last).
	room, multi := 400, c.capVersion >= 302
	if !multi {
		room = 510 - len(":"+s.name+" CAP "+nick+" "+sub+" :\r\n")
	}
	var chunks []string
	cur := ""
	for _, cp := range caps {
		if len(cur)+len(cp)+1 > room && cur != "" {
			if !multi {
				break
			}
			chunks = append(chunks, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += cp
	}
	chunks = append(chunks, cur)
	for i, ch := range chunks {
		if i < len(chunks)-1 && c.capVersion >= 302 {
			r.cmd(s.name, "CAP", true, nick, sub, "*", ch)
		} else {
			r.cmd(s.name, "CAP", true, nick, sub, ch)
		}
	}
	o.reply(r)
}

func atoiSmall(s string) (int, bool) {
	if len(s) == 0 || len(s) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
