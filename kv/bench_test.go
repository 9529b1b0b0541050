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
// writers, durable and lazy, with history in the main instance or its own.
func BenchmarkHistoryAppend(b *testing.B) {
	for _, separate := range []bool{false, true} {
		for _, lazy := range []bool{false, true} {
			b.Run(fmt.Sprintf("separate=%v/lazy=%v", separate, lazy), func(b *testing.B) {
				s := openBench(b, Options{DiskReserve: -1, LazyHistory: lazy, SeparateHistory: separate})
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
}

// BenchmarkPrivateAppend measures a private message (entry, msgid index,
// both parties' conversation lists) and an offline one (plus unread state
// and the quota check, always synced), durable, from 16 writers.
func BenchmarkPrivateAppend(b *testing.B) {
	for _, kind := range []string{"channel", "private", "offline"} {
		b.Run(kind, func(b *testing.B) {
			s := openBench(b, Options{DiskReserve: -1, OfflineMaxMessages: 1 << 30})
			b.ReportAllocs()
			m := HistoryMessage{Source: "nick!user@host.example", Account: "nick", Command: "PRIVMSG",
				Text: "a typical chat line of about sixty bytes for the benchmark...."}
			runWriters(b, 16, func(i int) error {
				txn := s.NewTxn()
				m := m
				m.MsgID = "m" + strconv.Itoa(i)
				from := Peer{AccountParty("u" + strconv.Itoa(i%64)), "u"}
				to := Peer{AccountParty("v" + strconv.Itoa(i%16)), "v"}
				switch kind {
				case "channel":
					m.Target = "#chan" + strconv.Itoa(i%16)
					txn.AppendHistory(m)
				case "private":
					txn.AppendPrivate(m, from, to)
				case "offline":
					txn.AppendOffline(m, from, to)
				}
				return s.CommitWait(txn)
			})
		})
	}
}

// BenchmarkHistoryLatest reads the latest 50 entries of a channel (the
// CHATHISTORY LATEST a client sends on join) among 2000, half of them
// events: every kind, or messages only (a client without event-playback),
// with history in the main instance or its own.
func BenchmarkHistoryLatest(b *testing.B) {
	for _, separate := range []bool{false, true} {
		for _, kinds := range []HistoryKinds{HistAll, HistMessages} {
			name := map[HistoryKinds]string{HistAll: "all", HistMessages: "messages"}[kinds]
			b.Run(fmt.Sprintf("separate=%v/kinds=%s", separate, name), func(b *testing.B) {
				s := openBench(b, Options{DiskReserve: -1, SeparateHistory: separate})
				txn := s.NewTxn()
				for i := range 2000 {
					cmd := "PRIVMSG"
					if i%2 == 1 {
						cmd = "JOIN"
					}
					txn.AppendHistory(HistoryMessage{Time: ts(i), MsgID: strconv.Itoa(i), Target: "#chan", Source: "n!u@h", Command: cmd, Text: "hello"})
				}
				if err := s.CommitWait(txn); err != nil {
					b.Fatal(err)
				}
				q := HistoryQuery{Target: "#chan", Select: SelectLatest, Limit: 50, Kinds: kinds}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					list, err := s.QueryHistory(q)
					if err != nil || len(list) != 50 {
						b.Fatal(len(list), err)
					}
				}
			})
		}
	}
}

// BenchmarkLoginUnreadTargets is issue 12's login of an account with 1,000
// stored offline messages in 20 conversations: the unread summary and the
// CHATHISTORY TARGETS answer over them and 10 channels (goal: under 5 ms).
func BenchmarkLoginUnreadTargets(b *testing.B) {
	s := openBench(b, Options{DiskReserve: -1})
	me := Peer{AccountParty("me"), "me"}
	for c := range 20 {
		txn := s.NewTxn()
		for i := range 50 {
			from := Peer{AccountParty("friend" + strconv.Itoa(c)), "Friend" + strconv.Itoa(c)}
			txn.AppendOffline(HistoryMessage{Time: ts(c*50 + i), MsgID: fmt.Sprint(c, "-", i), Command: "PRIVMSG", Text: "hello"}, from, me)
		}
		if err := s.CommitWait(txn); err != nil {
			b.Fatal(err)
		}
	}
	var channels []string
	for c := range 10 {
		channels = append(channels, "#chan"+strconv.Itoa(c))
		fillBench(b, s, channels[c], 200)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		unread, err := s.Unread("me")
		if err != nil || len(unread) != 20 || unread[0].Count != 50 {
			b.Fatal(len(unread), err)
		}
		targets, err := s.HistoryTargets(TargetsQuery{Party: me.Party, Channels: channels, Limit: 100, Kinds: HistMessages})
		if err != nil || len(targets) != 30 {
			b.Fatal(len(targets), err)
		}
	}
}

func fillBench(b *testing.B, s *Store, target string, n int) {
	txn := s.NewTxn()
	for i := range n {
		txn.AppendHistory(HistoryMessage{Time: ts(i), MsgID: strconv.Itoa(i), Target: target, Source: "n!u@h", Command: "PRIVMSG", Text: "hello"})
	}
	if err := s.CommitWait(txn); err != nil {
		b.Fatal(err)
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
