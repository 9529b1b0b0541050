package chat

import (
	"fmt"
	"strconv"
	"time"

	"laird/codec"
)

func (s *Server) lusers(r *replies) {
	users, unknown := s.users.Load(), s.unknown.Load()
	if unknown < 0 {
		unknown = 0
	}
	r.numeric(codec.RPL_LUSERCLIENT, "There are "+strconv.FormatInt(users, 10)+" users and 0 invisible on 1 servers")
	r.numeric(codec.RPL_LUSEROP, strconv.FormatInt(s.opers.Load(), 10), "operator(s) online")
	r.numeric(codec.RPL_LUSERUNKNOWN, strconv.FormatInt(unknown, 10), "unknown connection(s)")
	r.numeric(codec.RPL_LUSERCHANNELS, strconv.FormatInt(s.channels.Load(), 10), "channels formed")
	r.numeric(codec.RPL_LUSERME, "I have "+strconv.FormatInt(users, 10)+" clients and 0 servers")
	u, m := strconv.FormatInt(users, 10), strconv.FormatInt(s.maxUsers.Load(), 10)
	r.numeric(codec.RPL_LOCALUSERS, u, m, "Current local users "+u+", max "+m)
	r.numeric(codec.RPL_GLOBALUSERS, u, m, "Current global users "+u+", max "+m)
}

func (s *Server) motd(r *replies) {
	motd := s.liveConfig().MOTD
	if len(motd) == 0 {
		r.numeric(codec.ERR_NOMOTD, "MOTD File is missing")
		return
	}
	r.numeric(codec.RPL_MOTDSTART, "- "+s.name+" Message of the day - ")
	for _, line := range motd {
		r.numeric(codec.RPL_MOTD, "- "+line)
	}
	r.numeric(codec.RPL_ENDOFMOTD, "End of /MOTD command.")
}

// serverTarget reports whether an optional server parameter names us (or
// is absent); otherwise it replies 402.
func (s *Server) serverTarget(o *op, m *codec.Message, i int) bool {
	c := o.c
	p := m.Param(i)
	if len(p) == 0 || s.cm.Equal(string(p), s.name) {
		return true
	}
	r := c.replies()
	r.numeric(codec.ERR_NOSUCHSERVER, string(p), "No such server")
	o.reply(r)
	return false
}

func handleMOTD(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if !s.serverTarget(o, m, 0) {
		return
	}
	r := c.replies()
	s.motd(r)
	o.reply(r)
}

func handleLUSERS(o *op, m *codec.Message) {
	s, c := o.s, o.c
	r := c.replies()
	s.lusers(r)
	o.reply(r)
}

func handleVersion(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if !s.serverTarget(o, m, 0) {
		return
	}
	r := c.replies()
	r.numeric(codec.RPL_VERSION, s.cfg.Version, s.name, "laird IRC server")
	for _, line := range s.isupport {
		r.numeric(codec.RPL_ISUPPORT, line, "are supported by this server")
	}
	o.reply(r)
}

func handleTime(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if !s.serverTarget(o, m, 0) {
		return
	}
	r := c.replies()
	r.numeric(codec.RPL_TIME, s.name, time.Now().Format(time.RFC1123))
	o.reply(r)
}

func handleAdmin(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if !s.serverTarget(o, m, 0) {
		return
	}
	r := c.replies()
	r.numeric(codec.RPL_ADMINME, s.name, "Administrative info")
	r.numeric(codec.RPL_ADMINLOC1, "laird server "+s.name)
	r.numeric(codec.RPL_ADMINLOC2, "network "+s.cfg.Network)
	r.numeric(codec.RPL_ADMINEMAIL, "root@localhost")
	o.reply(r)
}

func handleInfo(o *op, m *codec.Message) {
	s, c := o.s, o.c
	r := c.replies()
	r.numeric(codec.RPL_INFO, "laird "+s.cfg.Version+": a sharded IRC server on gnet and Pebble")
	r.numeric(codec.RPL_ENDOFINFO, "End of INFO list")
	o.reply(r)
}

// handlePing answers PING. A registered client's PONG is made by the
// shard that owns its nick, the shard every direct message to that nick
// passes through: a PING is then a barrier, and a message sent to the
// client before the PING reached the server arrives before the PONG
// (clients and test suites sync on PING). The shard posts the PONG behind
// the deliveries it made, through the same mailbox.
func handlePing(o *op, m *codec.Message) {
	s, c := o.s, o.c
	token := string(m.Param(0))
	pong := func(c *Client) {
		r := c.replies()
		r.cmd(s.name, "PONG", true, s.name, token)
		o.reply(r)
	}
	if !c.Registered() {
		pong(c)
		return
	}
	o.toShard(s.shardOf(s.cm.Fold(c.Nick())), func(sh *shard, b *batch) {
		b.call(c, pong)
	})
}

func handlePong(o *op, m *codec.Message) {
	// Any input counts as liveness for the loop's ping timer; PONG only
	// needs to be accepted silently.
}

func handleQuit(o *op, m *codec.Message) {
	s, c := o.s, o.c
	reason := "Client Quit"
	if m.NParams() > 0 && len(m.Param(0)) > 0 {
		reason = "Quit: " + truncate(string(m.Param(0)), s.reasonLen())
	}
	c.quitMsg = reason
	c.quitting = true
	c.conn.Close("Closing Link: " + c.Identity().Host + " (" + reason + ")")
}

func (c *Client) quitReason() string {
	if c.quitMsg == "" {
		return "Client Quit"
	}
	return c.quitMsg
}

// timeSince renders a duration as "D days, HH:MM:SS".
func timeSince(t time.Time) string {
	d := time.Since(t)
	days := int(d.Hours()) / 24
	h := int(d.Hours()) % 24
	m := int(d.Minutes()) % 60
	sec := int(d.Seconds()) % 60
	return strconv.Itoa(days) + " days, " + fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
}

func handleLinks(o *op, m *codec.Message) {
	s, c := o.s, o.c
	r := c.replies()
	r.numeric(codec.RPL_LINKS, s.name, s.name, "0 "+s.cfg.Description)
	r.numeric(codec.RPL_ENDOFLINKS, "*", "End of /LINKS list")
	o.reply(r)
}
