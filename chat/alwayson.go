package chat

import (
	"strings"
	"time"

	"laird/codec"
	"laird/kv"
)

// Always-on: an account's user stays present, in its channels and with its
// nick, when its last session closes; messages keep reaching it (history
// keeps them for CHATHISTORY) and its next session joins it (attach.go).
// It is per account (NickServ SET ALWAYS-ON, or draft/persistence's
// PERSISTENCE SET), following [accounts] always_on by default. While it is
// on, the user's channels and member modes are written to the store, and
// at start the server puts always-on users back where they were.

// alwaysOnFor is an account's effective always-on.
func (s *Server) alwaysOnFor(t kv.Toggle) bool { return t.Or(s.accounts().AlwaysOn) }

// readAlwaysOn looks up the account's always-on setting off the loop and
// applies it to o's user, as part of o. Logins call it.
func (s *Server) readAlwaysOn(o *op, folded string) {
	if s.store == nil {
		return
	}
	var acct kv.Account
	var err error
	o.offload(readPool, func() { acct, err = s.store.Account(folded) }, func() {
		if err != nil {
			return
		}
		s.applyAlwaysOn(o.c.user(), folded, s.alwaysOnFor(acct.AlwaysOn))
	})
}

// applyAlwaysOn sets u's always-on and brings the store in step: turned
// on, every channel u is in is written; the stored list is cleared when it
// is turned off (SET does that in its own transaction).
func (s *Server) applyAlwaysOn(u *user, account string, on bool) {
	if u.alwaysOn.Swap(on) == on || !on {
		return
	}
	for id, names := range s.channelsByShard(u.channelList()) {
		s.post(id, func(sh *shard, _ *batch) {
			for _, name := range names {
				if ch := sh.channels[name]; ch != nil {
					if mb := ch.member(u); mb != nil {
						sh.saveAlwaysOn(ch, mb, account)
					}
				}
			}
		})
	}
}

// memberJoined and memberLeft keep an always-on user's stored channels in
// step with its membership; member modes changed go through memberJoined
// too. Shard; the writes are not awaited (a crash may lose the last
// change, never half of one).
func (sh *shard) memberJoined(ch *Channel, mb *Member) {
	if mb.u.alwaysOn.Load() {
		if acct := mb.u.Identity().Account; acct != "" {
			sh.saveAlwaysOn(ch, mb, sh.srv.cm.Fold(acct))
		}
	}
}

func (sh *shard) memberLeft(ch *Channel, u *user) {
	if !u.alwaysOn.Load() || sh.srv.store == nil {
		return
	}
	acct := u.Identity().Account
	if acct == "" {
		return
	}
	t := sh.srv.store.NewTxn()
	t.DeleteAlwaysOn(sh.srv.cm.Fold(acct), ch.folded)
	sh.srv.commitQuietly(t, "always-on channel")
}

func (sh *shard) saveAlwaysOn(ch *Channel, mb *Member, account string) {
	if sh.srv.store == nil {
		return
	}
	modes := ""
	if mb.modes&memberOp != 0 {
		modes += "o"
	}
	if mb.modes&memberVoice != 0 {
		modes += "v"
	}
	t := sh.srv.store.NewTxn()
	t.PutAlwaysOn(account, kv.AlwaysOnChannel{Channel: ch.folded, Name: ch.name, Modes: modes, Joined: mb.joined})
	sh.srv.commitQuietly(t, "always-on channel")
}

// commitQuietly commits t without waiting; a failure is logged.
func (s *Server) commitQuietly(t *kv.Txn, what string) {
	if err := s.store.Commit(t, func(err error) {
		if err != nil {
			s.log.Warn(what+" not saved", "err", err)
		}
	}); err != nil {
		s.log.Warn(what+" not saved", "err", err)
	}
}

// setAlwaysOn is NickServ SET ALWAYS-ON and PERSISTENCE SET: it stores the
// account's setting and applies the effective value to o's user; then
// reply runs with the setting and the effective value.
func (s *Server) setAlwaysOn(o *op, setting kv.Toggle, reply func(setting kv.Toggle, on bool, err error)) {
	account := s.cm.Fold(o.c.Identity().Account)
	on := s.alwaysOnFor(setting)
	var err error
	o.offload(readPool, func() {
		_, err = s.store.UpdateAccount(account, func(a *kv.Account, t *kv.Txn) error {
			a.AlwaysOn = setting
			if !on {
				t.ClearAlwaysOn(account)
			}
			return nil
		})
	}, func() {
		if err == nil {
			s.applyAlwaysOn(o.c.user(), account, on)
		}
		reply(setting, on, err)
	})
}

// parseToggle reads ON/OFF/DEFAULT (and true/false, yes/no).
func parseToggle(v string) (kv.Toggle, bool) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return kv.ToggleOn, true
	case "off", "false", "no", "0":
		return kv.ToggleOff, true
	case "default":
		return kv.ToggleDefault, true
	}
	return 0, false
}

func toggleName(t kv.Toggle) string {
	switch t {
	case kv.ToggleOn:
		return "ON"
	case kv.ToggleOff:
		return "OFF"
	}
	return "DEFAULT"
}

func onOff(on bool) string {
	if on {
		return "ON"
	}
	return "OFF"
}

// handlePersistence is draft/persistence: PERSISTENCE GET answers
// "PERSISTENCE STATUS <setting> <effective>"; PERSISTENCE SET
// <ON|OFF|DEFAULT> changes the setting and answers the same way.
func handlePersistence(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if s.store == nil {
		o.fail("PERSISTENCE", "UNKNOWN_COMMAND", "", "Always-on is not available on this server")
		return
	}
	account := c.Identity().Account
	if account == "" {
		o.fail("PERSISTENCE", "ACCOUNT_REQUIRED", "", "You must be logged in to an account")
		return
	}
	status := func(setting kv.Toggle, on bool, err error) {
		if err != nil {
			o.fail("PERSISTENCE", "INTERNAL_ERROR", "", s.storeError("always-on setting", c, err))
			return
		}
		r := o.replies()
		r.cmd(s.name, "PERSISTENCE", false, "STATUS", toggleName(setting), onOff(on))
		o.reply(r)
	}
	switch strings.ToUpper(string(m.Param(0))) {
	case "GET":
		var acct kv.Account
		var err error
		o.offload(readPool, func() { acct, err = s.store.Account(s.cm.Fold(account)) }, func() {
			status(acct.AlwaysOn, s.alwaysOnFor(acct.AlwaysOn), err)
		})
	case "SET":
		setting, ok := parseToggle(string(m.Param(1)))
		if m.NParams() < 2 || !ok {
			o.fail("PERSISTENCE", "INVALID_PARAMS", string(m.Param(1)), "PERSISTENCE SET takes ON, OFF or DEFAULT")
			return
		}
		s.setAlwaysOn(o, setting, status)
	default:
		o.fail("PERSISTENCE", "INVALID_PARAMS", string(m.Param(0)), "PERSISTENCE GET | SET <ON|OFF|DEFAULT>")
	}
}

// loadAlwaysOn puts the always-on users back in their channels, with
// their nicks and member modes, as the store keeps them. Start calls it
// before the shards run.
func (s *Server) loadAlwaysOn() {
	if s.store == nil {
		return
	}
	now := time.Now()
	restored := 0
	err := s.store.ScanAlwaysOn(func(account string, channels []kv.AlwaysOnChannel) bool {
		acct, err := s.store.Account(account)
		if err != nil || acct.Suspended || !s.alwaysOnFor(acct.AlwaysOn) {
			return true
		}
		nick := acct.DisplayName
		folded := s.cm.Fold(nick)
		nsh := s.shards[s.shardOf(folded)]
		if nsh.nicks[folded] != nil {
			return true
		}
		u := &user{srv: s, signon: now.Unix()}
		u.id.Store((&Identity{Nick: nick, User: truncate(account, codec.DefaultUserLen), Host: "always-on", Realname: nick, Account: nick}).withPrefix())
		u.alwaysOn.Store(true)
		u.live.Store(true)
		u.activeAt.Store(now.Unix())
		nsh.nicks[folded] = u
		s.shards[s.shardOf(account)].accounts[account] = u
		for _, c := range channels {
			sh := s.shards[s.shardOf(c.Channel)]
			ch := sh.channels[c.Channel]
			if ch == nil {
				if ch = sh.regChannel(c.Name, c.Channel); ch == nil {
					ch = newChannel(c.Name, c.Channel, c.Joined)
					sh.channels[c.Channel] = ch
					s.channels.Add(1)
				}
			}
			var modes memberModes
			if strings.Contains(c.Modes, "o") {
				modes |= memberOp
			}
			if strings.Contains(c.Modes, "v") {
				modes |= memberVoice
			}
			if ch.member(u) == nil {
				ch.addMember(u, modes, c.Joined)
				u.addChannel(c.Channel)
			}
		}
		restored++
		return true
	})
	if err != nil {
		s.log.Error("cannot restore always-on users", "err", err)
	}
	if restored > 0 {
		s.log.Info("always-on users restored", "users", restored)
	}
}
