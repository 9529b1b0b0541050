package kv

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testLogger logs into the test's output while the test runs, and nowhere
// after it ends (Pebble may log from its goroutines during shutdown).
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	level := slog.LevelWarn
	if os.Getenv("KV_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// separateHistory runs every test's store with Options.SeparateHistory:
// TestSuiteWithSeparateHistory runs the package's tests again that way.
var separateHistory = os.Getenv("KV_SEPARATE_HISTORY") != ""

// openTest opens a store in a fresh directory (or opts.Dir) and closes it
// when the test ends.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.DiskReserve == 0 {
		opts.DiskReserve = -1 // tests that care set it
	}
	if separateHistory {
		opts.SeparateHistory = true
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustCommit(t testing.TB, s *Store, txn *Txn) {
	t.Helper()
	if err := s.CommitWait(txn); err != nil {
		t.Fatalf("CommitWait: %v", err)
	}
}

// ts returns a fixed UTC time plus n seconds.
func ts(n int) time.Time {
	return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second)
}

// blockWriter makes the writer goroutine wait until the returned function
// is called, so that the transactions queued meanwhile form one group.
func blockWriter(t testing.TB, s *Store) (release func()) {
	t.Helper()
	entered := make(chan struct{})
	gate := make(chan struct{})
	if err := s.Commit(s.NewTxn(), func(error) {
		close(entered)
		<-gate
	}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	<-entered
	var once atomic.Bool
	release = func() {
		if once.CompareAndSwap(false, true) {
			close(gate)
		}
	}
	t.Cleanup(release)
	return release
}
