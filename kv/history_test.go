package kv

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// fillHistory stores n messages in target, message i at ts(i) with msgid
// "<target>-i", in one transaction.
func fillHistory(t *testing.T, s *Store, target string, n int) {
	t.Helper()
	txn := s.NewTxn()
	for i := range n {
		txn.AppendHistory(HistoryMessage{
			Time: ts(i), MsgID: fmt.Sprintf("%s-%d", target, i), Target: target, To: target,
			Source: "nick!u@h", Command: "PRIVMSG", Text: fmt.Sprint("msg ", i),
		})
	}
	mustCommit(t, s, txn)
}

// ids returns the message numbers of a result, for comparison.
func ids(t *testing.T, list []HistoryMessage, err error) []int {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	out := []int{}
	for i, m := range list {
		var n int
		if _, err := fmt.Sscanf(m.Text, "msg %d", &n); err != nil {
			t.Fatalf("message %d: %q", i, m.Text)
		}
		if i > 0 && !m.Time.After(list[i-1].Time) {
			t.Fatalf("not chronological: %v after %v", m.Time, list[i-1].Time)
		}
		out = append(out, n)
	}
	return out
}

func idsOf(t *testing.T) func([]HistoryMessage, error) []int {
	return func(list []HistoryMessage, err error) []int { t.Helper(); return ids(t, list, err) }
}

func seq(from, to int) []int {
	out := []int{}
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestHistoryQueries(t *testing.T) {
	s := openTest(t, Options{})
	fillHistory(t, s, "#a", 50)
	fillHistory(t, s, "#ab", 5) // a target whose name extends #a must not leak in
	fillHistory(t, s, "#", 5)

	id := func(n int) HistoryRef { return HistoryRef{MsgID: fmt.Sprint("#a-", n)} }
	at := func(n int) HistoryRef { return HistoryRef{Time: ts(n)} }
	cases := []struct {
		name string
		got  func() ([]HistoryMessage, error)
		want []int
	}{
		{"latest", func() ([]HistoryMessage, error) { return s.HistoryLatest("#a", HistoryRef{}, 5) }, seq(45, 49)},
		{"latest after msgid", func() ([]HistoryMessage, error) { return s.HistoryLatest("#a", id(46), 10) }, seq(47, 49)},
		{"latest after time", func() ([]HistoryMessage, error) { return s.HistoryLatest("#a", at(46), 10) }, seq(47, 49)},
		{"latest all", func() ([]HistoryMessage, error) { return s.HistoryLatest("#a", HistoryRef{}, 1000) }, seq(0, 49)},
		{"before msgid", func() ([]HistoryMessage, error) { return s.HistoryBefore("#a", id(10), 3) }, seq(7, 9)},
		{"before time", func() ([]HistoryMessage, error) { return s.HistoryBefore("#a", at(10), 3) }, seq(7, 9)},
		{"before between seconds", func() ([]HistoryMessage, error) {
			return s.HistoryBefore("#a", HistoryRef{Time: ts(10).Add(time.Millisecond)}, 2)
		}, seq(9, 10)},
		{"before start", func() ([]HistoryMessage, error) { return s.HistoryBefore("#a", id(2), 10) }, seq(0, 1)},
		{"after msgid", func() ([]HistoryMessage, error) { return s.HistoryAfter("#a", id(10), 3) }, seq(11, 13)},
		{"after time", func() ([]HistoryMessage, error) { return s.HistoryAfter("#a", at(10), 3) }, seq(11, 13)},
		{"after end", func() ([]HistoryMessage, error) { return s.HistoryAfter("#a", id(48), 3) }, seq(49, 49)},
		{"around msgid", func() ([]HistoryMessage, error) { return s.HistoryAround("#a", id(20), 5) }, seq(18, 22)},
		{"around time", func() ([]HistoryMessage, error) { return s.HistoryAround("#a", at(20), 4) }, seq(18, 21)},
		{"around start", func() ([]HistoryMessage, error) { return s.HistoryAround("#a", id(0), 4) }, seq(0, 3)},
		{"between forward", func() ([]HistoryMessage, error) { return s.HistoryBetween("#a", id(10), id(20), 100) }, seq(11, 19)},
		{"between forward limited", func() ([]HistoryMessage, error) { return s.HistoryBetween("#a", at(10), at(20), 3) }, seq(11, 13)},
		{"between backward limited", func() ([]HistoryMessage, error) { return s.HistoryBetween("#a", id(20), at(10), 3) }, seq(17, 19)},
		{"between adjacent", func() ([]HistoryMessage, error) { return s.HistoryBetween("#a", id(10), id(11), 10) }, seq(0, -1)},
		{"limit 0", func() ([]HistoryMessage, error) { return s.HistoryLatest("#a", HistoryRef{}, 0) }, seq(0, -1)},
		{"other target", func() ([]HistoryMessage, error) { return s.HistoryLatest("#ab", HistoryRef{}, 100) }, seq(0, 4)},
		{"empty target", func() ([]HistoryMessage, error) { return s.HistoryLatest("#none", HistoryRef{}, 100) }, seq(0, -1)},
		{"time before all", func() ([]HistoryMessage, error) {
			return s.HistoryAfter("#a", HistoryRef{Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, 2)
		}, seq(0, 1)},
		{"time after all", func() ([]HistoryMessage, error) {
			return s.HistoryBefore("#a", HistoryRef{Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, 2)
		}, seq(48, 49)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list, err := c.got()
			if got := ids(t, list, err); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}

	if _, err := s.HistoryBefore("#a", HistoryRef{MsgID: "nope"}, 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown msgid: %v", err)
	}
	if _, err := s.HistoryBefore("#ab", id(3), 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("msgid of another target: %v", err)
	}
	m, err := s.HistoryMessageByID("#a", "#a-7")
	want := HistoryMessage{Time: ts(7), MsgID: "#a-7", Target: "#a", To: "#a", Source: "nick!u@h", Command: "PRIVMSG", Text: "msg 7"}
	want.Seq = m.Seq
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("by id: %+v, %v", m, err)
	}
}

func TestHistoryEqualTimesKeepAppendOrder(t *testing.T) {
	s := openTest(t, Options{})
	target := DMTarget("bob", "alice")
	if target != DMTarget("alice", "bob") {
		t.Fatal("DMTarget not symmetric")
	}
	for i := range 5 {
		txn := s.NewTxn()
		txn.AppendHistory(HistoryMessage{Time: ts(0), Target: target, Text: fmt.Sprint(i)})
		mustCommit(t, s, txn)
	}
	list, err := s.HistoryLatest(target, HistoryRef{}, 10)
	if err != nil || len(list) != 5 {
		t.Fatalf("%v %v", list, err)
	}
	for i, m := range list {
		if m.Text != fmt.Sprint(i) {
			t.Fatalf("order: %d is %q", i, m.Text)
		}
	}
}

func TestHistoryRetention(t *testing.T) {
	s := openTest(t, Options{})
	fillHistory(t, s, "#a", 30)
	fillHistory(t, s, "#b", 10)
	fillHistory(t, s, "#c", 3)

	n, err := s.PruneHistory(ts(5))
	if err != nil || n != 5+5+3 {
		t.Fatalf("PruneHistory = %d, %v", n, err)
	}
	if got := idsOf(t)(s.HistoryLatest("#a", HistoryRef{}, 100)); !reflect.DeepEqual(got, seq(5, 29)) {
		t.Fatalf("#a after prune: %v", got)
	}
	if got := idsOf(t)(s.HistoryLatest("#c", HistoryRef{}, 100)); len(got) != 0 {
		t.Fatalf("#c after prune: %v", got)
	}
	// The msgid index went with the messages.
	if _, err := s.HistoryMessageByID("#a", "#a-4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned msgid: %v", err)
	}

	n, err = s.TrimHistory("#a", 10)
	if err != nil || n != 15 {
		t.Fatalf("TrimHistory = %d, %v", n, err)
	}
	if got := idsOf(t)(s.HistoryLatest("#a", HistoryRef{}, 100)); !reflect.DeepEqual(got, seq(20, 29)) {
		t.Fatalf("#a after trim: %v", got)
	}
	if n, err := s.TrimHistory("#b", 100); err != nil || n != 0 {
		t.Fatalf("trim below keep = %d, %v", n, err)
	}

	txn := s.NewTxn()
	txn.DeleteHistory("#a", "#a-25")
	txn.DeleteHistory("#a", "unknown")
	mustCommit(t, s, txn)
	if got := idsOf(t)(s.HistoryAfter("#a", HistoryRef{MsgID: "#a-24"}, 2)); !reflect.DeepEqual(got, []int{26, 27}) {
		t.Fatalf("after redaction: %v", got)
	}
}

func TestPruneHistoryChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes thousands of messages")
	}
	s := openTest(t, Options{})
	const n = pruneChunk + 100
	for start := 0; start < n; start += 1000 {
		txn := s.NewTxn()
		for i := start; i < min(start+1000, n); i++ {
			txn.AppendHistory(HistoryMessage{Time: ts(i), Target: "#big", MsgID: fmt.Sprint(i)})
		}
		mustCommit(t, s, txn)
	}
	got, err := s.PruneHistory(ts(n))
	if err != nil || got != n {
		t.Fatalf("PruneHistory = %d, %v", got, err)
	}
	st, _ := s.Stats()
	if st.Commits < 2+(n+999)/1000 {
		t.Fatalf("not chunked: %d commits", st.Commits)
	}
}
