package chat

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"laird/codec"
	"laird/kv"
)

// Accounts: what every way in (REGISTER, NickServ, SASL) shares. Passwords
// are stored twice, as a bcrypt hash (PLAIN, IDENTIFY) and a SCRAM-SHA-256
// verifier; both are derived off the event loops (op.offload), and an
// account's records change only through one kv transaction whose commit
// is awaited (op.commit) before the client hears of it.

// AccountConfig configures accounts and services. Zero values mean the
// documented defaults.
type AccountConfig struct {
	// RequireVerification makes REGISTER need an email address; the account
	// cannot log in until VERIFY <account> <code> with the code delivered
	// by SendCode. Default false: accounts are usable at once.
	RequireVerification bool
	// RegisterAfterConnect refuses REGISTER and VERIFY before connection
	// registration (no before-connect). Default false: they are accepted
	// once the client has a nick, unless a server password is set.
	RegisterAfterConnect bool
	// SendCode delivers a verification code. It runs on its own goroutine
	// and may block. Default: the code is logged at level INFO for an
	// operator (or a log-watching mailer) to forward.
	SendCode func(account, email, code string) error
	// NickGrace is how long a client may use a nick reserved by an account
	// it is not logged in to before it is renamed to a guest nick. Default
	// 30s; negative disables nick protection.
	NickGrace time.Duration
	// GuestPrefix starts the nicks given by nick protection. Default "Guest".
	GuestPrefix string
	// PasswordMinLen is the shortest password accepted. Default 5.
	PasswordMinLen int
	// BcryptCost is the bcrypt work factor. Default bcrypt.DefaultCost.
	BcryptCost int
	// ScramIterations is the PBKDF2 iteration count of SCRAM verifiers.
	// Default (and minimum) 4096.
	ScramIterations int
	// NoMulticlient turns off multiclient: by default a connection that
	// registers logged in (SASL) to an account whose user is online
	// becomes another session of that user (same nick, channels and away
	// state).
	NoMulticlient bool
	// MaxSessions bounds the connections of one account's user. Default 8.
	MaxSessions int
	// AlwaysOn is the default of accounts' always-on setting (NickServ
	// SET ALWAYS-ON, PERSISTENCE SET). Default false: opt-in.
	AlwaysOn bool
}

// Password length limit: a password must fit in a PRIVMSG to NickServ
// (account-registration suggests 300 bytes).
const maxPasswordLen = 300

func (a *AccountConfig) setDefaults() {
	if a.NickGrace == 0 {
		a.NickGrace = 30 * time.Second
	}
	if a.GuestPrefix == "" {
		a.GuestPrefix = "Guest"
	}
	if a.PasswordMinLen <= 0 {
		a.PasswordMinLen = 5
	}
	if a.BcryptCost == 0 {
		a.BcryptCost = bcrypt.DefaultCost
	}
	a.BcryptCost = min(max(a.BcryptCost, bcrypt.MinCost), bcrypt.MaxCost)
	if a.MaxSessions <= 0 {
		a.MaxSessions = 8
	}
	if a.ScramIterations < scramMinIter {
		a.ScramIterations = scramMinIter
	}
}

// errBadCredentials: the account does not exist or the password is wrong
// (deliberately not told apart).
var errBadCredentials = errors.New("chat: invalid account name or password")

// authFailed is called for every failed login (SASL, IDENTIFY, GHOST and
// DROP with a password, VERIFY) with the casefolded account name tried,
// and whether that account exists: it is logged, counted by the login
// throttle (which slows and limits further guesses, and tells the owner)
// and by the guard's detectors (which D-line the address or tell the
// operators past their thresholds).
func (s *Server) authFailed(c *Client, account string, exists bool) {
	s.log.Info("failed login", "account", account, "ip", c.ip.String(), "nick", c.Nick())
	now := time.Now()
	s.loginFailed(c, account, exists, now)
	s.authFailure(c, account, now)
}

// enableAccounts offers SASL and account registration; SetStore calls it
// when a store is given.
func (s *Server) enableAccounts() {
	// EXTERNAL is listed on every connection, as ergo does: a client
	// without a certificate is told so by 904.
	s.saslMechs = []string{"PLAIN", "SCRAM-SHA-256", "EXTERNAL"}
	for _, cp := range []Cap{CapSASL, CapAccountRegistration, CapPersistence} {
		if !s.offers(cp) {
			s.caps = append(s.caps, cp)
		}
	}
}

// registerBeforeConnect reports whether REGISTER and VERIFY are accepted
// before connection registration: when configured, and never with a server
// password, which they must not get around.
func (s *Server) registerBeforeConnect() bool {
	return !s.accounts().RegisterAfterConnect && s.liveConfig().Password == ""
}

// registrationCapValue is the draft/account-registration value.
func (s *Server) registrationCapValue() string {
	var keys []string
	if s.registerBeforeConnect() {
		keys = append(keys, "before-connect")
	}
	if s.accounts().RequireVerification {
		keys = append(keys, "email-required")
	}
	return strings.Join(keys, ",")
}

// credentials are the stored forms of a password.
type credentials struct {
	passHash string // kv.Account.PassHash
	scram    string // kv.Account.Scram
}

// bcryptPrefix marks PassHash values made by hashPassword. bcrypt reads
// only 72 bytes, so the password is first reduced with SHA-256 (base64, no
// NUL bytes) and every byte of a long password counts.
const bcryptPrefix = "bcrypt-sha256$"

func prehash(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// makeCredentials hashes a password. CPU-bound: off the loops only.
func (s *Server) makeCredentials(password string) (credentials, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(password), s.accounts().BcryptCost)
	if err != nil {
		return credentials{}, fmt.Errorf("bcrypt: %w", err)
	}
	v, err := newScramVerifier(password, s.cfg.Accounts.ScramIterations)
	if err != nil {
		return credentials{}, err
	}
	return credentials{passHash: bcryptPrefix + string(h), scram: v.String()}, nil
}

// passwordMatches compares a password with a stored hash in constant time
// (bcrypt's comparison). CPU-bound: off the loops only.
func passwordMatches(stored, password string) bool {
	h, ok := strings.CutPrefix(stored, bcryptPrefix)
	if !ok {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(h), prehash(password)) == nil
}

// decoyHash is compared against when an account does not exist, so a
// missing account costs the same time as a wrong password: it is made once,
// with the configured cost, which real hashes use too.
func (s *Server) decoyHash() string {
	s.decoyOnce.Do(func() {
		h, _ := bcrypt.GenerateFromPassword(prehash("decoy"), s.cfg.Accounts.BcryptCost)
		s.decoy = bcryptPrefix + string(h)
	})
	return s.decoy
}

// passwordProblem returns the account-registration FAIL code and text for
// an unacceptable password, or "".
func (s *Server) passwordProblem(pw string) (code, text string) {
	switch {
	case len(pw) < s.accounts().PasswordMinLen:
		return "WEAK_PASSWORD", fmt.Sprintf("Passwords must be at least %d characters long", s.accounts().PasswordMinLen)
	case len(pw) > maxPasswordLen:
		return "UNACCEPTABLE_PASSWORD", fmt.Sprintf("Passwords must be at most %d bytes long", maxPasswordLen)
	case strings.ContainsAny(pw, " \x00"):
		return "UNACCEPTABLE_PASSWORD", "Passwords must not contain spaces"
	}
	return "", ""
}

// validAccountName: an account is named like a nick (its name is reserved
// as one), but never like a service.
func (s *Server) validAccountName(name string) bool {
	return name != "*" && codec.ValidNick([]byte(name), s.cfg.NickLen) && !reservedNicks[s.cm.Fold(name)]
}

// validEmail is a deliberately loose check: something@domain.
func validEmail(e string) bool {
	at := strings.LastIndexByte(e, '@')
	return at > 0 && at < len(e)-1 && !strings.ContainsAny(e, " ,\x00") && len(e) <= 254
}

// newVerifyCode returns a verification code and the hash the store keeps.
func newVerifyCode() (code, stored string) {
	b := make([]byte, 10)
	rand.Read(b)
	code = base32.StdEncoding.EncodeToString(b)
	return code, hashVerifyCode(code)
}

func hashVerifyCode(code string) string {
	sum := sha256.Sum256([]byte(strings.ToUpper(strings.TrimSpace(code))))
	return hex.EncodeToString(sum[:])
}

func verifyCodeMatches(stored, code string) bool {
	return stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(hashVerifyCode(code))) == 1
}

// setAccount logs o's client in to account (its display name), or out when
// account is "". Co-members with account-notify hear of it (as part of o);
// nick protection looks at the nick again. Loop only.
func (s *Server) setAccount(o *op, account string) {
	c := o.c
	old := c.Identity()
	if old.Account == account {
		return
	}
	defer s.historyLogin(o, account)
	if !c.Registered() || c.quitting {
		c.update(func(id *Identity) { id.Account = account })
		s.metadataLogin(o, account)
		if account != "" && !c.quitting {
			s.readAlwaysOn(o, s.cm.Fold(account))
		}
		return
	}
	shown := account
	if shown == "" {
		shown = "*"
	}
	// The ACCOUNT line is the last one of the old account: account-tag
	// tags it with that one (broadcastCommonCap reads the identity now).
	s.broadcastCommonCap(o, appendCmd(nil, old.Prefix, "ACCOUNT", false, shown), false, CapAccountNotify)
	c.update(func(id *Identity) { id.Account = account })
	u := c.user()
	if old.Account != "" {
		s.forgetAccountUser(s.cm.Fold(old.Account), u)
		u.alwaysOn.Store(false)
	}
	if account != "" {
		s.rememberAccountUser(s.cm.Fold(account), u)
		s.readAlwaysOn(o, s.cm.Fold(account))
	}
	s.metadataLogin(o, account)
	s.nickProtect(c)
	s.invitesAtLogin(o, account)
}

// loggedIn appends 900 RPL_LOGGEDIN for c logged in to account.
func loggedIn(r *replies, c *Client, account string) {
	r.numeric(codec.RPL_LOGGEDIN, c.Identity().Prefix, account, "You are now logged in as "+account)
}

// authResult is the outcome of a password check.
type authResult uint8

const (
	authOK authResult = iota
	authBad
	authThrottled
	authSuspended
	authUnverified
	authUnavailable
)

// text explains a failed login to the client.
func (a authResult) text(account string) string {
	switch a {
	case authThrottled:
		return "Too many failed logins to " + account + " from your address; try again in a few minutes"
	case authSuspended:
		return "Account " + account + " is suspended"
	case authUnverified:
		return "Account " + account + " is not verified yet; use VERIFY " + account + " <code>"
	case authUnavailable:
		return "Accounts are temporarily unavailable; try again later"
	}
	return "Invalid account name or password"
}

// checkPassword looks up an account and checks a password off the loop,
// then runs then(account, result) on the loop as part of o, after the
// login throttle's delay if the account is under attack; an attempt the
// throttle refuses gets authThrottled at once, unchecked.
func (s *Server) checkPassword(o *op, name, password string, then func(acct kv.Account, res authResult)) {
	c := o.c
	folded := s.cm.Fold(name)
	delay, ok := s.loginGate(c, folded)
	if !ok {
		then(kv.Account{}, authThrottled)
		return
	}
	var acct kv.Account
	res := authBad
	offloadAfter(o, delay, hashPool, func() {
		res, acct = s.checkPasswordSync(folded, password)
	}, func() {
		if res == authBad {
			s.authFailed(c, folded, acct.Name != "")
		}
		then(acct, res)
	})
}

// checkPasswordSync is checkPassword's work; it blocks (disk, bcrypt).
// The account it returns is the stored one whenever it exists.
func (s *Server) checkPasswordSync(folded, password string) (authResult, kv.Account) {
	acct, err := s.store.Account(folded)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		passwordMatches(s.decoyHash(), password)
		return authBad, acct
	case err != nil:
		s.log.Error("account lookup failed", "account", folded, "err", err)
		return authUnavailable, acct
	}
	if !passwordMatches(acct.PassHash, password) {
		return authBad, acct
	}
	switch {
	case acct.Suspended:
		return authSuspended, acct
	case !acct.Verified:
		return authUnverified, acct
	}
	return authOK, acct
}

// storeError logs a failed write and returns the client-facing text.
func (s *Server) storeError(what string, c *Client, err error) string {
	s.log.Error(what+" not saved", "nick", c.Nick(), "ip", c.ip.String(), "err", err)
	if errors.Is(err, kv.ErrDiskFull) {
		return "The server's storage is full; try again later"
	}
	return "The server cannot save this right now; try again later"
}

func audit(c *Client, action, target string) kv.AuditEntry {
	return kv.AuditEntry{Actor: c.Nick(), Action: action, Target: target, IP: c.ip.String()}
}

// regOutcome is the result of an account registration, in
// account-registration's vocabulary.
type regOutcome struct {
	code   string // "" on success, else a FAIL REGISTER code
	text   string
	verify bool // success, but the account awaits VERIFY
}

// registerAccount creates the account name (with its nick reservation and
// an audit entry, in one transaction) and runs then on the loop as part of
// o. On success without verification the client is logged in after then
// has replied.
func (s *Server) registerAccount(o *op, name, email, password string, then func(out regOutcome)) {
	c := o.c
	fail := func(code, text string) { then(regOutcome{code: code, text: text}) }
	switch {
	case s.store == nil:
		fail("TEMPORARILY_UNAVAILABLE", "This server has no account storage")
		return
	case c.Identity().Account != "":
		fail("ALREADY_AUTHENTICATED", "You are already logged in to "+c.Identity().Account)
		return
	case !s.validAccountName(name):
		fail("BAD_ACCOUNT_NAME", "Account names follow the rules for nicknames")
		return
	}
	if code, text := s.passwordProblem(password); code != "" {
		fail(code, text)
		return
	}
	verify := s.accounts().RequireVerification
	if email == "*" {
		email = ""
	}
	if (verify && email == "") || (email != "" && !validEmail(email)) {
		fail("INVALID_EMAIL", "A valid email address is required")
		return
	}
	if !s.quotaAllows(c, true) {
		fail("TEMPORARILY_UNAVAILABLE", "Too many account registrations from your address; try again later")
		return
	}
	folded := s.cm.Fold(name)
	var (
		early   regOutcome
		creds   credentials
		code    string
		codeSum string
	)
	o.offload(hashPool, func() {
		// Cheap checks first, so a taken name costs no hashing; the
		// transaction's preconditions decide for real.
		if _, err := s.store.Account(folded); err == nil {
			early = regOutcome{code: "ACCOUNT_EXISTS", text: "Account " + name + " already exists"}
			return
		}
		if owner, err := s.store.NickOwner(folded); err == nil && owner != folded {
			early = regOutcome{code: "ACCOUNT_EXISTS", text: "Nick " + name + " is reserved by another account"}
			return
		}
		var err error
		if creds, err = s.makeCredentials(password); err != nil {
			s.log.Error("password hashing failed", "err", err)
			early = regOutcome{code: "TEMPORARILY_UNAVAILABLE", text: "Cannot register right now"}
		}
		if verify {
			code, codeSum = newVerifyCode()
		}
	}, func() {
		if early.code != "" {
			then(early)
			return
		}
		now := time.Now()
		t := s.store.NewTxn()
		t.RequireNoAccount(folded)
		t.RequireNickFree(folded)
		t.PutAccount(kv.Account{
			Name: folded, DisplayName: name, PassHash: creds.passHash, Scram: creds.scram,
			Email: email, Created: now, Verified: !verify, VerifyCode: codeSum,
		})
		t.PutNick(kv.NickRecord{Nick: folded, Account: folded, Since: now})
		t.AppendAudit(audit(c, "account.register", folded))
		o.commit(t, func(err error) {
			switch {
			case err == nil:
			case errors.Is(err, kv.ErrExists):
				then(regOutcome{code: "ACCOUNT_EXISTS", text: "Account " + name + " already exists"})
				return
			default:
				then(regOutcome{code: "TEMPORARILY_UNAVAILABLE", text: s.storeError("account registration", c, err)})
				return
			}
			s.log.Info("account registered", "account", folded, "ip", c.ip.String())
			if verify {
				s.sendVerifyCode(name, email, code)
				then(regOutcome{verify: true, text: "Account created; a verification code was sent to " + email})
				return
			}
			then(regOutcome{text: "Account created"})
			s.setAccount(o, name)
		})
	})
}

// sendVerifyCode hands a code to the configured sender on its own
// goroutine (it may block on a mail server).
func (s *Server) sendVerifyCode(account, email, code string) {
	send := s.cfg.Accounts.SendCode
	go func() {
		if send == nil {
			s.log.Info("account verification code", "account", account, "email", email, "code", code)
			return
		}
		if err := send(account, email, code); err != nil {
			s.log.Error("cannot send verification code", "account", account, "err", err)
		}
	}()
}

// setPassword replaces an account's credentials (read, modify, one
// transaction with an audit entry) and runs then(err) on the loop as part
// of o.
func (s *Server) setPassword(o *op, folded, password string, then func(err error)) {
	c := o.c
	var (
		creds credentials
		err   error
	)
	o.offload(hashPool, func() { creds, err = s.makeCredentials(password) }, func() {
		if err != nil {
			then(err)
			return
		}
		entry := audit(c, "account.password", folded)
		s.updateAccount(o, folded, func(a *kv.Account, t *kv.Txn) error {
			a.PassHash, a.Scram = creds.passHash, creds.scram
			t.AppendAudit(entry)
			return nil
		}, func(_ kv.Account, err error) { then(err) })
	})
}

// updateAccount changes a stored account with kv's version precondition:
// when another change committed between the read and the commit (a
// SUSPEND while SET PASSWORD was hashing), the account is read again and
// change redone, so neither change is lost (kv.Store.UpdateAccount).
// change runs on a pool goroutine, possibly more than once, and must not
// block; then runs on the loop as part of o with the account as stored.
func (s *Server) updateAccount(o *op, folded string, change func(a *kv.Account, t *kv.Txn) error, then func(kv.Account, error)) {
	var (
		acct kv.Account
		err  error
	)
	o.offload(readPool, func() { acct, err = s.store.UpdateAccount(folded, change) }, func() { then(acct, err) })
}

// accountTagged returns line with c's account tag (account-tag: every
// command a logged-in user sends carries it), or nil when c is not logged
// in. line has no tags of its own.
func accountTagged(c *Client, line []byte) []byte { return accountTaggedID(c.Identity(), line) }

// accountTaggedID is accountTagged for an identity.
func accountTaggedID(id *Identity, line []byte) []byte {
	acct := id.Account
	if acct == "" || len(line) == 0 || line[0] == '@' {
		return nil
	}
	out := append([]byte("@account="), codec.AppendEscapedTag(nil, []byte(acct))...)
	out = append(out, ' ')
	return append(out, line...)
}
