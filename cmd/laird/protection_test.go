package main

import (
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
