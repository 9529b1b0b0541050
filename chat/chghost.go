package chat

import (
	"laird/codec"
)

// CHGHOST <nick> <host>: an operator changes a user's displayed host
// (a vhost). The chghost capability exists for this: co-members and
// extended-monitor watchers that enabled it get
// ":nick!user@old CHGHOST user new", the user itself too (and 396
// RPL_VISIBLEHOST either way). Clients without the capability see the new
// host on the user's next message; the optional QUIT/JOIN fallback is not
// sent, as it would show a user leaving who never left.

// hostLen is ISUPPORT HOSTLEN.
const hostLen = 64

func handleChghost(o *op, m *codec.Message) {
	s, c := o.s, o.c
	nick, host := string(m.Param(0)), string(m.Param(1))
	if !validHost(host) {
		o.fail("CHGHOST", "INVALID_HOST", host, "Hosts are letters, digits and . - : / _, at most 64 bytes")
		return
	}
	folded := s.cm.Fold(nick)
	s.lookupNicks(o, []string{folded}, func(found map[string]*user) {
		t := found[folded]
		if t == nil {
			o.numeric(codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
			return
		}
		by := c.Identity().Nick
		s.audit(by, "chghost", t.Identity().Prefix, host, c.ip.String())
		r := o.replies()
		r.cmd(s.name, "NOTICE", true, by, "Changing the host of "+t.Identity().Nick+" to "+host)
		o.reply(r)
		// The change is the target's own op (on one of its sessions),
		// ordered with its commands; a user with no session just takes it.
		sessions := t.sessionList()
		if len(sessions) == 0 {
			t.update(func(id *Identity) { id.Host = host })
			return
		}
		first := sessions[0]
		s.onLoop(first, func() {
			first.internalOp(func(to *op) { setHost(to, host) })
		})
	})
}

// setHost changes o's client's host and tells whoever can know. On the
// client's loop, as its op.
func setHost(o *op, host string) {
	s, c := o.s, o.c
	if !c.Registered() || c.quitting {
		return
	}
	old := c.Identity()
	if old.Host == host {
		return
	}
	nid := c.update(func(id *Identity) { id.Host = host })
	o.numeric(codec.RPL_VISIBLEHOST, host, "is now your displayed host")
	line := appendCmd(nil, old.Prefix, "CHGHOST", false, nid.User, nid.Host)
	s.broadcastCommonCap(o, line, c.Has(CapChghost), CapChghost)
}

// validHost reports whether h can stand as the host of a prefix.
func validHost(h string) bool {
	if h == "" || len(h) > hostLen || h[0] == ':' || h[0] == '-' {
		return false
	}
	for i := 0; i < len(h); i++ {
		switch ch := h[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		case ch == '.', ch == '-', ch == ':', ch == '/', ch == '_':
		default:
			return false
		}
	}
	return true
}
