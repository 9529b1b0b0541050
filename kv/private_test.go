package kv

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var (
	alice = AccountParty("alice")
	bob   = AccountParty("bob")
	carol = AccountParty("carol")
)

func dm(s *Store, t *testing.T, at time.Time, from, to Peer, text string) HistoryMessage {
	t.Helper()
	txn := s.NewTxn()
	m := HistoryMessage{Time: at, MsgID: text, To: to.Name, Source: from.Name + "!u@h", Command: "PRIVMSG", Text: text}
	txn.AppendPrivate(m, from, to)
	mustCommit(t, s, txn)
	m.Target = PrivateTarget(from.Party, to.Party)
	return m
}

// texts returns the texts of a query's result.
func texts(t *testing.T) func([]HistoryMessage, error) []string {
	return func(list []HistoryMessage, err error) []string { t.Helper(); return textsOf(t, list, err) }
}

func textsOf(t *testing.T, list []HistoryMessage, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, m := range list {
		out = append(out, m.Text)
	}
	return out
}

// Private history belongs to the pair of parties: each side reads it under
// the same target, nobody else's target reaches it, and a connection that
// is not logged in has a party no later connection can have.
func TestPrivateHistoryByParty(t *testing.T) {
	s := openTest(t, Options{})
	guest := ConnParty(NewConnToken())
	if other := ConnParty(NewConnToken()); other == guest {
		t.Fatal("connection tokens repeat")
	}
	dm(s, t, ts(1), Peer{alice, "Alice"}, Peer{bob, "Bob"}, "hi bob")
	dm(s, t, ts(2), Peer{bob, "Bob"}, Peer{alice, "Alice"}, "hi alice")
	dm(s, t, ts(3), Peer{guest, "bob"}, Peer{alice, "Alice"}, "i am bob, honest")
	dm(s, t, ts(4), Peer{alice, "Alice"}, Peer{alice, "Alice"}, "note to self")

	got := texts(t)(s.HistoryLatest(PrivateTarget(bob, alice), HistoryRef{}, 10))
	if !reflect.DeepEqual(got, []string{"hi bob", "hi alice"}) {
		t.Fatalf("alice-bob: %v", got)
	}
	if got := texts(t)(s.HistoryLatest(PrivateTarget(guest, bob), HistoryRef{}, 10)); len(got) != 0 {
		t.Fatalf("a guest calling itself bob reads: %v", got)
	}
	if got := texts(t)(s.HistoryLatest(PrivateTarget(alice, guest), HistoryRef{}, 10)); !reflect.DeepEqual(got, []string{"i am bob, honest"}) {
		t.Fatalf("alice-guest: %v", got)
	}
	if got := texts(t)(s.HistoryLatest(PrivateTarget(alice, alice), HistoryRef{}, 10)); !reflect.DeepEqual(got, []string{"note to self"}) {
		t.Fatalf("self: %v", got)
	}

	targets, err := s.HistoryTargets(TargetsQuery{Party: alice, Limit: 10})
	want := []HistoryTarget{
		{Target: PrivateTarget(alice, bob), Peer: Peer{bob, "Bob"}, Latest: ts(2)},
		{Target: PrivateTarget(alice, guest), Peer: Peer{guest, "bob"}, Latest: ts(3)},
		{Target: PrivateTarget(alice, alice), Peer: Peer{alice, "Alice"}, Latest: ts(4)},
	}
	if err != nil || !reflect.DeepEqual(targets, want) {
		t.Fatalf("alice's targets:\n got %+v\nwant %+v (%v)", targets, want, err)
	}
	if targets, _ := s.HistoryTargets(TargetsQuery{Party: bob, Limit: 10}); len(targets) != 1 || targets[0].Peer != (Peer{alice, "Alice"}) {
		t.Fatalf("bob's targets: %+v", targets)
	}
	if targets, _ := s.HistoryTargets(TargetsQuery{Party: carol, Limit: 10}); len(targets) != 0 {
		t.Fatalf("carol's targets: %+v", targets)
	}

	txn := s.NewTxn()
	txn.AppendPrivate(HistoryMessage{Text: "x"}, Peer{Party: "bob"}, Peer{Party: alice})
	if !errors.Is(txn.Err(), ErrInvalid) {
		t.Fatalf("a nick as a party: %v", txn.Err())
	}
	txn = s.NewTxn()
	txn.AppendPrivate(HistoryMessage{Text: "x"}, Peer{Party: "a:has space"}, Peer{Party: alice})
	if !errors.Is(txn.Err(), ErrInvalid) {
		t.Fatalf("a party with a space: %v", txn.Err())
	}
	if a, ok := alice.Account(); !ok || a != "alice" {
		t.Fatal("Account of an account party")
	}
	if _, ok := guest.Account(); ok {
		t.Fatal("Account of a connection party")
	}
}

// CHATHISTORY TARGETS as irctest checks it: channels and private
// conversations ordered by their latest message, exclusive bounds, the
// limit taken from the first bound.
func TestHistoryTargets(t *testing.T) {
	s := openTest(t, Options{})
	at := func(ms int) time.Time { return ts(0).Add(time.Duration(ms)*time.Millisecond + 300*time.Microsecond) }
	post := func(ch string, ms int) {
		txn := s.NewTxn()
		txn.AppendHistory(HistoryMessage{Time: at(ms), Target: ch, Command: "PRIVMSG", Text: "x"})
		mustCommit(t, s, txn)
	}
	post("#ch1", 1)
	dm(s, t, at(3), Peer{alice, "alice"}, Peer{bob, "bob"}, "to bob")
	post("#ch2", 5)
	dm(s, t, at(7), Peer{alice, "alice"}, Peer{carol, "carol"}, "to carol")
	post("#notmine", 8)
	txn := s.NewTxn() // a later event that does not count as a message
	txn.AppendHistory(HistoryMessage{Time: at(9), Target: "#ch1", Command: "JOIN"})
	mustCommit(t, s, txn)

	names := func(q TargetsQuery) []string {
		t.Helper()
		q.Party, q.Channels, q.Kinds = alice, []string{"#ch1", "#ch2", "#empty"}, HistMessages
		list, err := s.HistoryTargets(q)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, h := range list {
			if h.Peer.Name != "" {
				out = append(out, h.Peer.Name)
			} else {
				out = append(out, h.Target)
			}
			if h.Latest.Nanosecond()%int(time.Millisecond) != 0 {
				t.Fatalf("latest %v not in milliseconds", h.Latest)
			}
		}
		return out
	}
	ms := func(n int) time.Time { return at(n).Truncate(time.Millisecond) }
	early, late := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		q    TargetsQuery
		want []string
	}{
		{"all", TargetsQuery{From: early, To: late, Limit: 100}, []string{"#ch1", "bob", "#ch2", "carol"}},
		{"unbounded", TargetsQuery{Limit: 100}, []string{"#ch1", "bob", "#ch2", "carol"}},
		{"limit from the start", TargetsQuery{From: early, To: late, Limit: 2}, []string{"#ch1", "bob"}},
		{"lower bound exclusive", TargetsQuery{From: ms(1), To: late, Limit: 100}, []string{"bob", "#ch2", "carol"}},
		{"both bounds exclusive", TargetsQuery{From: ms(1), To: ms(7), Limit: 100}, []string{"bob", "#ch2"}},
		{"backwards from the later bound", TargetsQuery{From: late, To: early, Limit: 2}, []string{"#ch2", "carol"}},
		{"none", TargetsQuery{From: ms(7), To: late, Limit: 100}, []string{}},
		{"limit 0", TargetsQuery{Limit: 0}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := names(c.q); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	// With every kind counting, #ch1's JOIN is its latest entry.
	list, err := s.HistoryTargets(TargetsQuery{Channels: []string{"#ch1"}, Limit: 10})
	if err != nil || len(list) != 1 || !list[0].Latest.Equal(ms(9)) {
		t.Fatalf("all kinds: %+v %v", list, err)
	}
	// A conversation whose latest message is outside the window is not
	// listed, even with earlier messages inside it.
	if got := names(TargetsQuery{From: early, To: ms(2), Limit: 100}); !reflect.DeepEqual(got, []string{"#ch1"}) {
		t.Fatalf("window before the latest: %v", got)
	}
}

func TestDeleteAccountDeletesConversations(t *testing.T) {
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	mustCommit(t, s, register(s, "bob", 2))
	dm(s, t, ts(1), Peer{alice, "alice"}, Peer{bob, "bob"}, "secret")
	dm(s, t, ts(2), Peer{bob, "bob"}, Peer{carol, "carol"}, "unrelated")
	txn := s.NewTxn()
	txn.AppendOffline(HistoryMessage{Time: ts(3), Command: "PRIVMSG", Text: "while you were out"}, Peer{alice, "alice"}, Peer{carol, "carol"})
	txn.MarkRead("alice", "#chan", ts(3), nil)
	mustCommit(t, s, txn)
	txn = s.NewTxn()
	txn.AppendOffline(HistoryMessage{Time: ts(4), Command: "PRIVMSG", Text: "for alice"}, Peer{bob, "bob"}, Peer{alice, "alice"})
	mustCommit(t, s, txn)

	txn = s.NewTxn()
	txn.DeleteAccount("alice")
	mustCommit(t, s, txn)
	mustCommit(t, s, register(s, "alice", 5)) // somebody else, same name

	for _, target := range []string{PrivateTarget(alice, bob), PrivateTarget(alice, carol)} {
		if got := texts(t)(s.HistoryLatest(target, HistoryRef{}, 10)); len(got) != 0 {
			t.Fatalf("%s readable after the account was deleted: %v", target, got)
		}
	}
	for _, p := range []Party{alice, bob, carol} {
		list, err := s.HistoryTargets(TargetsQuery{Party: p, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range list {
			if h.Peer.Party == alice || h.Target != PrivateTarget(bob, carol) {
				t.Fatalf("%s still lists %+v", p, h)
			}
		}
	}
	if got := texts(t)(s.HistoryLatest(PrivateTarget(bob, carol), HistoryRef{}, 10)); !reflect.DeepEqual(got, []string{"unrelated"}) {
		t.Fatalf("bob-carol: %v", got)
	}
	if u, _ := s.Unread("carol"); len(u) != 0 {
		t.Fatalf("carol's unread from the deleted account: %+v", u)
	}
	if n, _ := s.UnreadCount("carol"); n != 0 {
		t.Fatalf("carol's unread count: %d", n)
	}
	if u, _ := s.Unread("alice"); len(u) != 0 {
		t.Fatalf("the new alice inherits unread: %+v", u)
	}
	if _, err := s.ReadMarker("alice", "#chan"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the new alice inherits a read marker: %v", err)
	}
}

func TestPruneHistoryDropsOldConversations(t *testing.T) {
	s := openTest(t, Options{})
	dm(s, t, ts(1), Peer{alice, "alice"}, Peer{bob, "bob"}, "old")
	dm(s, t, ts(5), Peer{alice, "alice"}, Peer{carol, "carol"}, "older")
	dm(s, t, ts(10), Peer{alice, "alice"}, Peer{carol, "carol"}, "new")
	n, err := s.PruneHistory(ts(8))
	if err != nil || n != 2 {
		t.Fatalf("PruneHistory = %d, %v", n, err)
	}
	list, err := s.HistoryTargets(TargetsQuery{Party: alice, Limit: 10})
	if err != nil || len(list) != 1 || list[0].Peer.Party != carol {
		t.Fatalf("after prune: %+v %v", list, err)
	}
	if list, _ := s.HistoryTargets(TargetsQuery{Party: bob, Limit: 10}); len(list) != 0 {
		t.Fatalf("bob after prune: %+v", list)
	}
}

func TestConversationLists(t *testing.T) {
	// Many conversations of one party are all listed.
	s := openTest(t, Options{})
	for i := range 30 {
		dm(s, t, ts(i), Peer{alice, "alice"}, Peer{AccountParty(fmt.Sprint("u", i)), fmt.Sprint("U", i)}, fmt.Sprint(i))
	}
	list, err := s.HistoryTargets(TargetsQuery{Party: alice, Limit: 100})
	if err != nil || len(list) != 30 || list[29].Peer.Name != "U29" {
		t.Fatalf("%d targets, %v", len(list), err)
	}
}
