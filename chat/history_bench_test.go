package chat

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"laird/kv"
)

// BenchmarkLoginOfflineTargets measures what a client waits for when it
// logs in to an account with offline messages waiting: from SASL success
// (903) to the end of the CHATHISTORY TARGETS answer (the login's unread
// notice, read markers, the welcome burst and TARGETS; issue 12's goal is
// under 5 ms with 1,000 unread messages in 20 conversations), beside the
// same login with nothing waiting. Each iteration stores the messages again
// first (not timed): a login makes them read.
func BenchmarkLoginOfflineTargets(b *testing.B) {
	for _, size := range []struct{ convs, perConv int }{{0, 0}, {20, 50}} {
		b.Run(fmt.Sprintf("unread=%d/convs=%d", size.convs*size.perConv, size.convs), func(b *testing.B) {
			benchLoginOffline(b, size.convs, size.perConv)
		})
	}
}

func benchLoginOffline(b *testing.B, convs, perConv int) {
	w, st := newHistoryWorld(b, kv.Options{OfflineMaxMessages: 1 << 30})
	creds, err := w.srv.makeCredentials("inboxpw1")
	if err != nil {
		b.Fatal(err)
	}
	t := st.NewTxn()
	t.PutAccount(kv.Account{Name: "inbox", DisplayName: "inbox", PassHash: creds.passHash, Scram: creds.scram, Verified: true, Created: time.Now()})
	t.PutNick(kv.NickRecord{Nick: "inbox", Account: "inbox", Since: time.Now()})
	if err := st.CommitWait(t); err != nil {
		b.Fatal(err)
	}
	fill := func(round int) {
		for i := range convs {
			t := st.NewTxn()
			from := kv.Peer{Party: kv.ConnParty(fmt.Sprintf("sender%d", i)), Name: fmt.Sprintf("sender%d", i)}
			for k := range perConv {
				t.AppendOffline(kv.HistoryMessage{
					MsgID: fmt.Sprintf("r%dc%dm%d", round, i, k), To: "inbox", Source: from.Name + "!u@h",
					Command: "PRIVMSG", Text: fmt.Sprintf("message %d of conversation %d", k, i),
				}, from, kv.Peer{Party: kv.AccountParty("inbox"), Name: "inbox"})
			}
			if err := st.CommitWait(t); err != nil {
				b.Fatal(err)
			}
		}
	}
	auth := base64.StdEncoding.EncodeToString([]byte("\x00inbox\x00inboxpw1"))
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		t := st.NewTxn()
		t.ClearUnread("inbox", "")
		if err := st.CommitWait(t); err != nil {
			b.Fatal(err)
		}
		fill(i)
		fc := &fakeConn{loop: i % w.loops.Count(), srv: w.srv, keep: true}
		var succeeded, answered atomic.Int64
		fc.onWrite = func(int) {
			out := fc.text()
			now := time.Now().UnixNano()
			if succeeded.Load() == 0 && strings.Contains(out, " 903 ") {
				succeeded.Store(now)
			}
			if answered.Load() == 0 && strings.Contains(out, "BATCH -") {
				answered.Store(now)
			}
		}
		w.onLoop(fc.loop, func() {
			fc.client = w.srv.Connect(fc, fc.loop, netip.MustParseAddr("127.0.0.1"), time.Now())
		})
		b.StartTimer()
		w.send(fc, "CAP REQ :sasl draft/chathistory batch server-time", "NICK inbox", "USER inbox 0 * :inbox",
			"AUTHENTICATE PLAIN", "AUTHENTICATE "+auth, "CAP END",
			"CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 100")
		w.waitFor(fc, "BATCH -")
		b.StopTimer()
		out := fc.text()
		noticed := strings.Contains(out, fmt.Sprintf("You have %d unread messages in %d conversations", convs*perConv, convs))
		if noticed != (convs > 0) || strings.Count(out, " CHATHISTORY TARGETS sender") != convs {
			b.Fatalf("login output:\n%s", out)
		}
		total += time.Duration(answered.Load() - succeeded.Load())
		w.send(fc, "QUIT")
		w.settle()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms/login-to-targets")
}
