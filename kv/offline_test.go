package kv

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func offline(s *Store, at time.Time, from Peer, to Peer, text string) *Txn {
	txn := s.NewTxn()
	txn.AppendOffline(HistoryMessage{Time: at, MsgID: text, Source: from.Name + "!u@h", To: to.Name, Command: "PRIVMSG", Text: text}, from, to)
	return txn
}

func unreadSummary(t *testing.T, s *Store, account string) map[string]int {
	t.Helper()
	list, err := s.Unread(account)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	total := 0
	for _, u := range list {
		m[u.Peer.Name] = u.Count
		total += u.Count
	}
	if n, err := s.UnreadCount(account); err != nil || n != total {
		t.Fatalf("UnreadCount = %d, %v; entries sum to %d", n, err, total)
	}
	return m
}

func TestOfflineQuotaAndUnread(t *testing.T) {
	s := openTest(t, Options{OfflineMaxMessages: 3})
	to := Peer{carol, "carol"}
	mustCommit(t, s, offline(s, ts(1), Peer{alice, "alice"}, to, "a1"))
	mustCommit(t, s, offline(s, ts(2), Peer{bob, "bob"}, to, "b1"))
	mustCommit(t, s, offline(s, ts(3), Peer{alice, "Alice2"}, to, "a2"))
	if got := unreadSummary(t, s, "carol"); !reflect.DeepEqual(got, map[string]int{"Alice2": 2, "bob": 1}) {
		t.Fatalf("unread: %v", got)
	}
	list, _ := s.Unread("carol")
	if u := list[0]; u.Target != PrivateTarget(alice, carol) || !u.Oldest.Equal(ts(1)) || !u.Latest.Equal(ts(3)) || u.Account != "carol" {
		t.Fatalf("unread entry: %+v", u)
	}
	// Offline messages are part of the conversation, and of its targets.
	if got := texts(t)(s.HistoryLatest(PrivateTarget(carol, alice), HistoryRef{}, 10)); !reflect.DeepEqual(got, []string{"a1", "a2"}) {
		t.Fatalf("conversation: %v", got)
	}
	if list, _ := s.HistoryTargets(TargetsQuery{Party: carol, Limit: 10}); len(list) != 2 {
		t.Fatalf("targets: %+v", list)
	}

	// Full: a clear error, and nothing of the transaction is written.
	txn := offline(s, ts(4), Peer{bob, "bob"}, to, "b2")
	txn.PutMeta("side", nil)
	err := s.CommitWait(txn)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitOffline || le.Name != "carol" || le.Max != 3 || !errors.Is(err, ErrLimit) {
		t.Fatalf("over quota: %v", err)
	}
	if got := texts(t)(s.HistoryLatest(PrivateTarget(carol, bob), HistoryRef{}, 10)); !reflect.DeepEqual(got, []string{"b1"}) {
		t.Fatalf("refused message stored: %v", got)
	}
	if _, err := s.Meta("side"); !errors.Is(err, ErrNotFound) {
		t.Fatal("refused transaction wrote")
	}
	if st, _ := s.Stats(); st.Conflicts != 1 || st.Failures != 0 {
		t.Fatalf("a quota refusal is a decision, not a failure: %+v", st)
	}

	// Delivery frees the quota.
	txn = s.NewTxn()
	txn.ClearUnread("carol", PrivateTarget(carol, alice))
	mustCommit(t, s, txn)
	if got := unreadSummary(t, s, "carol"); !reflect.DeepEqual(got, map[string]int{"bob": 1}) {
		t.Fatalf("after clearing alice: %v", got)
	}
	mustCommit(t, s, offline(s, ts(5), Peer{bob, "bob"}, to, "b2"))
	mustCommit(t, s, offline(s, ts(6), Peer{bob, "bob"}, to, "b3"))
	txn = s.NewTxn()
	txn.ClearUnread("carol", "")
	mustCommit(t, s, txn)
	if got := unreadSummary(t, s, "carol"); len(got) != 0 {
		t.Fatalf("after clearing all: %v", got)
	}

	// Within one group, the quota counts the transactions before.
	release := blockWriter(t, s)
	results := make(chan error, 5)
	for i := range 5 {
		if err := s.Commit(offline(s, ts(10+i), Peer{alice, "alice"}, to, fmt.Sprint("g", i)), func(err error) { results <- err }); err != nil {
			t.Fatal(err)
		}
	}
	release()
	ok, full := 0, 0
	for range 5 {
		switch err := <-results; {
		case err == nil:
			ok++
		case errors.Is(err, ErrLimit):
			full++
		default:
			t.Fatal(err)
		}
	}
	if ok != 3 || full != 2 {
		t.Fatalf("group: %d stored, %d refused", ok, full)
	}

	txn = s.NewTxn()
	txn.AppendOffline(HistoryMessage{Text: "x"}, Peer{alice, "alice"}, Peer{ConnParty("tok"), "guest"})
	if !errors.Is(txn.Err(), ErrInvalid) {
		t.Fatalf("offline message to a connection: %v", txn.Err())
	}
}

// Offline messages are durable even when history is lazy.
func TestOfflineIsDurableWithLazyHistory(t *testing.T) {
	s := openTest(t, Options{LazyHistory: true, LazySyncInterval: time.Hour})
	mustCommit(t, s, offline(s, ts(1), Peer{alice, "alice"}, Peer{bob, "bob"}, "x"))
	if st, _ := s.Stats(); st.SyncedGroups != 1 {
		t.Fatalf("offline message not synced: %+v", st)
	}
	txn := s.NewTxn()
	txn.AppendPrivate(HistoryMessage{Text: "y"}, Peer{alice, "alice"}, Peer{bob, "bob"})
	mustCommit(t, s, txn)
	if st, _ := s.Stats(); st.SyncedGroups != 1 || st.Batches != 2 {
		t.Fatalf("lazy private message synced: %+v", st)
	}
}

func TestExpireOffline(t *testing.T) {
	smallChunks(t, 3)
	s := openTest(t, Options{OfflineMaxAge: time.Hour})
	to := Peer{carol, "carol"}
	base := ts(0)
	for i, d := range []time.Duration{0, 10 * time.Minute, 20 * time.Minute, 25 * time.Minute, 2 * time.Hour} {
		mustCommit(t, s, offline(s, base.Add(d), Peer{alice, "alice"}, to, fmt.Sprint("a", i)))
	}
	for i := range 4 {
		mustCommit(t, s, offline(s, base.Add(time.Duration(i)*time.Minute), Peer{bob, "bob"}, to, fmt.Sprint("b", i)))
	}
	// bob's messages were delivered: their expiry entries are stale.
	txn := s.NewTxn()
	txn.ClearUnread("carol", PrivateTarget(carol, bob))
	mustCommit(t, s, txn)
	// ...and a new one from bob arrives, newer than the cutoff.
	mustCommit(t, s, offline(s, base.Add(100*time.Minute), Peer{bob, "bob"}, to, "b-new"))

	n, err := s.ExpireOffline(base.Add(80 * time.Minute)) // cutoff: +20m
	if err != nil || n != 2 {
		t.Fatalf("ExpireOffline = %d, %v; want alice's two before +20m", n, err)
	}
	if got := unreadSummary(t, s, "carol"); !reflect.DeepEqual(got, map[string]int{"alice": 3, "bob": 1}) {
		t.Fatalf("after expiry: %v", got)
	}
	n, err = s.ExpireOffline(base.Add(86 * time.Minute)) // cutoff +26m
	if err != nil || n != 2 {
		t.Fatalf("second ExpireOffline = %d, %v", n, err)
	}
	if got := unreadSummary(t, s, "carol"); !reflect.DeepEqual(got, map[string]int{"alice": 1, "bob": 1}) {
		t.Fatalf("after second expiry: %v", got)
	}
	n, err = s.ExpireOffline(base.Add(200 * time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("final ExpireOffline = %d, %v", n, err)
	}
	if got := unreadSummary(t, s, "carol"); len(got) != 0 {
		t.Fatalf("after final expiry: %v", got)
	}
	// Expiry ends the unread state only: the messages stay in history.
	if got := texts(t)(s.HistoryLatest(PrivateTarget(carol, alice), HistoryRef{}, 10)); len(got) != 5 {
		t.Fatalf("history after expiry: %v", got)
	}
	// Nothing is left in the expiry queue.
	left := 0
	if err := s.scan([]byte{tagOffline}, []byte{tagOffline + 1}, false, func(_, _ []byte) (bool, error) { left++; return true, nil }); err != nil || left != 0 {
		t.Fatalf("%d expiry entries left, %v", left, err)
	}
}
