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

func handleRegister(o *op, m *codec.Message) {
	s, c := o.s, o.c
	name, email, password := string(m.Param(0)), string(m.Param(1)), string(m.Param(2))
	nick := c.Nick()
	fail := func(code, context, text string) { o.fail("REGISTER", code, context, text) }
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
	case nick == "*" && c.refusedNick != "" && (name == "*" || s.cm.Equal(name, c.refusedNick)):
		// The nick asked for is held by someone online: an account cannot
		// be registered out from under them (ACCOUNT_EXISTS, as the spec and
		// irctest have it).
		fail("ACCOUNT_EXISTS", c.refusedNick, "Nick "+c.refusedNick+" is in use by someone else; choose another nick first")
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
	s.registerAccount(o, name, email, password, func(out regOutcome) {
		r := o.replies()
		defer o.reply(r)
		switch {
		case out.code != "":
			r.fail("REGISTER", out.code, name, out.text)
		case out.verify:
			r.cmd(s.name, "REGISTER", true, "VERIFICATION_REQUIRED", name, out.text)
		default:
			r.cmd(s.name, "REGISTER", true, "SUCCESS", name, out.text)
			loggedIn(r, c, name)
		}
	})
}

func handleVerify(o *op, m *codec.Message) {
	s, c := o.s, o.c
	name, code := string(m.Param(0)), string(m.Param(1))
	fail := func(code, text string) { o.fail("VERIFY", code, name, text) }
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
	entry := audit(c, "account.verify", folded)
	// The code is checked against the account as it is when the change
	// commits (a retry after a concurrent change checks it again).
	s.updateAccount(o, folded, func(a *kv.Account, t *kv.Txn) error {
		switch {
		case a.Verified:
			return errAlreadyVerified
		case !verifyCodeMatches(a.VerifyCode, code):
			return errBadCode
		}
		a.Verified, a.VerifyCode = true, ""
		t.AppendAudit(entry)
		return nil
	}, func(acct kv.Account, err error) {
		switch {
		case errors.Is(err, errAlreadyVerified):
			fail("INVALID_CODE", "Account "+name+" is already verified")
			return
		case errors.Is(err, errBadCode), errors.Is(err, kv.ErrNotFound):
			s.authFailed(c, folded, !errors.Is(err, kv.ErrNotFound))
			fail("INVALID_CODE", "Invalid verification code")
			return
		case err != nil:
			fail("TEMPORARILY_UNAVAILABLE", s.storeError("account verification", c, err))
			return
		}
		r := o.replies()
		r.cmd(s.name, "VERIFY", true, "SUCCESS", acct.DisplayName, "Account verified; you are now logged in")
		loggedIn(r, c, acct.DisplayName)
		o.reply(r)
		s.setAccount(o, acct.DisplayName)
	})
}

var (
	errAlreadyVerified = errors.New("chat: account already verified")
	errBadCode         = errors.New("chat: invalid verification code")
)
