package kv

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func openBench(b *testing.B, opts Options) *Store {
	b.Helper()
	opts.Dir = b.TempDir()
	opts.Logger = quietLogger()
	s, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// runWriters runs b.N operations spread over n goroutines, records each
// operation's latency, and reports throughput and latency percentiles.
func runWriters(b *testing.B, n int, op func(i int) error) {
	var next atomic.Int64
	lat := make([][]time.Duration, n)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > b.N {
					return
				}
				t0 := time.Now()
				err := op(i)
				for errors.Is(err, ErrBusy) { // cannot happen with the default queue; stay correct anyway
					time.Sleep(100 * time.Microsecond)
					err = op(i)
				}
				if err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkCommitDurable measures durable (Sync) commits through the
// group-commit writer. Each operation is an account registration: two
// preconditions, account + nick (+ its index) + audit entry.
func BenchmarkCommitDurable(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
			s := openBench(b, Options{DiskReserve: -1})
			b.ReportAllocs()
			created := time.Now()
			runWriters(b, writers, func(i int) error {
				name := "user" + strconv.Itoa(i)
				txn := s.NewTxn()
				txn.RequireNoAccount(name)
				txn.RequireNickFree(name)
				txn.PutAccount(Account{Name: name, PassHash: "$2a$10$0123456789012345678901234567890123456789012345678901", Created: created})
				txn.PutNick(NickRecord{Nick: name, Account: name, Since: created})
				txn.AppendAudit(AuditEntry{Time: created, Actor: name, Action: "account.register", Target: name})
				return s.CommitWait(txn)
			})
			st, _ := s.Stats()
			if st.Groups > 0 {
				b.ReportMetric(float64(st.Commits)/float64(st.Groups), "txns/group")
			}
		})
	}
}

// BenchmarkSyncCommitLatency is the floor under every durable commit: one
// small Pebble batch committed with Sync, one at a time, without the writer.
func BenchmarkSyncCommitLatency(b *testing.B) {
	db, err := pebble.Open(b.TempDir(), &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: pebbleLogger{log: quietLogger()}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 100)
	b.ReportAllocs()
	runWriters(b, 1, func(i int) error {
		batch := db.NewBatch()
		defer batch.Close()
		_ = batch.Set([]byte("k"+strconv.Itoa(i)), val, nil)
		return batch.Commit(pebble.Sync)
	})
}

// BenchmarkHistoryAppend measures channel-message history appends from 16
// writers, durable and lazy.
func BenchmarkHistoryAppend(b *testing.B) {
	for _, lazy := range []bool{false, true} {
		b.Run(fmt.Sprint("lazy=", lazy), func(b *testing.B) {
			s := openBench(b, Options{DiskReserve: -1, LazyHistory: lazy})
			b.ReportAllocs()
			runWriters(b, 16, func(i int) error {
				txn := s.NewTxn()
				txn.AppendHistory(HistoryMessage{
					MsgID: "m" + strconv.Itoa(i), Target: "#chan" + strconv.Itoa(i%16), To: "#Chan",
					Source: "nick!user@host.example", Account: "nick", Command: "PRIVMSG",
					Text: "a typical chat line of about sixty bytes for the benchmark....",
				})
				return s.CommitWait(txn)
			})
		})
	}
}

// BenchmarkHistoryLatest reads the latest 50 messages of a channel (the
// CHATHISTORY LATEST a client sends on join).
func BenchmarkHistoryLatest(b *testing.B) {
	s := openBench(b, Options{DiskReserve: -1})
	txn := s.NewTxn()
	for i := range 2000 {
		txn.AppendHistory(HistoryMessage{Time: ts(i), MsgID: strconv.Itoa(i), Target: "#chan", Source: "n!u@h", Command: "PRIVMSG", Text: "hello"})
	}
	if err := s.CommitWait(txn); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		list, err := s.HistoryLatest("#chan", HistoryRef{}, 50)
		if err != nil || len(list) != 50 {
			b.Fatal(len(list), err)
		}
	}
}

// BenchmarkAccountGet is the read on every SASL login and nick check.
func BenchmarkAccountGet(b *testing.B) {
	s := openBench(b, Options{DiskReserve: -1})
	txn := s.NewTxn()
	txn.PutAccount(Account{Name: "alice", PassHash: "x", Created: ts(0)})
	if err := s.CommitWait(txn); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Account("alice"); err != nil {
			b.Fatal(err)
		}
	}
}
