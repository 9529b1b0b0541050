package chat

import (
	"errors"
	"strings"
	"time"

	"laird/codec"
	"laird/kv"
)

// NickServ: accounts for clients that do not speak REGISTER or SASL.

func nickServCommands() map[string]serviceCommand {
	return map[string]serviceCommand{
		"REGISTER": {handle: nsRegister, minArgs: 1, usage: "<password> [<email>]",
			help: "Registers your current nick as an account and logs you in to it."},
		"IDENTIFY": {handle: nsIdentify, minArgs: 1, usage: "[<account>] <password>",
			help: "Logs you in to an account (by default the one named like your nick)."},
		"LOGOUT": {handle: nsLogout, usage: "", help: "Logs you out of your account."},
		"DROP": {handle: nsDrop, minArgs: 1, usage: "<password>",
			help: "Deletes the account you are logged in to, with its nick reservations. Drop the channels it founded first."},
		"INFO": {handle: nsInfo, usage: "[<account>]", help: "Shows information about an account."},
		"SET": {handle: nsSet, minArgs: 2, usage: "PASSWORD <new password> | ALWAYS-ON <on|off|default>",
			help: "Changes the password of the account you are logged in to, or its always-on setting (stay in your channels with nothing connected)."},
		"CERT": {handle: nsCert, minArgs: 1, usage: "ADD [<fingerprint>] | DEL <fingerprint> | LIST",
			help: "Manages the client certificates that log in to your account with SASL EXTERNAL. ADD without a fingerprint adds the certificate of this connection; a fingerprint is its SHA-256 in hex. At most 16; a certificate logs in to one account only."},
		"GHOST": {handle: nsGhost, minArgs: 1, usage: "<nick> [<password>]",
			help: "Disconnects someone using a nick your account reserves (logged in, or with the account's password)."},
	}
}

const nickServ = "NickServ"

func (s *Server) ns(o *op, lines ...string) { s.serviceNotice(o, nickServ, lines...) }

func nsRegister(o *op, args []string) {
	s, c := o.s, o.c
	password, email := args[0], "*"
	if len(args) > 1 {
		email = args[1]
	}
	nick := c.Nick()
	s.registerAccount(o, nick, email, password, func(out regOutcome) {
		r := o.replies()
		defer o.reply(r)
		switch {
		case out.code == "ACCOUNT_EXISTS":
			s.appendServiceNotice(r, c, nickServ, "Nick "+nick+" is already registered")
		case out.code != "":
			s.appendServiceNotice(r, c, nickServ, "Registration failed: "+out.text)
		case out.verify:
			s.appendServiceNotice(r, c, nickServ, "Account "+nick+" registered. "+out.text+
				"; send VERIFY "+nick+" <code> to activate it")
		default:
			s.appendServiceNotice(r, c, nickServ, "Account "+nick+" registered; you are now logged in")
			loggedIn(r, c, nick)
		}
	})
}

func nsIdentify(o *op, args []string) {
	s, c := o.s, o.c
	name, password := c.Nick(), args[0]
	if len(args) > 1 {
		name, password = args[0], args[1]
	}
	if cur := c.Identity().Account; cur != "" && s.cm.Equal(cur, name) {
		s.ns(o, "You are already logged in as "+cur)
		return
	}
	s.checkPassword(o, name, password, func(acct kv.Account, res authResult) {
		if res != authOK {
			s.ns(o, res.text(name))
			return
		}
		r := o.replies()
		s.appendServiceNotice(r, c, nickServ, "You are now identified as "+acct.DisplayName)
		loggedIn(r, c, acct.DisplayName)
		s.loginSucceeded(r, c, acct)
		o.reply(r)
		s.log.Info("login", "account", acct.Name, "via", "NickServ", "ip", c.ip.String())
		s.setAccount(o, acct.DisplayName)
	})
}

func nsLogout(o *op, args []string) {
	s, c := o.s, o.c
	if c.Identity().Account == "" {
		s.ns(o, "You are not logged in")
		return
	}
	s.logout(o, "You are now logged out")
}

// logout sends the NickServ notice and 901, then logs c out.
func (s *Server) logout(o *op, text string) {
	c := o.c
	r := o.replies()
	s.appendServiceNotice(r, c, nickServ, text)
	r.numeric(codec.RPL_LOGGEDOUT, c.Identity().Prefix, "You are now logged out")
	o.reply(r)
	s.setAccount(o, "")
}

func nsDrop(o *op, args []string) {
	s, c := o.s, o.c
	account := c.Identity().Account
	if account == "" {
		s.ns(o, "You must be logged in to the account you want to drop")
		return
	}
	folded := s.cm.Fold(account)
	delay, ok := s.loginGate(c, folded)
	if !ok {
		s.ns(o, authThrottled.text(account))
		return
	}
	var (
		res     authResult
		founded []string
		readErr error
	)
	offloadAfter(o, delay, hashPool, func() {
		if res, _ = s.checkPasswordSync(folded, args[0]); res != authOK {
			return
		}
		var access []kv.Access
		access, readErr = s.store.AccountAccess(folded)
		for _, a := range access {
			if a.Level == kv.LevelFounder {
				founded = append(founded, a.Channel)
			}
		}
	}, func() {
		switch {
		case res == authBad:
			s.authFailed(c, folded, true)
			s.ns(o, "Invalid password")
			return
		case res != authOK:
			s.ns(o, res.text(account))
			return
		case readErr != nil:
			s.ns(o, s.storeError("account drop", c, readErr))
			return
		case len(founded) > 0:
			s.ns(o, "Account "+account+" founded "+strings.Join(founded, ", ")+"; drop those channels first (ChanServ DROP)")
			return
		}
		t := s.store.NewTxn()
		t.RequireAccount(folded)
		t.DeleteAccount(folded)
		t.AppendAudit(audit(c, "account.drop", folded))
		o.commit(t, func(err error) {
			if err != nil {
				s.ns(o, "Account not dropped: "+s.storeError("account drop", c, err))
				return
			}
			s.log.Info("account dropped", "account", folded, "ip", c.ip.String())
			s.forgetAccountAccess(folded)
			s.forgetAccountInvites(folded)
			s.logout(o, "Account "+account+" has been dropped")
		})
	})
}

func nsInfo(o *op, args []string) {
	s, c := o.s, o.c
	me := c.Identity()
	name := me.Account
	if len(args) > 0 {
		name = args[0]
	} else if name == "" {
		name = me.Nick
	}
	folded := s.cm.Fold(name)
	var (
		acct  kv.Account
		nicks []string
		err   error
	)
	o.offload(readPool, func() {
		if acct, err = s.store.Account(folded); err == nil {
			nicks, err = s.store.AccountNicks(folded)
		}
	}, func() {
		switch {
		case errors.Is(err, kv.ErrNotFound):
			s.ns(o, "Account "+name+" is not registered")
			return
		case err != nil:
			s.ns(o, s.storeError("account info", c, err))
			return
		}
		lines := []string{
			"Information on account " + acct.DisplayName + ":",
			"Registered: " + acct.Created.UTC().Format(time.RFC1123),
			"Nicks: " + strings.Join(nicks, " "),
		}
		self := me.Account != "" && s.cm.Equal(me.Account, acct.Name)
		if (self || me.Modes&UModeOper != 0) && acct.Email != "" {
			lines = append(lines, "Email: "+acct.Email)
		}
		if !acct.Verified {
			lines = append(lines, "Status: awaiting verification")
		}
		if acct.Suspended {
			lines = append(lines, "Status: suspended")
		}
		s.ns(o, lines...)
	})
}

func nsSet(o *op, args []string) {
	s, c := o.s, o.c
	if strings.ToUpper(args[0]) == "ALWAYS-ON" {
		nsSetAlwaysOn(o, args[1])
		return
	}
	if strings.ToUpper(args[0]) != "PASSWORD" {
		s.ns(o, "Unknown setting "+args[0]+"; SET PASSWORD <new password> | SET ALWAYS-ON <on|off|default>")
		return
	}
	account := c.Identity().Account
	if account == "" {
		s.ns(o, "You must be logged in to change your password")
		return
	}
	password := args[1]
	if code, text := s.passwordProblem(password); code != "" {
		s.ns(o, text)
		return
	}
	s.setPassword(o, s.cm.Fold(account), password, func(err error) {
		if err != nil {
			s.ns(o, "Password not changed: "+s.storeError("password change", c, err))
			return
		}
		s.ns(o, "Password changed")
	})
}

func nsGhost(o *op, args []string) {
	s, c := o.s, o.c
	nick := args[0]
	folded := s.cm.Fold(nick)
	me := c.Identity()
	if s.cm.Equal(nick, me.Nick) {
		s.ns(o, "You cannot ghost yourself")
		return
	}
	password := ""
	if len(args) > 1 {
		password = args[1]
	} else if me.Account == "" {
		s.ns(o, "Log in first, or give the password of the account that reserves "+nick)
		return
	}
	mine := s.cm.Fold(me.Account)
	var (
		owner string
		err   error
	)
	o.offload(readPool, func() {
		owner, err = s.store.NickOwner(folded)
	}, func() {
		switch {
		case errors.Is(err, kv.ErrNotFound):
			s.ns(o, "Nick "+nick+" is not registered")
			return
		case err != nil:
			s.ns(o, s.storeError("ghost", c, err))
			return
		case password == "" && owner != mine:
			s.ns(o, "Nick "+nick+" is not reserved by your account")
			return
		case password == "":
			s.ghost(o, nick, folded)
			return
		}
		// The password is the owner's: the login throttle guards it like
		// any other login to that account.
		delay, ok := s.loginGate(c, owner)
		if !ok {
			s.ns(o, authThrottled.text(owner))
			return
		}
		var res authResult
		offloadAfter(o, delay, hashPool, func() {
			res, _ = s.checkPasswordSync(owner, password)
		}, func() {
			switch {
			case res == authBad:
				s.authFailed(c, owner, true)
				s.ns(o, "Invalid password")
				return
			case res != authOK:
				s.ns(o, res.text(owner))
				return
			}
			s.ghost(o, nick, folded)
		})
	})
}

// ghost disconnects whoever uses the folded nick, for o's client.
func (s *Server) ghost(o *op, nick, folded string) {
	me := o.c.Identity()
	s.lookupNicks(o, []string{folded}, func(found map[string]*user) {
		t := found[folded]
		if t == nil {
			s.ns(o, "Nobody is using "+nick)
			return
		}
		reason := "Ghosted by " + me.Nick
		s.log.Info("GHOST", "by", me.Prefix, "target", t.Identity().Prefix)
		s.disconnectUser(t, reason)
		s.ns(o, nick+" has been disconnected")
	})
}

// nsSetAlwaysOn is SET ALWAYS-ON: stay in your channels, with your nick,
// with nothing connected (alwayson.go).
func nsSetAlwaysOn(o *op, value string) {
	s, c := o.s, o.c
	if c.Identity().Account == "" {
		s.ns(o, "You must be logged in to change always-on")
		return
	}
	setting, ok := parseToggle(value)
	if !ok {
		s.ns(o, "SET ALWAYS-ON takes on, off or default")
		return
	}
	s.setAlwaysOn(o, setting, func(setting kv.Toggle, on bool, err error) {
		switch {
		case err != nil:
			s.ns(o, "Always-on not changed: "+s.storeError("always-on setting", c, err))
		case on:
			s.ns(o, "Always-on is now on ("+strings.ToLower(toggleName(setting))+"): you stay in your channels when you disconnect")
		default:
			s.ns(o, "Always-on is now off ("+strings.ToLower(toggleName(setting))+")")
		}
	})
}
