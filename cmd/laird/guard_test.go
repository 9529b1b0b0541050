package main

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"laird/chat"
	"laird/guard"
	"laird/kv"
)

// dialFrom connects from a given loopback source address (127.0.0.x), so
// that one test can play several client addresses.
func dialFrom(t *testing.T, ts *testServer, name, src string) *ircClient {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return dialWith(t, ts.addr, name, d)
}

// refused asserts that a connection from src is answered with one ERROR
// line containing want and closed.
func refused(t *testing.T, ts *testServer, src, want string) {
	t.Helper()
	c := dialFrom(t, ts, "refused", src)
	line := c.expect(`^ERROR :.*`)[0]
	if !strings.Contains(line, want) {
		t.Fatalf("refusal %q does not mention %q", line, want)
	}
	c.expectClosed()
}

func noFloodExemption(c *Config) { c.Guard.Flood.Exempt = nil }

// noExemption subjects loopback test clients to the connection limits and
// the detectors' automatic bans, from which it is exempt by default.
func noExemption(c *Config) { c.Guard.Connections.Exempt = nil }

// TestFloodSlowedThenCut: a client flooding PRIVMSGs is first held back
// (fakelag) and then cut with "Excess Flood", while a well-behaved client
// on the same server keeps its round-trip time.
func TestFloodSlowedThenCut(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		noFloodExemption(c)
		c.Limits.RecvQ = 16 << 10
	})
	good := ts.dial("good")
	good.register("good")
	good.send("JOIN #f")
	good.expect(` 366 good #f `)
	bad := ts.dial("bad")
	bad.register("bad")
	bad.send("JOIN #f")
	bad.expect(` 366 bad #f `)

	// The flood: far more than the burst, in one go (but under recvq).
	var b strings.Builder
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "PRIVMSG #f :flood %d %s\r\n", i, strings.Repeat("x", 60))
	}
	bad.sendRaw([]byte(b.String()))

	// good keeps a fast round trip while bad is being handled.
	for i := 0; i < 5; i++ {
		start := time.Now()
		good.sync()
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("well-behaved client's round trip %v during the flood", d)
		}
	}
	// Only the burst got through at once: good did not see all 400.
	good.sync()
	seen := 0
	for _, l := range good.log {
		if strings.Contains(l, ":flood ") {
			seen++
		}
	}
	if seen >= 150 {
		t.Fatalf("flood was not slowed: %d of 150 relayed at once", seen)
	}
	// Keep flooding: the held-back input passes recvq and the client is cut.
	for i := 0; i < 400; i++ {
		if _, err := fmt.Fprintf(bad.conn, "PRIVMSG #f :more %d %s\r\n", i, strings.Repeat("y", 60)); err != nil {
			break
		}
	}
	bad.expect(`^ERROR :Excess Flood`)
	if !seenLine(good, `:bad!bad@127\.0\.0\.1 QUIT :Excess Flood`) {
		t.Fatal("channel did not see the flooder's QUIT")
	}
}

// seenLine reports whether c received a line matching re, earlier or
// within the expect timeout.
func seenLine(c *ircClient, re string) bool {
	rx := regexp.MustCompile(re)
	for _, l := range c.log {
		if rx.MatchString(l) {
			return true
		}
	}
	deadline := time.After(expectTimeout)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return false
			}
			c.log = append(c.log, l)
			if rx.MatchString(l) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// registers reports whether a new client from src gets 001, without
// failing the test on a refused connection.
func registers(t *testing.T, ts *testServer, src, nick string) bool {
	c := dialFrom(t, ts, nick, src)
	_, _ = fmt.Fprintf(c.conn, "NICK %s\r\nUSER u 0 * :u\r\n", nick)
	deadline := time.After(2 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return false
			}
			if strings.Contains(l, " 001 ") {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// TestFakelagDelaysNotDrops: commands over the burst are delayed, in order,
// and all answered.
func TestFakelagDelaysNotDrops(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		noFloodExemption(c)
		cls := guard.DefaultFloodClass()
		cls.Burst, cls.Rate = 5, 20
		c.Guard.Flood.Classes = map[string]guard.FloodClassConfig{"user": cls}
	})
	c := ts.dial("c")
	c.register("lagged")
	start := time.Now()
	for i := 0; i < 15; i++ {
		c.send("PING :n%d", i)
	}
	for i := 0; i < 15; i++ {
		c.expect(fmt.Sprintf(`PONG laird\.local :n%d$`, i))
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("15 PINGs over a burst of 5 at 20/s answered in %v: not delayed", d)
	}
}

// TestAuthFailuresDLine: 20 wrong passwords from one address lead to a
// temporary D-line and an audit entry; the address cannot reconnect until
// the ban expires.
func TestAuthFailuresDLine(t *testing.T) {
	dir := t.TempDir()
	ts := startTestServer(t, func(c *Config) {
		c.Server.DataDir = dir
		noExemption(c)
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "right")}}
		c.Guard.Detect.AuthFailIP.Durations = []time.Duration{3 * time.Second}
	})
	attacker := dialFrom(t, ts, "attacker", "127.0.0.7")
	attacker.register("attacker")
	for i := 0; i < 20; i++ {
		attacker.send("OPER admin wrong%d", i)
		if i < 19 {
			attacker.expect(` 464 attacker `)
		}
	}
	attacker.expect(`^ERROR :Closing Link: .*D-lined`)
	attacker.expectClosed()
	refused(t, ts, "127.0.0.7", "banned")

	// Other addresses are unaffected, and the audit trail has the story.
	op := dialFrom(t, ts, "op", "127.0.0.8")
	op.register("op")
	op.send("OPER admin right")
	op.expect(` 381 op `)
	op.send("AUDIT action=auto.dline")
	op.expect(`NOTICE op :AUDIT .* server auto\.dline 127\.0\.0\.7/32`)
	op.send("AUDIT action=oper.fail limit=5")
	op.expect(`NOTICE op :AUDIT .* attacker oper\.fail admin from 127\.0\.0\.7 :bad password`)

	// The ban expires.
	eventually(t, 10*time.Second, "the D-line to expire", func() (bool, string) {
		return registers(t, ts, "127.0.0.7", "again"), "still refused"
	})
}

// TestServerBans: KLINE and DLINE by an operator disconnect matching
// clients, refuse them afterwards, survive a restart, and can be removed.
func TestServerBans(t *testing.T) {
	dir := t.TempDir()
	hash := operHash(t, "pw")
	cfgFn := func(c *Config) {
		c.Server.DataDir = dir
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: hash}}
	}
	ts := startTestServer(t, cfgFn)
	op := dialFrom(t, ts, "op", "127.0.0.2")
	op.register("op")
	op.send("OPER admin pw")
	op.expect(` 381 op `)
	victim := dialFrom(t, ts, "victim", "127.0.0.3")
	victim.register("victim")

	op.send("KLINE 1h *@127.0.0.3 :spam")
	op.expect(`NOTICE op :Added KLINE \*@127\.0\.0\.3 \(for 1h0m0s\): spam`)
	victim.expect(`^ERROR :Closing Link: .*K-lined: spam`)
	again := dialFrom(t, ts, "again", "127.0.0.3")
	again.send("NICK again")
	again.send("USER a 0 * :a")
	again.expect(` 465 again :You are banned from this server: K-lined: spam`)

	op.send("DLINE 127.0.0.4 :abuse")
	op.expect(`NOTICE op :Added DLINE 127\.0\.0\.4 \(permanent\): abuse`)
	refused(t, ts, "127.0.0.4", "D-lined: abuse")
	op.send("DLINE 0.0.0.0/0 :everyone")
	op.expect(`FAIL DLINE INVALID_MASK 0\.0\.0\.0/0 :`)
	op.send("STATS k")
	op.expect(` 216 op K \*@127\.0\.0\.3 .* :spam`)
	op.send("STATS d")
	op.expect(` 225 op D 127\.0\.0\.4(/32)? .* :abuse`)

	// Restart on the same data directory: both bans are still there.
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	if err := ts.in.stop(ctx); err != nil {
		t.Fatal(err)
	}
	ts2 := startTestServer(t, cfgFn)
	refused(t, ts2, "127.0.0.4", "D-lined: abuse")
	k := dialFrom(t, ts2, "k", "127.0.0.3")
	k.send("NICK k")
	k.send("USER k 0 * :k")
	k.expect(` 465 k `)

	op2 := dialFrom(t, ts2, "op2", "127.0.0.2")
	op2.register("op2")
	op2.send("OPER admin pw")
	op2.expect(` 381 `)
	op2.send("UNDLINE 127.0.0.4")
	op2.expect(`NOTICE op2 :Removed DLINE 127\.0\.0\.4`)
	op2.send("UNKLINE *@127.0.0.3")
	op2.expect(`NOTICE op2 :Removed KLINE`)
	ok := dialFrom(t, ts2, "ok", "127.0.0.4")
	ok.register("freed")
	op2.send("UNKLINE *@nowhere")
	op2.expect(`FAIL UNKLINE NO_SUCH_BAN`)
	ctx2, cancel2 := contextWithTimeout(10 * time.Second)
	defer cancel2()
	if err := ts2.in.stop(ctx2); err != nil {
		t.Fatal(err)
	}
	st, err := kv.Open(kv.Options{Dir: dir, DiskReserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bans, _ := st.Bans()
	if len(bans) != 0 {
		t.Fatalf("bans left in the store after removal: %+v", bans)
	}
	audit, _ := st.Audit(kv.AuditQuery{Action: "kline.add"})
	if len(audit) != 1 || audit[0].Target != "*@127.0.0.3" {
		t.Fatalf("audit of kline.add: %+v", audit)
	}
}

// TestConnectionLimits: a per-address connection limit and a throttle,
// with loopback not exempt.
func TestConnectionLimits(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Guard.Connections.Exempt = nil
		c.Guard.Connections.MaxPerIP = 3
		c.Guard.Connections.ThrottleCount = 100
	})
	var held []*ircClient
	for i := 0; i < 3; i++ {
		c := dialFrom(t, ts, fmt.Sprintf("c%d", i), "127.0.0.5")
		c.register(fmt.Sprintf("held%d", i))
		held = append(held, c)
	}
	refused(t, ts, "127.0.0.5", "Too many connections")
	other := dialFrom(t, ts, "other", "127.0.0.6")
	other.register("other")
	held[0].send("QUIT")
	held[0].expectClosed()
	eventually(t, 5*time.Second, "a slot to free up", func() (bool, string) {
		return registers(t, ts, "127.0.0.5", "next"), "still refused"
	})
}

func TestConnectionThrottle(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Guard.Connections.Exempt = nil
		c.Guard.Connections.ThrottleCount = 3
		c.Guard.Connections.ThrottleWindow = time.Minute
	})
	for i := 0; i < 3; i++ {
		c := dialFrom(t, ts, "c", "127.0.0.9")
		c.register(fmt.Sprintf("t%d", i))
		c.send("QUIT")
		c.expectClosed()
	}
	refused(t, ts, "127.0.0.9", "throttled")
}

// TestInviteQuota: invitations per hour are limited.
func TestInviteQuota(t *testing.T) {
	ts := startTestServer(t, func(c *Config) { c.Guard.Quotas.Invites.Limit = 2 })
	a := ts.dial("a")
	a.register("inviter")
	b := ts.dial("b")
	b.register("invitee")
	a.send("JOIN #q")
	a.expect(` 366 `)
	for i := 0; i < 2; i++ {
		a.send("INVITE invitee #q")
		a.expect(` 341 inviter invitee :?#q`)
	}
	a.send("INVITE invitee #q")
	a.expect(`FAIL INVITE RATE_LIMITED :`)
}

// TestRegistrationQuota: account registrations per address per hour.
func TestRegistrationQuota(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		fastAccounts(c)
		c.Guard.Quotas.Registrations.Limit = 2
	})
	ts.registerAccount("first", "password-1")
	ts.registerAccount("second", "password-2")
	c := ts.connect("third")
	c.send("REGISTER * * password-3")
	c.expect(`FAIL REGISTER TEMPORARILY_UNAVAILABLE \S+ :Too many account registrations`)
}

// TestConnectionStormDetector: many connection attempts from one network
// within the window lead to a temporary D-line of that network (a /24 when
// configured so; the default is the connection limiter's /32).
func TestConnectionStormDetector(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		noExemption(c)
		c.Guard.Detect.ConnStorm.PrefixV4 = 24
		c.Guard.Detect.ConnStorm.Threshold = 5
		c.Guard.Detect.ConnStorm.Window = time.Minute
	})
	for i := 0; i < 4; i++ {
		c := dialFrom(t, ts, "storm", "127.0.0.20")
		c.conn.Close()
	}
	refusedEventually(t, ts, "127.0.0.21", "banned") // same /24
	other := dialFrom(t, ts, "other", "127.0.1.1")   // another /24
	other.register("other")
}

// TestRegistrationTimeoutDetector: addresses that repeatedly connect and
// never register are D-lined.
func TestRegistrationTimeoutDetector(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		noExemption(c)
		c.Limits.RegistrationTimeout = duration{200 * time.Millisecond}
		c.Guard.Detect.RegTimeout.Threshold = 2
	})
	for i := 0; i < 2; i++ {
		c := dialFrom(t, ts, "idle", "127.0.0.30")
		c.expect(`^ERROR :Registration timed out`)
	}
	refusedEventually(t, ts, "127.0.0.30", "banned")
}

// TestFloodDisconnectDetector: an address cut for flooding again and again
// is D-lined.
func TestFloodDisconnectDetector(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		noFloodExemption(c)
		noExemption(c)
		c.Limits.RecvQ = 4 << 10
		c.Guard.Detect.FloodDisconnect.Threshold = 1
	})
	c := dialFrom(t, ts, "flooder", "127.0.0.40")
	c.register("flooder")
	junk := strings.Repeat("PRIVMSG flooder :"+strings.Repeat("z", 80)+"\r\n", 200)
	_, _ = c.conn.Write([]byte(junk))
	c.expect(`^ERROR :.*Excess Flood`)
	refusedEventually(t, ts, "127.0.0.40", "banned")
}

// refusedEventually waits until connections from src are refused.
func refusedEventually(t *testing.T, ts *testServer, src, want string) {
	t.Helper()
	eventually(t, 5*time.Second, "connections from "+src+" to be refused", func() (bool, string) {
		c := dialFrom(t, ts, "probe", src)
		select {
		case l, ok := <-c.lines:
			return ok && strings.HasPrefix(l, "ERROR :") && strings.Contains(l, want), l
		case <-time.After(time.Second):
			return false, "no reply"
		}
	})
}
