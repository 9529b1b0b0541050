package kv

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestReadMarkerNeverMovesBack(t *testing.T) {
	s := openTest(t, Options{})
	mark := func(target string, at time.Time) time.Time {
		t.Helper()
		var got time.Time
		txn := s.NewTxn()
		txn.MarkRead("alice", target, at, &got)
		mustCommit(t, s, txn)
		return got
	}
	if _, err := s.ReadMarker("alice", "#a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no marker: %v", err)
	}
	sub := ts(10).Add(1500 * time.Microsecond)
	if got := mark("#a", sub); !got.Equal(ts(10).Add(time.Millisecond)) {
		t.Fatalf("first marker = %v, want it at the millisecond", got)
	}
	if got := mark("#a", ts(5)); !got.Equal(ts(10).Add(time.Millisecond)) {
		t.Fatalf("older marker moved it back to %v", got)
	}
	if got := mark("#a", ts(20)); !got.Equal(ts(20)) {
		t.Fatalf("newer marker = %v", got)
	}
	mark(PrivateTarget(alice, bob), ts(3))
	all, err := s.ReadMarkers("alice")
	want := map[string]time.Time{"#a": ts(20), PrivateTarget(alice, bob): ts(3)}
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Fatalf("markers = %v, %v", all, err)
	}
	if m, _ := s.ReadMarkers("bob"); len(m) != 0 {
		t.Fatalf("bob's markers: %v", m)
	}

	// Racing markers in one group: the latest wins, whatever the order.
	release := blockWriter(t, s)
	results := make([]time.Time, 3)
	done := make(chan error, 3)
	for i, at := range []time.Time{ts(40), ts(30), ts(35)} {
		txn := s.NewTxn()
		txn.MarkRead("alice", "#b", at, &results[i])
		if err := s.Commit(txn, func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
	}
	release()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.ReadMarker("alice", "#b"); !got.Equal(ts(40)) || !results[1].Equal(ts(40)) || !results[2].Equal(ts(40)) {
		t.Fatalf("marker %v, results %v", got, results)
	}
}
