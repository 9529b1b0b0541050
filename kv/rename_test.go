package kv

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestRenameChannel(t *testing.T) {
	smallChunks(t, 7)
	s := openTest(t, Options{})
	mustCommit(t, s, register(s, "alice", 1))
	txn := s.NewTxn()
	txn.PutChannel(Channel{Name: "#old", DisplayName: "#Old", Founder: "alice", Topic: "t"})
	txn.PutAccess(Access{Channel: "#old", Account: "alice", Level: LevelFounder})
	txn.PutAccess(Access{Channel: "#old", Account: "bob", Level: LevelOp})
	txn.SetMetadata(ChannelMetadata("#old"), MetadataEntry{Key: "avatar", Value: "x"})
	txn.PutAlwaysOn("alice", AlwaysOnChannel{Channel: "#old", Name: "#Old", Modes: "o"})
	mustCommit(t, s, txn)
	mustCommit(t, s, invite(s, "#old", "carol", ts(0)))
	fillHistory(t, s, "#old", 30)
	fillHistory(t, s, "#other", 3)

	txn = s.NewTxn()
	txn.RenameChannel("#old", "#new", "#New")
	mustCommit(t, s, txn)
	// A new channel named #old gets its own history, which stays.
	txn = s.NewTxn()
	txn.AppendHistory(HistoryMessage{Time: ts(100), MsgID: "fresh", Target: "#old", Text: "msg 100"})
	mustCommit(t, s, txn)

	if _, err := s.Channel("#old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old registration left: %v", err)
	}
	c, err := s.Channel("#new")
	if err != nil || c.Name != "#new" || c.DisplayName != "#New" || c.Topic != "t" || c.Founder != "alice" {
		t.Fatalf("renamed registration: %+v %v", c, err)
	}
	acc, _ := s.Access("#new")
	if len(acc) != 2 || acc[1].Level != LevelOp {
		t.Fatalf("access: %+v", acc)
	}
	if a, _ := s.AccountAccess("bob"); len(a) != 1 || a[0].Channel != "#new" {
		t.Fatalf("bob's access: %+v", a)
	}
	if m, err := s.MetadataValue(ChannelMetadata("#new"), "avatar"); err != nil || m.Value != "x" {
		t.Fatalf("metadata: %+v %v", m, err)
	}
	if list, _ := s.AlwaysOnChannels("alice"); len(list) != 1 || list[0].Channel != "#new" || list[0].Name != "#New" || list[0].Modes != "o" {
		t.Fatalf("always-on: %+v", list)
	}
	if m, _ := s.AlwaysOnMembers("#new"); !reflect.DeepEqual(m, []string{"alice"}) {
		t.Fatalf("always-on members: %v", m)
	}
	if inv, err := s.Invite("#new", "carol"); err != nil || inv.ChannelName != "#New" || inv.Status != InvitePending {
		t.Fatalf("invitation: %+v %v", inv, err)
	}
	if a, c := pending(t, s, "carol", "#new"); a != 1 || c != 1 {
		t.Fatalf("pending counts: %d %d", a, c)
	}
	if _, c := pending(t, s, "carol", "#old"); c != 0 {
		t.Fatalf("old channel's pending count: %d", c)
	}

	// History moves in batches after the commit.
	n, err := s.MoveRenamedHistory()
	if err != nil || n != 30 {
		t.Fatalf("MoveRenamedHistory = %d, %v", n, err)
	}
	if got := idsOf(t)(s.HistoryLatest("#new", HistoryRef{}, 100)); !reflect.DeepEqual(got, seq(0, 29)) {
		t.Fatalf("#new's history: %v", got)
	}
	if got := idsOf(t)(s.HistoryLatest("#old", HistoryRef{}, 100)); !reflect.DeepEqual(got, []int{100}) {
		t.Fatalf("#old's history after the move: %v", got)
	}
	if m, err := s.HistoryMessageByID("#new", "#old-7"); err != nil || m.Text != "msg 7" {
		t.Fatalf("msgid index moved: %+v %v", m, err)
	}
	if _, err := s.HistoryMessageByID("#old", "#old-7"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old msgid index left: %v", err)
	}
	if n, _ := s.MoveRenamedHistory(); n != 0 {
		t.Fatalf("second move: %d", n)
	}

	// Onto a registered name: refused, nothing moves.
	txn = s.NewTxn()
	txn.PutChannel(Channel{Name: "#taken"})
	mustCommit(t, s, txn)
	txn = s.NewTxn()
	txn.RenameChannel("#new", "#taken", "#Taken")
	var ce *ConditionError
	if err := s.CommitWait(txn); !errors.As(err, &ce) || ce.Kind != KindChannel || !errors.Is(err, ErrExists) {
		t.Fatalf("rename onto a registered channel = %v", err)
	}
	if _, err := s.Channel("#new"); err != nil {
		t.Fatal("refused rename moved the channel")
	}
}

// Renames in quick succession (A to B, then B to C before A's history has
// moved) end with all of it under C; a crash during the move is resumed by
// the next Open.
func TestRenameChainAndResume(t *testing.T) {
	smallChunks(t, 4)
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir})
	fillHistory(t, s, "#a", 10)
	for _, r := range [][2]string{{"#a", "#b"}, {"#b", "#c"}} {
		txn := s.NewTxn()
		txn.RenameChannel(r[0], r[1], r[1])
		mustCommit(t, s, txn)
	}
	// Move one chunk only, as if the server had crashed after it.
	var marker []byte
	_ = s.scan([]byte{tagRename}, []byte{tagRename + 1}, false, func(k, _ []byte) (bool, error) { marker = append([]byte(nil), k...); return false, nil })
	txn := s.NewTxn()
	txn.derive(true, func(vw *views) error { _, err := moveHistoryChunk(vw, marker, 4); return err })
	mustCommit(t, s, txn)
	if got := idsOf(t)(s.HistoryLatest("#c", HistoryRef{}, 100)); !reflect.DeepEqual(got, seq(0, 3)) {
		t.Fatalf("#c after one chunk: %v", got)
	}
	_ = s.Close()

	s = openTest(t, Options{Dir: dir}) // resumes in the background
	s.bg.Wait()
	if got := idsOf(t)(s.HistoryLatest("#c", HistoryRef{}, 100)); !reflect.DeepEqual(got, seq(0, 9)) {
		t.Fatalf("#c after resuming: %v", got)
	}
	for _, old := range []string{"#a", "#b"} {
		if got := idsOf(t)(s.HistoryLatest(old, HistoryRef{}, 100)); len(got) != 0 {
			t.Fatalf("%s left: %v", old, got)
		}
	}
	left := 0
	_ = s.scan([]byte{tagRename}, []byte{tagRename + 1}, false, func(_, _ []byte) (bool, error) { left++; return true, nil })
	if left != 0 {
		t.Fatalf("%d rename markers left", left)
	}
	if m, err := s.HistoryMessageByID("#c", fmt.Sprint("#a-", 9)); err != nil || m.Text != "msg 9" {
		t.Fatalf("msgid after chain: %+v %v", m, err)
	}
}
