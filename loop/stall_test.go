package loop

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"laird/chat"
)

// startLoopChat is startLoop with the chat configuration given.
func startLoopChat(t *testing.T, cfg Config, ccfg chat.Config) (*Server, string) {
	t.Helper()
	cfg.Listen = freeLoopback(t)
	s, stop, err := serveLoops(t, cfg, ccfg)
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(stop)
	return s, cfg.Listen
}

// loopOf returns the id of the loop serving nick's connection, or -1.
func (s *Server) loopOf(nick string) int {
	found := make(chan int, len(s.loops))
	n := 0
	for i := range s.loops {
		el := s.loops[i].Load()
		if el == nil {
			continue
		}
		n++
		el.runLater(func() {
			for c := range el.conns {
				if c.client.Nick() == nick {
					found <- el.id
					return
				}
			}
			found <- -1
		})
	}
	id := -1
	for ; n > 0; n-- {
		if v := <-found; v >= 0 {
			id = v
		}
	}
	return id
}

type stallClient struct {
	nick string
	conn net.Conn
	r    *bufio.Reader
	loop int
}

func dialStall(t *testing.T, s *Server, addr, nick string) *stallClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &stallClient{nick: nick, conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "NICK %s\r\nUSER %s 0 * :%s\r\nJOIN #stall\r\n", nick, nick, nick)
	readUntil(t, c.r, " 366 "+nick+" ")
	_ = conn.SetDeadline(time.Time{})
	c.loop = s.loopOf(nick)
	return c
}

// TestStalledLoop: one event loop stops for 2 s while 1,000 messages a
// second flow to a channel with members on both loops. The shards cut the
// stalled loop's members at SendQ without waiting for it, memory stays
// bounded, and members on the other loop keep receiving without delay.
func TestStalledLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for several seconds")
	}
	const sendQ = 32 << 10
	s, addr := startLoopChat(t, Config{Loops: 2, SendQ: sendQ, MailboxBytes: 1 << 20}, chat.Config{Shards: 2, SendQ: sendQ})

	// Members until there are 8 on each loop; the sender on loop 1.
	var byLoop [2][]*stallClient
	var sender *stallClient
	for i := 0; (len(byLoop[0]) < 8 || len(byLoop[1]) < 8 || sender == nil) && i < 200; i++ {
		c := dialStall(t, s, addr, "m"+strconv.Itoa(i))
		switch {
		case c.loop == 1 && sender == nil:
			sender = c
		case c.loop >= 0 && len(byLoop[c.loop]) < 8:
			byLoop[c.loop] = append(byLoop[c.loop], c)
		default:
			c.conn.Close()
		}
	}
	if len(byLoop[0]) < 8 || len(byLoop[1]) < 8 || sender == nil {
		t.Fatalf("could not place clients on both loops: %d, %d", len(byLoop[0]), len(byLoop[1]))
	}

	// Members on loop 1 record the worst delay between a message's send
	// time (in its text) and its arrival.
	var mu sync.Mutex
	worst := time.Duration(0)
	received := 0
	var wg sync.WaitGroup
	for _, c := range byLoop[1] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				line, err := c.r.ReadString('\n')
				if err != nil {
					return
				}
				i := strings.Index(line, "PRIVMSG #stall :t=")
				if i < 0 {
					continue
				}
				ns, err := strconv.ParseInt(strings.TrimSpace(line[i+len("PRIVMSG #stall :t="):]), 10, 64)
				if err != nil {
					continue
				}
				d := time.Since(time.Unix(0, ns))
				mu.Lock()
				received++
				worst = max(worst, d)
				mu.Unlock()
			}
		}()
	}
	// Members on loop 0 read too (they are not slow readers: their loop
	// is), and report how their connection ended.
	ended := make(chan string, len(byLoop[0]))
	for _, c := range byLoop[0] {
		go func() {
			last := ""
			for {
				line, err := c.r.ReadString('\n')
				if err != nil {
					ended <- last
					return
				}
				if strings.HasPrefix(line, "ERROR") {
					last = strings.TrimSpace(line)
				}
			}
		}()
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Stall loop 0 for 2 s while the sender sends 1,000 messages a second
	// for 3 s.
	stalled := s.loops[0].Load()
	stallStart := make(chan struct{})
	stalled.runLater(func() {
		close(stallStart)
		time.Sleep(2 * time.Second)
	})
	<-stallStart
	var peak uint64
	deadline := time.Now().Add(3 * time.Second)
	for tick := time.NewTicker(10 * time.Millisecond); time.Now().Before(deadline); <-tick.C {
		var b strings.Builder
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, "PRIVMSG #stall :t=%d\r\n", time.Now().UnixNano())
		}
		if _, err := io.WriteString(sender.conn, b.String()); err != nil {
			t.Fatalf("sender: %v", err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}

	// The stalled loop's members were cut as slow consumers.
	for range byLoop[0] {
		select {
		case last := <-ended:
			if last != "ERROR :SendQ exceeded" {
				t.Errorf("a member on the stalled loop ended with %q, want ERROR :SendQ exceeded", last)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a member on the stalled loop was never cut")
		}
	}
	if got := s.Stats().SlowConsumers; got < uint64(len(byLoop[0])) {
		t.Errorf("slow consumers counted: %d, want >= %d", got, len(byLoop[0]))
	}

	// Members on the other loop kept receiving without waiting for the
	// stall (2 s): allow generous scheduling noise, far below it.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	w, n := worst, received
	mu.Unlock()
	if n < len(byLoop[1])*2000 {
		t.Errorf("members on the running loop received %d messages, want >= %d", n, len(byLoop[1])*2000)
	}
	if w > time.Second {
		t.Errorf("worst delay on the running loop %v: it waited for the stalled loop", w)
	}
	// Memory: what the stalled loop's mailboxes may hold (1 MiB from each
	// of 2 shards) and each member's SendQ, plus slack for the runtime.
	bound := uint64(2<<20 + 17*sendQ + 24<<20)
	if growth := peak - min(peak, before.HeapAlloc); growth > bound {
		t.Errorf("heap grew by %d bytes during the stall, bound %d", growth, bound)
	}
	t.Logf("running loop: %d messages, worst delay %v; heap growth %d KiB", n, w, (peak-min(peak, before.HeapAlloc))>>10)
	for _, c := range byLoop[1] {
		c.conn.Close()
	}
	wg.Wait()
}
