package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"laird/kv"
)

// History under kill -9 (see TestCrashSafety): a message whose echo the
// sender saw is in history after a restart, with lazy_history = false;
// with lazy_history = true, every message acknowledged more than one sync
// interval before the kill is.

// crashHistoryChannel is where the history workers talk.
const crashHistoryChannel = "#crashhist"

// historyAcks are the messages whose echo arrived, with when.
type historyAcks struct {
	mu    sync.Mutex
	acked map[string]time.Time // text -> when its echo arrived
}

func (h *historyAcks) ack(text string) {
	h.mu.Lock()
	if h.acked == nil {
		h.acked = map[string]time.Time{}
	}
	h.acked[text] = time.Now()
	h.mu.Unlock()
}

// historyWorker sends channel messages one after another, each once the
// echo of the one before came back, until the server dies.
func historyWorker(addr string, round, w int, acks *historyAcks) {
	rc, err := dialRaw(addr)
	if err != nil {
		return
	}
	defer rc.c.Close()
	nick := fmt.Sprintf("h%dw%d", round, w)
	if rc.send("CAP REQ :echo-message\r\nCAP END") != nil || rc.register(nick) != nil {
		return
	}
	if rc.send("JOIN %s", crashHistoryChannel) != nil {
		return
	}
	if _, err := rc.wait(` 366 `, ` (403|405|47\d) `); err != nil {
		return
	}
	for i := 0; i < 1_000_000; i++ {
		text := fmt.Sprintf("%s-%d", nick, i)
		if rc.send("PRIVMSG %s :%s", crashHistoryChannel, text) != nil {
			return
		}
		if _, err := rc.wait(`PRIVMSG `+crashHistoryChannel+` :`+regexp.QuoteMeta(text)+`\r`, ` 40[1-4] `); err != nil {
			return
		}
		acks.ack(text)
	}
}

// verifyHistory checks that every message acknowledged before before
// (every one, when before is zero) is in the channel's history, and
// returns how many were checked.
func verifyHistory(t *testing.T, st *kv.Store, acks *historyAcks, before time.Time) int {
	t.Helper()
	list, err := st.QueryHistory(kv.HistoryQuery{Target: crashHistoryChannel, Select: kv.SelectLatest, Limit: 1 << 30})
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	stored := make(map[string]bool, len(list))
	for _, m := range list {
		stored[m.Text] = true
	}
	n, lost := 0, 0
	for text, at := range acks.acked {
		if !before.IsZero() && !at.Before(before) {
			continue
		}
		n++
		if !stored[text] {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged message %q (echoed %v) lost", text, at.Format(time.StampMilli))
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged messages lost (%d stored)", lost, n, len(list))
	}
	return n
}

// offlineInbox is the account the offline workers write to; nobody ever
// connects as it.
const offlineInbox = "inbox"

// offlineAcks are the offline messages acknowledged (NOTE STORED_OFFLINE),
// by sender account.
type offlineAcks struct {
	mu    sync.Mutex
	acked map[string][]string // sender account -> texts
}

// offlineWorker registers the inbox account (once), then an account of its
// own, and sends it messages one after another, each once the one before
// was acknowledged as stored, until the server dies.
func offlineWorker(addr string, round int, acks *offlineAcks) {
	rc, err := dialRaw(addr)
	if err != nil {
		return
	}
	if rc.register(offlineInbox) == nil && rc.send("REGISTER * * pw-inbox") == nil {
		rc.wait(`REGISTER SUCCESS|FAIL REGISTER`, "")
	}
	// Gone before anyone writes to it: QUIT, and wait for the close.
	if rc.send("QUIT") == nil {
		rc.wait(`^$`, "") // returns at EOF
	}
	rc.c.Close()
	time.Sleep(100 * time.Millisecond)
	rc, err = dialRaw(addr)
	if err != nil {
		return
	}
	defer rc.c.Close()
	sender := fmt.Sprintf("off%d", round)
	if rc.register(sender) != nil || rc.send("REGISTER * * pw-%s", sender) != nil {
		return
	}
	if _, err := rc.wait(`REGISTER SUCCESS`, `FAIL REGISTER`); err != nil {
		return
	}
	for i := 0; i < 1_000_000; i++ {
		text := fmt.Sprintf("%s-%d", sender, i)
		if rc.send("PRIVMSG %s :%s", offlineInbox, text) != nil {
			return
		}
		if _, err := rc.wait(`NOTE PRIVMSG STORED_OFFLINE `+offlineInbox+` `, `FAIL PRIVMSG| 401 `); err != nil {
			return
		}
		acks.mu.Lock()
		if acks.acked == nil {
			acks.acked = map[string][]string{}
		}
		acks.acked[sender] = append(acks.acked[sender], text)
		acks.mu.Unlock()
	}
}

// verifyOffline checks that every acknowledged offline message is in its
// conversation and counted unread for the inbox; it returns how many were
// checked.
func verifyOffline(t *testing.T, st *kv.Store, acks *offlineAcks) int {
	t.Helper()
	n := 0
	for sender, texts := range acks.acked {
		target := kv.PrivateTarget(kv.AccountParty(sender), kv.AccountParty(offlineInbox))
		list, err := st.QueryHistory(kv.HistoryQuery{Target: target, Select: kv.SelectLatest, Limit: 1 << 30})
		if err != nil {
			t.Fatalf("read offline messages of %s: %v", sender, err)
		}
		stored := make(map[string]bool, len(list))
		for _, m := range list {
			stored[m.Text] = true
		}
		lost := 0
		for _, text := range texts {
			if !stored[text] {
				lost++
				if lost <= 10 {
					t.Errorf("acknowledged offline message %q lost", text)
				}
			}
		}
		if lost > 0 {
			t.Errorf("%s: %d of %d acknowledged offline messages lost", sender, lost, len(texts))
		}
		n += len(texts)
	}
	if unread, err := st.UnreadCount(offlineInbox); err != nil || unread < n {
		t.Errorf("the inbox has %d unread messages (%v); %d were acknowledged", unread, err, n)
	}
	return n
}

// TestCrashLazyHistory: with lazy_history = true, a crash loses at most the
// history of the last sync interval (kv's LazySyncInterval, one second):
// every message acknowledged earlier than that before the kill is there.
func TestCrashLazyHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "laird.toml")
	err := os.WriteFile(conf, []byte(`
[store]
disk_reserve_mb = -1
lazy_history = true
[log]
level = "warn"
[guard.flood]
exempt = ["127.0.0.0/8"]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// The documented window, plus what a loaded machine adds between the
	// writer's timer and the kill.
	const window = time.Second + 500*time.Millisecond
	rounds, until := crashRounds(t)
	rounds = min(rounds, 2)
	var acks []*historyAcks // per round
	var kills []time.Time
	for round := 0; round < rounds || time.Now().Before(until); round++ {
		srv := startBinary(t, bin, conf, data)
		a := &historyAcks{}
		acks = append(acks, a)
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				historyWorker(srv.addr, round, w, a)
			}()
		}
		time.Sleep(window + time.Duration(500+rand.IntN(1000))*time.Millisecond)
		kills = append(kills, time.Now())
		srv.kill()
		wg.Wait()
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := kv.Open(kv.Options{Dir: data, DiskReserve: -1, Logger: quiet})
	if err != nil {
		t.Fatalf("open the store after the last kill: %v", err)
	}
	defer st.Close()
	n, all := 0, 0
	for r, a := range acks {
		n += verifyHistory(t, st, a, kills[r].Add(-window))
		all += len(a.acked)
	}
	t.Logf("%d rounds: %d messages acknowledged %v or more before a kill, all stored (%d acknowledged in all)", len(acks), n, window, all)
	if n == 0 {
		t.Fatal("no message acknowledged before the loss window: the test did not exercise the server")
	}
}
