package main

import (
	"strings"
	"testing"
	"time"
)

func TestRename(t *testing.T) {
	ts := startTestServer(t, nil)
	op := ts.connect("op", "draft/channel-rename")
	member := ts.connect("member", "draft/channel-rename")
	old := ts.connect("old") // no capability: the fallback
	for _, c := range []*ircClient{op, member, old} {
		c.send("JOIN #before")
		c.expect(` 366 \S+ #before `)
	}
	op.send("TOPIC #before :kept across")
	old.expect(`TOPIC #before :kept across`)
	op.send("MODE #before +k key")
	old.expect(`MODE #before \+k key`)
	op.send("JOIN #taken")
	op.expect(` 366 op #taken `)

	// Bad input: each refused, nothing renamed.
	member.send("RENAME #before #after")
	member.expect(` 482 member #before `)
	op.send("RENAME #before #taken")
	op.expect(`^:laird\.local FAIL RENAME CHANNEL_NAME_IN_USE #before #taken :`)
	op.send("RENAME #before &after")
	op.expect(`^:laird\.local FAIL RENAME CANNOT_RENAME #before &after :`)
	op.send("RENAME #before #bad,name")
	op.expect(`^:laird\.local FAIL RENAME CANNOT_RENAME #before #bad,name :`)
	op.send("RENAME #nowhere #after")
	op.expect(` 403 op #nowhere `)
	op.send("RENAME #before")
	op.expect(` 461 op RENAME `)
	member.expectNone(`RENAME`, 200*time.Millisecond)

	op.send("RENAME #before #after :tidier")
	op.expect(`^:op!op@127\.0\.0\.1 RENAME #before #after :tidier$`)
	member.expect(`^:op!op@127\.0\.0\.1 RENAME #before #after :tidier$`)
	old.expect(`^:old!old@127\.0\.0\.1 PART #before :tidier$`)
	old.expect(`^:old!old@127\.0\.0\.1 JOIN #after$`)
	old.expect(` 332 old #after :kept across$`)
	old.expect(` 366 old #after `)

	// Everything but the name stayed: membership, modes, operators.
	member.send("PRIVMSG #after :hello there")
	old.expect(`PRIVMSG #after :hello there`)
	member.send("MODE #after")
	member.expect(` 324 member #after \+\S*k\S* :?key$`)
	op.send("RENAME #after #again")
	op.expect(`^:laird\.local FAIL RENAME CANNOT_RENAME #after #again :.*recently`)
	// The old name is free.
	fresh := ts.connect("fresh")
	fresh.send("JOIN #before")
	fresh.expect(` 353 fresh = #before :@fresh$`)
	fresh.send("WHOIS member")
	fresh.expect(` 319 fresh member :#after$`)
}

func TestRenameCaseOnly(t *testing.T) {
	ts := startTestServer(t, nil)
	op := ts.connect("op", "draft/channel-rename")
	old := ts.connect("old")
	for _, c := range []*ircClient{op, old} {
		c.send("JOIN #case")
		c.expect(` 366 \S+ #case `)
	}
	op.send("RENAME #case #CASE")
	op.expect(`RENAME #case #CASE :$`)
	old.expectNone(`PART|JOIN|RENAME`, 200*time.Millisecond)
	old.send("NAMES #case")
	old.expect(` 353 old = #CASE `)
}

// A registered channel keeps its record, access list and history.
func TestRenameRegistered(t *testing.T) {
	dir := t.TempDir()
	ts, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	alice := ts.registerAccount("alice", "sesame11", "draft/channel-rename", "batch", "server-time", "draft/chathistory")
	bob := ts.registerAccount("bob", "sesame22")
	alice.send("JOIN #reg")
	alice.expect(` 366 alice #reg `)
	alice.send("CS REGISTER #reg")
	alice.expect(`#reg is now registered`)
	alice.send("CS ACCESS #reg ADD bob op")
	alice.expect(`NOTICE alice :`)
	alice.send("TOPIC #reg :registered topic")
	alice.expect(`TOPIC #reg :registered topic`)
	for i := 0; i < 3; i++ {
		alice.send("PRIVMSG #reg :history %d", i)
	}
	alice.send("RENAME #reg #newreg :moving")
	alice.expect(`RENAME #reg #newreg :moving$`)

	alice.send("CS INFO #newreg")
	alice.expect(`NOTICE alice :Founder: alice`)
	alice.send("CS INFO #reg")
	alice.expect(`NOTICE alice :#reg is not registered`)
	bob.send("JOIN #newreg")
	bob.expect(`MODE #newreg \+o bob`) // access kept
	// History follows (moved in the background).
	deadline := time.Now().Add(5 * time.Second)
	for {
		alice.send("CHATHISTORY LATEST #newreg * 10")
		alice.expect(`BATCH \+\S+ chathistory #newreg`)
		got := alice.expect(`BATCH -|history 2`)[0]
		if strings.Contains(got, "history 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("history did not follow the rename")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.stop()

	// And all of it survives a restart under the new name.
	ts2, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	c := ts2.connect("carol")
	c.send("JOIN #newreg")
	c.expect(` 332 carol #newreg :registered topic$`)
	c.send("CS INFO #newreg")
	c.expect(`NOTICE carol :Founder: alice`)
}
