package main

import (
	"strings"
	"testing"
	"time"

	"laird/chat"
)

// TestSuspension: an operator suspends an account; its session ends, it
// cannot log in, the suspension survives a restart, and UNSUSPEND lifts it.
func TestSuspension(t *testing.T) {
	dir := t.TempDir()
	hash := operHash(t, "pw")
	cfgFn := func(c *Config) {
		fastAccounts(c)
		c.Server.DataDir = dir
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: hash}}
	}
	ts := startTestServer(t, cfgFn)
	user := ts.registerAccount("mallory", "secret-pass")
	op := ts.connect("op")
	op.send("OPER admin pw")
	op.expect(` 381 op `)

	op.send("SUSPEND nosuch :x")
	op.expect(`FAIL SUSPEND ACCOUNT_DOES_NOT_EXIST nosuch`)
	op.send("SUSPEND mallory :spamming")
	op.expect(`NOTICE op :Account mallory is suspended: spamming`)
	user.expect(`^ERROR :Closing Link: .*Account suspended: spamming`)

	again := ts.connect("mal2", "sasl")
	again.saslPlain("mallory", "secret-pass")
	again.expect(` 904 mal2 :.*suspended`)

	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	if err := ts.in.stop(ctx); err != nil {
		t.Fatal(err)
	}
	ts2 := startTestServer(t, cfgFn)
	c := ts2.connect("mal3", "sasl")
	c.saslPlain("mallory", "secret-pass")
	c.expect(` 904 mal3 :.*suspended`)

	op2 := ts2.connect("op2")
	op2.send("OPER admin pw")
	op2.expect(` 381 `)
	op2.send("UNSUSPEND mallory")
	op2.expect(`NOTICE op2 :Account mallory is no longer suspended`)
	c.saslPlain("mallory", "secret-pass")
	c.expect(` 903 mal3 `)
	op2.send("AUDIT target=mallory")
	op2.expect(`AUDIT .* op2 account\.unsuspend mallory`)
}

// Account changes never undo each other: a SUSPEND that commits while a
// NickServ SET PASSWORD is still hashing survives the password change, and
// the password change is not lost either (version precondition, retried).
func TestSuspendDuringSetPassword(t *testing.T) {
	hash := operHash(t, "pw")
	ts := startTestServer(t, func(c *Config) {
		c.Accounts.BcryptCost = 10 // hashing takes long enough to race
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: hash}}
	})
	user := ts.registerAccount("mallory", "secret-pass")
	op := ts.connect("op")
	op.send("OPER admin pw")
	op.expect(` 381 op `)

	user.send("NS SET PASSWORD new-secret")
	time.Sleep(20 * time.Millisecond) // the new password is being hashed
	op.send("SUSPEND mallory :racing")
	op.expect(`NOTICE op :Account mallory is suspended: racing`)
	user.expect(`^ERROR :Closing Link: .*Account suspended: racing`)

	// Wait for the password change to commit (its audit entry), then
	// both changes are there: the new password is the one checked, and the
	// account is suspended.
	deadline := time.Now().Add(10 * time.Second)
	for {
		op.send("AUDIT target=mallory")
		line := op.expect(`^.*(account\.password mallory|AUDIT end: ).*$`)[0]
		if strings.Contains(line, "account.password") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the password change never committed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := ts.connect("probe", "sasl")
	c.saslPlain("mallory", "new-secret")
	c.expect(` 904 probe :.*suspended`)
	old := ts.connect("probe2", "sasl")
	old.saslPlain("mallory", "secret-pass")
	old.expect(` 904 probe2 :.*Invalid account name or password`)
}
