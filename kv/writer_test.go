package kv

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestBusyNeverBlocks(t *testing.T) {
	s := openTest(t, Options{QueueSize: 4})
	release := blockWriter(t, s)
	var done atomic.Int32
	accepted := 0
	start := time.Now()
	for i := range 10 {
		txn := s.NewTxn()
		txn.PutMeta(fmt.Sprint(i), nil)
		err := s.Commit(txn, func(err error) {
			if err != nil {
				t.Errorf("done: %v", err)
			}
			done.Add(1)
		})
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, ErrBusy):
			// The refused txn may be retried later.
			if txn.used {
				t.Fatal("refused txn marked used")
			}
		default:
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("Commit blocked for %v", elapsed)
	}
	if accepted != 4 {
		t.Fatalf("accepted %d, want the queue size 4", accepted)
	}
	if st, _ := s.Stats(); st.Busy != 6 {
		t.Fatalf("Busy = %d", st.Busy)
	}
	release()
	deadline := time.Now().Add(5 * time.Second)
	for done.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if done.Load() != 4 {
		t.Fatalf("done called %d times, want 4", done.Load())
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Logger: testLogger(t), DiskReserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	release := blockWriter(t, s)
	results := make(chan error, 20)
	for i := range 20 {
		txn := s.NewTxn()
		txn.PutMeta(fmt.Sprint("k", i), []byte{byte(i)})
		if err := s.Commit(txn, func(err error) { results <- err }); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	time.Sleep(10 * time.Millisecond)
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 20 {
		if err := <-results; err != nil {
			t.Fatalf("queued txn: %v", err)
		}
	}
	s = openTest(t, Options{Dir: dir})
	for i := range 20 {
		if v, err := s.Meta(fmt.Sprint("k", i)); err != nil || v[0] != byte(i) {
			t.Fatalf("k%d = %v, %v", i, v, err)
		}
	}
}

func TestDoneMayCommit(t *testing.T) {
	s := openTest(t, Options{})
	second := make(chan error, 1)
	txn := s.NewTxn()
	txn.PutMeta("a", nil)
	err := s.Commit(txn, func(err error) {
		next := s.NewTxn()
		next.RequireMeta("a")
		next.PutMeta("b", nil)
		if err := s.Commit(next, func(err error) { second <- err }); err != nil {
			second <- err
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}

func TestLazyHistory(t *testing.T) {
	s := openTest(t, Options{LazyHistory: true, LazySyncInterval: 20 * time.Millisecond})
	txn := s.NewTxn()
	txn.AppendHistory(HistoryMessage{Target: "#a", Text: "lazy"})
	mustCommit(t, s, txn)
	st, _ := s.Stats()
	if st.Batches != 1 || st.SyncedGroups != 0 {
		t.Fatalf("history-only txn synced: %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st.LazySyncs == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		st, _ = s.Stats()
	}
	if st.LazySyncs != 1 {
		t.Fatalf("LazySyncs = %d", st.LazySyncs)
	}
	// A transaction with anything besides history is synced.
	txn = s.NewTxn()
	txn.AppendHistory(HistoryMessage{Target: "#a", Text: "with audit"})
	txn.AppendAudit(AuditEntry{Action: "x"})
	mustCommit(t, s, txn)
	if st, _ = s.Stats(); st.SyncedGroups != 1 {
		t.Fatalf("mixed txn not synced: %+v", st)
	}

	durable := openTest(t, Options{})
	txn = durable.NewTxn()
	txn.AppendHistory(HistoryMessage{Target: "#a", Text: "durable"})
	mustCommit(t, durable, txn)
	if st, _ := durable.Stats(); st.SyncedGroups != 1 {
		t.Fatalf("history not synced by default: %+v", st)
	}
}

func TestMaxGroupBytesSplitsGroups(t *testing.T) {
	s := openTest(t, Options{MaxGroupBytes: 1000})
	release := blockWriter(t, s)
	results := make(chan error, 10)
	for i := range 10 {
		txn := s.NewTxn()
		txn.PutMeta(fmt.Sprint(i), make([]byte, 300))
		if err := s.Commit(txn, func(err error) { results <- err }); err != nil {
			t.Fatal(err)
		}
	}
	release()
	for range 10 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.Stats()
	if st.MaxGroup > 4 || st.Groups < 4 {
		t.Fatalf("groups not bounded by bytes: %+v", st)
	}
}
