package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"laird/kv"
)

// Invitations over TCP (issue 14): stored per account, listed, accepted,
// declined, revoked, expired, across restarts.

// noInviteList asserts that INVITE lists nothing for c.
func noInviteList(t *testing.T, c *ircClient, nick string) {
	t.Helper()
	c.send("INVITE")
	c.expectMatch(func(l string) bool {
		if strings.Contains(l, " 336 ") {
			t.Fatalf("%s: unexpected invitation: %s", c.name, l)
		}
		return strings.Contains(l, " 337 "+nick+" ")
	}, "337")
}

// TestInviteNickTakeoverOverTCP is the regression test of issue 14 over
// TCP: alice is invited while logged in and leaves; whoever connects as
// alice next neither sees nor uses her invitation; alice, logged in under
// another nick, is told of it and joins.
func TestInviteNickTakeoverOverTCP(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		fastAccounts(c)
		c.Accounts.NickProtection = false
	})
	bob := ts.registerAccount("bob", "sesame22")
	bob.send("JOIN #secret")
	bob.expect(` 366 bob #secret `)
	bob.send("MODE #secret +i")
	bob.expect(`MODE #secret \+i`)
	alice := ts.registerAccount("alice", "sesame11")
	bob.send("INVITE alice #secret")
	bob.expect(` 341 bob alice :?#secret$`)
	alice.expect(`^(@\S+ )?:bob!\S+ INVITE alice :?#secret$`)
	alice.quit()

	mallory := ts.connect("alice")
	noInviteList(t, mallory, "alice")
	mallory.send("JOIN #secret")
	mallory.expect(` 473 alice #secret `)
	mallory.quit()

	back := ts.session("back", "alice", "sesame11", "alicephone")
	back.expect(`NOTICE alicephone :You have 1 pending invitation`)
	back.expect(`NOTICE alicephone :#secret from bob, until \d{4}-\d\d-\d\d \d\d:\d\d UTC$`)
	back.send("JOIN #secret")
	back.expect(` 366 alicephone #secret `)
}

// TestInviteLifecycleAcrossRestarts: invitations of offline accounts to a
// registered invite-only channel survive a restart; one is accepted (a
// lasting access entry), one declined, one revoked by the inviter from
// outside the channel; after another restart each stays as it ended.
func TestInviteLifecycleAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ts, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	bob := ts.registerAccount("bob", "sesame22")
	bob.send("JOIN #reg")
	bob.expect(` 366 bob #reg `)
	bob.send("MODE #reg +i")
	bob.expect(`MODE #reg \+i`)
	bob.send("CS REGISTER #reg")
	bob.expect(`#reg is now registered to bob`)
	for _, n := range []string{"alice", "carol", "dave"} {
		ts.registerAccount(n, "sesame-"+n).quit()
		bob.send("INVITE %s #reg", n)
		bob.expect(` 341 bob ` + n + ` :?#reg$`)
	}
	ts.stop()

	ts2, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	alice := ts2.session("alice", "alice", "sesame-alice", "alice")
	alice.expect(`NOTICE alice :You have 1 pending invitation \(JOIN the channel to accept, UNINVITE alice <channel> to decline\):$`)
	alice.expect(`NOTICE alice :#reg from bob, until `)
	alice.send("INVITE")
	m := alice.expect(` 336 alice #reg bob :?(\S+)$`)
	exp, err := time.Parse(time.RFC3339, m[1])
	if err != nil || exp.Before(time.Now().Add(6*24*time.Hour)) || exp.After(time.Now().Add(7*24*time.Hour)) {
		t.Fatalf("listed expiry %q (%v): want about 7 days from now", m[1], err)
	}
	alice.expect(` 337 alice `)

	carol := ts2.session("carol", "carol", "sesame-carol", "carol")
	carol.send("UNINVITE carol #reg")
	carol.expect(`NOTE UNINVITE INVITE_DECLINED #reg :`)
	bob2 := ts2.session("bob", "bob", "sesame22", "bob")
	bob2.send("UNINVITE dave #reg")
	bob2.expect(`NOTE UNINVITE INVITE_REVOKED dave #reg :`)
	alice.send("JOIN #reg")
	alice.expect(` 366 alice #reg `)
	carol.send("JOIN #reg")
	carol.expect(` 473 carol #reg `)
	ts2.stop()

	ts3, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	alice = ts3.session("alice", "alice", "sesame-alice", "alice")
	alice.send("JOIN #reg")
	alice.expect(` 366 alice #reg `) // the accepted invitation's access
	noInviteList(t, alice, "alice")
	dave := ts3.session("dave", "dave", "sesame-dave", "dave")
	noInviteList(t, dave, "dave")
	dave.send("JOIN #reg")
	dave.expect(` 473 dave #reg `)
	for _, c := range [][2]string{{"alice", "accepted"}, {"carol", "declined"}, {"dave", "revoked"}} {
		inv, err := ts3.in.store.Invite("#reg", c[0])
		if err != nil || inv.Status.String() != c[1] {
			t.Errorf("invitation of %s: %+v, %v; want %s", c[0], inv, err, c[1])
		}
	}
	if a, err := ts3.in.store.AccessOf("#reg", "alice"); err != nil || a.Level != kv.LevelMember {
		t.Errorf("alice's access: %+v, %v", a, err)
	}
	entries, err := ts3.in.store.Audit(kv.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "invite.") {
			actions = append(actions, e.Action+" "+e.Target)
		}
	}
	slices.Sort(actions)
	want := []string{"invite.accept #reg alice", "invite.create #reg alice", "invite.create #reg carol",
		"invite.create #reg dave", "invite.decline #reg carol", "invite.revoke #reg dave"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit: %q, want %q", actions, want)
	}
}

// TestInviteEverySessionAndNotify: an invitation reaches every session of
// the invitee at once; on a +i channel invite-notify goes to operators
// only, elsewhere to every member that asked for it.
func TestInviteEverySessionAndNotify(t *testing.T) {
	ts := startTestServer(t, fastAccounts)
	ts.registerAccount("alice", "sesame11").quit()
	a1 := ts.session("a1", "alice", "sesame11", "alice")
	a2 := ts.session("a2", "alice", "sesame11", "alice")
	bob := ts.connect("bob", "invite-notify")
	carol := ts.connect("carol", "invite-notify")
	bob.send("JOIN #c")
	bob.expect(` 366 bob #c `)
	carol.send("JOIN #c")
	carol.expect(` 366 carol #c `)
	dave := ts.connect("dave", "invite-notify")
	dave.send("JOIN #c")
	dave.expect(` 366 dave #c `)
	bob.send("MODE #c +i")
	bob.expect(`MODE #c \+i`)
	bob.send("MODE #c +o dave")
	bob.expect(`MODE #c \+o dave`)

	bob.send("INVITE alice #c")
	bob.expect(` 341 bob alice :?#c$`)
	a1.expect(`:bob!\S+ INVITE alice :?#c$`)
	a2.expect(`:bob!\S+ INVITE alice :?#c$`)
	dave.expect(`:bob!\S+ INVITE alice :?#c$`)
	carol.expectNone(`INVITE`, 200*time.Millisecond)
	a2.send("JOIN #c")
	a2.expect(` 366 alice #c `)
	a1.expect(` 366 alice #c `)
	inv, err := ts.in.store.Invite("#c", "alice")
	if err != nil || inv.Status != kv.InviteAccepted || inv.InviterNick != "bob" || inv.Inviter != "" {
		t.Fatalf("invitation: %+v, %v", inv, err)
	}
}

// TestInviteLimits: guard's hourly invitation quota (per account when
// logged in) and the caps on pending invitations per account and per
// channel refuse with clear FAILs, and store nothing.
func TestInviteLimits(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		fastAccounts(c)
		c.Guard.Quotas.Invites.Limit = 4
		c.Channels.MaxInvitesPerAccount = 1
		c.Channels.MaxInvitesPerChannel = 2
	})
	for _, n := range []string{"u1", "u2", "u3"} {
		ts.registerAccount(n, "sesame-"+n).quit()
	}
	bob := ts.registerAccount("bob", "sesame22")
	for _, ch := range []string{"#a", "#b"} {
		bob.send("JOIN %s", ch)
		bob.expect(` 366 bob ` + ch + ` `)
	}
	bob.send("INVITE u1 #a")
	bob.expect(` 341 bob u1 :?#a$`)
	bob.send("INVITE u1 #b")
	bob.expect(`FAIL INVITE TOO_MANY_INVITES u1 #b :u1 has too many pending invitations \(at most 1\)$`)
	bob.send("INVITE u2 #a")
	bob.expect(` 341 bob u2 :?#a$`)
	bob.send("INVITE u3 #a")
	bob.expect(`FAIL INVITE TOO_MANY_INVITES u3 #a :#a has too many pending invitations \(at most 2\)$`)
	// The quota counts every attempt: the fifth is refused before anything.
	bob.send("INVITE u3 #b")
	bob.expect(`FAIL INVITE RATE_LIMITED :You have sent too many invitations`)
	for _, c := range [][2]string{{"#b", "u1"}, {"#a", "u3"}, {"#b", "u3"}} {
		if inv, err := ts.in.store.Invite(c[0], c[1]); err == nil {
			t.Errorf("refused invitation stored: %+v", inv)
		}
	}
	// The quota is the account's, whichever connection sends.
	other := ts.session("other", "bob", "sesame22", "bob")
	other.send("INVITE u2 #b")
	other.expect(`FAIL INVITE RATE_LIMITED :`)
}

// TestInviteExpiryAndTTLReload: invitations expire after [channels]
// invite_ttl (the sweep runs with a fake clock here), and a reload changes
// the lifetime of invitations made afterwards.
func TestInviteExpiryAndTTLReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "laird.toml")
	write := func(ttl string) {
		text := fmt.Sprintf("[accounts]\nbcrypt_cost = 4\n[channels]\ninvite_ttl = %q\n", ttl)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1h")
	ts := startTestServer(t, func(c *Config) {
		listen, data := c.Server.Listen, c.Server.DataDir
		flags := func(f *Config) {
			f.Server.Listen, f.Server.DataDir, f.Metrics.Listen = listen, data, "off"
			f.Store.DiskReserveMB = -1
		}
		loaded, err := loadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		loaded.flags = flags
		flags(&loaded)
		*c = loaded
	})
	bob := ts.registerAccount("bob", "sesame22")
	bob.send("JOIN #c")
	bob.expect(` 366 bob #c `)
	bob.send("MODE #c +i")
	bob.expect(`MODE #c \+i`)
	alice := ts.registerAccount("alice", "sesame11")
	bob.send("INVITE alice #c")
	bob.expect(` 341 bob alice :?#c$`)

	now := time.Now()
	ts.in.expireInvites(now.Add(59 * time.Minute))
	alice.send("INVITE")
	alice.expect(` 336 alice #c bob `)
	ts.in.expireInvites(now.Add(61 * time.Minute))
	noInviteList(t, alice, "alice")
	alice.send("JOIN #c")
	alice.expect(` 473 alice #c `)
	if inv, err := ts.in.store.Invite("#c", "alice"); err != nil || inv.Status != kv.InviteExpired {
		t.Fatalf("after the sweep: %+v, %v", inv, err)
	}

	write("48h")
	rep, err := ts.in.reload("test")
	if err != nil || !slices.Contains(rep.Applied, "channels.invite_ttl") || len(rep.Restart) != 0 {
		t.Fatalf("reload: %+v, %v", rep, err)
	}
	bob.send("INVITE alice #c")
	bob.expect(` 341 bob alice :?#c$`)
	alice.send("INVITE")
	m := alice.expect(` 336 alice #c bob :?(\S+)$`)
	exp, err := time.Parse(time.RFC3339, m[1])
	if err != nil || exp.Before(time.Now().Add(47*time.Hour)) || exp.After(time.Now().Add(49*time.Hour)) {
		t.Fatalf("expiry after the reload: %q, %v", m[1], err)
	}
	alice.send("JOIN #c")
	alice.expect(` 366 alice #c `)
}

// TestUsersGuideInvitations runs the invitation commands the user's guide
// shows.
func TestUsersGuideInvitations(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	const guide = "../../docs/users.md"
	bob := ts.registerAccount("bob", "sesame22")
	alice := ts.registerAccount("alice", "sesame11")
	runDocSteps(t, guide, bob, []docStep{
		{"/join #channel", "JOIN #guide", ` 366 bob #guide `},
		{"`+i` | invite only (`/invite <nick> #channel`)", "MODE #guide +i", `MODE #guide \+i`},
		{"`/invite <nick> #channel` invites someone", "INVITE alice #guide", ` 341 bob alice :?#guide$`},
		{"", "INVITE carol #guide", ` 401 bob carol `},
	})
	runDocSteps(t, guide, alice, []docStep{
		{"/quote INVITE\n", "INVITE", ` 336 alice #guide bob :?\S+$`},
		{"/quote UNINVITE yournick #channel", "UNINVITE alice #guide", `NOTE UNINVITE INVITE_DECLINED #guide :`},
		{"", "JOIN #guide", ` 473 alice #guide `},
	})
	runDocSteps(t, guide, bob, []docStep{
		{"", "INVITE alice #guide", ` 341 bob alice :?#guide$`},
		{"/quote UNINVITE <nick> #channel", "UNINVITE alice #guide", `NOTE UNINVITE INVITE_REVOKED alice #guide :`},
		{"", "INVITE alice #guide", ` 341 bob alice :?#guide$`},
	})
	runDocSteps(t, guide, alice, []docStep{
		{"Joining the channel accepts", "JOIN #guide", ` 366 alice #guide `},
	})
}
