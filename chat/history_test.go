package chat

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"laird/kv"
)

// newHistoryWorld is newTestWorld with a kv store in a temporary directory.
func newHistoryWorld(tb testing.TB, opts kv.Options) (*testWorld, *kv.Store) {
	tb.Helper()
	opts.Dir = tb.TempDir()
	opts.DiskReserve = -1
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := kv.Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	fl := newFakeLoops(2)
	srv, err := New(Config{Shards: 2}, fl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	srv.SetStore(st)
	srv.Start()
	w := &testWorld{tb: tb, srv: srv, loops: fl}
	tb.Cleanup(func() {
		srv.Stop()
		fl.stop()
		st.Close()
	})
	return w, st
}

// latestText returns the text of target's latest stored message, read
// straight from the store (no barrier: what is applied now).
func latestText(tb testing.TB, st *kv.Store, target string) string {
	tb.Helper()
	list, err := st.HistoryLatest(target, kv.HistoryRef{}, 1)
	if err != nil {
		tb.Fatal(err)
	}
	if len(list) == 0 {
		return ""
	}
	return list[0].Text
}

// With durable history (lazy_history = false) a sender hears of its
// message, by echo-message or a labeled ACK, only once it is committed.
func TestDurableHistoryEchoAfterCommit(t *testing.T) {
	w, st := newHistoryWorld(t, kv.Options{})
	alice := w.connect("alice", true)
	bob := w.connect("bob", true)
	w.send(alice, "CAP REQ :echo-message labeled-response", "JOIN #d")
	w.waitFor(alice, "366 alice #d")
	w.send(bob, "CAP REQ :labeled-response", "JOIN #d")
	w.settle()
	for i := range 50 {
		text := fmt.Sprintf("durable %d", i)
		w.send(alice, "PRIVMSG #d :"+text)
		w.waitFor(alice, "PRIVMSG #d :"+text+"\r\n")
		if got := latestText(t, st, "#d"); got != text {
			t.Fatalf("echo of %q arrived before it was stored (latest stored: %q)", text, got)
		}
		// A labeled message without echo-message: its ACK waits too.
		text = fmt.Sprintf("labeled %d", i)
		w.send(bob, fmt.Sprintf("@label=l%d PRIVMSG #d :%s", i, text))
		w.waitFor(bob, fmt.Sprintf("@label=l%d ", i))
		if got := latestText(t, st, "#d"); got != text {
			t.Fatalf("ACK of %q arrived before it was stored (latest stored: %q)", text, got)
		}
	}
}

// Recipients never wait for the disk: with every commit held back, a
// message still reaches the channel at once, while its sender's echo
// comes only once the commit is done.
func TestDurableHistoryDeliveryDoesNotWait(t *testing.T) {
	var slow atomic.Bool
	w, _ := newHistoryWorld(t, kv.Options{OnCommit: func(time.Duration) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
		}
	}})
	alice := w.connect("alice", true)
	bob := w.connect("bob", true)
	w.send(alice, "CAP REQ :echo-message", "JOIN #d")
	w.send(bob, "JOIN #d")
	w.settle()
	slow.Store(true)
	start := time.Now()
	w.send(alice, "PRIVMSG #d :now")
	w.waitFor(bob, "PRIVMSG #d :now")
	delivered := time.Since(start)
	if strings.Contains(alice.text(), "PRIVMSG #d :now") {
		t.Fatalf("the echo went out before the commit")
	}
	w.waitFor(alice, "PRIVMSG #d :now")
	if echoed := time.Since(start); delivered >= 300*time.Millisecond || echoed < 300*time.Millisecond {
		t.Fatalf("delivered after %v, echoed after %v: the recipient must not wait, the sender must", delivered, echoed)
	}
}

// With lazy_history = true the sender does not wait: the echo comes while
// the commit is still held back.
func TestLazyHistoryEchoDoesNotWait(t *testing.T) {
	var slow atomic.Bool
	w, st := newHistoryWorld(t, kv.Options{LazyHistory: true, OnCommit: func(time.Duration) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
		}
	}})
	alice := w.connect("alice", true)
	w.send(alice, "CAP REQ :echo-message", "JOIN #d")
	w.settle()
	slow.Store(true)
	start := time.Now()
	w.send(alice, "PRIVMSG #d :lazy")
	w.waitFor(alice, "PRIVMSG #d :lazy")
	if d := time.Since(start); d >= 300*time.Millisecond {
		t.Fatalf("lazy history: the echo took %v, waiting for the commit", d)
	}
	slow.Store(false)
	w.settle()
	deadline := time.Now().Add(5 * time.Second)
	for latestText(t, st, "#d") != "lazy" {
		if time.Now().After(deadline) {
			t.Fatal("the lazily stored message never reached the store")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
