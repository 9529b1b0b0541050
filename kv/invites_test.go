package kv

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func invite(s *Store, channel, account string, created time.Time) *Txn {
	txn := s.NewTxn()
	txn.Invite(Invitation{Channel: channel, Account: account, ChannelName: channel, Inviter: "bob", InviterNick: "Bob",
		Created: created}, AuditEntry{Actor: "Bob", IP: "192.0.2.1"})
	return txn
}

func pending(t *testing.T, s *Store, account, channel string) (int, int) {
	t.Helper()
	a, c, err := s.PendingInvites(account, channel)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func inviteCondition(t *testing.T, what string, err, want error) {
	t.Helper()
	var ce *ConditionError
	if !errors.As(err, &ce) || ce.Kind != KindInvite || !errors.Is(err, want) {
		t.Fatalf("%s = %v, want an invitation %v", what, err, want)
	}
}

func TestInvitationLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir, InviteTTL: time.Hour})
	mustCommit(t, s, register(s, "bob", 1))
	regChan := s.NewTxn()
	regChan.PutChannel(Channel{Name: "#reg", Founder: "bob"})
	regChan.PutAccess(Access{Channel: "#reg", Account: "bob", Level: LevelFounder})
	mustCommit(t, s, regChan)

	mustCommit(t, s, invite(s, "#reg", "alice", ts(0)))
	mustCommit(t, s, invite(s, "#open", "alice", ts(0)))
	mustCommit(t, s, invite(s, "#reg", "carol", ts(0)))
	inv, err := s.Invite("#reg", "alice")
	want := Invitation{Channel: "#reg", Account: "alice", ChannelName: "#reg", Inviter: "bob", InviterNick: "Bob",
		Created: ts(0), Expires: ts(3600), Status: InvitePending, Changed: ts(0), sweepAt: ts(3600)}
	if err != nil || !reflect.DeepEqual(inv, want) {
		t.Fatalf("invitation:\n got %+v\nwant %+v (%v)", inv, want, err)
	}
	if !inv.Pending(ts(3599)) || inv.Pending(ts(3600)) {
		t.Fatal("Pending")
	}
	// Inviting again refreshes without counting twice.
	mustCommit(t, s, invite(s, "#reg", "alice", ts(100)))
	if a, c := pending(t, s, "alice", "#reg"); a != 2 || c != 2 {
		t.Fatalf("pending after refresh: %d, %d", a, c)
	}
	if inv, _ := s.Invite("#reg", "alice"); !inv.Expires.Equal(ts(3700)) {
		t.Fatalf("refresh kept expiry %v", inv.Expires)
	}

	// Pending invitations survive a restart.
	_ = s.Close()
	s = openTest(t, Options{Dir: dir, InviteTTL: time.Hour})
	list, err := s.InvitesFor("alice")
	if err != nil || len(list) != 2 || list[0].Channel != "#open" || list[1].Channel != "#reg" {
		t.Fatalf("InvitesFor: %+v %v", list, err)
	}
	if list, _ := s.InvitesTo("#reg"); len(list) != 2 || list[0].Account != "alice" || list[1].Account != "carol" {
		t.Fatalf("InvitesTo: %+v", list)
	}

	// Accept: the invitation is consumed and the access granted together.
	txn := s.NewTxn()
	txn.AcceptInvite("#reg", "alice", ts(200), LevelMember, AuditEntry{Actor: "alice"})
	mustCommit(t, s, txn)
	inv, _ = s.Invite("#reg", "alice")
	if inv.Status != InviteAccepted || !inv.Changed.Equal(ts(200)) || inv.ChangedBy != "alice" {
		t.Fatalf("accepted: %+v", inv)
	}
	if a, err := s.AccessOf("#reg", "alice"); err != nil || a.Level != LevelMember || a.SetBy != "alice" {
		t.Fatalf("grant: %+v %v", a, err)
	}
	if acc, _ := s.AccountAccess("alice"); len(acc) != 1 {
		t.Fatalf("reverse access index: %+v", acc)
	}
	if a, c := pending(t, s, "alice", "#reg"); a != 1 || c != 1 {
		t.Fatalf("pending after accept: %d, %d", a, c)
	}
	txn = s.NewTxn()
	txn.AcceptInvite("#reg", "alice", ts(201), LevelMember, AuditEntry{Actor: "alice"})
	inviteCondition(t, "accepting twice", s.CommitWait(txn), ErrNotFound)

	// An unregistered channel gets no access entry; a higher level stays.
	txn = s.NewTxn()
	txn.AcceptInvite("#open", "alice", ts(200), LevelMember, AuditEntry{Actor: "alice"})
	mustCommit(t, s, txn)
	if _, err := s.AccessOf("#open", "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("access on an unregistered channel: %v", err)
	}
	mustCommit(t, s, invite(s, "#reg", "bob", ts(300)))
	txn = s.NewTxn()
	txn.AcceptInvite("#reg", "bob", ts(301), LevelMember, AuditEntry{Actor: "bob"})
	mustCommit(t, s, txn)
	if a, _ := s.AccessOf("#reg", "bob"); a.Level != LevelFounder {
		t.Fatalf("founder downgraded to %v", a.Level)
	}

	// Decline and revoke; then neither again, nor on what does not exist.
	txn = s.NewTxn()
	txn.DeclineInvite("#reg", "carol", ts(400), AuditEntry{Actor: "carol"})
	mustCommit(t, s, txn)
	if inv, _ := s.Invite("#reg", "carol"); inv.Status != InviteDeclined {
		t.Fatalf("declined: %+v", inv)
	}
	mustCommit(t, s, invite(s, "#reg", "dave", ts(400)))
	txn = s.NewTxn()
	txn.RevokeInvite("#reg", "dave", ts(401), AuditEntry{Actor: "Bob"})
	mustCommit(t, s, txn)
	for _, f := range []func(*Txn){
		func(x *Txn) { x.DeclineInvite("#reg", "carol", ts(500), AuditEntry{}) },
		func(x *Txn) { x.RevokeInvite("#reg", "dave", ts(500), AuditEntry{}) },
		func(x *Txn) { x.RevokeInvite("#nowhere", "dave", ts(500), AuditEntry{}) },
	} {
		txn = s.NewTxn()
		f(txn)
		inviteCondition(t, "a second transition", s.CommitWait(txn), ErrNotFound)
	}
	// Expired but not swept yet: refused as expired, still counted.
	mustCommit(t, s, invite(s, "#late", "erin", ts(0)))
	txn = s.NewTxn()
	txn.AcceptInvite("#late", "erin", ts(3600), LevelMember, AuditEntry{})
	inviteCondition(t, "accepting an expired invitation", s.CommitWait(txn), ErrExpired)
	if a, _ := pending(t, s, "erin", "#late"); a != 1 {
		t.Fatal("expired invitation not counted until swept")
	}

	audit, _ := s.Audit(AuditQuery{Oldest: true, Limit: 100})
	var actions []string
	for _, e := range audit {
		if e.Action != "account.register" {
			actions = append(actions, e.Action+" "+e.Target)
		}
	}
	wantActions := []string{
		"invite.create #reg alice", "invite.create #open alice", "invite.create #reg carol", "invite.create #reg alice",
		"invite.accept #reg alice", "invite.accept #open alice", "invite.create #reg bob", "invite.accept #reg bob",
		"invite.decline #reg carol", "invite.create #reg dave", "invite.revoke #reg dave", "invite.create #late erin",
	}
	if !reflect.DeepEqual(actions, wantActions) {
		t.Fatalf("audit trail:\n got %q\nwant %q", actions, wantActions)
	}
	if audit[1].IP != "192.0.2.1" || audit[1].Actor != "Bob" {
		t.Fatalf("audit entry fields: %+v", audit[1])
	}
}

func TestInvitationCaps(t *testing.T) {
	s := openTest(t, Options{MaxInvitesPerAccount: 2, MaxInvitesPerChannel: 3})
	limit := func(what string, err error, kind LimitKind, name string) {
		t.Helper()
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != kind || le.Name != name || !errors.Is(err, ErrLimit) {
			t.Fatalf("%s = %v, want %v limit on %s", what, err, kind, name)
		}
	}
	mustCommit(t, s, invite(s, "#a", "alice", ts(0)))
	mustCommit(t, s, invite(s, "#b", "alice", ts(0)))
	limit("third for alice", s.CommitWait(invite(s, "#c", "alice", ts(0))), LimitInvitesPerAccount, "alice")
	mustCommit(t, s, invite(s, "#a", "alice", ts(1))) // a refresh is not one more
	mustCommit(t, s, invite(s, "#a", "bob", ts(0)))
	mustCommit(t, s, invite(s, "#a", "carol", ts(0)))
	limit("fourth for #a", s.CommitWait(invite(s, "#a", "dave", ts(0))), LimitInvitesPerChannel, "#a")
	if _, err := s.Invite("#a", "dave"); !errors.Is(err, ErrNotFound) {
		t.Fatal("refused invitation stored")
	}
	// A final state frees the place; re-inviting then counts again.
	txn := s.NewTxn()
	txn.DeclineInvite("#a", "bob", ts(2), AuditEntry{})
	mustCommit(t, s, txn)
	mustCommit(t, s, invite(s, "#a", "dave", ts(2)))
	limit("bob again, #a full", s.CommitWait(invite(s, "#a", "bob", ts(3))), LimitInvitesPerChannel, "#a")
}

func TestExpireInvites(t *testing.T) {
	smallChunks(t, 2)
	s := openTest(t, Options{InviteTTL: time.Hour, InviteKeep: 2 * time.Hour})
	for i := range 5 {
		mustCommit(t, s, invite(s, fmt.Sprint("#c", i), "alice", ts(i*600))) // expiring at 1h, 1h10...
	}
	mustCommit(t, s, invite(s, "#c0", "alice", ts(3000))) // refreshed: now expires at 1h50
	txn := s.NewTxn()
	txn.DeclineInvite("#c4", "alice", ts(2500), AuditEntry{})
	mustCommit(t, s, txn)

	// At 1h25: #c1 and #c2 expired (#c0 was refreshed, #c3 not yet due).
	exp, del, err := s.ExpireInvites(ts(5100))
	if err != nil || exp != 2 || del != 0 {
		t.Fatalf("ExpireInvites at 1h25 = %d expired, %d deleted, %v", exp, del, err)
	}
	status := func() map[string]InviteStatus {
		list, err := s.InvitesFor("alice")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]InviteStatus{}
		for _, inv := range list {
			m[inv.Channel] = inv.Status
		}
		return m
	}
	want := map[string]InviteStatus{"#c0": InvitePending, "#c1": InviteExpired, "#c2": InviteExpired, "#c3": InvitePending, "#c4": InviteDeclined}
	if got := status(); !reflect.DeepEqual(got, want) {
		t.Fatalf("at 1h25: %v", got)
	}
	if a, _ := pending(t, s, "alice", "#c1"); a != 2 {
		t.Fatalf("pending after expiry: %d", a)
	}
	if inv, _ := s.Invite("#c1", "alice"); !inv.Changed.Equal(ts(4200)) || inv.ChangedBy != "" {
		t.Fatalf("expired invitation: %+v", inv)
	}
	// At 12500s: everything expired; declined #c4 (2500s + 2h) and
	// expired #c1 (4200s + 2h) and #c2 (4800s + 2h) are past InviteKeep
	// and deleted, #c3 (expired at 5400s, due at 12600s) not yet.
	exp, del, err = s.ExpireInvites(ts(12500))
	if err != nil || exp != 2 || del != 3 {
		t.Fatalf("ExpireInvites at 12500s = %d, %d, %v", exp, del, err)
	}
	want = map[string]InviteStatus{"#c0": InviteExpired, "#c3": InviteExpired}
	if got := status(); !reflect.DeepEqual(got, want) {
		t.Fatalf("at 12500s: %v", got)
	}
	exp, del, err = s.ExpireInvites(ts(1 << 20))
	if err != nil || exp != 0 || del != 2 {
		t.Fatalf("final ExpireInvites = %d, %d, %v", exp, del, err)
	}
	if got := status(); len(got) != 0 {
		t.Fatalf("left: %v", got)
	}
	if a, c := pending(t, s, "alice", "#c0"); a != 0 || c != 0 {
		t.Fatalf("counters left: %d %d", a, c)
	}
	left := 0
	_ = s.scan([]byte{tagInviteDue}, []byte{tagInviteDue + 1}, false, func(_, _ []byte) (bool, error) { left++; return true, nil })
	if left != 0 {
		t.Fatalf("%d sweep entries left", left)
	}
}

func TestDeleteAccountDeletesInvitations(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	mustCommit(t, s, invite(s, "#a", "alice", ts(0)))
	mustCommit(t, s, invite(s, "#a", "carol", ts(0)))
	txn := s.NewTxn()
	txn.DeleteAccount("alice")
	mustCommit(t, s, txn)
	mustCommit(t, s, register(s, "alice", 2))
	if list, _ := s.InvitesFor("alice"); len(list) != 0 {
		t.Fatalf("the new alice inherits invitations: %+v", list)
	}
	if a, c := pending(t, s, "alice", "#a"); a != 0 || c != 1 {
		t.Fatalf("counters after delete: %d %d", a, c)
	}
	if list, _ := s.InvitesTo("#a"); len(list) != 1 || list[0].Account != "carol" {
		t.Fatalf("#a's invitations: %+v", list)
	}
}

func TestScanInvites(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, invite(s, "#b", "alice", ts(0)))
	mustCommit(t, s, invite(s, "#a", "carol", ts(0)))
	mustCommit(t, s, invite(s, "#a", "alice", ts(0)))
	txn := s.NewTxn()
	txn.DeclineInvite("#b", "alice", ts(1), AuditEntry{})
	mustCommit(t, s, txn)
	var got []string
	err := s.ScanInvites(func(inv Invitation) bool {
		got = append(got, inv.Channel+" "+inv.Account+" "+inv.Status.String())
		return true
	})
	want := []string{"#a alice pending", "#a carol pending", "#b alice declined"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ScanInvites = %q, %v; want %q", got, err, want)
	}
	n := 0
	if err := s.ScanInvites(func(Invitation) bool { n++; return false }); err != nil || n != 1 {
		t.Fatalf("ScanInvites stopping at once: %d calls, %v", n, err)
	}
}
