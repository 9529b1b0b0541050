package main

import (
	"strings"
	"testing"
	"time"
)

// TestAlwaysOn: with always-on an account's user stays in its channels,
// with its modes, when its connection closes and across a restart; its
// next connection is put back in them.
func TestAlwaysOn(t *testing.T) {
	dir := t.TempDir()
	withDir := func(c *Config) {
		fastAccounts(c)
		c.Server.DataDir = dir
	}
	ts := startTestServer(t, withDir)
	ts.registerAccount("alice", "sesame11").quit()
	alice := ts.session("alice", "alice", "sesame11", "alice")
	alice.send("PERSISTENCE GET")
	alice.expect(`^:\S+ PERSISTENCE STATUS DEFAULT OFF$`)
	alice.send("PRIVMSG NickServ :SET ALWAYS-ON on")
	alice.expect(`NOTICE alice :Always-on is now on`)
	alice.send("PERSISTENCE GET")
	alice.expect(`^:\S+ PERSISTENCE STATUS ON ON$`)
	alice.send("JOIN #keep")
	alice.expect(` 366 alice #keep `)

	bob := ts.connect("bob")
	bob.send("JOIN #keep")
	bob.expect(` 353 bob = #keep :(@alice bob|bob @alice)$`)
	alice.send("QUIT :laptop closed")
	alice.expectClosed()
	bob.expectNone(`QUIT`, 200*time.Millisecond)
	bob.send("NAMES #keep")
	bob.expect(` 353 bob = #keep :(@alice bob|bob @alice)$`)
	bob.send("PRIVMSG alice :are you there?") // reaches nobody now, no error
	bob.expectNone(` 401 `, 200*time.Millisecond)

	back := ts.session("back", "alice", "sesame11", "alice")
	joined := false
	for _, l := range back.log {
		joined = joined || strings.Contains(l, "JOIN #keep")
	}
	if !joined {
		back.expect(`JOIN #keep`)
	}
	back.send("QUIT")
	back.expectClosed()
	bob.quit()

	// A restart keeps the always-on user where it was.
	ts.stop()
	ts2 := startTestServer(t, withDir)
	carol := ts2.connect("carol")
	carol.send("JOIN #keep")
	carol.expect(` 353 carol = #keep :(@alice carol|carol @alice)$`)
	again := ts2.session("again", "alice", "sesame11", "alice")
	again.expect(`^:alice!\S+ JOIN #keep`)

	// Turned off, the user leaves with its last connection.
	again.send("PERSISTENCE SET OFF")
	again.expect(`^:\S+ PERSISTENCE STATUS OFF OFF$`)
	again.send("QUIT :really gone")
	again.expectClosed()
	carol.expect(`^:alice!\S+ QUIT :Quit: really gone$`)
}
