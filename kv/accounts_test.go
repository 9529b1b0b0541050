package kv

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fp(c string) string { return strings.Repeat(c, 64/len(c)) }

func TestAccountV1Decodes(t *testing.T) {
	e := encoder{}
	e.byte(accountV1)
	for _, s := range []string{"Alice", "hash", "scram", "a@example.org"} {
		e.str(s)
	}
	e.time(ts(1))
	e.bool(true)
	e.str("")
	e.strs([]string{"x"})
	e.bool(false)
	e.str("")
	e.str("")
	e.time(time.Time{})
	a, err := decodeAccount("alice", e.b)
	want := Account{Name: "alice", Version: 1, DisplayName: "Alice", PassHash: "hash", Scram: "scram", Email: "a@example.org",
		Created: ts(1), Verified: true, CertFPs: []string{"x"}, SuspendedAt: time.Unix(time.Time{}.Unix(), 0).UTC()}
	if err != nil || !reflect.DeepEqual(a, want) {
		t.Fatalf("v1 account:\n got %+v\nwant %+v (%v)", a, want, err)
	}
	if ToggleDefault.Or(true) != true || ToggleOff.Or(true) || !ToggleOn.Or(false) {
		t.Fatal("Toggle.Or")
	}
}

// A SUSPEND committed while SET PASSWORD was hashing is never undone: the
// password change, built from the account as read before, is refused.
func TestAccountVersionPrecondition(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	read, err := s.Account("alice")
	if err != nil || read.Version != 1 {
		t.Fatalf("registered account: %+v %v", read, err)
	}

	suspended, err := s.UpdateAccount("alice", func(a *Account, txn *Txn) error {
		a.Suspended, a.SuspendReason = true, "spam"
		txn.AppendAudit(AuditEntry{Actor: "oper", Action: "account.suspend", Target: "alice"})
		return nil
	})
	if err != nil || suspended.Version != 2 || !suspended.Suspended {
		t.Fatalf("suspend: %+v %v", suspended, err)
	}
	read.PassHash = "new hash"
	txn := s.NewTxn()
	txn.PutAccount(read)
	txn.AppendAudit(AuditEntry{Action: "account.password", Target: "alice"})
	err = s.CommitWait(txn)
	var ce *ConditionError
	if !errors.As(err, &ce) || ce.Kind != KindAccount || !errors.Is(err, ErrConflict) {
		t.Fatalf("stale password change = %v, want an account ErrConflict", err)
	}
	a, _ := s.Account("alice")
	if !a.Suspended || a.PassHash != "hash1" || a.Version != 2 {
		t.Fatalf("after the refused change: %+v", a)
	}
	if sus, _ := s.SuspendedAccounts(); len(sus) != 1 {
		t.Fatalf("suspended index: %+v", sus)
	}
	if n, _ := s.Audit(AuditQuery{Action: "account.password"}); len(n) != 0 {
		t.Fatal("the refused change's audit entry was written")
	}

	// Creating over an existing account, or changing a missing one.
	txn = s.NewTxn()
	txn.PutAccount(Account{Name: "alice"})
	if err := s.CommitWait(txn); !errors.Is(err, ErrExists) {
		t.Fatalf("new account over alice = %v", err)
	}
	txn = s.NewTxn()
	txn.PutAccount(Account{Name: "nobody", Version: 3})
	if err := s.CommitWait(txn); !errors.Is(err, ErrNotFound) {
		t.Fatalf("change of a missing account = %v", err)
	}
	if _, err := s.UpdateAccount("nobody", func(*Account, *Txn) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateAccount of a missing account = %v", err)
	}
	stop := errors.New("changed my mind")
	if _, err := s.UpdateAccount("alice", func(*Account, *Txn) error { return stop }); err != stop {
		t.Fatalf("UpdateAccount's own error = %v", err)
	}
}

// UpdateAccount re-reads and redoes its change when another change commits
// in between, so neither is lost.
func TestUpdateAccountRetries(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	calls := 0
	a, err := s.UpdateAccount("alice", func(a *Account, _ *Txn) error {
		calls++
		if calls < 3 {
			// Another change commits after our read.
			if _, err := s.UpdateAccount("alice", func(b *Account, _ *Txn) error {
				b.Email = b.Email + "x"
				return nil
			}); err != nil {
				return err
			}
		}
		a.PassHash = "new"
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("UpdateAccount = %v after %d calls", err, calls)
	}
	stored, _ := s.Account("alice")
	if stored.PassHash != "new" || stored.Email != "xx" || stored.Version != 4 || !reflect.DeepEqual(a, stored) {
		t.Fatalf("stored %+v, returned %+v", stored, a)
	}

	// A conflict every time gives up with ErrConflict.
	_, err = s.UpdateAccount("alice", func(a *Account, _ *Txn) error {
		_, err := s.UpdateAccount("alice", func(b *Account, _ *Txn) error { b.Email += "y"; return nil })
		return err
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("endless conflicts = %v", err)
	}
}

func TestCertFingerprints(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	mustCommit(t, s, register(s, "bob", 2))
	add := func(name string, fps ...string) error {
		_, err := s.UpdateAccount(name, func(a *Account, _ *Txn) error {
			a.CertFPs = append(a.CertFPs, fps...)
			return nil
		})
		return err
	}
	if err := add("alice", fp("b2"), fp("a1"), fp("a1")); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Account("alice")
	if !reflect.DeepEqual(a.CertFPs, []string{fp("a1"), fp("b2")}) {
		t.Fatalf("fingerprints stored as %v", a.CertFPs)
	}
	for _, f := range a.CertFPs {
		if got, err := s.AccountByCert(f); err != nil || got.Name != "alice" {
			t.Fatalf("AccountByCert(%s) = %+v, %v", f, got, err)
		}
	}
	// A fingerprint belongs to one account.
	err := add("bob", fp("c3"), fp("a1"))
	var ce *ConditionError
	if !errors.As(err, &ce) || ce.Kind != KindCert || ce.Name != fp("a1") || !errors.Is(err, ErrConflict) {
		t.Fatalf("bob taking alice's certificate = %v", err)
	}
	if _, err := s.AccountByCert(fp("c3")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused change indexed c3: %v", err)
	}
	// CERT DEL: the index follows.
	if _, err := s.UpdateAccount("alice", func(a *Account, _ *Txn) error {
		a.CertFPs = []string{fp("b2")}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccountByCert(fp("a1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted fingerprint still found: %v", err)
	}
	if err := add("bob", fp("a1")); err != nil {
		t.Fatalf("a freed fingerprint: %v", err)
	}
	for _, bad := range []string{"AB" + fp("a1")[2:], fp("a1")[:62], "ab:cd", fp("g1")} {
		txn := s.NewTxn()
		txn.PutAccount(Account{Name: "carol", CertFPs: []string{bad}})
		if !errors.Is(txn.Err(), ErrInvalid) {
			t.Errorf("fingerprint %q accepted", bad)
		}
	}
}

func TestRecordLogin(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	read, _ := s.Account("alice")
	for _, ok := range []bool{false, false} {
		txn := s.NewTxn()
		txn.RecordLogin("alice", ts(5), ok)
		txn.RecordLogin("nobody", ts(5), ok)
		mustCommit(t, s, txn)
	}
	a, _ := s.Account("alice")
	if a.FailedLogins != 2 || !a.LastLogin.IsZero() || a.Version != 1 {
		t.Fatalf("after two failures: %+v", a)
	}
	txn := s.NewTxn()
	txn.RecordLogin("alice", ts(9), true)
	mustCommit(t, s, txn)
	a, _ = s.Account("alice")
	if a.FailedLogins != 0 || !a.LastLogin.Equal(ts(9)) {
		t.Fatalf("after a success: %+v", a)
	}
	if _, err := s.Account("nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatal("RecordLogin created an account")
	}
	// Logins recorded meanwhile neither make a copy read before them
	// stale (SET PASSWORD right after IDENTIFY) nor are undone by it.
	read.PassHash = "changed"
	txn = s.NewTxn()
	txn.PutAccount(read)
	mustCommit(t, s, txn)
	a, _ = s.Account("alice")
	if a.PassHash != "changed" || a.Version != 2 || !a.LastLogin.Equal(ts(9)) || a.FailedLogins != 0 {
		t.Fatalf("after a change over recorded logins: %+v", a)
	}
	txn = s.NewTxn()
	txn.RecordLogin("alice", ts(10), false)
	mustCommit(t, s, txn)
	if _, err := s.UpdateAccount("alice", func(a *Account, _ *Txn) error { a.Email = "new"; return nil }); err != nil {
		t.Fatal(err)
	}
	if a, _ = s.Account("alice"); a.FailedLogins != 1 || a.Email != "new" {
		t.Fatalf("failure undone by a change: %+v", a)
	}
}
