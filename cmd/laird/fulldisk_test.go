package main

import (
	"testing"
)

// A data directory that cannot take writes: registrations and changes of
// registered channels fail with a clear reply and a logged error, chat
// goes on, logins (reads) keep working, and nothing stored before is lost.

// setupStored registers alice and #reg with a topic, and returns alice.
func setupStored(ts *testServer) {
	a := ts.registerAccount("alice", "sesame11")
	a.send("JOIN #reg")
	a.expect(` 366 alice #reg `)
	a.send("CS REGISTER #reg")
	a.expect(`#reg is now registered to alice`)
	a.send("TOPIC #reg :before")
	a.expect(`TOPIC #reg :before`)
	a.quit()
}

// checkRefusesWrites asserts the clear failures and that chat and logins
// go on, on a server whose store refuses writes.
// found waits for a log line matching a regular expression.
func checkRefusesWrites(t *testing.T, ts *testServer, found func(re string), logged string) {
	t.Helper()
	b := ts.connect("bob")
	b.send("REGISTER * * sesame22")
	b.expect(`^:laird\.local FAIL REGISTER TEMPORARILY_UNAVAILABLE bob :`)
	found(`ERROR.*account registration not saved.*` + logged)
	b.send("NS REGISTER sesame22")
	b.expect(`NOTICE bob :Registration failed: `)

	// Reads still work: alice logs in and her channel is as stored.
	a := ts.connect("alice", "sasl")
	a.saslPlain("alice", "sesame11")
	a.expect(` 903 alice `)
	a.send("JOIN #reg")
	a.expect(` 332 alice #reg :before`)
	a.send("TOPIC #reg :during")
	a.expect(`^:laird\.local FAIL TOPIC TEMPORARILY_UNAVAILABLE #reg :Topic not saved`)
	found(`ERROR.*registered channel change not saved.*channel=#reg`)
	a.send("MODE #reg +m")
	a.expect(`FAIL MODE TEMPORARILY_UNAVAILABLE #reg :Channel modes not saved`)
	a.send("TOPIC #reg")
	a.expect(` 332 alice #reg :before`)
	a.send("MODE #reg")
	a.expect(` 324 alice #reg :?\+nt$`)

	// Chat goes on.
	b.send("JOIN #reg")
	b.expect(` 366 bob #reg `)
	b.send("PRIVMSG #reg :still talking")
	a.expect(`:bob!bob@127\.0\.0\.1 PRIVMSG #reg :still talking`)
	a.send("PRIVMSG bob :hi")
	b.expect(`:alice!alice@127\.0\.0\.1 PRIVMSG bob :hi`)
	a.send("CS REGISTER #other")
	a.expect(`NOTICE alice :You must be in #other`)
	b.send("JOIN #other")
	b.expect(` 366 bob #other `)
}

// checkIntact restarts normally and finds the earlier data, and writes
// work again.
func checkIntact(t *testing.T, ts *testServer) {
	t.Helper()
	a := ts.connect("alice", "sasl")
	a.saslPlain("alice", "sesame11")
	a.expect(` 903 alice `)
	a.send("JOIN #reg")
	a.expect(` 332 alice #reg :before`)
	a.send("TOPIC #reg :after")
	a.expect(`TOPIC #reg :after`)
	b := ts.connect("bob")
	b.send("REGISTER * * sesame22")
	b.expect(`REGISTER SUCCESS bob `)
}

func TestDiskBelowReserve(t *testing.T) {
	dir := t.TempDir()
	ts, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	setupStored(ts)
	ts.stop()

	// A reserve larger than any disk: every growing write is refused.
	full, logs := startCaptured(t, func(c *Config) {
		c.Server.DataDir = dir
		c.Store.DiskReserveMB = 1 << 40
	})
	checkRefusesWrites(t, full, func(re string) { logs.find(t, re) }, `disk space below reserve`)
	b := full.connect("carol")
	b.send("REGISTER * * sesame33")
	b.expect(`FAIL REGISTER TEMPORARILY_UNAVAILABLE carol :The server's storage is full; try again later`)
	full.stop()

	again, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	checkIntact(t, again)
}
