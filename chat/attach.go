package chat

import (
	"strconv"
	"time"

	"laird/codec"
)

// Sessions and their users. A connection starts as the one session of a
// user of its own. One that completes registration logged in (SASL) to an
// account whose user is present joins that user instead (multiclient): it
// takes the user's nick, gets the welcome burst under it, then the JOIN,
// topic and NAMES of every channel the user is in, and from then on
// receives whatever reaches the user. A user leaves (QUIT to its channels,
// nick freed) when its last session closes, unless it is always-on.
//
// The account registry (shard.accounts, on the shard owning the casefolded
// account name) maps an account to its present user; it is updated when a
// user logs in, logs out or leaves.

// multiclient reports whether sessions of one account share one user.
func (s *Server) multiclient() bool { return !s.cfg.Accounts.NoMulticlient }

// willAttach reports whether c, registering logged in, will join owner at
// registration: owner is present and logged in to the same account.
func (s *Server) willAttach(c *Client, owner *user) bool {
	acct := c.Identity().Account
	return s.multiclient() && acct != "" && owner.present() && s.cm.Equal(owner.Identity().Account, acct)
}

// registerUser completes c's registration: as a session of the account's
// present user when there is one, else as its own user. Loop, as part of
// o.
func (s *Server) registerUser(o *op) {
	c := o.c
	acct := c.Identity().Account
	if acct == "" || !s.multiclient() {
		s.welcome(o, nil)
		return
	}
	folded := s.cm.Fold(acct)
	var existing *user
	own := c.user()
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
		if u := sh.accounts[folded]; u != nil && u != own && u.present() {
			existing = u
			return
		}
		sh.accounts[folded] = own
	})
	o.then(func() { s.welcome(o, existing) })
}

// welcome sends the welcome burst and makes c present: as a new session of
// existing when that is set and still present, else as its own user.
func (s *Server) welcome(o *op, existing *user) {
	c := o.c
	if existing != nil {
		if !existing.attach(c, s.cfg.Accounts.MaxSessions) {
			limit := strconv.Itoa(s.cfg.Accounts.MaxSessions)
			s.log.Info("session refused", "account", existing.Identity().Account, "limit", limit, "ip", c.ip.String())
			c.quitting = true
			c.quitMsg = "Too many connections for this account"
			c.conn.Close("Too many connections for account " + existing.Identity().Account + " (at most " + limit + ")")
			return
		}
		if !existing.present() { // it left meanwhile
			existing.detach(c)
			existing = nil
		}
	}
	if existing != nil {
		provisional := c.user()
		if nick := provisional.Nick(); nick != "*" {
			s.releaseNick(nil, s.cm.Fold(nick), provisional)
		}
		c.u.Store(existing)
	}
	u := c.user()
	c.reg |= regDone
	c.live.Store(true)
	if s.std != nil {
		s.std.Registrations.Inc()
	}
	s.unknown.Add(-1)
	n := s.users.Add(1)
	for {
		max := s.maxUsers.Load()
		if n <= max || s.maxUsers.CompareAndSwap(max, n) {
			break
		}
	}
	id := u.Identity()
	first := !u.live.Swap(true)
	if first {
		s.monitorNotify(s.cm.Fold(id.Nick), id, true)
	}
	r := o.replies()
	r.numeric(codec.RPL_WELCOME, "Welcome to the "+s.cfg.Network+" IRC Network "+id.Prefix)
	r.numeric(codec.RPL_YOURHOST, "Your host is "+s.name+", running version "+s.cfg.Version)
	r.numeric(codec.RPL_CREATED, "This server was created "+s.cfg.Created.UTC().Format("Mon Jan 2 2006 at 15:04:05 MST"))
	r.numeric(codec.RPL_MYINFO, s.name, s.cfg.Version, "iowB", "CZbeIiklmnost", "beIklov")
	for _, line := range s.isupport {
		// line holds several space-separated tokens; written as one
		// middle parameter they become the middle parameters 005 needs.
		r.numeric(codec.RPL_ISUPPORT, line, "are supported by this server")
	}
	s.lusers(r)
	s.metadataWelcome(o, r, u)
	s.motd(r)
	o.reply(r)
	s.invitesAtWelcome(o)
	s.historyWelcome(o)
	if p := c.away.Load(); p != nil && *p != "" || existing != nil {
		msg := ""
		if p != nil {
			msg = *p
		}
		s.updateAway(o, msg) // pre-away, or a present session joining an away user
	}
	if existing != nil {
		s.log.Info("session attached", "account", id.Account, "nick", id.Nick, "sessions", len(u.sessionList()), "ip", c.ip.String())
		s.replayChannels(o, u)
		return
	}
	s.nickProtect(c)
}

// replayChannels sends a newly attached session the channels its user is
// in, as if it had just joined them: JOIN, topic, NAMES. As part of o.
func (s *Server) replayChannels(o *op, u *user) {
	c := o.c
	for id, names := range s.channelsByShard(u.channelList()) {
		o.toShard(id, func(sh *shard, b *batch) {
			now := time.Now()
			uid := u.Identity()
			account := uid.Account
			if account == "" {
				account = "*"
			}
			for _, name := range names {
				ch := sh.channels[name]
				if ch == nil || ch.member(u) == nil {
					continue
				}
				msg := &outMsg{source: uid.Prefix, command: "JOIN", plainLast: true,
					params: []string{ch.name}, extParams: []string{ch.name, account, uid.Realname},
					at: now, account: uid.Account}
				r := sh.replies(c)
				ch.joinReplies(r, msg, c)
				b.reply(o, r)
			}
		})
	}
}

// sessionClosed detaches c from its user after its connection closed; the
// user leaves when that was its last session and it is not always-on.
// Loop.
func (s *Server) sessionClosed(c *Client, reason string, registered bool) {
	u := c.user()
	left := u.detach(c)
	if !registered {
		// A provisional user: it may hold a nick claimed during
		// registration, nothing else.
		if nick := u.Nick(); nick != "*" && left == 0 {
			s.releaseNick(nil, s.cm.Fold(nick), u)
		}
		return
	}
	if left > 0 || u.alwaysOn.Load() {
		return
	}
	s.userLeft(u, reason)
}

// userLeft takes a user out: it is no longer present, its channels hear its
// QUIT, its nick is free and the account registry forgets it. Any
// goroutine, once per user.
func (s *Server) userLeft(u *user, reason string) {
	if !u.live.CompareAndSwap(true, false) {
		return
	}
	id := u.Identity()
	s.whowas.add(id, s.name)
	if id.Account != "" {
		s.forgetAccountUser(s.cm.Fold(id.Account), u)
	}
	s.quitEverywhere(u, reason, true)
}

// rememberAccountUser and forgetAccountUser keep the account registry; any
// goroutine.
func (s *Server) rememberAccountUser(folded string, u *user) {
	s.post(s.shardOf(folded), func(sh *shard, _ *batch) {
		if cur := sh.accounts[folded]; cur == nil || !cur.present() {
			sh.accounts[folded] = u
		}
	})
}

func (s *Server) forgetAccountUser(folded string, u *user) {
	s.post(s.shardOf(folded), func(sh *shard, _ *batch) {
		if sh.accounts[folded] == u {
			delete(sh.accounts, folded)
		}
	})
}
