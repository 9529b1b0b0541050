package main

import (
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// session connects a SASL-logged-in connection asking for nick and
// waits for the end of its welcome burst, whatever nick it ends up with.
func (ts *testServer) session(name, account, password, nick string, caps ...string) *ircClient {
	ts.t.Helper()
	c := ts.dial(name)
	c.send("CAP LS 302")
	c.send("CAP REQ :%s", strings.Join(append([]string{"sasl"}, caps...), " "))
	c.expect(`CAP \S+ ACK`)
	c.saslPlain(account, password)
	c.expect(` 903 `)
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	c.send("CAP END")
	c.expect(` (376|422) `)
	return c
}

// TestMulticlient: two connections logged in to one account are one user:
// the second takes the first's nick and channels, both receive what
// reaches the user, what one sends the other sees, and the user leaves
// only with its last session.
func TestMulticlient(t *testing.T) {
	ts := startTestServer(t, fastAccounts)
	ts.registerAccount("tom", "sesame11").quit()
	obs := ts.connect("obs", "away-notify")
	obs.send("JOIN #room")
	obs.expect(` 366 obs #room `)

	a := ts.session("a", "tom", "sesame11", "tom")
	a.send("JOIN #room")
	a.expect(` 366 tom #room `)
	obs.expect(`^:tom!\S+ JOIN #room`)

	// The second session asks for another nick and becomes tom anyway,
	// in #room from the start.
	b := ts.session("b", "tom", "sesame11", "tomphone", "echo-message")
	if !strings.Contains(strings.Join(b.log, "\n"), " 001 tom ") {
		t.Fatalf("second session not welcomed as tom:\n%s", strings.Join(b.log, "\n"))
	}
	b.expect(`^:tom!\S+ JOIN #room`)
	b.expect(` 366 tom #room `)
	obs.sync()
	for _, l := range obs.log {
		if strings.Contains(l, "JOIN #room") && strings.Contains(l, "tomphone") {
			t.Fatalf("the observer saw a second user join: %s", l)
		}
	}

	// A message to the channel reaches both sessions; one from a session
	// reaches the observer once and the other session too.
	obs.send("PRIVMSG #room :hello tom")
	a.expect(`^:obs!\S+ PRIVMSG #room :hello tom$`)
	b.expect(`^:obs!\S+ PRIVMSG #room :hello tom$`)
	a.send("PRIVMSG #room :from a")
	obs.expect(`^:tom!\S+ PRIVMSG #room :from a$`)
	b.expect(`^:tom!\S+ PRIVMSG #room :from a$`)
	obs.expectNone(`PRIVMSG #room :from a`, 200*time.Millisecond)

	// Private messages to the nick reach every session; what one session
	// sends privately, the other sees.
	obs.send("PRIVMSG tom :psst")
	a.expect(`^:obs!\S+ PRIVMSG tom :psst$`)
	b.expect(`^:obs!\S+ PRIVMSG tom :psst$`)
	b.send("PRIVMSG obs :reply from b")
	obs.expect(`^:tom!\S+ PRIVMSG obs :reply from b$`)
	a.expect(`^:tom!\S+ PRIVMSG obs :reply from b$`)
	b.expect(`PRIVMSG obs :reply from b$`) // its own echo-message

	// Away: the user is away only when both sessions are.
	a.send("AWAY :at lunch")
	a.expect(` 306 tom `)
	obs.expectNone(`^:tom!\S+ AWAY`, 200*time.Millisecond)
	b.send("AWAY :phone away")
	b.expect(` 306 tom `)
	obs.expect(`^:tom!\S+ AWAY :phone away$`)
	a.send("AWAY")
	a.expect(` 305 tom `)
	obs.expect(`^:tom!\S+ AWAY$`)

	// A NICK change from one session renames the user on both.
	a.send("NICK thomas")
	a.expect(`^:tom!\S+ NICK :?thomas$`)
	b.expect(`^:tom!\S+ NICK :?thomas$`)
	obs.expect(`^:tom!\S+ NICK :?thomas$`)

	// One session leaving is not the user leaving.
	a.send("QUIT :bye a")
	a.expectClosed()
	obs.expectNone(`QUIT`, 300*time.Millisecond)
	obs.send("PRIVMSG #room :still there?")
	b.expect(`PRIVMSG #room :still there\?$`)
	b.send("QUIT :bye b")
	b.expectClosed()
	obs.expect(`^:thomas!\S+ QUIT :Quit: bye b$`)
}

// TestMulticlientLimit: past max_sessions a session is refused clearly,
// and without multiclient each connection is a user of its own.
func TestMulticlientLimit(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		fastAccounts(c)
		c.Accounts.MaxSessions = 2
	})
	ts.registerAccount("ann", "sesame11").quit()
	ts.session("s1", "ann", "sesame11", "ann")
	ts.session("s2", "ann", "sesame11", "ann")
	c := ts.dial("s3")
	c.send("CAP REQ :sasl")
	c.expect(`CAP \S+ ACK`)
	c.saslPlain("ann", "sesame11")
	c.expect(` 903 `)
	c.send("NICK ann")
	c.send("USER ann 0 * :ann")
	c.send("CAP END")
	c.expect(`^ERROR :Too many connections for account ann \(at most 2\)`)
	c.expectClosed()

	off := startTestServer(t, func(c *Config) {
		fastAccounts(c)
		c.Accounts.Multiclient = false
	})
	off.registerAccount("bob", "sesame11").quit()
	off.session("b1", "bob", "sesame11", "bob")
	b2 := off.dial("b2")
	b2.send("CAP REQ :sasl")
	b2.expect(`CAP \S+ ACK`)
	b2.saslPlain("bob", "sesame11")
	b2.expect(` 903 `)
	b2.send("NICK bob")
	b2.expect(` 433 \S+ bob `)
}

// TestMulticlientRaces: two sessions of one account act at once: one
// changes the nick while the other talks, both PART and JOIN, one goes
// away while the other sends. Every observer line is consistent (the
// user is in the channel at the end, it speaks under one nick at a time,
// nothing is lost) and nothing hangs.
func TestMulticlientRaces(t *testing.T) {
	ts := startTestServer(t, fastAccounts)
	ts.registerAccount("ray", "sesame11").quit()
	obs := ts.connect("watcher")
	obs.send("JOIN #race")
	obs.expect(` 366 watcher #race `)
	a := ts.session("a", "ray", "sesame11", "ray")
	b := ts.session("b", "ray", "sesame11", "ray")
	a.send("JOIN #race")
	a.expect(` 366 ray #race `)
	b.expect(`JOIN #race`)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			a.send("PRIVMSG #race :a%d", i)
			if i == 10 {
				a.send("NICK ray2")
			}
			a.send("AWAY :a-away-%d", i)
			a.send("AWAY")
		}
		a.send("PART #race")
		a.send("JOIN #race")
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			b.send("PRIVMSG #race :b%d", i)
			b.send("PART #race")
			b.send("JOIN #race")
		}
	}()
	wg.Wait()
	a.sync()
	b.sync()
	obs.sync()
	obs.send("NAMES #race")
	names := obs.expect(` 353 watcher = #race :(.*)$`)
	if !regexp.MustCompile(`\bray2?\b`).MatchString(names[1]) {
		t.Fatalf("the user is not in #race after the races: %q", names[1])
	}
	got := 0
	for _, l := range obs.log {
		if m := regexp.MustCompile(`PRIVMSG #race :[ab]\d+$`).FindString(l); m != "" {
			got++
		}
	}
	// Messages sent while the user was between a PART and a JOIN are
	// refused (+n); each that went out reached the observer once.
	if got == 0 || got > 40 {
		t.Fatalf("observer saw %d messages", got)
	}
}

// TestOwnerReclaimsNick: when the owner of an account logs in and asks
// for the account's nick, it gets it at once; whoever squatted it is
// renamed to a guest nick and told why.
func TestOwnerReclaimsNick(t *testing.T) {
	ts := startTestServer(t, fastAccounts)
	ts.registerAccount("kim", "sesame11").quit()
	squatter := ts.connect("kim")
	owner := ts.session("owner", "kim", "sesame11", "kim")
	if !strings.Contains(strings.Join(owner.log, "\n"), " 001 kim ") {
		t.Fatalf("the owner did not get its nick:\n%s", strings.Join(owner.log, "\n"))
	}
	squatter.expect(`^:NickServ!\S+ NOTICE kim :Your nick kim was reclaimed by its owner; your nick is now Guest\d+$`)
	squatter.expect(`^:kim!\S+ NICK :?Guest\d+$`)
	obs := ts.connect("obs2")
	obs.send("WHOIS kim")
	obs.expect(` 330 obs2 kim kim :is logged in as`)
}

// TestMessageToSelf: a message to one's own nick arrives as a message, and
// with echo-message a second time as the echo; a sibling session gets it
// once.
func TestMessageToSelf(t *testing.T) {
	ts := startTestServer(t, fastAccounts)
	ts.registerAccount("me", "sesame11").quit()
	a := ts.session("a", "me", "sesame11", "me", "echo-message")
	b := ts.session("b", "me", "sesame11", "me")
	a.send("PRIVMSG me :note to self")
	a.expect(`^:me!\S+ PRIVMSG me :note to self$`)
	a.expect(`^:me!\S+ PRIVMSG me :note to self$`)
	b.expect(`^:me!\S+ PRIVMSG me :note to self$`)
	b.expectNone(`note to self`, 200*time.Millisecond)
}
