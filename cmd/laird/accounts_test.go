package main

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Accounts over real TCP: REGISTER/VERIFY, SASL PLAIN and SCRAM-SHA-256,
// NickServ, account-notify / account-tag / extended-join, nick protection.

func TestRegisterBeforeConnect(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	c := ts.dial("alice")
	ls := c.capLS()
	for _, want := range []string{" draft/account-registration=before-connect", " sasl=PLAIN,SCRAM-SHA-256"} {
		if !strings.Contains(" "+ls, want) {
			t.Errorf("CAP LS lacks %q: %s", want, ls)
		}
	}
	c.send("REGISTER * * sesame11")
	c.expect(`^:laird\.local FAIL REGISTER NEED_NICK \* :`)
	c.send("NICK alice")
	c.send("REGISTER bob * sesame11")
	c.expect(`FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK bob :`)
	c.send("REGISTER * * abc")
	c.expect(`FAIL REGISTER WEAK_PASSWORD alice :`)
	c.send("REGISTER * not-an-email sesame11")
	c.expect(`FAIL REGISTER INVALID_EMAIL alice :`)
	c.send("REGISTER * alice@example.org sesame11")
	c.expect(`^:laird\.local REGISTER SUCCESS alice :`)
	c.expect(`^:laird\.local 900 alice alice!\*@127\.0\.0\.1 alice :You are now logged in as alice$`)
	c.send("REGISTER * * sesame11")
	c.expect(`FAIL REGISTER ALREADY_AUTHENTICATED alice :`)
	c.send("USER alice 0 * :Alice")
	c.send("CAP END")
	c.expect(` 001 alice `)
	c.send("WHOIS alice")
	c.expect(` 330 alice alice alice :is logged in as`)
	c.send("QUIT")
	c.expectClosed()

	// The account reserves the nick: nobody can register it again.
	d := ts.connect("alice")
	d.send("REGISTER * * other-password")
	d.expect(`FAIL REGISTER ACCOUNT_EXISTS alice :`)
	// And logging in with the password works (labeled, to check the label).
	d.send("CAP REQ :labeled-response batch")
	d.expect(`ACK`)
	d.send("@label=L1 NICKSERV IDENTIFY sesame11")
	d.expect(`^@label=L1 :laird\.local BATCH \+\S+ labeled-response$`)
	d.expect(`NOTICE alice :You are now identified as alice`)
	d.expect(` 900 alice `)

	// A nick held by someone online, not registered: a newcomer refused
	// that nick cannot register it out from under its holder.
	ts.connect("carol")
	e := ts.dial("e")
	e.send("NICK carol")
	e.expect(` 433 \* carol :`)
	e.send("REGISTER * * sesame11")
	e.expect(`FAIL REGISTER ACCOUNT_EXISTS carol :`)
	e.send("NICK erin")
	e.send("REGISTER * * sesame11")
	e.expect(`^:laird\.local REGISTER SUCCESS erin :`)
}

func TestRegisterNeedsStoreAndServerPassword(t *testing.T) {
	ts, _ := startCaptured(t, func(c *Config) { c.Server.Password = "letmein" })
	c := ts.dial("a")
	if ls := c.capLS(); !strings.Contains(" "+ls, " draft/account-registration") || strings.Contains(ls, "draft/account-registration=before-connect") {
		t.Errorf("account-registration not offered, or offered before-connect with a server password: %s", ls)
	}
	c.send("NICK alice")
	c.send("REGISTER * * sesame11")
	c.expect(`FAIL REGISTER COMPLETE_CONNECTION_REQUIRED alice :`)

	ts2, _ := startCaptured(t, func(c *Config) { c.Accounts.RegisterBeforeConnect = false })
	d := ts2.dial("d")
	if ls := d.capLS(); !strings.Contains(" "+ls+" ", " draft/account-registration ") {
		t.Errorf("account-registration not offered without its value: %s", ls)
	}
	d.send("NICK bar")
	d.send("REGISTER * * sesame11")
	d.expect(`FAIL REGISTER COMPLETE_CONNECTION_REQUIRED bar :`)
	d.send("VERIFY bar CODE")
	d.expect(`FAIL VERIFY COMPLETE_CONNECTION_REQUIRED bar :`)
	d.send("USER bar 0 * :B")
	d.send("CAP END")
	d.expect(` 001 bar `)
	d.send("REGISTER * * sesame11")
	d.expect(`REGISTER SUCCESS bar `)
}

func TestRegisterWithVerification(t *testing.T) {
	ts, logs := startCaptured(t, func(c *Config) { c.Accounts.RequireVerification = true })
	c := ts.dial("v")
	c.send("CAP LS 302")
	c.expect(`draft/account-registration=before-connect,email-required`)
	c.send("NICK val")
	c.send("USER val 0 * :Val")
	c.send("CAP END")
	c.expect(` 001 val `)
	c.send("REGISTER * * sesame11")
	c.expect(`FAIL REGISTER INVALID_EMAIL val :`)
	c.send("REGISTER * val@example.org sesame11")
	c.expect(`^:laird\.local REGISTER VERIFICATION_REQUIRED val :.*val@example\.org`)
	code := logs.find(t, `account verification code .*account=val .*code=(\S+)`)[1]

	// Not usable before verification.
	c.saslPlain("val", "sesame11")
	c.expect(` 904 val :SASL authentication failed: Account val is not verified`)
	c.send("VERIFY val WRONGCODE")
	c.expect(`FAIL VERIFY INVALID_CODE val :`)
	c.send("VERIFY val %s", strings.ToLower(code))
	c.expect(`^:laird\.local VERIFY SUCCESS val :`)
	c.expect(` 900 val \S+ val :`)
	c.send("VERIFY val %s", code)
	c.expect(`FAIL VERIFY ALREADY_AUTHENTICATED val :`)

	d := ts.dial("d")
	d.send("CAP REQ :sasl")
	d.saslPlain("val", "sesame11")
	d.expect(` 900 \* \S+ val :`)
	d.expect(` 903 \* :SASL authentication successful`)
}

func TestSASLPlain(t *testing.T) {
	ts, logs := startCaptured(t, nil)
	ts.registerAccount("jilles", "sesame11").quit()

	c := ts.dial("c")
	c.send("CAP LS 302")
	c.send("CAP REQ :sasl")
	c.expect(`CAP \* ACK :sasl`)
	c.saslPlain("jilles", "millet11")
	c.expect(`^:laird\.local 904 \* :SASL authentication failed: Invalid account name or password$`)
	logs.find(t, `failed login account=jilles ip=127\.0\.0\.1`)
	c.saslPlain("nobody", "millet11")
	c.expect(` 904 \* :`)
	c.send("AUTHENTICATE FOO")
	c.expect(`^:laird\.local 908 \* PLAIN,SCRAM-SHA-256,EXTERNAL :are available SASL mechanisms$`)
	c.expect(` 904 \* `)
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE *")
	c.expect(` 906 \* :SASL authentication aborted`)
	// authzid must match authcid.
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE %s", b64("other\x00jilles\x00sesame11"))
	c.expect(` 904 \* `)
	// Without authzid (RFC 4616), case-insensitive account name.
	c.send("NICK jj")
	c.saslPlain("JILLES", "sesame11")
	c.expect(`^:laird\.local 900 jj jj!\*@127\.0\.0\.1 jilles :You are now logged in as jilles$`)
	c.expect(`^:laird\.local 903 jj :SASL authentication successful$`)
	c.send("USER jj 0 * :JJ")
	c.send("CAP END")
	c.expect(` 001 jj `)
	c.send("WHOIS jj")
	c.expect(` 330 jj jj jilles :is logged in as`)

	// Registration waits for an exchange in progress; CAP END in the
	// middle of one aborts it (906) and registers without it.
	d := ts.dial("d")
	d.send("CAP REQ :sasl")
	d.send("NICK dd")
	d.send("USER dd 0 * :D")
	d.send("AUTHENTICATE PLAIN")
	d.expect(`^AUTHENTICATE \+$`)
	d.send("CAP END")
	d.expect(` 906 dd :SASL authentication aborted`)
	d.expect(` 001 dd `)
	d.send("WHOIS dd")
	d.expectNone(` 330 `, 300*time.Millisecond)

	// Re-authentication after registration is allowed.
	d.saslPlain("jilles", "sesame11")
	d.expect(` 900 dd \S+ jilles `)
	d.expect(` 903 dd `)
}

func TestSASLPlainLongPasswordChunked(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	pw := strings.Repeat("bar", 97) // base64 of "foo\0foo\0"+pw is exactly 400 bytes
	ts.registerAccount("foo", pw).quit()
	auth := b64("foo\x00foo\x00" + pw)
	if len(auth) != 400 {
		t.Fatalf("payload is %d bytes", len(auth))
	}
	c := ts.dial("c")
	c.send("CAP REQ :sasl")
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE %s", auth)
	c.send("AUTHENTICATE +")
	c.expect(` 900 \* \S+ foo `)
	c.expect(` 903 `)

	pw = strings.Repeat("bar", 100)
	ts.registerAccount("foo2", pw).quit()
	auth = b64("foo2\x00foo2\x00" + pw)
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE %s", auth[:400])
	c.send("AUTHENTICATE %s", auth[400:])
	c.expect(` 900 \* \S+ foo2 `)
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE %s", strings.Repeat("A", 401))
	c.expect(` 905 \* :SASL message too long`)

	// Well-framed chunks without end (irctest's testPlainInfiniteMessages):
	// the exchange fails with 904 once past any mechanism's need, and a new
	// one can start.
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
	for i := 0; i < 20; i++ {
		c.send("AUTHENTICATE %s", strings.Repeat("A", 400))
	}
	c.expect(` 904 \* :SASL authentication failed: SASL response too long`)
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
}

func TestSASLScram(t *testing.T) {
	ts, logs := startCaptured(t, nil)
	ts.registerAccount("Scramtest", "sesame11").quit()

	c := ts.dial("c")
	c.send("CAP REQ :sasl")
	sc, final := c.saslScram("Scramtest", "sesame11")
	m := regexp.MustCompile(`^AUTHENTICATE (\S+)$`).FindStringSubmatch(final)
	if m == nil {
		t.Fatalf("no server-final message: %q", final)
	}
	sf, _ := base64.StdEncoding.DecodeString(m[1])
	if !sc.verify(string(sf)) {
		t.Fatalf("server signature does not verify: %q", sf)
	}
	c.send("AUTHENTICATE +")
	c.expect(` 900 \* \S+ Scramtest :You are now logged in as Scramtest`)
	c.expect(` 903 \* `)

	d := ts.dial("d")
	d.send("CAP REQ :sasl")
	_, final = d.saslScram("Scramtest", "millet11")
	if !strings.Contains(final, " 904 ") {
		t.Fatalf("wrong password: got %q, want 904", final)
	}
	logs.find(t, `failed login account=scramtest`)
	// An unknown account looks the same to the client until the proof.
	_, final = d.saslScram("nobody", "millet11")
	if !strings.Contains(final, " 904 ") {
		t.Fatalf("unknown account: got %q, want 904", final)
	}
	// Malformed client-first.
	d.send("AUTHENTICATE SCRAM-SHA-256")
	d.expect(`^AUTHENTICATE \+$`)
	d.send("AUTHENTICATE %s", b64("p=tls-unique,,n=x,r=abc"))
	d.expect(` 904 \* `)
}

func TestNickServ(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	a := ts.connect("alice")
	a.send("PRIVMSG NickServ :HELP")
	a.expect(`^:NickServ!NickServ@laird\.local NOTICE alice :NickServ commands`)
	a.send("PRIVMSG NickServ :REGISTER abc")
	a.expect(`NOTICE alice :Registration failed: Passwords must be at least 5`)
	a.send("PRIVMSG NickServ :REGISTER sesame11 alice@example.org")
	a.expect(`NOTICE alice :Account alice registered; you are now logged in`)
	a.expect(` 900 alice \S+ alice `)
	a.send("NS INFO")
	a.expect(`NOTICE alice :Information on account alice:`)
	a.expect(`NOTICE alice :Nicks: alice`)
	a.expect(`NOTICE alice :Email: alice@example.org`)
	a.send("NS LOGOUT")
	a.expect(`NOTICE alice :You are now logged out`)
	a.expect(` 901 alice \S+ :You are now logged out`)
	a.send("NS IDENTIFY wrong-password")
	a.expect(`NOTICE alice :Invalid account name or password`)
	a.send("NS IDENTIFY alice sesame11")
	a.expect(`NOTICE alice :You are now identified as alice`)
	a.send("NS SET PASSWORD newer-secret")
	a.expect(`NOTICE alice :Password changed`)
	a.send("NS LOGOUT")
	a.expect(` 901 `)
	a.send("NS IDENTIFY sesame11")
	a.expect(`NOTICE alice :Invalid account name or password`)
	a.send("NICKSERV IDENTIFY newer-secret")
	a.expect(`NOTICE alice :You are now identified as alice`)
	// The SCRAM verifier changed with the password.
	sc := ts.dial("sc")
	sc.send("CAP REQ :sasl")
	if _, final := sc.saslScram("alice", "sesame11"); !strings.Contains(final, " 904 ") {
		t.Fatalf("SCRAM with the old password: %q", final)
	}
	if _, final := sc.saslScram("alice", "newer-secret"); strings.Contains(final, " 904 ") {
		t.Fatalf("SCRAM with the new password: %q", final)
	}
	sc.send("AUTHENTICATE +")
	sc.expect(` 903 `)

	// Others see no email; unknown accounts are named as such.
	b := ts.connect("bob")
	b.send("NS INFO alice")
	b.expect(`NOTICE bob :Information on account alice:`)
	b.expect(`NOTICE bob :Nicks: alice`)
	b.expectNone(`Email`, 200*time.Millisecond)
	b.send("NS INFO nobody")
	b.expect(`NOTICE bob :Account nobody is not registered`)
	b.send("NS FROB")
	b.expect(`NOTICE bob :Unknown command FROB`)
	b.send("NOTICE NickServ :IDENTIFY x")
	b.expectNone(`NickServ`, 200*time.Millisecond)

	// GHOST: alice (logged in) disconnects someone holding her nick.
	a.send("NICK alice_")
	a.expect(`NICK :?alice_`)
	e := ts.connect("alice")
	a.send("NS GHOST alice")
	a.expect(`NOTICE alice_ :alice has been disconnected`)
	e.expect(`^ERROR :Closing Link: .*Ghosted by alice_`)
	b.send("NS GHOST alice_ wrong-password")
	b.expect(`NOTICE bob :Nick alice_ is not registered`)
	// Without being logged in, with the account's password.
	e = ts.connect("alice")
	b.send("NS GHOST alice wrong-password")
	b.expect(`NOTICE bob :Invalid password`)
	b.send("NS GHOST alice newer-secret")
	b.expect(`NOTICE bob :alice has been disconnected`)
	e.expect(`^ERROR :Closing Link: .*Ghosted by bob`)

	// DROP needs the password; the account and its nick are gone after.
	a.send("NS DROP wrong-password")
	a.expect(`NOTICE alice_ :Invalid password`)
	a.send("NS DROP newer-secret")
	a.expect(`NOTICE alice_ :Account alice has been dropped`)
	a.expect(` 901 alice_ `)
	b.send("NS INFO alice")
	b.expect(`NOTICE bob :Account alice is not registered`)
	b.send("NICK alice")
	b.expect(`NICK :?alice`)
	b.send("REGISTER * * again-sesame")
	b.expect(`REGISTER SUCCESS alice `)
}

func TestAccountNotifyTagAndExtendedJoin(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	ts.registerAccount("alice", "sesame11").quit()
	ts.registerAccount("bob", "sesame22").quit()

	obs := ts.connect("obs", "account-notify", "account-tag", "extended-join")
	obs.send("JOIN #c")
	obs.expect(`JOIN #c`)

	a := ts.dial("alice")
	a.send("CAP REQ :sasl")
	a.saslPlain("alice", "sesame11")
	a.expect(` 903 `)
	a.send("CAP END")
	a.register("alice")
	a.send("JOIN #c")
	obs.expect(`^@account=alice :alice!alice@127\.0\.0\.1 JOIN #c alice :alice's realname$`)
	a.send("PRIVMSG #c :hello")
	obs.expect(`^@account=alice :alice!alice@127\.0\.0\.1 PRIVMSG #c :hello$`)

	b := ts.connect("bob")
	b.send("JOIN #c")
	obs.expect(`^:bob!bob@127\.0\.0\.1 JOIN #c \* :bob's realname$`)
	b.send("PRIVMSG #c :anon")
	obs.expect(`^:bob!bob@127\.0\.0\.1 PRIVMSG #c :anon$`)
	b.send("NS IDENTIFY sesame22")
	b.expect(`identified as bob`)
	obs.expect(`^:bob!bob@127\.0\.0\.1 ACCOUNT bob$`)
	b.send("PRIVMSG #c :named")
	obs.expect(`^@account=bob :bob!bob@127\.0\.0\.1 PRIVMSG #c :named$`)
	b.send("NS LOGOUT")
	// The ACCOUNT line is tagged with the account being left.
	obs.expect(`^@account=bob :bob!bob@127\.0\.0\.1 ACCOUNT \*$`)

	// Every command of a logged-in user carries the tag: private
	// messages, INVITE, NICK, AWAY, QUIT...
	a.send("PRIVMSG obs :private")
	obs.expect(`^@account=alice :alice!alice@127\.0\.0\.1 PRIVMSG obs :private$`)
	a.send("JOIN #inv")
	a.expect(` 366 alice #inv `)
	a.send("INVITE obs #inv")
	obs.expect(`^@account=alice :alice!alice@127\.0\.0\.1 INVITE obs :?#inv$`)
	a.send("NICK alice_")
	obs.expect(`^@account=alice :alice!alice@127\.0\.0\.1 NICK :?alice_$`)
	a.send("NICK alice")
	obs.expect(`^@account=alice :alice_!alice@127\.0\.0\.1 NICK :?alice$`)
	b.send("NICK bob_")
	obs.expect(`^:bob!bob@127\.0\.0\.1 NICK :?bob_$`)
	b.send("NICK bob")
	obs.expect(`NICK :?bob$`)

	// A member without the caps sees plain lines.
	plain := ts.connect("plain")
	plain.send("JOIN #c")
	plain.expect(`JOIN #c`)
	a.send("PRIVMSG #c :again")
	plain.expect(`^:alice!alice@127\.0\.0\.1 PRIVMSG #c :again$`)
	b.send("NS IDENTIFY sesame22")
	b.expect(`identified as bob`)
	plain.expectNone(`ACCOUNT`, 300*time.Millisecond)
	obs.send("WHO #c %%na")
	obs.expect(` 354 obs alice :?alice$`)
	a.send("QUIT :bye")
	obs.expect(`^@account=alice :alice!alice@127\.0\.0\.1 QUIT :Quit: bye$`)
}

func TestNickProtection(t *testing.T) {
	ts, _ := startCaptured(t, func(c *Config) { c.Accounts.NickGrace = duration{400 * time.Millisecond} })
	ts.registerAccount("alice", "sesame11").quit()

	eve := ts.connect("alice")
	eve.expect(`^:NickServ!NickServ@laird\.local NOTICE alice :This nickname is registered`)
	eve.expectWithin(`^:alice!alice@127\.0\.0\.1 NICK :?Guest\d{5}$`, 3*time.Second)

	// Identifying in time keeps the nick.
	al := ts.connect("alice")
	al.expect(`This nickname is registered`)
	al.send("NS IDENTIFY sesame11")
	al.expect(`identified as alice`)
	al.expectNone(` NICK `, time.Second)

	// Changing to a registered nick starts the clock again; leaving it
	// stops it.
	bob := ts.connect("bob")
	al.send("NICK alice2")
	al.expect(`NICK :?alice2`)
	bob.send("NICK alice")
	bob.expect(`NICK :?alice`)
	bob.expect(`This nickname is registered`)
	bob.send("NICK bob")
	bob.expect(`NICK :?bob`)
	bob.expectNone(`Guest`, time.Second)
}

func TestNickProtectionOff(t *testing.T) {
	ts, _ := startCaptured(t, func(c *Config) { c.Accounts.NickProtection = false })
	ts.registerAccount("alice", "sesame11").quit()
	eve := ts.connect("alice")
	eve.expectNone(`NickServ|NICK`, 500*time.Millisecond)
}
