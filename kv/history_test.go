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
		if p := list[max(i-1, 0)]; i > 0 && (m.Time.Before(p.Time) || m.Time.Equal(p.Time) && m.Seq <= p.Seq) {
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
	target := PrivateTarget(AccountParty("bob"), ConnParty("x"))
	if target != PrivateTarget(ConnParty("x"), AccountParty("bob")) {
		t.Fatal("PrivateTarget not symmetric")
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

// smallChunks makes retention and sweeps work in chunks of n for a test.
func smallChunks(t *testing.T, n int) {
	old := pruneChunk
	pruneChunk = n
	t.Cleanup(func() { pruneChunk = old })
}

func TestPruneHistoryChunks(t *testing.T) {
	smallChunks(t, 40)
	s := openTest(t, Options{})
	n := pruneChunk*25 + 10
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
	if st.Commits < uint64(26+(n+999)/1000) {
		t.Fatalf("not chunked: %d commits", st.Commits)
	}
}

// Times are milliseconds end to end: entries at sub-millisecond times are
// stored at their millisecond, and a bound at a millisecond excludes every
// entry a client saw at it (draft/chathistory's bounds are exclusive).
func TestHistoryMillisecondBounds(t *testing.T) {
	s := openTest(t, Options{})
	base := ts(100)
	us := time.Microsecond
	times := []time.Duration{-1000 * us, 100 * us, 200 * us, 900 * us, 1500 * us}
	txn := s.NewTxn()
	for i, d := range times {
		txn.AppendHistory(HistoryMessage{Time: base.Add(d), MsgID: fmt.Sprint("m", i), Target: "#ms", Command: "PRIVMSG", Text: fmt.Sprint("msg ", i)})
	}
	mustCommit(t, s, txn)

	all, err := s.HistoryLatest("#ms", HistoryRef{}, 10)
	if err != nil || len(all) != len(times) {
		t.Fatalf("latest: %v %v", all, err)
	}
	for i, m := range all {
		if want := base.Add(times[i]).Truncate(time.Millisecond); !m.Time.Equal(want) {
			t.Fatalf("entry %d stored at %v, want %v", i, m.Time, want)
		}
	}
	at := func(d time.Duration) HistoryRef { return HistoryRef{Time: base.Add(d)} }
	cases := []struct {
		name string
		q    HistoryQuery
		want []int
	}{
		{"after excludes the millisecond", HistoryQuery{Select: SelectAfter, Ref: at(0)}, []int{4}},
		{"after a sub-ms bound is the same", HistoryQuery{Select: SelectAfter, Ref: at(500 * us)}, []int{4}},
		{"before excludes the millisecond", HistoryQuery{Select: SelectBefore, Ref: at(900 * us)}, []int{0}},
		{"latest after excludes the millisecond", HistoryQuery{Select: SelectLatest, Ref: at(0)}, []int{4}},
		{"between forwards", HistoryQuery{Select: SelectBetween, Ref: at(-1 * time.Millisecond), Ref2: at(time.Millisecond)}, []int{1, 2, 3}},
		{"between backwards", HistoryQuery{Select: SelectBetween, Ref: at(time.Millisecond), Ref2: at(-1 * time.Millisecond)}, []int{1, 2, 3}},
		{"between backwards limited", HistoryQuery{Select: SelectBetween, Ref: at(time.Millisecond), Ref2: at(-1 * time.Millisecond), Limit: 2}, []int{2, 3}},
		{"between same ms", HistoryQuery{Select: SelectBetween, Ref: at(0), Ref2: at(700 * us)}, []int{}},
		{"around a time includes it", HistoryQuery{Select: SelectAround, Ref: at(0), Limit: 3}, []int{0, 1, 2}},
		{"around a msgid includes it", HistoryQuery{Select: SelectAround, Ref: HistoryRef{MsgID: "m3"}, Limit: 1}, []int{3}},
		{"after a msgid of the same ms", HistoryQuery{Select: SelectAfter, Ref: HistoryRef{MsgID: "m1"}}, []int{2, 3, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Target = "#ms"
			if c.q.Limit == 0 {
				c.q.Limit = 10
			}
			if got := idsOf(t)(s.QueryHistory(c.q)); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	for _, sel := range []HistorySelect{SelectBefore, SelectAfter, SelectAround, SelectBetween, 0} {
		if _, err := s.QueryHistory(HistoryQuery{Target: "#ms", Select: sel, Limit: 5}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v without bounds: %v", sel, err)
		}
	}
	if _, err := s.QueryHistory(HistoryQuery{Select: SelectLatest, Limit: 5}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no target: %v", err)
	}
}

// appendKinds stores one entry of each kind in #k, times ts(0)...
func appendKinds(t *testing.T, s *Store) []string {
	cmds := []string{"JOIN", "PRIVMSG", "TAGMSG", "MODE", "NOTICE", "TOPIC", "PART", "KICK", "QUIT", "NICK", "KNOCK", "PRIVMSG"}
	txn := s.NewTxn()
	for i, cmd := range cmds {
		txn.AppendHistory(HistoryMessage{Time: ts(i), MsgID: fmt.Sprint("k", i), Target: "#k", To: "#k", Source: "n!u@h",
			Command: cmd, Params: []string{"p"}, Text: fmt.Sprint("msg ", i), Tags: "+draft/react=1"})
	}
	mustCommit(t, s, txn)
	return cmds
}

func TestHistoryKindsFilter(t *testing.T) {
	s := openTest(t, Options{})
	cmds := appendKinds(t, s)
	q := func(kinds HistoryKinds, sel HistorySelect, ref HistoryRef, limit int) []int {
		t.Helper()
		return idsOf(t)(s.QueryHistory(HistoryQuery{Target: "#k", Select: sel, Ref: ref, Limit: limit, Kinds: kinds}))
	}
	// The limit counts only what is selected.
	if got := q(HistMessages, SelectLatest, HistoryRef{}, 2); !reflect.DeepEqual(got, []int{4, 11}) {
		t.Fatalf("messages latest 2: %v", got)
	}
	if got := q(HistMessages, SelectLatest, HistoryRef{}, 10); !reflect.DeepEqual(got, []int{1, 4, 11}) {
		t.Fatalf("messages: %v", got)
	}
	if got := q(HistAll, SelectAfter, HistoryRef{MsgID: "k8"}, 10); !reflect.DeepEqual(got, []int{9, 10, 11}) {
		t.Fatalf("all after k8: %v", got)
	}
	if got := q(HistJoin|HistPart|HistQuit|HistKick|HistNick, SelectBefore, HistoryRef{Time: ts(11)}, 10); !reflect.DeepEqual(got, []int{0, 6, 7, 8, 9}) {
		t.Fatalf("membership events: %v", got)
	}
	if got := q(HistOther, SelectLatest, HistoryRef{}, 10); !reflect.DeepEqual(got, []int{10}) {
		t.Fatalf("other: %v", got)
	}
	if got := q(HistMessages, SelectAround, HistoryRef{MsgID: "k5"}, 2); !reflect.DeepEqual(got, []int{4, 11}) {
		t.Fatalf("messages around k5: %v", got)
	}
	all, err := s.HistoryLatest("#k", HistoryRef{}, 100)
	if err != nil || len(all) != len(cmds) {
		t.Fatal(len(all), err)
	}
	for i, m := range all {
		if m.Command != cmds[i] || !reflect.DeepEqual(m.Params, []string{"p"}) || m.Tags != "+draft/react=1" {
			t.Fatalf("entry %d = %+v", i, m)
		}
	}
}

func TestRedactAndEdit(t *testing.T) {
	s := openTest(t, Options{})
	appendKinds(t, s)
	commit := func(build func(*Txn)) error {
		txn := s.NewTxn()
		build(txn)
		return s.CommitWait(txn)
	}
	notFound := func(what string, err error) {
		t.Helper()
		var ce *ConditionError
		if !errors.As(err, &ce) || ce.Kind != KindHistory || !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: %v, want a history ErrNotFound condition", what, err)
		}
	}

	// Edit: new text, marked edited, original time and position kept.
	if err := commit(func(x *Txn) { x.EditHistory("#k", "k1", "msg 1 fixed", Edit{At: ts(50), MsgID: "e1"}) }); err != nil {
		t.Fatal(err)
	}
	m, err := s.HistoryMessageByID("#k", "k1")
	if err != nil || m.Text != "msg 1 fixed" || !m.Time.Equal(ts(1)) || m.Edited == nil || !m.Edited.At.Equal(ts(50)) || m.Edited.MsgID != "e1" {
		t.Fatalf("edited: %+v, %v", m, err)
	}
	if got := idsOf(t)(s.QueryHistory(HistoryQuery{Target: "#k", Select: SelectBefore, Ref: HistoryRef{MsgID: "k4"}, Limit: 1, Kinds: HistMessages})); !reflect.DeepEqual(got, []int{1}) {
		t.Fatalf("edited message moved: %v", got)
	}
	notFound("edit unknown msgid", commit(func(x *Txn) { x.EditHistory("#k", "nope", "x", Edit{}) }))
	notFound("edit of a JOIN", commit(func(x *Txn) { x.EditHistory("#k", "k0", "x", Edit{}) }))
	notFound("edit of a TAGMSG", commit(func(x *Txn) { x.EditHistory("#k", "k2", "x", Edit{}) }))
	notFound("edit in another target", commit(func(x *Txn) { x.EditHistory("#other", "k1", "x", Edit{}) }))

	// Redact: a tombstone that only HistRedacted selects.
	red := Redaction{At: ts(60), By: "op!o@h", Account: "op", Reason: "spam", MsgID: "r1"}
	if err := commit(func(x *Txn) { x.RedactHistory("#k", "k1", red) }); err != nil {
		t.Fatal(err)
	}
	m, err = s.HistoryMessageByID("#k", "k1")
	want := HistoryMessage{Time: ts(1), Seq: m.Seq, MsgID: "k1", Target: "#k", To: "#k", Source: "n!u@h", Command: "PRIVMSG", Redacted: &red}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("tombstone: %+v, %v", m, err)
	}
	if got := idsOf(t)(s.QueryHistory(HistoryQuery{Target: "#k", Select: SelectLatest, Limit: 10, Kinds: HistMessages})); !reflect.DeepEqual(got, []int{4, 11}) {
		t.Fatalf("messages after redaction: %v", got)
	}
	tomb, err := s.QueryHistory(HistoryQuery{Target: "#k", Select: SelectLatest, Limit: 10, Kinds: HistMessages | HistRedacted})
	if err != nil || len(tomb) != 3 || tomb[0].MsgID != "k1" || tomb[0].Redacted == nil {
		t.Fatalf("with tombstones: %+v, %v", tomb, err)
	}
	// Redacting again changes nothing; editing a tombstone is refused.
	if err := commit(func(x *Txn) { x.RedactHistory("#k", "k1", Redaction{Reason: "again"}) }); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.HistoryMessageByID("#k", "k1"); m.Redacted.Reason != "spam" {
		t.Fatalf("second redaction overwrote the first: %+v", m.Redacted)
	}
	notFound("edit of a tombstone", commit(func(x *Txn) { x.EditHistory("#k", "k1", "back", Edit{}) }))
	if err := commit(func(x *Txn) { x.RedactHistory("#k", "k2", Redaction{}) }); err != nil {
		t.Fatalf("redact a TAGMSG: %v", err)
	}
	notFound("redact a MODE", commit(func(x *Txn) { x.RedactHistory("#k", "k3", Redaction{}) }))
	notFound("redact unknown", commit(func(x *Txn) { x.RedactHistory("#k", "zz", Redaction{}) }))

	// A refused edit in a transaction leaves the rest of it unwritten.
	err = commit(func(x *Txn) {
		x.PutMeta("side", nil)
		x.EditHistory("#k", "nope", "x", Edit{})
	})
	notFound("edit with a side effect", err)
	if _, err := s.Meta("side"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused transaction wrote: %v", err)
	}
}
