package chat

import (
	"errors"

	"laird/codec"
	"laird/kv"
)

// IRCv3 draft/account-registration: REGISTER <account> <email|*> <password>
// and VERIFY <account> <code>. The account is named for the client's
// current nick (no custom-account-name): the nick is what the account
// reserves, and a client can only hold a nick nobody else is using, so an
// account cannot be registered out from under someone online.

func handleRegister(s *Server, c *Client, m *codec.Message) {
	name, email, password := string(m.Param(0)), string(m.Param(1)), string(m.Param(2))
	nick := c.Nick()
	fail := func(code, context, text string) {
		r := c.replies()
		r.fail("REGISTER", code, context, text)
		c.sendReplies(r)
	}
	switch {
	case s.store == nil:
		fail("TEMPORARILY_UNAVAILABLE", orStar(name), "This server has no account storage")
		return
	case !c.Registered() && !s.registerBeforeConnect():
		ctx := name
		if ctx == "*" || ctx == "" {
			ctx = nick
		}
		fail("COMPLETE_CONNECTION_REQUIRED", ctx, "Complete connection registration first")
		return
	case nick == "*":
		fail("NEED_NICK", "*", "Send NICK before REGISTER")
		return
	case name == "*":
		name = nick
	case !s.cm.Equal(name, nick):
		fail("ACCOUNT_NAME_MUST_BE_NICK", name, "The account name must be your current nick")
		return
	}
	name = nick // the nick's own casing is the display name
	s.registerAccount(c, name, email, password, func(o regOutcome) {
		r := c.replies()
		defer c.sendReplies(r)
		switch {
		case o.code != "":
			r.fail("REGISTER", o.code, name, o.text)
		case o.verify:
			r.cmd(s.name, "REGISTER", true, "VERIFICATION_REQUIRED", name, o.text)
		default:
			r.cmd(s.name, "REGISTER", true, "SUCCESS", name, o.text)
			loggedIn(r, c, name)
		}
	})
}

func handleVerify(s *Server, c *Client, m *codec.Message) {
	name, code := string(m.Param(0)), string(m.Param(1))
	fail := func(code, text string) {
		r := c.replies()
		r.fail("VERIFY", code, name, text)
		c.sendReplies(r)
	}
	switch {
	case s.store == nil:
		fail("TEMPORARILY_UNAVAILABLE", "This server has no account storage")
		return
	case !c.Registered() && !s.registerBeforeConnect():
		fail("COMPLETE_CONNECTION_REQUIRED", "Complete connection registration first")
		return
	case c.Identity().Account != "":
		fail("ALREADY_AUTHENTICATED", "You are already logged in to "+c.Identity().Account)
		return
	}
	folded := s.cm.Fold(name)
	var (
		acct    kv.Account
		readErr error
		ok      bool
	)
	s.offload(c, func() {
		acct, readErr = s.store.Account(folded)
		ok = readErr == nil && !acct.Verified && verifyCodeMatches(acct.VerifyCode, code)
	}, func() {
		switch {
		case readErr != nil && !errors.Is(readErr, kv.ErrNotFound):
			fail("TEMPORARILY_UNAVAILABLE", s.storeError("account verification", c, readErr))
			return
		case readErr == nil && acct.Verified:
			fail("INVALID_CODE", "Account "+acct.DisplayName+" is already verified")
			return
		case !ok:
			s.authFailed(c, folded)
			fail("INVALID_CODE", "Invalid verification code")
			return
		}
		acct.Verified, acct.VerifyCode = true, ""
		t := s.store.NewTxn()
		t.RequireAccount(folded)
		t.PutAccount(acct)
		t.AppendAudit(audit(c, "account.verify", folded))
		s.commitFor(c, t, func(err error) {
			if err != nil {
				fail("TEMPORARILY_UNAVAILABLE", s.storeError("account verification", c, err))
				return
			}
			r := c.replies()
			r.cmd(s.name, "VERIFY", true, "SUCCESS", acct.DisplayName, "Account verified; you are now logged in")
			loggedIn(r, c, acct.DisplayName)
			c.sendReplies(r)
			s.setAccount(c, acct.DisplayName)
		})
	})
}
