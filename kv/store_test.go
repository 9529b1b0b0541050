package kv

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestOpenWritesSchemaAndReopens(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	txn := s.NewTxn()
	txn.PutAccount(Account{Name: "alice", Created: ts(0)})
	mustCommit(t, s, txn)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if _, err := s.Account("alice"); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close = %v, want ErrClosed", err)
	}
	if err := s.Commit(s.NewTxn(), func(error) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v, want ErrClosed", err)
	}

	s = openTest(t, Options{Dir: dir})
	a, err := s.Account("alice")
	if err != nil || !a.Created.Equal(ts(0)) {
		t.Fatalf("after reopen: %+v, %v", a, err)
	}
}

// writeRaw writes keys straight into a Pebble database, bypassing kv.
func writeRaw(t *testing.T, dir string, kvs map[string][]byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: pebbleLogger{log: quietLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range kvs {
		if err := db.Set([]byte(k), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, map[string][]byte{"S": binary.BigEndian.AppendUint32(nil, SchemaVersion+1)})
	_, err := Open(Options{Dir: dir, Logger: testLogger(t)})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	var se *SchemaError
	if !errors.As(err, &se) || se.Found != SchemaVersion+1 || se.Supported != SchemaVersion {
		t.Fatalf("SchemaError = %+v", se)
	}
	// The refusal released the directory: the current version opens.
	writeRaw(t, dir, map[string][]byte{"S": binary.BigEndian.AppendUint32(nil, SchemaVersion)})
	openTest(t, Options{Dir: dir})
}

func TestOpenRefusesForeignData(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, map[string][]byte{"hello": []byte("world")})
	if _, err := Open(Options{Dir: dir, Logger: testLogger(t)}); err == nil {
		t.Fatal("opened a Pebble store without a schema version")
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	txn := s.NewTxn()
	txn.PutChannel(Channel{Name: "#a", Topic: "hi"})
	mustCommit(t, s, txn)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ro := openTest(t, Options{Dir: dir, ReadOnly: true})
	if c, err := ro.Channel("#a"); err != nil || c.Topic != "hi" {
		t.Fatalf("read-only read: %+v, %v", c, err)
	}
	txn = ro.NewTxn()
	txn.PutChannel(Channel{Name: "#b"})
	err = ro.Commit(txn, func(error) { t.Error("done called") })
	if !errors.Is(err, ErrReadOnly) || !errors.Is(err, ErrUnavailable) || !Temporary(err) {
		t.Fatalf("Commit on read-only store = %v", err)
	}
	if err := ro.Healthy(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Healthy = %v", err)
	}
}

func TestReadOnlyMissingDir(t *testing.T) {
	_, err := Open(Options{Dir: filepath.Join(t.TempDir(), "nope"), ReadOnly: true, Logger: testLogger(t)})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open = %v, want ErrUnavailable", err)
	}
}

func TestTemporary(t *testing.T) {
	for _, err := range []error{ErrBusy, ErrDiskFull, ErrUnavailable, ErrReadOnly, ErrClosed} {
		if !Temporary(err) {
			t.Errorf("Temporary(%v) = false", err)
		}
	}
	for _, err := range []error{ErrExists, ErrNotFound, ErrInvalid, &ConditionError{Err: ErrExists}} {
		if Temporary(err) {
			t.Errorf("Temporary(%v) = true", err)
		}
	}
}

func TestStats(t *testing.T) {
	s := openTest(t, Options{})
	for i := range 3 {
		txn := s.NewTxn()
		txn.PutMeta("k", []byte{byte(i)})
		mustCommit(t, s, txn)
	}
	txn := s.NewTxn()
	txn.RequireNoMeta("k")
	if err := s.CommitWait(txn); !errors.Is(err, ErrExists) {
		t.Fatalf("conflict = %v", err)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Commits != 3 || st.Conflicts != 1 || st.Batches != 3 || st.SyncedGroups != 3 || st.Groups != 4 {
		t.Fatalf("stats: %+v", st)
	}
	if st.GroupSizes[0] != 4 || st.MaxGroup != 1 || st.BatchBytes == 0 || st.WALBytesWritten == 0 {
		t.Fatalf("stats: %+v", st)
	}
	if st.QueueCap != DefaultQueueSize {
		t.Fatalf("QueueCap = %d", st.QueueCap)
	}
}
