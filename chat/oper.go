package chat

import (
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"laird/codec"
)

func handleOper(o *op, m *codec.Message) {
	s, c := o.s, o.c
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
		o.reply(r)
		s.log.Warn("failed OPER", "name", name, "from", id.Prefix, "reason", "no matching oper block")
		s.audit(id.Nick, "oper.fail", name, "no matching oper block", c.ip.String())
		s.authFailure(c, "", time.Now())
		return
	}
	// Every credential the block sets must match (Oper): the certificate
	// first, at once; then the password, off the loop.
	refuse := func(r *replies, num, text, reason string) {
		r.numeric(num, text)
		s.log.Warn("failed OPER", "name", name, "from", id.Prefix, "reason", reason)
		s.audit(id.Nick, "oper.fail", name, reason, c.ip.String())
		s.authFailure(c, "", time.Now())
	}
	if block.CertFP != "" {
		want, _ := normalizeCertFP(block.CertFP)
		if fp := c.Transport().CertFP; fp == "" || fp != want {
			r := c.replies()
			refuse(r, codec.ERR_NOOPERHOST, "No O-lines for your client certificate", "client certificate does not match")
			o.reply(r)
			return
		}
	}
	hash := block.PasswordHash
	ok := hash == ""
	o.offload(hashPool, func() {
		if !ok {
			ok = pass != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) == nil
		}
	}, func() {
		r := o.replies()
		defer o.reply(r)
		if !ok {
			refuse(r, codec.ERR_PASSWDMISMATCH, "Password incorrect", "bad password")
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

func handleKill(o *op, m *codec.Message) {
	s, c := o.s, o.c
	nick := string(m.Param(0))
	reason := "No reason"
	if m.NParams() > 1 && len(m.Param(1)) > 0 {
		reason = string(m.Param(1))
	}
	killer := c.Identity()
	folded := s.cm.Fold(nick)
	s.lookupNicks(o, []string{folded}, func(found map[string]*user) {
		t := found[folded]
		if t == nil {
			o.numeric(codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
			return
		}
		msg := "Killed (" + killer.Nick + " (" + reason + "))"
		s.audit(killer.Nick, "kill", t.Identity().Prefix, reason, c.ip.String())
		s.disconnectUser(t, msg)
	})
}

func handleWallops(o *op, m *codec.Message) {
	s, c := o.s, o.c
	id := c.Identity()
	line := appendCmd(nil, id.Prefix, "WALLOPS", true, string(m.Param(0)))
	for i := range s.shards {
		s.post(i, func(sh *shard, b *batch) {
			off, end := b.appendLine(line)
			for _, t := range sh.nicks {
				if t.present() && t.Identity().Modes&UModeWallops != 0 {
					b.sendUser(t, off, end)
				}
			}
		})
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
				if t.present() && t.Identity().Modes&UModeOper != 0 {
					b.sendUser(t, off, end)
				}
			}
		})
	}
}

// ServerNotice is serverNotice for other packages (alerts, guard actions).
func (s *Server) ServerNotice(text string) { s.serverNotice(text) }

func handleRehash(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if s.rehash == nil {
		o.fail("REHASH", "CANNOT_REHASH", "", "This server was started without a configuration file")
		return
	}
	var err error
	var res RehashResult
	by := c.Identity().Prefix
	o.offload(readPool, func() {
		res, err = s.rehash("REHASH by " + by)
	}, func() {
		r := o.replies()
		defer o.reply(r)
		if err != nil {
			r.fail("REHASH", "CANNOT_REHASH", "", "Rehash failed, the running configuration is unchanged: "+strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		r.numeric(codec.RPL_REHASHING, res.File, res.Summary())
		s.serverNotice(c.Nick() + " is rehashing the server configuration from " + res.File)
	})
}
