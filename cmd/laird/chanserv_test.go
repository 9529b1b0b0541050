package main

import (
	"strings"
	"testing"
	"time"
)

// ChanServ: registration, access applied on join, persistence of a
// registered channel's state across a restart on the same data directory.

func TestChanServRegisterAccessAndRestart(t *testing.T) {
	dir := t.TempDir()
	ts, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })

	alice := ts.registerAccount("alice", "sesame11")
	bob := ts.registerAccount("bob", "sesame22")
	carol := ts.registerAccount("carol", "sesame33")

	alice.send("JOIN #reg")
	alice.expect(` 366 alice #reg `)
	bob.send("CS REGISTER #reg")
	bob.expect(`NOTICE bob :You must be in #reg to register it`)
	bob.send("JOIN #reg")
	bob.expect(` 366 bob #reg `)
	bob.send("CS REGISTER #reg")
	bob.expect(`NOTICE bob :You must be a channel operator of #reg to register it`)
	guest := ts.connect("guest")
	guest.send("CS REGISTER #reg")
	guest.expect(`NOTICE guest :You must be logged in to register a channel`)

	alice.send("PRIVMSG ChanServ :REGISTER #reg")
	alice.expect(`^:ChanServ!ChanServ@laird\.local NOTICE alice :#reg is now registered to alice$`)
	alice.send("CS REGISTER #reg")
	alice.expect(`NOTICE alice :#reg is already registered`)
	alice.send("CS INFO #reg")
	alice.expect(`NOTICE alice :Founder: alice`)

	// Persistent state, each acknowledged after it is saved.
	alice.send("TOPIC #reg :a durable topic")
	alice.expect(`TOPIC #reg :a durable topic`)
	bob.expect(`TOPIC #reg :a durable topic`)
	alice.send("MODE #reg +ik-t sekrit")
	alice.expect(`MODE #reg \+ik-t sekrit`)
	bob.expect(`MODE #reg \+ik-t sekrit`)
	alice.send("MODE #reg +lb 10 *!*@banned.example")
	alice.expect(`MODE #reg \+lb 10 \*!\*@banned\.example`)
	alice.send("MODE #reg +eI *!*@exempt.example *!*@invited.example")
	alice.expect(`MODE #reg \+eI`)
	// Member modes alone are not persistent and answer at once.
	alice.send("MODE #reg +v bob")
	alice.expect(`MODE #reg \+v bob`)

	// Access list: only the founder edits it.
	bob.send("CS ACCESS #reg ADD carol op")
	bob.expect(`NOTICE bob :Only the founder of #reg can change its access list`)
	alice.send("CS ACCESS #reg ADD nobody op")
	alice.expect(`NOTICE alice :No such account: nobody`)
	alice.send("CS ACCESS #reg ADD carol op")
	alice.expect(`NOTICE alice :carol now has op access on #reg`)
	alice.send("CS ACCESS #reg ADD bob voice")
	alice.expect(`NOTICE alice :bob now has voice access on #reg`)
	alice.send("CS ACCESS #reg LIST")
	alice.expect(`NOTICE alice :  alice founder`)
	alice.expect(`NOTICE alice :  bob voice`)
	alice.expect(`NOTICE alice :  carol op`)
	alice.expect(`NOTICE alice :End of access list`)
	guest.send("CS ACCESS #reg LIST")
	guest.expect(`NOTICE guest :You have no access to #reg`)
	alice.send("CS ACCESS #reg ADD guest voice")
	alice.expect(`NOTICE alice :No such account: guest`)
	alice.send("CS ACCESS #reg DEL alice")
	alice.expect(`NOTICE alice :The founder's access cannot be changed`)
	alice.send("CS ACCESS #reg ADD alice op")
	alice.expect(`NOTICE alice :The founder's access cannot be changed`)
	alice.send("CS ACCESS #reg DEL nobody")
	alice.expect(`NOTICE alice :nobody is not on the access list of #reg`)
	alice.send("CS ACCESS #reg ADD dave voice")
	alice.expect(`NOTICE alice :No such account: dave`)
	ts.registerAccount("dave", "sesame55").quit()
	alice.send("CS ACCESS #reg ADD dave voice")
	alice.expect(`NOTICE alice :dave now has voice access on #reg`)
	alice.send("CS ACCESS #reg DEL dave")
	alice.expect(`NOTICE alice :dave no longer has access on #reg`)

	// Access is applied on join, past +i and +k.
	carol.send("JOIN #reg")
	carol.expect(` 353 carol = #reg :.*@carol`)
	alice.expect(`^(@\S+ )?:ChanServ!ChanServ@laird\.local MODE #reg \+o carol$`)
	guest.send("JOIN #reg")
	guest.expect(` 475 guest #reg :Cannot join channel \(\+k\)`)

	ts.stop()

	// A new server on the same directory: the registration, its state
	// and its access list are back.
	ts2, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	a2 := ts2.connect("alice", "sasl")
	a2.send("JOIN #reg")
	a2.expect(` 475 alice #reg `) // not logged in: +k applies
	a2.saslPlain("alice", "sesame11")
	a2.expect(` 903 `)
	a2.send("JOIN #reg")
	a2.expect(` 332 alice #reg :a durable topic`)
	a2.expect(` 353 alice = #reg :@alice`)
	a2.send("MODE #reg")
	a2.expect(` 324 alice #reg \+inkl sekrit :?10$`)
	a2.send("MODE #reg b")
	a2.expect(` 367 alice #reg \*!\*@banned\.example alice!alice@127\.0\.0\.1 :?\d+`)
	a2.send("MODE #reg e")
	a2.expect(` 348 alice #reg \*!\*@exempt\.example `)
	a2.send("MODE #reg I")
	a2.expect(` 346 alice #reg \*!\*@invited\.example `)
	b2 := ts2.dial("bob")
	b2.send("CAP REQ :sasl")
	b2.saslPlain("bob", "sesame22")
	b2.expect(` 903 `)
	b2.send("CAP END")
	b2.register("bob")
	b2.send("JOIN #reg sekrit")
	b2.expect(` 473 bob #reg `) // voice access does not get past +i
	a2.send("INVITE bob #reg")
	a2.expect(` 341 alice bob :?#reg`)
	b2.send("JOIN #reg sekrit")
	b2.expect(` 353 bob = #reg :.*\+bob`)
	a2.expect(`ChanServ!ChanServ@laird\.local MODE #reg \+v bob`)

	// Changes after the restart persist too; the channel survives being
	// empty.
	a2.send("TOPIC #reg :second topic")
	a2.expect(`TOPIC #reg :second topic`)
	a2.send("PART #reg")
	b2.send("PART #reg")
	b2.expect(`PART #reg`)
	a2.sync()
	a2.send("JOIN #reg")
	a2.expect(` 332 alice #reg :second topic`)

	// DROP: founder only; the channel is ordinary afterwards.
	b2.send("CS DROP #reg")
	b2.expect(`NOTICE bob :Only the founder of #reg can drop it`)
	a2.send("CS DROP #reg")
	a2.expect(`NOTICE alice :#reg is no longer registered`)
	a2.send("CS INFO #reg")
	a2.expect(`NOTICE alice :#reg is not registered`)
	a2.send("TOPIC #reg :not saved")
	a2.expect(`TOPIC #reg :not saved`)
	ts2.stop()

	ts3, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	a3 := ts3.connect("alice")
	a3.send("JOIN #reg")
	a3.expect(` 353 alice = #reg :@alice`)
	a3.expectNone(` 332 `, 300*time.Millisecond)
}

// A client's commands pipelined behind a MODE on a registered channel are
// answered after it, though the MODE waits for a commit.
func TestRegisteredChannelOrder(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	a := ts.registerAccount("alice", "sesame11", "echo-message")
	a.send("JOIN #ord")
	a.expect(` 366 alice #ord `)
	a.send("CS REGISTER #ord")
	a.expect(`is now registered`)
	for i := 0; i < 5; i++ {
		a.sendRaw([]byte("MODE #ord +k key" + string(rune('0'+i)) + "\r\nPRIVMSG #ord :after" + string(rune('0'+i)) + "\r\nTOPIC #ord :topic" + string(rune('0'+i)) + "\r\nPING p" + string(rune('0'+i)) + "\r\n"))
	}
	for i := 0; i < 5; i++ {
		d := string(rune('0' + i))
		a.expect(`^:alice!alice@127\.0\.0\.1 MODE #ord \+k key` + d + `$`)
		a.expect(`^:alice!alice@127\.0\.0\.1 PRIVMSG #ord :after` + d + `$`)
		a.expect(`^:alice!alice@127\.0\.0\.1 TOPIC #ord :topic` + d + `$`)
		a.expect(`PONG \S+ :?p` + d + `$`)
	}
	// Nothing arrived out of order: every expected line was the next
	// relevant one (expect skips only unrelated lines).
	order := []string{}
	for _, l := range a.log {
		for _, k := range []string{"MODE #ord", "PRIVMSG #ord", "TOPIC #ord", "PONG"} {
			if strings.Contains(l, k) && !strings.Contains(l, " 332 ") {
				order = append(order, k)
			}
		}
	}
	want := []string{}
	for i := 0; i < 5; i++ {
		want = append(want, "MODE #ord", "PRIVMSG #ord", "TOPIC #ord", "PONG")
	}
	if len(order) < len(want) || !equalTail(order, want) {
		t.Fatalf("order %v, want it to end with %v", order, want)
	}
}

func equalTail(got, want []string) bool {
	got = got[len(got)-len(want):]
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
