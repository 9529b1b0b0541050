package chat

import (
	"errors"
	"strconv"
	"strings"

	"laird/kv"
)

// Client certificates as credentials: SASL EXTERNAL logs in to the
// account whose CertFPs hold the connection's certificate fingerprint
// (SHA-256, kv.AccountByCert); NickServ CERT ADD/DEL/LIST keeps that list.
// A certificate cannot be guessed, so certificate logins skip the login
// throttle (a block out of attempts still logs in with its certificate,
// as issue 15 asks) and a certificate that matches no account is not a
// failed login of any account; they share everything else with PLAIN:
// suspended and unverified accounts are refused, a success is recorded
// (failures since the last login are told), multiclient and always-on
// follow from setAccount.

// maxCertFPs bounds the certificate fingerprints of one account.
const maxCertFPs = 16

// saslExternal is AUTHENTICATE EXTERNAL's one step: payload is the
// authorization identity, empty or the account's name.
func (s *Server) saslExternal(o *op, sess *saslSession, authzid []byte) {
	c := o.c
	fp := c.Transport().CertFP
	if fp == "" {
		s.saslFail(o, "No client certificate on this connection")
		return
	}
	sess.busy = true
	s.certAccount(o, fp, func(acct kv.Account, res authResult) {
		sess.busy = false
		if c.acct.sasl != sess {
			return // aborted meanwhile
		}
		switch {
		case res == authBad:
			s.saslFail(o, "No account has this certificate")
		case res != authOK:
			s.saslFail(o, res.text(acct.DisplayName))
		case len(authzid) > 0 && !s.cm.Equal(string(authzid), acct.Name):
			s.saslFail(o, "Authorization identity must match the account")
		default:
			s.log.Info("certificate login", "account", acct.Name, "certfp", fp, "ip", c.ip.String())
			s.saslSucceed(o, acct)
		}
	})
}

// certAccount finds the account a certificate fingerprint belongs to, off
// the loop, and runs then on the loop as part of o: authBad when none.
func (s *Server) certAccount(o *op, fp string, then func(acct kv.Account, res authResult)) {
	var (
		acct kv.Account
		err  error
	)
	o.offload(readPool, func() { acct, err = s.store.AccountByCert(fp) }, func() {
		switch {
		case errors.Is(err, kv.ErrNotFound):
			then(kv.Account{}, authBad)
		case err != nil:
			s.log.Error("account lookup by certificate failed", "certfp", fp, "err", err)
			then(kv.Account{}, authUnavailable)
		case acct.Suspended:
			then(acct, authSuspended)
		case !acct.Verified:
			then(acct, authUnverified)
		default:
			then(acct, authOK)
		}
	})
}

var (
	errCertListed   = errors.New("chat: certificate fingerprint already on the account")
	errCertUnlisted = errors.New("chat: certificate fingerprint not on the account")
	errCertsFull    = errors.New("chat: too many certificate fingerprints")
)

// nsCert is NickServ CERT ADD [<fp>] | DEL <fp> | LIST, on the account
// the client is logged in to.
func nsCert(o *op, args []string) {
	s, c := o.s, o.c
	account := c.Identity().Account
	if account == "" {
		s.ns(o, "You must be logged in to manage your account's certificates")
		return
	}
	folded := s.cm.Fold(account)
	sub := strings.ToUpper(args[0])
	if sub == "LIST" {
		nsCertList(o, folded)
		return
	}
	if sub != "ADD" && sub != "DEL" {
		s.ns(o, "Unknown CERT command "+args[0]+"; CERT ADD [<fingerprint>] | CERT DEL <fingerprint> | CERT LIST")
		return
	}
	raw := ""
	if len(args) > 1 {
		raw = args[1]
	}
	if raw == "" && sub == "ADD" {
		if raw = c.Transport().CertFP; raw == "" {
			s.ns(o, "This connection has no client certificate; connect with one, or give its SHA-256 fingerprint: CERT ADD <fingerprint>")
			return
		}
	}
	fp, ok := normalizeCertFP(raw)
	if !ok {
		s.ns(o, "A certificate fingerprint is a SHA-256 in 64 hex digits (colons allowed), not "+orStar(raw))
		return
	}
	add := sub == "ADD"
	action := "account.cert.del"
	if add {
		action = "account.cert.add"
	}
	entry := audit(c, action, folded)
	entry.Reason = fp
	s.updateAccount(o, folded, func(a *kv.Account, t *kv.Txn) error {
		i := -1
		for j, have := range a.CertFPs {
			if have == fp {
				i = j
			}
		}
		switch {
		case add && i >= 0:
			return errCertListed
		case add && len(a.CertFPs) >= maxCertFPs:
			return errCertsFull
		case add:
			a.CertFPs = append(a.CertFPs, fp)
		case i < 0:
			return errCertUnlisted
		default:
			a.CertFPs = append(a.CertFPs[:i:i], a.CertFPs[i+1:]...)
		}
		t.AppendAudit(entry)
		return nil
	}, func(acct kv.Account, err error) {
		var ce *kv.ConditionError
		switch {
		case err == nil && add:
			s.log.Info("certificate added", "account", folded, "certfp", fp, "ip", c.ip.String())
			s.ns(o, "Certificate fingerprint "+fp+" added to account "+acct.DisplayName+"; it logs in with SASL EXTERNAL")
		case err == nil:
			s.log.Info("certificate removed", "account", folded, "certfp", fp, "ip", c.ip.String())
			s.ns(o, "Certificate fingerprint "+fp+" removed from account "+acct.DisplayName)
		case errors.Is(err, errCertListed):
			s.ns(o, "Certificate fingerprint "+fp+" is already on your account")
		case errors.Is(err, errCertUnlisted):
			s.ns(o, "Certificate fingerprint "+fp+" is not on your account")
		case errors.Is(err, errCertsFull):
			s.ns(o, "Your account has the most certificate fingerprints allowed ("+strconv.Itoa(maxCertFPs)+"); CERT DEL one first")
		case errors.As(err, &ce) && ce.Kind == kv.KindCert:
			s.ns(o, "Certificate fingerprint "+fp+" belongs to another account; it can log in to one account only")
		case errors.Is(err, kv.ErrNotFound):
			s.ns(o, "Account "+account+" no longer exists")
		default:
			s.ns(o, "Certificates not changed: "+s.storeError("certificate change", c, err))
		}
	})
}

func nsCertList(o *op, folded string) {
	s, c := o.s, o.c
	var (
		acct kv.Account
		err  error
	)
	o.offload(readPool, func() { acct, err = s.store.Account(folded) }, func() {
		switch {
		case errors.Is(err, kv.ErrNotFound):
			s.ns(o, "Account "+folded+" no longer exists")
			return
		case err != nil:
			s.ns(o, s.storeError("certificate list", c, err))
			return
		case len(acct.CertFPs) == 0:
			s.ns(o, "Account "+acct.DisplayName+" has no certificate fingerprints")
			return
		}
		lines := []string{"Certificate fingerprints of account " + acct.DisplayName + ":"}
		lines = append(lines, acct.CertFPs...)
		s.ns(o, lines...)
	})
}
