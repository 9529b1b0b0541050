package main

import (
	"testing"
	"time"

	"laird/chat"
)

// CHGHOST: an operator changes a user's host; chghost clients sharing a
// channel (and the user, with the cap) get CHGHOST, others nothing; the
// new host is what everyone sees next.
func TestChghost(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "hunter2")}}
	})
	op := ts.connect("op")
	op.send("OPER admin hunter2")
	op.expect(` 381 op `)

	victim := ts.connect("victim", "chghost")
	watcher := ts.connect("watcher", "chghost")
	plain := ts.connect("plain")
	for _, c := range []*ircClient{victim, watcher, plain} {
		c.send("JOIN #vhost")
		c.expect(` 366 \S+ #vhost `)
	}

	// Not an operator; bad hosts; unknown nick: nothing changes.
	plain.send("CHGHOST victim evil.example")
	plain.expect(` 481 plain `)
	op.send("CHGHOST victim bad!host")
	op.expect(`^:laird\.local FAIL CHGHOST INVALID_HOST bad!host :`)
	op.send("CHGHOST victim :has space")
	op.expect(`^:laird\.local FAIL CHGHOST INVALID_HOST :?has space`)
	op.send("CHGHOST nobody some.host")
	op.expect(` 401 op nobody `)
	op.send("CHGHOST victim")
	op.expect(` 461 op CHGHOST `)
	watcher.expectNone(`CHGHOST`, 200*time.Millisecond)

	op.send("CHGHOST victim users/victim")
	op.expect(`NOTICE op :Changing the host of victim to users/victim`)
	victim.expect(`^:laird\.local 396 victim users/victim :is now your displayed host$`)
	victim.expect(`^:victim!victim@127\.0\.0\.1 CHGHOST victim users/victim$`)
	watcher.expect(`^:victim!victim@127\.0\.0\.1 CHGHOST victim users/victim$`)
	plain.expectNone(`CHGHOST`, 200*time.Millisecond)

	victim.send("PRIVMSG #vhost :hi")
	plain.expect(`^:victim!victim@users/victim PRIVMSG #vhost :hi$`)
	plain.send("WHOIS victim")
	plain.expect(` 311 plain victim victim users/victim \* `)
}
