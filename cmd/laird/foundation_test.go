package main

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWelcomeBurst(t *testing.T) {
	ts := startTestServer(t, nil)
	c := ts.dial("a")
	if ls := c.capLS(); !strings.Contains(" "+ls+" ", " message-tags ") {
		t.Fatalf("CAP LS lacks message-tags: %s", ls)
	}
	c.send("NICK alice")
	c.send("USER alice 0 * :Alice Example")
	c.send("CAP REQ :server-time message-tags")
	c.expect(`CAP alice ACK :server-time message-tags`)
	c.send("CAP END")
	c.expect(`^:laird\.local 001 alice :Welcome to the laird IRC Network alice!alice@127\.0\.0\.1$`)
	c.expect(`^:laird\.local 002 alice `)
	c.expect(`^:laird\.local 003 alice `)
	c.expect(`^:laird\.local 004 alice laird\.local \S+ \S+ \S+`)
	c.expect(`^:laird\.local 005 alice (.*) :are supported by this server$`)
	c.sync()
	var isupport []string
	for _, l := range c.log {
		if strings.Contains(l, " 005 alice ") {
			isupport = append(isupport, strings.Fields(l)[3:]...)
		}
	}
	all := " " + strings.Join(isupport, " ") + " "
	for _, tok := range []string{"CASEMAPPING=rfc1459", "CHANTYPES=#&", "CHANMODES=beI,k,l,CZimnst", "PREFIX=(ov)@+",
		"NICKLEN=30", "CHANNELLEN=64", "TOPICLEN=390", "MODES=4", "TARGMAX=", "LINELEN=512", "UTF8ONLY", "NETWORK=laird"} {
		if !strings.Contains(all, " "+tok) {
			t.Errorf("ISUPPORT lacks %s: %s", tok, all)
		}
	}
	c.send("LUSERS")
	c.expect(` 251 alice :There are 1 users`)
	c.expect(` 252 alice 0 `)
	c.expect(` 253 alice 0 `)
	c.expect(` 254 alice 0 `)
	c.expect(` 255 alice `)
	c.expect(` 265 alice 1 1 `)
	c.expect(` 266 alice 1 1 `)
	c.send("MOTD")
	c.expect(` 422 alice :MOTD File is missing`)
	c.send("PING :are you there")
	c.expect(`^:laird\.local PONG laird\.local :are you there$`)
	c.send("QUIT :done here")
	c.expect(`^ERROR :Closing Link: 127\.0\.0\.1 \(Quit: done here\)$`)
	c.expectClosed()
}

func TestMOTDAndPassword(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Server.MOTD = []string{"first line", "second line"}
		c.Server.Password = "sesame"
	})
	bad := ts.dial("bad")
	bad.send("PASS wrong")
	bad.send("NICK bad")
	bad.send("USER bad 0 * :x")
	bad.expect(` 464 bad :Password incorrect`)
	bad.expect(`^ERROR :Bad password`)
	bad.expectClosed()

	good := ts.dial("good")
	good.send("PASS sesame")
	good.send("NICK good")
	good.send("USER good 0 * :x")
	good.expect(` 375 good :- laird\.local Message of the day`)
	good.expect(` 372 good :- first line`)
	good.expect(` 372 good :- second line`)
	good.expect(` 376 good :End of /MOTD command\.`)
}

func TestRegistrationErrors(t *testing.T) {
	ts := startTestServer(t, nil)
	a := ts.dial("a")
	a.send("JOIN #x")
	a.expect(` 451 \* :You have not registered`)
	a.send("NICK")
	a.expect(` 431 \* :No nickname given`)
	a.send("NICK 1bad")
	a.expect(` 432 \* 1bad :Erroneous nickname`)
	a.send("USER onlyone")
	a.expect(` 461 \* USER :Not enough parameters`)
	a.register("taken")
	a.send("USER again 0 * :x")
	a.expect(` 462 taken :You may not reregister`)
	a.send("FROBNICATE now")
	a.expect(` 421 taken FROBNICATE :Unknown command`)

	b := ts.dial("b")
	b.send("NICK TAKEN") // rfc1459 casemapping: same nick
	b.expect(` 433 \* TAKEN :Nickname is already in use`)
	b.send("NICK taken[]")
	b.send("USER b 0 * :b")
	b.expect(` 001 taken\[\] `)
	c := ts.dial("c")
	c.send("NICK TAKEN{}") // folds to taken{} == taken[]
	c.expect(` 433 \* TAKEN\{\} `)
}

func TestPartialAndBatchedLines(t *testing.T) {
	ts := startTestServer(t, nil)
	c := ts.dial("c")
	c.register("split")
	// One command split across three TCP writes.
	c.sendRaw([]byte("PI"))
	time.Sleep(50 * time.Millisecond)
	c.sendRaw([]byte("NG :par"))
	time.Sleep(50 * time.Millisecond)
	c.sendRaw([]byte("tial\r\n"))
	c.expect(`PONG laird\.local :partial$`)

	// Fifty commands in one write: all answered without more input.
	var b strings.Builder
	for i := 0; i < 50; i++ {
		b.WriteString("PING :n")
		b.WriteString(strings.Repeat("x", i%3))
		b.WriteString("\r\n")
	}
	c.sendRaw([]byte(b.String()))
	for i := 0; i < 50; i++ {
		c.expectWithin(`PONG laird\.local :nx{0,2}$`, 2*time.Second)
	}
	// LF-only terminators are accepted too.
	c.sendRaw([]byte("PING :lf\n"))
	c.expect(`PONG laird\.local :lf$`)
}

func TestLongLines(t *testing.T) {
	ts := startTestServer(t, nil)
	c := ts.dial("c")
	c.register("long")
	c.send("PRIVMSG long :%s", strings.Repeat("x", 600))
	c.expect(` 417 long :Input line was too long`)
	// A 10 KB line without a newline for a while, then its end.
	c.sendRaw([]byte("PRIVMSG long :" + strings.Repeat("y", 10*1024)))
	time.Sleep(50 * time.Millisecond)
	c.sendRaw([]byte(strings.Repeat("z", 2048) + "\r\n"))
	c.expect(` 417 long :Input line was too long`)
	// The connection is still usable.
	c.send("PING :still here")
	c.expect(`PONG laird\.local :still here`)
}

func TestInvalidUTF8(t *testing.T) {
	ts := startTestServer(t, nil)
	a := ts.dial("a")
	a.register("a")
	b := ts.dial("b")
	b.register("b")
	a.sendRaw([]byte("PRIVMSG b :bad \xff\xfe bytes\r\n"))
	a.expect(`^:laird\.local FAIL PRIVMSG INVALID_UTF8 :`)
	a.send("PRIVMSG b :good ünïcode")
	b.expect(`^:a!a@127\.0\.0\.1 PRIVMSG b :good ünïcode$`)
	b.sync()
	for _, l := range b.log {
		if strings.Contains(l, "bad") {
			t.Fatalf("invalid UTF-8 was relayed: %q", l)
		}
	}
}

func TestMalformedLines(t *testing.T) {
	ts := startTestServer(t, nil)
	c := ts.dial("c")
	c.register("m")
	c.sendRaw([]byte("PRIVMSG m :nul\x00inside\r\n"))
	c.expect(`FAIL \* INVALID_MESSAGE :`)
	c.sendRaw([]byte("\r\n\r\n   \r\n"))
	c.sendRaw([]byte(":onlysource\r\n"))
	c.expect(`FAIL \* INVALID_MESSAGE :`)
	c.sync()
}

// TestSlowConsumer: a client that never reads is cut at its sendq, and a
// second client on the same channel keeps working.
func TestSlowConsumer(t *testing.T) {
	ts := startTestServer(t, func(c *Config) { c.Limits.SendQ = 64 << 10 })
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	slow := dialWith(t, ts.addr, "slow", small)
	slow.register("slow")
	slow.send("JOIN #flood")
	slow.expect(` 366 slow #flood `)

	fast := ts.dial("fast")
	fast.register("fast")
	fast.send("JOIN #flood")
	fast.expect(` 366 fast #flood `)
	fast.sync()

	// slow stops reading: drain nothing more from it.
	text := strings.Repeat("f", 400)
	deadline := time.Now().Add(20 * time.Second)
	cut := false
	for i := 0; time.Now().Before(deadline) && !cut; i++ {
		fast.send("PRIVMSG #flood :%d %s", i, text)
		if i%50 == 49 {
			fast.sync()
			// fast sees slow's QUIT once the server cut it.
			for _, l := range fast.log {
				if strings.Contains(l, "QUIT :SendQ exceeded") {
					cut = true
				}
			}
		}
	}
	if !cut {
		t.Fatal("slow consumer was never disconnected")
	}
	// The fast client is unaffected.
	start := time.Now()
	fast.sync()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("fast client round trip %v after the flood", d)
	}
}

func TestRegistrationTimeout(t *testing.T) {
	ts := startTestServer(t, func(c *Config) { c.Limits.RegistrationTimeout = duration{500 * time.Millisecond} })
	c := ts.dial("idle")
	c.send("NICK idle")
	c.expect(`^ERROR :Registration timed out`)
	c.expectClosed()
}

func TestPingTimeout(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Limits.PingInterval = duration{500 * time.Millisecond}
		c.Limits.PingTimeout = duration{500 * time.Millisecond}
	})
	ok := ts.dial("ok")
	ok.register("answers")
	silent := ts.dial("silent")
	silent.register("silent")
	silent.expect(`^PING :laird\.local$`)
	// ok answers its PINGs and stays.
	ok.expect(`^PING :laird\.local$`)
	ok.send("PONG :laird.local")
	silent.expect(`^ERROR :Ping timeout: \d+ seconds$`)
	silent.expectClosed()
	ok.sync()
}

func TestGracefulShutdown(t *testing.T) {
	ts := startTestServer(t, nil)
	c := ts.dial("c")
	c.register("bye")
	go func() {
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		_ = ts.in.stop(ctx)
	}()
	c.expect(`^ERROR :Server shutting down$`)
	c.expectClosed()
}
