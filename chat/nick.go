package chat

import (
	"laird/codec"
)

// reservedNicks cannot be claimed by clients: they name laird's services.
var reservedNicks = map[string]bool{"nickserv": true, "chanserv": true, "operserv": true, "hostserv": true}

func handleNick(o *op, m *codec.Message) {
	s, c := o.s, o.c
	nick := m.Param(0)
	if len(nick) == 0 {
		o.numeric(codec.ERR_NONICKNAMEGIVEN, "No nickname given")
		return
	}
	if !codec.ValidNick(nick, s.cfg.NickLen) || reservedNicks[s.cm.FoldBytes(nick)] {
		o.numeric(codec.ERR_ERRONEUSNICKNAME, string(nick), "Erroneous nickname")
		return
	}
	newNick := string(nick)
	old := c.Identity()
	if old.Nick == newNick {
		return
	}
	newFolded := s.cm.Fold(newNick)
	oldFolded := ""
	if c.reg&regNick != 0 {
		oldFolded = s.cm.Fold(old.Nick)
	}
	o.toShard(s.shardOf(newFolded), func(sh *shard, b *batch) {
		sh.claimNick(b, o, newNick, newFolded, oldFolded)
	})
}

// claimNick runs on the shard owning newFolded, as part of o.
func (sh *shard) claimNick(b *batch, o *op, newNick, newFolded, oldFolded string) {
	c := o.c
	u := c.user()
	if owner := sh.nicks[newFolded]; owner != nil && owner != u {
		if !c.Registered() && sh.srv.willAttach(c, owner) {
			// A session of the account that holds the nick: it joins that
			// user at registration and takes its nick then (attach.go).
			u.update(func(id *Identity) { id.Nick = newNick })
			b.call(c, func(c *Client) { c.reg |= regNick; c.srv.tryRegister(o) })
			return
		}
		if !sh.srv.ownsNick(c, newFolded, owner) {
			sh.numericTo(b, o, codec.ERR_NICKNAMEINUSE, newNick, "Nickname is already in use")
			if !c.Registered() {
				b.call(c, func(c *Client) { c.refusedNick = newNick })
			}
			return
		}
		// The nick is the name of the claimant's own account: it takes it
		// at once, and whoever held it is renamed to a guest nick.
		sh.srv.reclaimNick(owner, newNick)
	}
	sh.nicks[newFolded] = u
	if oldFolded != "" && oldFolded != newFolded {
		sh.srv.releaseNick(sh, oldFolded, u)
	}
	old := u.Identity()
	u.update(func(id *Identity) { id.Nick = newNick })
	b.call(c, func(c *Client) { c.srv.nickChanged(o, old) })
}

// releaseNick frees folded if u still holds it. It runs on shard from, and
// posts to the owning shard when that is another one.
func (s *Server) releaseNick(from *shard, folded string, u *user) {
	release := func(sh *shard, _ *batch) {
		if sh.nicks[folded] == u {
			delete(sh.nicks, folded)
		}
	}
	id := s.shardOf(folded)
	if from != nil && from.id == id {
		release(from, nil)
		return
	}
	s.post(id, release)
}

// nickChanged runs on the client's loop after a successful claim, as part
// of o.
func (s *Server) nickChanged(o *op, old *Identity) {
	c := o.c
	if !c.Registered() {
		c.reg |= regNick
		c.refusedNick = ""
		s.tryRegister(o)
		return
	}
	line := appendCmd(nil, old.Prefix, "NICK", false, c.Nick())
	s.whowas.add(old, s.name)
	if oldFolded, newFolded := s.cm.Fold(old.Nick), s.cm.Fold(c.Nick()); oldFolded != newFolded {
		s.monitorNotify(oldFolded, old, false)
		s.monitorNotify(newFolded, c.Identity(), true)
		s.nickProtect(c)
	}
	s.historyNick(old, c.user().channelList(), c.Nick())
	s.broadcastCommon(o, line, true)
}

func (sh *shard) replies(c *Client) *replies {
	r := repliesPool.Get().(*replies)
	r.reset(sh.srv, c.Nick())
	return r
}
