package kv

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// register is the transaction chat builds for an account registration.
func register(s *Store, name string, n int) *Txn {
	txn := s.NewTxn()
	txn.RequireNoAccount(name)
	txn.RequireNickFree(name)
	txn.PutAccount(Account{Name: name, PassHash: fmt.Sprintf("hash%d", n), Created: ts(n)})
	txn.PutNick(NickRecord{Nick: name, Account: name, Since: ts(n)})
	txn.AppendAudit(AuditEntry{Time: ts(n), Actor: name, Action: "account.register", Target: name})
	return txn
}

func TestRegisterConflict(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))

	err := s.CommitWait(register(s, "alice", 2))
	var ce *ConditionError
	if !errors.Is(err, ErrExists) || !errors.As(err, &ce) || ce.Kind != KindAccount || ce.Name != "alice" {
		t.Fatalf("second registration = %v", err)
	}
	a, err := s.Account("alice")
	if err != nil || a.PassHash != "hash1" {
		t.Fatalf("account after conflict: %+v, %v", a, err)
	}
	if n, _ := s.Audit(AuditQuery{Action: "account.register"}); len(n) != 1 {
		t.Fatalf("audit entries = %d, want 1 (the failed txn wrote one)", len(n))
	}

	// A nick reserved by someone else blocks an account of that name.
	txn := s.NewTxn()
	txn.PutNick(NickRecord{Nick: "bob", Account: "alice"})
	mustCommit(t, s, txn)
	err = s.CommitWait(register(s, "bob", 3))
	if !errors.As(err, &ce) || ce.Kind != KindNick || !errors.Is(err, ErrExists) {
		t.Fatalf("registration over a reserved nick = %v", err)
	}
	if _, err := s.Account("bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("account bob = %v, want ErrNotFound", err)
	}
}

func TestConcurrentRegistrationsOneWins(t *testing.T) {
	s := openTest(t, Options{})
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.CommitWait(register(s, "carol", i)) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrExists):
			t.Fatalf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d registrations won", wins)
	}
	if n, _ := s.AccountNicks("carol"); !reflect.DeepEqual(n, []string{"carol"}) {
		t.Fatalf("nicks = %v", n)
	}
}

// Transactions of one group see each other: the second registration of the
// same name in a group fails, while unrelated ones in the group succeed.
func TestGroupSeesEarlierTxns(t *testing.T) {
	s := openTest(t, Options{})
	release := blockWriter(t, s)
	names := []string{"dave", "erin", "dave", "frank"}
	results := make([]chan error, len(names))
	for i, name := range names {
		results[i] = make(chan error, 1)
		if err := s.Commit(register(s, name, i), func(err error) { results[i] <- err }); err != nil {
			t.Fatal(err)
		}
	}
	release()
	for i, want := range []error{nil, nil, ErrExists, nil} {
		if err := <-results[i]; !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("txn %d (%s) = %v, want %v", i, names[i], err, want)
		}
	}
	if a, _ := s.Account("dave"); a.PassHash != "hash0" {
		t.Fatalf("dave = %+v", a)
	}
	st, _ := s.Stats()
	if st.MaxGroup < uint64(len(names)) || st.Conflicts != 1 {
		t.Fatalf("not one group: %+v", st)
	}
}

func TestNickOwnershipAndIndexes(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	mustCommit(t, s, register(s, "bob", 2))

	// Group a second nick to alice, then move it to bob.
	txn := s.NewTxn()
	txn.RequireNickFree("ally")
	txn.PutNick(NickRecord{Nick: "ally", Account: "alice"})
	mustCommit(t, s, txn)
	txn = s.NewTxn()
	txn.RequireNickOwner("ally", "bob")
	var ce *ConditionError
	if err := s.CommitWait(txn); !errors.Is(err, ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("RequireNickOwner(ally, bob) = %v", err)
	}
	txn = s.NewTxn()
	txn.RequireNickOwner("nobody", "bob")
	if err := s.CommitWait(txn); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RequireNickOwner(nobody) = %v", err)
	}
	txn = s.NewTxn()
	txn.RequireNickOwner("ally", "alice")
	txn.PutNick(NickRecord{Nick: "ally", Account: "bob"})
	mustCommit(t, s, txn)

	if owner, err := s.NickOwner("ally"); err != nil || owner != "bob" {
		t.Fatalf("owner = %q, %v", owner, err)
	}
	if n, _ := s.AccountNicks("alice"); !reflect.DeepEqual(n, []string{"alice"}) {
		t.Fatalf("alice's nicks = %v", n)
	}
	if n, _ := s.AccountNicks("bob"); !reflect.DeepEqual(n, []string{"ally", "bob"}) {
		t.Fatalf("bob's nicks = %v", n)
	}

	txn = s.NewTxn()
	txn.DeleteNick("ally")
	txn.DeleteNick("never-registered")
	mustCommit(t, s, txn)
	if _, err := s.NickOwner("ally"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted nick: %v", err)
	}
	if n, _ := s.AccountNicks("bob"); !reflect.DeepEqual(n, []string{"bob"}) {
		t.Fatalf("bob's nicks after delete = %v", n)
	}
}

func TestDeleteAccountCascades(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	mustCommit(t, s, register(s, "bob", 2))
	txn := s.NewTxn()
	txn.PutNick(NickRecord{Nick: "al", Account: "alice"})
	txn.PutAccount(Account{Name: "alice", Version: 1, Suspended: true, SuspendReason: "x",
		CertFPs: []string{strings.Repeat("a1", 32)}})
	txn.PutChannel(Channel{Name: "#a", Founder: "alice"})
	txn.PutAccess(Access{Channel: "#a", Account: "alice", Level: LevelFounder})
	txn.PutAccess(Access{Channel: "#a", Account: "bob", Level: LevelVoice})
	txn.PutAccess(Access{Channel: "#b", Account: "alice", Level: LevelOp})
	mustCommit(t, s, txn)
	if sus, _ := s.SuspendedAccounts(); len(sus) != 1 || sus[0].Name != "alice" {
		t.Fatalf("suspended = %+v", sus)
	}
	if acc, _ := s.AccountAccess("alice"); len(acc) != 2 || acc[0].Channel != "#a" || acc[1].Level != LevelOp {
		t.Fatalf("alice's access = %+v", acc)
	}

	txn = s.NewTxn()
	txn.RequireAccount("alice")
	txn.DeleteAccount("alice")
	mustCommit(t, s, txn)

	if _, err := s.Account("alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("account: %v", err)
	}
	for _, nick := range []string{"alice", "al"} {
		if _, err := s.NickOwner(nick); !errors.Is(err, ErrNotFound) {
			t.Fatalf("nick %s: %v", nick, err)
		}
	}
	if sus, _ := s.SuspendedAccounts(); len(sus) != 0 {
		t.Fatalf("suspended after delete = %+v", sus)
	}
	if acc, _ := s.Access("#a"); len(acc) != 1 || acc[0].Account != "bob" {
		t.Fatalf("#a access = %+v", acc)
	}
	if acc, _ := s.AccountAccess("alice"); len(acc) != 0 {
		t.Fatalf("alice's access after delete = %+v", acc)
	}
	if owner, _ := s.NickOwner("bob"); owner != "bob" {
		t.Fatal("bob's nick touched")
	}
	if _, err := s.AccountByCert(strings.Repeat("a1", 32)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("certificate of a deleted account: %v", err)
	}
	if c, err := s.Channel("#a"); err != nil || c.Founder != "alice" {
		t.Fatalf("channel: %+v %v", c, err)
	}
}

func TestChannelRegistration(t *testing.T) {
	s := openTest(t, Options{})
	regChan := func(name, founder string) *Txn {
		txn := s.NewTxn()
		txn.RequireNoChannel(name)
		txn.RequireAccount(founder)
		txn.PutChannel(Channel{Name: name, DisplayName: "#Chan", Founder: founder, Created: ts(1)})
		txn.PutAccess(Access{Channel: name, Account: founder, Level: LevelFounder, SetAt: ts(1)})
		txn.AppendAudit(AuditEntry{Actor: founder, Action: "channel.register", Target: name})
		return txn
	}
	if err := s.CommitWait(regChan("#chan", "alice")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("register without account = %v", err)
	}
	mustCommit(t, s, register(s, "alice", 1))
	mustCommit(t, s, regChan("#chan", "alice"))
	if err := s.CommitWait(regChan("#chan", "alice")); !errors.Is(err, ErrExists) {
		t.Fatalf("second register = %v", err)
	}
	c, err := s.Channel("#chan")
	if err != nil || c.DisplayName != "#Chan" {
		t.Fatalf("channel = %+v, %v", c, err)
	}
	var names []string
	if err := s.ScanChannels(func(c Channel) bool { names = append(names, c.Name); return true }); err != nil || len(names) != 1 {
		t.Fatalf("scan = %v, %v", names, err)
	}
	a, err := s.AccessOf("#chan", "alice")
	if err != nil || a.Level != LevelFounder || !a.SetAt.Equal(ts(1)) {
		t.Fatalf("access = %+v, %v", a, err)
	}

	txn := s.NewTxn()
	txn.DeleteChannel("#chan")
	mustCommit(t, s, txn)
	if _, err := s.Channel("#chan"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if acc, _ := s.AccountAccess("alice"); len(acc) != 0 {
		t.Fatalf("access left after DeleteChannel: %+v", acc)
	}
}

func TestBansAndMeta(t *testing.T) {
	s := openTest(t, Options{})
	txn := s.NewTxn()
	txn.PutBan(Ban{Kind: KLine, Mask: "*@bad.example", Reason: "spam", SetAt: ts(0)})
	txn.PutBan(Ban{Kind: DLine, Mask: "192.0.2.0/24", Expires: ts(10)})
	txn.PutMeta("invite/#a/bob", []byte("alice"))
	txn.PutMeta("invite/#a/carol", []byte("alice"))
	txn.PutMeta("motd", []byte("hi"))
	mustCommit(t, s, txn)

	bans, err := s.Bans()
	if err != nil || len(bans) != 2 || bans[0].Kind != KLine || bans[1].Mask != "192.0.2.0/24" {
		t.Fatalf("bans = %+v, %v", bans, err)
	}
	if !bans[1].Expired(ts(10)) || bans[1].Expired(ts(9)) || bans[0].Expired(ts(1000)) {
		t.Fatal("Expired wrong")
	}
	var got []string
	err = s.ScanMeta("invite/#a/", func(name string, v []byte) bool {
		got = append(got, name+"="+string(v))
		return true
	})
	if err != nil || !reflect.DeepEqual(got, []string{"invite/#a/bob=alice", "invite/#a/carol=alice"}) {
		t.Fatalf("ScanMeta = %v, %v", got, err)
	}
	txn = s.NewTxn()
	txn.DeleteBan(KLine, "*@bad.example")
	txn.RequireMeta("motd")
	txn.DeleteMeta("motd")
	mustCommit(t, s, txn)
	if _, err := s.Ban(KLine, "*@bad.example"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if b, err := s.Ban(DLine, "192.0.2.0/24"); err != nil || !b.Expires.Equal(ts(10)) {
		t.Fatalf("ban = %+v, %v", b, err)
	}
	if _, err := s.Meta("motd"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestInvalidTxn(t *testing.T) {
	s := openTest(t, Options{})
	cases := map[string]func(*Txn){
		"empty account":  func(x *Txn) { x.PutAccount(Account{}) },
		"nul in nick":    func(x *Txn) { x.PutNick(NickRecord{Nick: "a\x00b", Account: "a"}) },
		"long channel":   func(x *Txn) { x.PutChannel(Channel{Name: "#" + string(make([]byte, maxNameLen))}) },
		"level 0":        func(x *Txn) { x.PutAccess(Access{Channel: "#a", Account: "a"}) },
		"ban kind 0":     func(x *Txn) { x.PutBan(Ban{Mask: "m"}) },
		"empty target":   func(x *Txn) { x.AppendHistory(HistoryMessage{Text: "x"}) },
		"require empty":  func(x *Txn) { x.RequireNoAccount("") },
		"owner empty":    func(x *Txn) { x.RequireNickOwner("n", "") },
		"empty metadata": func(x *Txn) { x.PutMeta("", nil) },
	}
	for name, build := range cases {
		txn := s.NewTxn()
		txn.PutMeta("written", []byte("no"))
		build(txn)
		txn.PutMeta("after", nil)
		if !errors.Is(txn.Err(), ErrInvalid) {
			t.Errorf("%s: Err = %v", name, txn.Err())
			continue
		}
		if err := s.Commit(txn, func(error) { t.Errorf("%s: done called", name) }); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Commit = %v", name, err)
		}
	}
	if _, err := s.Meta("written"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an invalid txn wrote: %v", err)
	}

	txn := s.NewTxn()
	txn.PutMeta("x", nil)
	mustCommit(t, s, txn)
	if err := s.CommitWait(txn); !errors.Is(err, ErrInvalid) {
		t.Fatalf("recommit = %v", err)
	}
	other := openTest(t, Options{})
	if err := other.CommitWait(s.NewTxn()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("txn of another store = %v", err)
	}
}
