package main

import "testing"

// TestEmptyRegisteredChannelQueries: a registered channel nobody is in
// still answers MODE and TOPIC queries from its stored state, and changes
// need a member as before.
func TestEmptyRegisteredChannelQueries(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	alice := ts.registerAccount("alice", "sesame11")
	alice.send("JOIN #kept")
	alice.expect(` 366 alice #kept `)
	alice.send("CS REGISTER #kept")
	alice.expect(`#kept is now registered to alice`)
	alice.send("TOPIC #kept :stays")
	alice.expect(`TOPIC #kept :stays`)
	alice.send("MODE #kept +l 5")
	alice.expect(`MODE #kept \+l 5`)
	alice.send("MODE #kept +b *!*@bad.example")
	alice.expect(`MODE #kept \+b`)
	alice.send("PART #kept")
	alice.expect(`PART #kept`)

	other := ts.connect("other")
	other.send("MODE #kept")
	other.expect(` 324 other #kept \+ntl :?5`)
	other.send("TOPIC #kept")
	other.expect(` 332 other #kept :stays`)
	other.send("MODE #kept +b")
	other.expect(` 367 other #kept \*!\*@bad\.example `)
	other.send("MODE #kept +m")
	other.expect(` 403 other #kept `)
	other.send("MODE #nothere")
	other.expect(` 403 other #nothere `)
}
