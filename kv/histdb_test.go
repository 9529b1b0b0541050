package kv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestSuiteWithSeparateHistory runs this package's tests again with every
// store keeping history in its own instance: callers must see no
// difference.
func TestSuiteWithSeparateHistory(t *testing.T) {
	if separateHistory {
		t.Skip("this is the run with separate history")
	}
	if testing.Short() {
		t.Skip("runs the package's tests again")
	}
	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.short", "-test.skip=^TestCrash")
	cmd.Env = append(os.Environ(), "KV_SEPARATE_HISTORY=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests with SeparateHistory failed: %v\n%s", err, out)
	}
}

// keysOf counts the keys of the history families in one instance.
func histKeys(t *testing.T, s *Store, hist bool) int {
	t.Helper()
	db := s.db
	if hist {
		db = s.hdb
	}
	n := 0
	for _, tag := range histTags {
		it, err := db.NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.SeekGE([]byte{tag}); ok && it.Key()[0] == tag; ok = it.Next() {
			n++
		}
		_ = it.Close()
	}
	return n
}

// fillEverything writes a little of every family.
func fillEverything(t *testing.T, s *Store) {
	t.Helper()
	mustCommit(t, s, register(s, "alice", 1))
	fillHistory(t, s, "#a", 40)
	dm(s, t, ts(1), Peer{alice, "alice"}, Peer{bob, "bob"}, "hi")
	mustCommit(t, s, offline(s, ts(2), Peer{alice, "alice"}, Peer{carol, "carol"}, "later"))
	txn := s.NewTxn()
	txn.MarkRead("alice", "#a", ts(5), nil)
	txn.RenameHistory("#a", "#a2")
	mustCommit(t, s, txn)
}

func checkEverything(t *testing.T, s *Store) {
	t.Helper()
	s.bg.Wait() // a rename Open resumed would move entries while we count
	if _, err := s.Account("alice"); err != nil {
		t.Fatal(err)
	}
	all := append(idsOf(t)(s.HistoryLatest("#a", HistoryRef{}, 100)), idsOf(t)(s.HistoryLatest("#a2", HistoryRef{}, 100))...)
	if len(all) != 40 {
		t.Fatalf("channel history: %d entries", len(all))
	}
	if got := texts(t)(s.HistoryLatest(PrivateTarget(alice, bob), HistoryRef{}, 10)); !reflect.DeepEqual(got, []string{"hi"}) {
		t.Fatalf("private history: %v", got)
	}
	if n, _ := s.UnreadCount("carol"); n != 1 {
		t.Fatalf("unread: %d", n)
	}
	if list, _ := s.HistoryTargets(TargetsQuery{Party: alice, Limit: 10}); len(list) != 2 {
		t.Fatalf("targets: %+v", list)
	}
	if m, err := s.ReadMarker("alice", "#a"); err != nil || !m.Equal(ts(5)) {
		t.Fatalf("marker: %v %v", m, err)
	}
}

// Switching SeparateHistory on moves history into its own instance at
// Open, in bounded batches; switching it off moves it back.
func TestSwitchSeparateHistory(t *testing.T) {
	old := moveChunkBytes
	moveChunkBytes = 500
	t.Cleanup(func() { moveChunkBytes = old })
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir})
	if s.hdb != s.db && !separateHistory {
		t.Fatal("a history instance without SeparateHistory")
	}
	fillEverything(t, s)
	_ = s.Close()

	s = openTest(t, Options{Dir: dir, SeparateHistory: true})
	if s.hdb == s.db {
		t.Fatal("no history instance")
	}
	if n := histKeys(t, s, false); n != 0 {
		t.Fatalf("%d history keys left in the main instance", n)
	}
	if n := histKeys(t, s, true); n < 40 {
		t.Fatalf("history instance holds %d keys", n)
	}
	checkEverything(t, s)
	if _, err := s.MoveRenamedHistory(); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(t)(s.HistoryLatest("#a2", HistoryRef{}, 100)); len(got) != 40 {
		t.Fatalf("rename in progress across the switch: #a2 has %d", len(got))
	}
	fillHistory(t, s, "#b", 3)
	_ = s.Close()

	s = openTest(t, Options{Dir: dir, SeparateHistory: false})
	if separateHistory {
		return // the test helper keeps it on
	}
	if s.hdb != s.db {
		t.Fatal("history instance still open")
	}
	if _, err := os.Stat(filepath.Join(dir, historyDirName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("history directory left: %v", err)
	}
	checkEverything(t, s)
	if got := idsOf(t)(s.HistoryLatest("#b", HistoryRef{}, 10)); len(got) != 3 {
		t.Fatalf("#b: %v", got)
	}
}

// The history instance gets its own settings, and half the open files.
func TestSeparateHistoryOptions(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Options{Dir: dir, SeparateHistory: true, HistoryMemTableSize: 1 << 20,
		HistoryCompression: CompressionGood, HistoryCompactionConcurrency: 2, MaxOpenFiles: 300})
	_ = s.Close()
	read := func(d string) string {
		m, err := filepath.Glob(filepath.Join(d, "OPTIONS-*"))
		if err != nil || len(m) == 0 {
			t.Fatalf("no OPTIONS file in %s", d)
		}
		b, err := os.ReadFile(m[len(m)-1])
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hist, main := read(filepath.Join(dir, historyDirName)), read(dir)
	for _, want := range []string{"mem_table_size=1048576", "max_concurrent_compactions=2", "max_open_files=150", "compression=Good"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history OPTIONS lack %q", want)
		}
	}
	if !strings.Contains(main, "max_open_files=150") || strings.Contains(main, "mem_table_size=1048576") {
		t.Errorf("main OPTIONS:\n%s", main)
	}
	var o Options
	if m, h := (Options{MaxOpenFiles: 301, SeparateHistory: true}).openFiles(); m != 151 || h != 150 {
		t.Errorf("openFiles split %d/%d", m, h)
	}
	if m, h := o.openFiles(); m != 0 || h != 0 {
		t.Errorf("default openFiles %d/%d", m, h)
	}
}

// A transaction that writes to both instances is all or nothing across a
// crash between the two commits: here the history instance's WAL fails
// after the main commit, and the reopened store has the whole
// transaction (the intent is replayed).
func TestCrossInstanceAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{FS: vfs.Default, only: string(filepath.Separator) + historyDirName + string(filepath.Separator)}
	s, err := Open(Options{Dir: dir, fs: ffs, Logger: testLogger(t), DiskReserve: -1, SeparateHistory: true, CloseTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, register(s, "alice", 1))
	mustCommit(t, s, register(s, "bob", 2))
	dm(s, t, ts(1), Peer{alice, "alice"}, Peer{bob, "bob"}, "secret")
	// A history-only group, to check the replay does not redo more.
	fillHistory(t, s, "#before", 2)

	ffs.failWrites(syscall.EIO)
	txn := s.NewTxn()
	txn.DeleteAccount("alice")
	if err := s.CommitWait(txn); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("commit with a failing history WAL = %v", err)
	}
	t.Logf("Close: %v", s.Close())
	restart := filepath.Join(t.TempDir(), "restart")
	if err := os.CopyFS(restart, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, Options{Dir: restart, SeparateHistory: true})
	_, accErr := r.Account("alice")
	msgs, err := r.HistoryLatest(PrivateTarget(alice, bob), HistoryRef{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if errors.Is(accErr, ErrNotFound) != (len(msgs) == 0) {
		t.Fatalf("half a transaction: account %v, conversation %d messages", accErr, len(msgs))
	}
	if !errors.Is(accErr, ErrNotFound) {
		t.Fatal("the main commit was synced with its intent, yet the deletion is gone")
	}
	if got := idsOf(t)(r.HistoryLatest("#before", HistoryRef{}, 10)); len(got) != 2 {
		t.Fatalf("earlier history: %v", got)
	}
	if err := r.get(intentKey, func([]byte) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("intent left after replay: %v", err)
	}
	mustCommit(t, r, register(r, "carol", 3))
}

// After a group that wrote to both instances, the next group's main commit
// deletes the intent before any later history commit.
func TestIntentDeletedByNextGroup(t *testing.T) {
	s := openTest(t, Options{SeparateHistory: true})
	txn := s.NewTxn()
	txn.AppendHistory(HistoryMessage{Target: "#a", Text: "x"})
	txn.AppendAudit(AuditEntry{Action: "both"})
	mustCommit(t, s, txn)
	if _, _, err := s.db.Get(intentKey); err != nil {
		t.Fatalf("no intent after a group over both instances: %v", err)
	}
	fillHistory(t, s, "#b", 1)
	if _, _, err := s.db.Get(intentKey); err == nil {
		t.Fatal("intent still there after the next group")
	}
	st, _ := s.Stats()
	if st.Batches != 4 || st.SyncedGroups != 2 {
		t.Fatalf("batches %d, synced groups %d: want 2+2 batches, both groups synced", st.Batches, st.SyncedGroups)
	}
}
