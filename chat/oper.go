package chat

import (
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"laird/codec"
)

func handleOper(s *Server, c *Client, m *codec.Message) {
	name, pass := string(m.Param(0)), string(m.Param(1))
	var block *Oper
	for i, o := range s.liveConfig().Opers {
		if o.Name == name {
			block = &s.liveConfig().Opers[i]
			break
		}
	}
	id := c.Identity()
	if block == nil || !block.hostAllowed(s, id) {
		r := c.replies()
		r.numeric(codec.ERR_NOOPERHOST, "No O-lines for your host")
		c.sendReplies(r)
		s.log.Warn("failed OPER", "name", name, "from", id.Prefix, "reason", "no matching oper block")
		s.audit(id.Nick, "oper.fail", name, "no matching oper block", c.ip.String())
		s.authFailure(c, "", time.Now())
		return
	}
	hash := block.PasswordHash
	var ok bool
	s.offload(c, func() {
		ok = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) == nil
	}, func() {
		r := c.replies()
		defer c.sendReplies(r)
		if !ok {
			r.numeric(codec.ERR_PASSWDMISMATCH, "Password incorrect")
			s.log.Warn("failed OPER", "name", name, "from", id.Prefix, "reason", "bad password")
			s.audit(id.Nick, "oper.fail", name, "bad password", c.ip.String())
			s.authFailure(c, "", time.Now())
			return
		}
		before := c.Identity().Modes
		nid := c.update(func(id *Identity) { id.Modes |= UModeOper })
		if before&UModeOper == 0 {
			s.opers.Add(1)
		}
		s.setFloodClass(c)
		s.audit(nid.Nick, "oper.up", name, "", c.ip.String())
		r.numeric(codec.RPL_YOUREOPER, "You are now an IRC operator")
		r.cmd(nid.Prefix, "MODE", false, nid.Nick, "+o")
		s.log.Info("OPER", "name", name, "from", nid.Prefix)
	})
}

func (o *Oper) hostAllowed(s *Server, id *Identity) bool {
	if len(o.Hosts) == 0 {
		return true
	}
	for _, h := range o.Hosts {
		if globMatch(s.cm, normalizeMask(h), id.Prefix) {
			return true
		}
	}
	return false
}

func handleKill(s *Server, c *Client, m *codec.Message) {
	nick := string(m.Param(0))
	reason := "No reason"
	if m.NParams() > 1 && len(m.Param(1)) > 0 {
		reason = string(m.Param(1))
	}
	killer := c.Identity()
	folded := s.cm.Fold(nick)
	s.lookupNicks(c, []string{folded}, func(found map[string]*Client) {
		t := found[folded]
		if t == nil {
			r := c.replies()
			r.numeric(codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
			c.sendReplies(r)
			return
		}
		msg := "Killed (" + killer.Nick + " (" + reason + "))"
		s.audit(killer.Nick, "kill", t.Identity().Prefix, reason, c.ip.String())
		s.disconnect(t, msg)
		if len(c.outLabel) > 0 {
			c.sendReplies(c.replies())
		}
	})
}

func handleWallops(s *Server, c *Client, m *codec.Message) {
	id := c.Identity()
	line := appendCmd(nil, id.Prefix, "WALLOPS", true, string(m.Param(0)))
	for i := range s.shards {
		s.post(i, func(sh *shard, b *batch) {
			off, end := b.appendLine(line)
			for _, t := range sh.nicks {
				if t.registeredShared() && t.Identity().Modes&UModeWallops != 0 {
					b.sendSpan(t, off, end)
				}
			}
		})
	}
	if len(c.outLabel) > 0 {
		c.sendReplies(c.replies())
	}
}

// serverNotice sends a NOTICE to every operator (snomask-style); any
// goroutine may call it.
func (s *Server) serverNotice(text string) {
	line := appendCmd(nil, s.name, "NOTICE", true, "*", "*** Notice -- "+text)
	for i := range s.shards {
		s.post(i, func(sh *shard, b *batch) {
			off, end := b.appendLine(line)
			for _, t := range sh.nicks {
				if t.registeredShared() && t.Identity().Modes&UModeOper != 0 {
					b.sendSpan(t, off, end)
				}
			}
		})
	}
}

// ServerNotice is serverNotice for other packages (alerts, guard actions).
func (s *Server) ServerNotice(text string) { s.serverNotice(text) }

func handleRehash(s *Server, c *Client, m *codec.Message) {
	r := c.replies()
	if s.rehash == nil {
		r.fail("REHASH", "CANNOT_REHASH", "", "This server was started without a configuration file")
		c.sendReplies(r)
		return
	}
	var err error
	var updated *Reloadable
	s.offload(c, func() {
		updated, err = s.rehash()
	}, func() {
		r := c.replies()
		defer c.sendReplies(r)
		if err != nil {
			r.fail("REHASH", "CANNOT_REHASH", "", "Rehash failed: "+strings.ReplaceAll(err.Error(), "\n", " "))
			s.log.Error("REHASH failed", "err", err)
			return
		}
		s.live.Store(updated)
		r.numeric(codec.RPL_REHASHING, "laird.toml", "Rehashing")
		s.serverNotice(c.Nick() + " is rehashing the server configuration")
		s.log.Info("REHASH", "oper", c.Identity().Prefix, "at", time.Now())
	})
	putReplies(r)
}
