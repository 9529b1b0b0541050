package kv

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckpointRestore(t *testing.T) {
	s := openTest(t, Options{LazyHistory: true, LazySyncInterval: time.Hour})
	mustCommit(t, s, register(s, "alice", 1))
	txn := s.NewTxn()
	txn.AppendHistory(HistoryMessage{Target: "#a", MsgID: "lazy", Text: "not synced yet"})
	mustCommit(t, s, txn)

	backup := filepath.Join(t.TempDir(), "backup")
	if err := s.Checkpoint(backup); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if err := s.Checkpoint(backup); err == nil {
		t.Fatal("checkpoint over an existing directory succeeded")
	}
	mustCommit(t, s, register(s, "bob", 2))

	r := openTest(t, Options{Dir: backup})
	if _, err := r.Account("alice"); err != nil {
		t.Fatalf("alice missing from backup: %v", err)
	}
	if owner, err := r.NickOwner("alice"); err != nil || owner != "alice" {
		t.Fatalf("alice's nick in backup: %q %v", owner, err)
	}
	if _, err := r.HistoryMessageByID("#a", "lazy"); err != nil {
		t.Fatalf("lazy history missing from backup: %v", err)
	}
	if _, err := r.Account("bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob in backup: %v", err)
	}
	// The restored store is a normal, writable store.
	mustCommit(t, r, register(r, "carol", 3))
	if _, err := s.Account("carol"); !errors.Is(err, ErrNotFound) {
		t.Fatal("restored store shares data with the original")
	}
}
