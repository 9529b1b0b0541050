package chat

import (
	"encoding/base64"
	"errors"
	"strings"

	"laird/codec"
	"laird/kv"
)

// SASL (IRCv3 sasl 3.1/3.2) with PLAIN, SCRAM-SHA-256 and EXTERNAL (the
// client certificate, certfp.go). The exchange
// state lives on the client (loop-owned). A step that needs the disk or
// bcrypt is offloaded as part of its op: lines the client sends meanwhile
// (CAP END included) wait, so registration never overtakes an
// authentication in progress. A client that ends registration in the middle
// of an exchange (between AUTHENTICATE lines) has it aborted with 906.
// Re-authenticating after a successful login is allowed.

// Payload framing: base64 in chunks of at most 400 bytes; a chunk of
// exactly 400 means more follows, "+" is an empty chunk.
const (
	saslChunk      = 400
	saslMaxPayload = 4096 // base64 bytes of one message, all chunks together
)

// saslSession is one exchange in progress.
type saslSession struct {
	mech  string
	buf   []byte // base64 chunks received so far
	busy  bool   // a step is being checked off the loop
	scram *scramExchange
	step  int        // SCRAM: 0 client-first, 1 client-final, 2 final "+"
	acct  kv.Account // SCRAM: the account being authenticated
}

func handleAuthenticate(o *op, m *codec.Message) {
	s, c := o.s, o.c
	arg := string(m.Param(0))
	sess := c.acct.sasl
	if sess == nil {
		s.saslStart(o, arg)
		return
	}
	if arg == "*" {
		c.acct.sasl = nil
		s.saslReply(o, codec.ERR_SASLABORTED, "SASL authentication aborted")
		return
	}
	if len(arg) > saslChunk {
		// A chunk longer than the framing allows: 905, as sasl-3.1 says.
		c.acct.sasl = nil
		s.saslReply(o, codec.ERR_SASLTOOLONG, "SASL message too long")
		return
	}
	if len(sess.buf)+len(arg) > saslMaxPayload {
		// Well-framed chunks adding up to more than any mechanism needs:
		// the exchange fails (904), as servers answer a bad response.
		s.saslFail(o, "SASL response too long")
		return
	}
	if arg != "+" {
		sess.buf = append(sess.buf, arg...)
	}
	if len(arg) == saslChunk {
		return // more follows
	}
	payload, err := base64.StdEncoding.DecodeString(string(sess.buf))
	sess.buf = sess.buf[:0]
	if err != nil || arg == "" {
		s.saslFail(o, "Invalid SASL message encoding")
		return
	}
	switch sess.mech {
	case "PLAIN":
		s.saslPlain(o, payload)
	case "SCRAM-SHA-256":
		s.saslScram(o, sess, payload)
	case "EXTERNAL":
		s.saslExternal(o, sess, payload)
	}
}

func (s *Server) saslStart(o *op, mech string) {
	c := o.c
	if s.store == nil {
		s.saslReply(o, codec.ERR_SASLFAIL, "SASL authentication is not available")
		return
	}
	if mech == "*" {
		s.saslReply(o, codec.ERR_SASLABORTED, "SASL authentication aborted")
		return
	}
	mech = strings.ToUpper(mech)
	switch mech {
	case "PLAIN", "SCRAM-SHA-256", "EXTERNAL":
	default:
		r := o.replies()
		r.numeric(codec.RPL_SASLMECHS, strings.Join(s.saslMechs, ","), "are available SASL mechanisms")
		r.numeric(codec.ERR_SASLFAIL, "SASL authentication failed")
		o.reply(r)
		return
	}
	c.acct.sasl = &saslSession{mech: mech}
	s.sendAuthenticate(o, nil)
}

// sendAuthenticate sends a server challenge, split into 400-byte chunks.
func (s *Server) sendAuthenticate(o *op, payload []byte) {
	r := o.replies()
	enc := base64.StdEncoding.EncodeToString(payload)
	for len(enc) >= saslChunk {
		r.cmd("", "AUTHENTICATE", false, enc[:saslChunk])
		enc = enc[saslChunk:]
	}
	if enc == "" {
		enc = "+"
	}
	r.cmd("", "AUTHENTICATE", false, enc)
	o.reply(r)
}

func (s *Server) saslReply(o *op, num, text string) { o.numeric(num, text) }

func (s *Server) saslFail(o *op, text string) {
	o.c.acct.sasl = nil
	s.saslReply(o, codec.ERR_SASLFAIL, "SASL authentication failed: "+text)
}

// saslSucceed logs c in: 900, 903, the failures since the owner's last
// login if any, then account-notify.
func (s *Server) saslSucceed(o *op, acct kv.Account) {
	c := o.c
	account := acct.DisplayName
	c.acct.sasl = nil
	r := o.replies()
	loggedIn(r, c, account)
	r.numeric(codec.RPL_SASLSUCCESS, "SASL authentication successful")
	s.loginSucceeded(r, c, acct)
	o.reply(r)
	s.log.Info("login", "account", account, "via", "SASL", "ip", c.ip.String())
	s.setAccount(o, account)
}

func (s *Server) saslPlain(o *op, payload []byte) {
	c := o.c
	authzid, authcid, password, err := splitPlain(payload)
	if err != nil {
		s.saslFail(o, "Malformed PLAIN message")
		return
	}
	if authzid != "" && !s.cm.Equal(authzid, authcid) {
		s.saslFail(o, "Authorization identity must match the account")
		return
	}
	c.acct.sasl.busy = true
	s.checkPassword(o, authcid, password, func(acct kv.Account, res authResult) {
		if res != authOK {
			s.saslFail(o, res.text(authcid))
			return
		}
		s.saslSucceed(o, acct)
	})
}

func (s *Server) saslScram(o *op, sess *saslSession, payload []byte) {
	c := o.c
	switch sess.step {
	case 0:
		first, err := parseClientFirst(payload)
		if err != nil {
			s.saslFail(o, "Malformed SCRAM message")
			return
		}
		if first.authzid != "" && !s.cm.Equal(first.authzid, first.user) {
			s.saslFail(o, "Authorization identity must match the account")
			return
		}
		folded := s.cm.Fold(first.user)
		delay, ok := s.loginGate(c, folded)
		if !ok {
			s.saslFail(o, authThrottled.text(first.user))
			return
		}
		var (
			acct kv.Account
			err2 error
		)
		sess.busy = true
		offloadAfter(o, delay, readPool, func() {
			acct, err2 = s.store.Account(folded)
		}, func() {
			sess.busy = false
			if c.acct.sasl != sess {
				return // aborted meanwhile
			}
			switch {
			case err2 != nil && !errors.Is(err2, kv.ErrNotFound):
				s.log.Error("account lookup failed", "account", folded, "err", err2)
				s.saslFail(o, authUnavailable.text(first.user))
				return
			}
			v, verr := parseScramVerifier(acct.Scram)
			known := err2 == nil && verr == nil
			if err2 == nil && verr != nil {
				s.log.Warn("account has no usable SCRAM verifier", "account", folded, "err", verr)
			}
			sess.acct = acct
			sess.scram = newScramExchange(first, v, known, decoySalt(folded))
			sess.step = 1
			s.sendAuthenticate(o, []byte(sess.scram.serverFirst))
		})
	case 1:
		final, err := sess.scram.finish(payload)
		if err != nil {
			if errors.Is(err, errBadCredentials) {
				s.authFailed(c, s.cm.Fold(sess.scram.first.user), sess.acct.Name != "")
			}
			s.saslFail(o, authBad.text(""))
			return
		}
		switch {
		case sess.acct.Suspended:
			s.saslFail(o, authSuspended.text(sess.acct.DisplayName))
			return
		case !sess.acct.Verified:
			s.saslFail(o, authUnverified.text(sess.acct.DisplayName))
			return
		}
		sess.step = 2
		s.sendAuthenticate(o, []byte(final))
	case 2:
		if len(payload) != 0 {
			s.saslFail(o, "Unexpected SCRAM message")
			return
		}
		s.saslSucceed(o, sess.acct)
	}
}

// saslAbortOnRegister runs when c completes connection registration: an
// exchange still open is aborted (906) and c registers without it.
func (s *Server) saslAbortOnRegister(o *op) {
	c := o.c
	if c.acct.sasl != nil && !c.acct.sasl.busy {
		c.acct.sasl = nil
		s.saslReply(o, codec.ERR_SASLABORTED, "SASL authentication aborted")
	}
}
