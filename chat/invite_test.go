package chat

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"laird/kv"
)

// Invitations with a store: stored per account, listed, accepted,
// declined, revoked, expired (issue 14). The cmd/laird tests run the same
// lifecycle over TCP and across restarts.

// storeWorld is a test world with a kv store; restart builds a new Server
// on the same store, as a restart of the process would.
type storeWorld struct {
	*testWorld
	st     *kv.Store
	stopFn func()
}

func newStoreWorld(t *testing.T, opts kv.Options) *storeWorld {
	t.Helper()
	opts.Dir = t.TempDir()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.DiskReserve = -1
	st, err := kv.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sw := &storeWorld{st: st}
	sw.start(t)
	return sw
}

func (sw *storeWorld) start(t *testing.T) {
	fl := newFakeLoops(2)
	cfg := Config{Shards: 3, Accounts: AccountConfig{BcryptCost: 4, NickGrace: -1}}
	srv, err := New(cfg, fl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetStore(sw.st)
	srv.Start()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Stop()
			fl.stop()
		}
	}
	t.Cleanup(stop)
	sw.testWorld = &testWorld{tb: t, srv: srv, loops: fl}
	sw.stopFn = stop
}

// restart stops the server (every connection is gone) and starts another
// on the same store.
func (sw *storeWorld) restart(t *testing.T) {
	sw.stopFn()
	sw.start(t)
}

// account connects nick and registers it as an account (password "pw-"
// nick), logged in.
func (sw *storeWorld) account(nick string) *fakeConn {
	c := sw.connect(nick, true)
	sw.send(c, "REGISTER * * pw-"+nick)
	sw.waitFor(c, "REGISTER SUCCESS "+nick)
	return c
}

// identify connects as nick and logs in to account with NickServ.
func (sw *storeWorld) identify(nick, account string) *fakeConn {
	c := sw.connect(nick, true)
	sw.send(c, "PRIVMSG NickServ :IDENTIFY "+account+" pw-"+account)
	sw.waitFor(c, "You are now identified as "+account)
	return c
}

// since returns what fc received after its output was n bytes long.
func since(fc *fakeConn, n int) string { return fc.text()[n:] }

// expectAfter waits for substr in what fc received after n bytes.
func (w *testWorld) expectAfter(fc *fakeConn, n int, substr string) {
	w.tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(since(fc, n), substr) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	w.tb.Fatalf("no %q in output since %d:\n%s", substr, n, since(fc, n))
}

// cmd sends line from fc and waits for want in the output it causes.
func (w *testWorld) cmd(fc *fakeConn, line, want string) string {
	w.tb.Helper()
	n := len(fc.text())
	w.send(fc, line)
	w.expectAfter(fc, n, want)
	return since(fc, n)
}

// refused sends line and asserts, once everything settled, that its
// output does not contain bad.
func (w *testWorld) refused(fc *fakeConn, line, want, bad string) {
	w.tb.Helper()
	out := w.cmd(fc, line, want)
	w.settle()
	if out = out + since(fc, len(fc.text())); strings.Contains(out, bad) {
		w.tb.Fatalf("%s: got %q in:\n%s", line, bad, out)
	}
}

// quit disconnects fc and waits until the server forgot it.
func (w *testWorld) quit(fc *fakeConn) {
	w.send(fc, "QUIT")
	for !fc.closed.Load() {
		time.Sleep(time.Millisecond)
	}
	w.settle()
}

func (sw *storeWorld) status(t *testing.T, channel, account string) kv.InviteStatus {
	t.Helper()
	inv, err := sw.st.Invite(channel, account)
	if err != nil {
		t.Fatalf("invitation %s %s: %v", channel, account, err)
	}
	return inv.Status
}

// opChannel makes op the operator of an invite-only channel.
func (w *testWorld) opChannel(op *fakeConn, name string) {
	w.cmd(op, "JOIN "+name, "366 ")
	w.cmd(op, "MODE "+name+" +i", "MODE "+name+" +i")
}

// TestInviteNickTakeover is the regression test of issue 14: an invitation
// of a logged-in user belongs to its account, so whoever takes the nick
// once it is gone neither sees nor uses it; the account does, under any
// nick.
func TestInviteNickTakeover(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	bob := sw.account("bob")
	sw.opChannel(bob, "#secret")
	alice := sw.account("alice")
	sw.cmd(bob, "INVITE alice #secret", "341 bob alice :#secret")
	sw.waitFor(alice, ":bob!bob@127.0.0.1 INVITE alice #secret")
	sw.quit(alice)

	mallory := sw.connect("alice", true)
	sw.refused(mallory, "INVITE", "337 alice :End of /INVITE list", "336")
	sw.refused(mallory, "JOIN #secret", "473 alice #secret", "JOIN #secret")
	sw.quit(mallory)

	back := sw.identify("alice2", "alice")
	sw.waitFor(back, "You have 1 pending invitation")
	sw.waitFor(back, "#secret from bob, until ")
	out := sw.cmd(back, "INVITE", "337 alice2 ")
	if !strings.Contains(out, "336 alice2 #secret bob ") {
		t.Fatalf("INVITE list of the account:\n%s", out)
	}
	sw.cmd(back, "JOIN #secret", "366 alice2 #secret")
	if st := sw.status(t, "#secret", "alice"); st != kv.InviteAccepted {
		t.Fatalf("after JOIN the invitation is %v", st)
	}
}

// TestInviteOfflineAccountAndRestart: an account invited by its nick while
// offline hears of it at its next login, after a restart too, and accepts
// by joining; on a registered channel that records LevelMember access,
// which admits it past +i later.
func TestInviteOfflineAccountAndRestart(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	bob := sw.account("bob")
	sw.opChannel(bob, "#reg")
	sw.cmd(bob, "PRIVMSG ChanServ :REGISTER #reg", "is now registered to bob")
	carol := sw.account("carol")
	sw.quit(carol)

	sw.cmd(bob, "INVITE carol #reg", "341 bob carol :#reg")
	if st := sw.status(t, "#reg", "carol"); st != kv.InvitePending {
		t.Fatalf("offline invitation: %v", st)
	}
	sw.restart(t)

	carol = sw.identify("carol", "carol")
	sw.waitFor(carol, "#reg from bob, until ")
	sw.cmd(carol, "JOIN #reg", "366 carol #reg")
	if st := sw.status(t, "#reg", "carol"); st != kv.InviteAccepted {
		t.Fatalf("accepted invitation: %v", st)
	}
	if a, err := sw.st.AccessOf("#reg", "carol"); err != nil || a.Level != kv.LevelMember {
		t.Fatalf("access after accepting: %+v, %v", a, err)
	}
	sw.cmd(carol, "PART #reg", "PART #reg")
	sw.cmd(carol, "JOIN #reg", "366 carol #reg") // +i, no invitation: the access admits
	out := sw.cmd(carol, "INVITE", "337 carol ")
	if strings.Contains(out, " 336 ") {
		t.Fatalf("a used invitation is still listed:\n%s", out)
	}
}

// TestInviteExpiry: with a fake clock, the sweep expires an invitation
// after its TTL (not before), and an expired invitation neither admits nor
// shows.
func TestInviteExpiry(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	bob := sw.account("bob")
	sw.opChannel(bob, "#c")
	alice := sw.account("alice")
	sw.cmd(bob, "INVITE alice #c", "341 bob alice :#c")

	now := time.Now()
	if exp, _, err := sw.srv.ExpireInvites(now.Add(DefaultInviteTTL - time.Hour)); err != nil || exp != 0 {
		t.Fatalf("sweep before the TTL: %d expired, %v", exp, err)
	}
	if exp, _, err := sw.srv.ExpireInvites(now.Add(DefaultInviteTTL + time.Minute)); err != nil || exp != 1 {
		t.Fatalf("sweep after the TTL: %d expired, %v", exp, err)
	}
	if st := sw.status(t, "#c", "alice"); st != kv.InviteExpired {
		t.Fatalf("after the sweep: %v", st)
	}
	sw.refused(alice, "JOIN #c", "473 alice #c", "JOIN #c")
	sw.refused(alice, "INVITE", "337 alice ", "336")
	// Re-inviting makes a new pending invitation.
	sw.cmd(bob, "INVITE alice #c", "341 bob alice :#c")
	sw.cmd(alice, "JOIN #c", "366 alice #c")
}

// TestUninvite: declining one's own invitation and revoking one, by the
// inviter from outside the channel and by a channel operator; others may
// not; invitations that do not exist get NO_SUCH_INVITE.
func TestUninvite(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	bob := sw.account("bob")
	sw.opChannel(bob, "#c")
	alice := sw.account("alice")
	carol := sw.account("carol")
	dave := sw.connect("dave", true) // not logged in
	sw.cmd(bob, "MODE #c -i", "MODE #c -i")
	sw.cmd(carol, "JOIN #c", "366 carol #c")
	sw.cmd(dave, "JOIN #c", "366 dave #c")

	// Nothing to decline or revoke.
	sw.cmd(alice, "UNINVITE alice #c", "FAIL UNINVITE NO_SUCH_INVITE #c :You have no pending invitation to #c")
	sw.cmd(bob, "UNINVITE alice #c", "FAIL UNINVITE NO_SUCH_INVITE alice #c :")
	sw.cmd(bob, "UNINVITE nobody #c", "401 bob nobody ")
	sw.cmd(bob, "UNINVITE alice nochannel", "403 bob nochannel ")

	// Decline.
	sw.cmd(carol, "INVITE alice #c", "341 carol alice :#c")
	sw.cmd(alice, "UNINVITE alice #c", "NOTE UNINVITE INVITE_DECLINED #c :You declined")
	if st := sw.status(t, "#c", "alice"); st != kv.InviteDeclined {
		t.Fatalf("declined: %v", st)
	}
	sw.cmd(alice, "UNINVITE alice #c", "FAIL UNINVITE NO_SUCH_INVITE #c ")

	// Revoke: not by a member who neither invited nor operates; by the
	// inviter from outside the channel.
	sw.cmd(carol, "INVITE alice #c", "341 carol alice :#c")
	sw.cmd(dave, "UNINVITE alice #c", "FAIL UNINVITE PRIVS_NEEDED #c :")
	sw.cmd(carol, "PART #c", "PART #c")
	n := len(alice.text())
	sw.cmd(carol, "UNINVITE alice #c", "NOTE UNINVITE INVITE_REVOKED alice #c :")
	sw.expectAfter(alice, n, "NOTICE alice :carol revoked your invitation to #c")
	if st := sw.status(t, "#c", "alice"); st != kv.InviteRevoked {
		t.Fatalf("revoked: %v", st)
	}
	sw.cmd(bob, "MODE #c +i", "MODE #c +i")
	sw.refused(alice, "JOIN #c", "473 alice #c", "JOIN #c")

	// A channel operator revokes anyone's, a connection's too.
	sw.cmd(carol, "JOIN #c", "473 carol #c")
	sw.cmd(bob, "INVITE carol #c", "341 bob carol :#c")
	sw.cmd(carol, "JOIN #c", "366 carol #c")
	sw.cmd(bob, "MODE #c +o carol", "MODE #c +o carol")
	sw.cmd(carol, "INVITE alice #c", "341 carol alice :#c")
	sw.cmd(bob, "UNINVITE alice #c", "NOTE UNINVITE INVITE_REVOKED alice #c :")
	eve := sw.connect("eve", true)
	sw.cmd(carol, "INVITE eve #c", "341 carol eve :#c")
	sw.cmd(dave, "UNINVITE eve #c", "FAIL UNINVITE PRIVS_NEEDED #c :")
	sw.cmd(bob, "UNINVITE eve #c", "NOTE UNINVITE INVITE_REVOKED eve #c :")
	sw.refused(eve, "JOIN #c", "473 eve #c", "JOIN #c")
	sw.cmd(carol, "INVITE eve #c", "341 carol eve :#c")
	sw.cmd(eve, "UNINVITE eve #c", "NOTE UNINVITE INVITE_DECLINED #c :")
	sw.refused(eve, "JOIN #c", "473 eve #c", "JOIN #c")

	// The audit trail has every step.
	entries, err := sw.st.Audit(kv.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "invite.") {
			count[e.Action]++
		}
	}
	want := map[string]int{"invite.create": 4, "invite.accept": 1, "invite.decline": 1, "invite.revoke": 2}
	for a, n := range want {
		if count[a] != n {
			t.Errorf("audit %s: %d entries, want %d (%v)", a, count[a], n, count)
		}
	}
}

// TestInviteRules: who may invite follows the channel, as before stored
// invitations: a member, an operator on +i; not to a channel one is not
// in; not someone already there.
func TestInviteRules(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	bob := sw.account("bob")
	alice := sw.account("alice")
	carol := sw.connect("carol", true)
	sw.opChannel(bob, "#c")
	sw.cmd(alice, "INVITE carol #c", "442 alice #c ")
	sw.cmd(alice, "INVITE bob #none", "403 alice #none ")
	sw.cmd(bob, "INVITE nobody #c", "401 bob nobody ")
	sw.cmd(bob, "INVITE alice #c", "341 bob alice :#c")
	sw.cmd(alice, "JOIN #c", "366 alice #c")
	sw.cmd(alice, "INVITE carol #c", "482 alice #c ")
	sw.cmd(bob, "INVITE alice #c", "443 bob alice #c ")
	if _, err := sw.st.Invite("#none", "bob"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("a refused INVITE stored an invitation: %v", err)
	}
	// Not logged in: kept for the connection, listed without terms, used
	// up by one JOIN.
	sw.cmd(bob, "INVITE carol #c", "341 bob carol :#c")
	out := sw.cmd(carol, "INVITE", "337 carol ")
	if !strings.Contains(out, "336 carol :#c\r\n") {
		t.Fatalf("connection's invitation list:\n%s", out)
	}
	sw.cmd(carol, "JOIN #c", "366 carol #c")
	sw.cmd(carol, "PART #c", "PART #c")
	sw.refused(carol, "JOIN #c", "473 carol #c", "JOIN #c")
}

// TestInviteCaps: the store's caps on pending invitations per account and
// per channel are clear FAILs, and refuse nothing else.
func TestInviteCaps(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{MaxInvitesPerAccount: 1, MaxInvitesPerChannel: 2})
	bob := sw.account("bob")
	sw.opChannel(bob, "#a")
	sw.opChannel(bob, "#b")
	for _, n := range []string{"u1", "u2", "u3"} {
		sw.account(n)
	}
	sw.cmd(bob, "INVITE u1 #a", "341 bob u1 :#a")
	sw.cmd(bob, "INVITE u1 #b", "FAIL INVITE TOO_MANY_INVITES u1 #b :u1 has too many pending invitations (at most 1)")
	sw.cmd(bob, "INVITE u2 #a", "341 bob u2 :#a")
	sw.cmd(bob, "INVITE u3 #a", "FAIL INVITE TOO_MANY_INVITES u3 #a :#a has too many pending invitations (at most 2)")
	sw.cmd(bob, "INVITE u1 #a", "341 bob u1 :#a") // a refresh is no more
	sw.cmd(bob, "UNINVITE u2 #a", "INVITE_REVOKED")
	sw.cmd(bob, "INVITE u3 #a", "341 bob u3 :#a")
}

// TestInviteEverySession: a multiclient user hears of an invitation on
// every session, and accepting from one joins them all.
func TestInviteEverySession(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	bob := sw.account("bob")
	sw.opChannel(bob, "#c")
	a1 := sw.account("alice")
	a2 := sw.saslSession("alice")
	sw.cmd(bob, "INVITE alice #c", "341 bob alice :#c")
	sw.waitFor(a1, ":bob!bob@127.0.0.1 INVITE alice #c")
	sw.waitFor(a2, ":bob!bob@127.0.0.1 INVITE alice #c")
	sw.cmd(a2, "JOIN #c", "366 alice #c")
	sw.waitFor(a1, "366 alice #c")
}

// saslSession connects a session logged in to account with SASL PLAIN
// before registration.
func (sw *storeWorld) saslSession(account string) *fakeConn {
	fc := &fakeConn{loop: sw.next % sw.loops.Count(), srv: sw.srv, keep: true}
	sw.next++
	sw.onLoop(fc.loop, func() {
		fc.client = sw.srv.Connect(fc, fc.loop, netip.MustParseAddr("127.0.0.1"), time.Now())
	})
	sw.send(fc, "CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
	sw.waitFor(fc, "AUTHENTICATE +")
	sw.send(fc, "AUTHENTICATE "+base64.StdEncoding.EncodeToString([]byte("\x00"+account+"\x00pw-"+account)))
	sw.waitFor(fc, " 903 ")
	sw.send(fc, "NICK "+account+"x", "USER u 0 * :u", "CAP END")
	sw.waitFor(fc, " 001 ")
	sw.settle()
	return fc
}
