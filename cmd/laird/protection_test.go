package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"laird/chat"
)

// Regression tests for issue 15 (abuse protection that cannot be turned
// against the server or its users), over real TCP.

// TestModeTogglesEchoNetChange: a MODE line full of toggles that cancel
// out ("+t-t" a hundred times) echoes nothing to the channel, and one that
// changes something echoes only the net change, once.
func TestModeTogglesEchoNetChange(t *testing.T) {
	ts := startTestServer(t, nil)
	op := ts.dial("op")
	op.register("op")
	op.send("JOIN #m")
	op.expect(` 366 op #m `)
	watcher := ts.dial("watcher")
	watcher.register("watcher")
	watcher.send("JOIN #m")
	watcher.expect(` 366 watcher #m `)
	op.expect(`:watcher!\S+ JOIN #m`)

	// The channel is +t: these end where they started.
	op.send("MODE #m %s", strings.Repeat("-t+t", 115))
	op.sync()
	watcher.sync()
	for _, c := range []*ircClient{op, watcher} {
		for _, l := range c.log {
			if strings.Contains(l, " MODE #m ") {
				t.Fatalf("%s: no-op toggles echoed: %.120q", c.name, l)
			}
		}
	}
	// These end in -t: one change, echoed once.
	op.send("MODE #m %s", strings.Repeat("+t-t", 115))
	op.expect(`^:op!\S+ MODE #m -t$`)
	watcher.expect(`^:op!\S+ MODE #m -t$`)

	op.send("MODE #m +t-t+m-m+m+i-i")
	op.expect(`^:op!\S+ MODE #m \+m$`)
	watcher.expect(`^:op!\S+ MODE #m \+m$`)
	op.send("MODE #m +k+k-k+k one two * three")
	op.expect(`^:op!\S+ MODE #m \+k three$`)
	op.send("MODE #m +o-o+v watcher watcher watcher")
	op.expect(`^:op!\S+ MODE #m \+v watcher$`)
	op.send("MODE #m +b-b+e x!*@* x!*@* y!*@*")
	op.expect(`^:op!\S+ MODE #m \+e y!\*@\*$`)
	op.send("MODE #m +k three") // a single change is echoed as before
	op.expect(`^:op!\S+ MODE #m \+k three$`)
	watcher.expectNone(` MODE #m \+k one`, 100*time.Millisecond)
}

// TestWrongServerPasswordCounts: wrong server passwords are failed logins:
// enough of them from one (non-exempt) address get it D-lined like wrong
// OPER or SASL passwords do.
func TestWrongServerPasswordCounts(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Server.Password = "letmein"
		c.Guard.Connections.Exempt = nil
		c.Guard.Detect.AuthFailIP.Threshold = 3
	})
	for i := 0; i < 3; i++ {
		c := dialFrom(t, ts, "guesser", "127.0.0.51")
		c.send("PASS guess%d", i)
		c.send("NICK guesser")
		c.send("USER g 0 * :g")
		c.expect(` 464 `)
		c.expectClosed()
	}
	refusedEventually(t, ts, "127.0.0.51", "banned")
	ok := dialFrom(t, ts, "ok", "127.0.0.52")
	ok.send("PASS letmein")
	ok.register("ok")
}

// TestExemptBlocksNotBannedByDetectors: with the default configuration
// (loopback exempt), a connection storm and a run of failed logins from
// 127.0.0.1 ban nobody: the client already connected from 127.0.0.2 stays,
// and 127.0.0.1 can still connect. Before issue 15 the storm D-lined all
// of 127.0.0.0/24 and cut the innocent client.
func TestExemptBlocksNotBannedByDetectors(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "right")}}
	})
	innocent := dialFrom(t, ts, "innocent", "127.0.0.2")
	innocent.register("innocent")
	for i := 0; i < 60; i++ {
		c := dialFrom(t, ts, "storm", "127.0.0.1")
		c.conn.Close()
	}
	gateway := dialFrom(t, ts, "gateway", "127.0.0.1")
	gateway.register("gateway")
	for i := 0; i < 25; i++ {
		gateway.send("OPER admin wrong%d", i)
		gateway.expect(` 464 gateway `)
	}
	gateway.sync()
	innocent.sync()
	if !registers(t, ts, "127.0.0.1", "again") || !registers(t, ts, "127.0.0.3", "neighbour") {
		t.Fatal("loopback refused after the storm and the failed logins")
	}
	innocent.expectNone(`^ERROR`, 200*time.Millisecond)
	innocent.sync()
}

// TestAutomaticDLineSparesExemptAddress: a detector configured to ban a
// whole /24 narrows its D-line so that it covers no exempt address: the
// exempt gateway inside the offender's /24 stays connected and can
// reconnect, while the offender is refused.
func TestAutomaticDLineSparesExemptAddress(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Guard.Connections.Exempt = []string{"127.0.5.7"}
		c.Guard.Detect.ConnStorm.PrefixV4 = 24
		c.Guard.Detect.ConnStorm.Threshold = 5
	})
	gateway := dialFrom(t, ts, "gateway", "127.0.5.7")
	gateway.register("gateway")
	for i := 0; i < 5; i++ {
		c := dialFrom(t, ts, "storm", "127.0.5.9")
		c.conn.Close()
	}
	refusedEventually(t, ts, "127.0.5.9", "banned")
	gateway.sync()
	if !registers(t, ts, "127.0.5.7", "gateway2") {
		t.Fatal("exempt address refused")
	}
}

// fastLogins makes the login throttle's delays short enough for tests.
func fastLogins(c *Config) {
	fastAccounts(c)
	c.Guard.Logins.Delay = 25 * time.Millisecond
	c.Guard.Logins.MaxDelay = 100 * time.Millisecond
}

// saslFrom connects from src, registers as nick, and tries a SASL PLAIN
// login, returning the 903/904 line.
func saslFrom(t *testing.T, ts *testServer, src, nick, account, password string) (*ircClient, string) {
	t.Helper()
	c := dialFrom(t, ts, nick, src)
	c.send("CAP REQ :sasl")
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	c.expect(`CAP \S+ ACK`)
	c.saslPlain(account, password)
	return c, c.expect(` 90[34] .*`)[0]
}

// TestLockoutCannotBeTurnedAgainstOwner: wrong passwords from many
// addresses (issue 15: ten from ten addresses locked the account for five
// minutes, escalating to an hour) only slow the account down: the owner,
// from an address without failures, logs in with SASL and IDENTIFY, and
// is told how many logins failed since the last one. The address that
// keeps guessing runs out of attempts on that account alone.
func TestLockoutCannotBeTurnedAgainstOwner(t *testing.T) {
	ts := startTestServer(t, fastLogins)
	ts.registerAccount("victim", "right-password").quit()

	for i := 0; i < 10; i++ {
		c, line := saslFrom(t, ts, fmt.Sprintf("127.0.0.%d", 11+i), fmt.Sprintf("guess%d", i), "victim", "wrong")
		if !strings.Contains(line, " 904 ") || !strings.Contains(line, "Invalid account name or password") {
			t.Fatalf("guess %d: %q", i, line)
		}
		c.conn.Close()
	}
	// The owner gets in, slowed (10 failures: past the threshold of 5,
	// the delay has reached its 100ms cap) but not refused, and hears of
	// the failures.
	start := time.Now()
	owner, line := saslFrom(t, ts, "127.0.0.2", "owner", "victim", "right-password")
	if !strings.Contains(line, " 903 ") {
		t.Fatalf("owner's SASL login refused: %q", line)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("account under attack not slowed: owner answered in %v", d)
	}
	owner.expect(`:NickServ!\S+ NOTICE \S+ :10 failed logins to victim since your last login$`)
	owner.send("CAP END")
	owner.expect(` 001 owner `)

	// One address keeps guessing: after 5 failures it is refused unchecked,
	// even with the right password.
	bot, _ := saslFrom(t, ts, "127.0.0.30", "bot", "victim", "wrong")
	for i := 0; i < 4; i++ {
		bot.saslPlain("victim", "wrong")
		bot.expect(` 904 .*Invalid account name or password`)
	}
	bot.saslPlain("victim", "right-password")
	bot.expect(` 904 .*Too many failed logins to victim from your address`)

	// IDENTIFY and GHOST with the password work too, and the count was
	// reset by the login.
	ghosted := ts.dial("ghosted")
	ghosted.register("victim2")
	waitFailedLogins(t, ts, "victim", 5)
	ident := dialFrom(t, ts, "ident", "127.0.0.3")
	ident.register("ident")
	ident.send("PRIVMSG NickServ :IDENTIFY victim right-password")
	ident.expect(`NOTICE ident :You are now identified as victim`)
	ident.expect(`NOTICE ident :5 failed logins to victim since your last login \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$`)
	ident.send("PRIVMSG NickServ :LOGOUT")
	ident.send("PRIVMSG NickServ :IDENTIFY victim right-password")
	ident.expect(`NOTICE ident :You are now identified as victim`)
	ident.expectNone(`failed logins`, 200*time.Millisecond)
	owner.send("PRIVMSG NickServ :GHOST victim2 wrong")
	owner.expect(`NOTICE owner :Nick victim2 is not registered`)
}

// TestGhostAndDropPasswordsThrottled: GHOST and DROP check the owner's
// password through the same throttle as logins.
func TestGhostAndDropPasswordsThrottled(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		fastLogins(c)
		c.Guard.Logins.PerAddress = 2
	})
	owner := ts.registerAccount("keeper", "right-password")
	squatter := dialFrom(t, ts, "squatter", "127.0.0.40")
	squatter.register("squatter")
	for i := 0; i < 2; i++ {
		squatter.send("PRIVMSG NickServ :GHOST keeper wrong%d", i)
		squatter.expect(`NOTICE squatter :Invalid password`)
	}
	squatter.send("PRIVMSG NickServ :GHOST keeper right-password")
	squatter.expect(`NOTICE squatter :Too many failed logins to keeper from your address`)
	// SCRAM goes through the same throttle (refused at the first step).
	squatter.send("CAP REQ :sasl")
	squatter.expect(`CAP \S+ ACK :sasl`)
	squatter.send("AUTHENTICATE SCRAM-SHA-256")
	squatter.expect(`^AUTHENTICATE \+$`)
	squatter.send("AUTHENTICATE %s", b64(newScramClient("keeper", "right-password").first()))
	squatter.expect(` 904 .*Too many failed logins to keeper from your address`)
	owner.sync()

	for i := 0; i < 2; i++ {
		owner.send("PRIVMSG NickServ :DROP wrong%d", i)
		owner.expect(`NOTICE keeper :Invalid password`)
	}
	owner.send("PRIVMSG NickServ :DROP right-password")
	owner.expect(`NOTICE keeper :Too many failed logins to keeper from your address`)
	// Another address still has its attempts.
	other := dialFrom(t, ts, "other", "127.0.0.41")
	other.register("other")
	other.send("PRIVMSG NickServ :GHOST keeper right-password")
	other.expect(`NOTICE other :keeper has been disconnected`)
}

// TestFailedLoginsReportedAfterRestart: the count of failed logins the
// owner hears of is stored with the account, so a restart in between
// does not hide an attack.
func TestFailedLoginsReportedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := func(c *Config) {
		fastLogins(c)
		c.Server.DataDir = dir
	}
	ts := startTestServer(t, cfg)
	ts.registerAccount("keeper", "right-password").quit()
	for i := 0; i < 3; i++ {
		c, line := saslFrom(t, ts, fmt.Sprintf("127.0.0.%d", 60+i), fmt.Sprintf("g%d", i), "keeper", "wrong")
		if !strings.Contains(line, " 904 ") {
			t.Fatalf("guess %d: %q", i, line)
		}
		c.conn.Close()
	}
	waitFailedLogins(t, ts, "keeper", 3)
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	if err := ts.in.stop(ctx); err != nil {
		t.Fatal(err)
	}
	ts = startTestServer(t, cfg)
	owner, line := saslFrom(t, ts, "127.0.0.2", "owner", "keeper", "right-password")
	if !strings.Contains(line, " 903 ") {
		t.Fatalf("owner's login: %q", line)
	}
	owner.expect(`NOTICE \S+ :3 failed logins to keeper since your last login$`)
	// The next login hears of none, and knows when the last one was.
	again, _ := saslFrom(t, ts, "127.0.0.3", "again", "keeper", "right-password")
	again.send("CAP END")
	again.expect(` 001 again `)
	again.expectNone(`failed login`, 200*time.Millisecond)
	bad, _ := saslFrom(t, ts, "127.0.0.4", "bad", "keeper", "wrong")
	bad.conn.Close()
	waitFailedLogins(t, ts, "keeper", 1)
	third, _ := saslFrom(t, ts, "127.0.0.5", "third", "keeper", "right-password")
	third.expect(`NOTICE \S+ :1 failed login to keeper since your last login \(\d{4}-`)
}

// waitFailedLogins waits until the account's stored count of failed
// logins is n (the outcome is recorded after the client was answered).
func waitFailedLogins(t *testing.T, ts *testServer, account string, n int) {
	t.Helper()
	eventually(t, 5*time.Second, "the failed logins to be recorded", func() (bool, string) {
		a, err := ts.in.store.Account(account)
		return err == nil && a.FailedLogins == n, fmt.Sprintf("%d recorded, err %v", a.FailedLogins, err)
	})
}
