package chat

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOrderPerConnection: a client's replies come in the order of its
// commands even when they go to different shards or run inline.
func TestOrderPerConnection(t *testing.T) {
	w := newTestWorld(t, 4, 2)
	a := w.connect("alice", true)
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, fmt.Sprintf("JOIN #c%d", i), fmt.Sprintf("PING :p%d", i))
	}
	w.send(a, lines...)
	w.waitFor(a, "PONG laird.local :p39")
	out := a.text()
	for i := 0; i < 40; i++ {
		join := strings.Index(out, fmt.Sprintf("366 alice #c%d ", i))
		pong := strings.Index(out, fmt.Sprintf(":p%d\r\n", i))
		if join < 0 || pong < 0 || join > pong {
			t.Fatalf("JOIN #c%d reply (at %d) not before PONG p%d (at %d)", i, join, i, pong)
		}
		if i > 0 && strings.Index(out, fmt.Sprintf(":p%d\r\n", i-1)) > join {
			t.Fatalf("PONG p%d after JOIN #c%d", i-1, i)
		}
	}
}

// TestChannelOrder: every member sees one channel's lines in one order,
// whoever sent them.
func TestChannelOrder(t *testing.T) {
	w := newTestWorld(t, 3, 2)
	var members []*fakeConn
	for i := 0; i < 6; i++ {
		c := w.connect(fmt.Sprintf("m%d", i), true)
		w.send(c, "JOIN #order")
		w.waitFor(c, "366 m")
		members = append(members, c)
	}
	w.settle()
	for i := 0; i < 30; i++ {
		for j, c := range members[:3] {
			w.send(c, fmt.Sprintf("PRIVMSG #order :msg-%d-%d", j, i))
		}
	}
	w.settle()
	extract := func(c *fakeConn) []string {
		var seq []string
		for _, l := range strings.Split(c.text(), "\r\n") {
			if i := strings.Index(l, "PRIVMSG #order :"); i >= 0 {
				seq = append(seq, l[i+len("PRIVMSG #order :"):])
			}
		}
		return seq
	}
	// Members 3..5 never sent; they must all see the same 90 lines in the
	// same order.
	ref := extract(members[3])
	if len(ref) != 90 {
		t.Fatalf("member saw %d lines, want 90", len(ref))
	}
	for _, c := range members[4:] {
		got := extract(c)
		if strings.Join(got, ",") != strings.Join(ref, ",") {
			t.Fatalf("members disagree on order:\n%v\n%v", got, ref)
		}
	}
}

// TestQuitSeenOnce: a client in many channels on several shards quits;
// each co-member sees exactly one QUIT.
func TestQuitSeenOnce(t *testing.T) {
	w := newTestWorld(t, 4, 2)
	q := w.connect("quitter", false)
	var chans []string
	for i := 0; i < 20; i++ {
		chans = append(chans, fmt.Sprintf("#q%d", i))
	}
	w.send(q, "JOIN "+strings.Join(chans, ","))
	var watchers []*fakeConn
	for i := 0; i < 5; i++ {
		c := w.connect(fmt.Sprintf("w%d", i), true)
		w.send(c, "JOIN "+strings.Join(chans, ","))
		watchers = append(watchers, c)
	}
	w.settle()
	w.onLoop(q.loop, func() { q.Close("bye") })
	w.settle()
	for _, c := range watchers {
		if n := strings.Count(c.text(), "QUIT :bye"); n != 1 {
			t.Fatalf("%s saw %d QUITs, want 1", c.client.Nick(), n)
		}
	}
	// The nick is free and the channels no longer list the quitter.
	again := w.connect("quitter", true)
	w.send(again, "NAMES #q7")
	w.waitFor(again, "366 quitter #q7")
	if strings.Contains(again.text(), "@quitter") {
		t.Fatal("quitter still listed after QUIT")
	}
}

// TestNickChangeSeenOnce mirrors TestQuitSeenOnce for NICK.
func TestNickChangeSeenOnce(t *testing.T) {
	w := newTestWorld(t, 4, 2)
	n := w.connect("before", true)
	w.send(n, "JOIN #n1,#n2,#n3,#n4,#n5")
	other := w.connect("other", true)
	w.send(other, "JOIN #n1,#n2,#n3,#n4,#n5")
	w.settle()
	w.send(n, "NICK after")
	w.waitFor(n, "NICK after")
	w.settle()
	if c := strings.Count(other.text(), "NICK after"); c != 1 {
		t.Fatalf("co-member saw %d NICK lines, want 1", c)
	}
	if c := strings.Count(n.text(), "NICK after"); c != 1 {
		t.Fatalf("renamed client saw %d NICK lines, want 1", c)
	}
}

// TestShardFullHoldsCommands: while the shard a command is routed to is
// full, the loop holds the command (and everything after it) instead of
// refusing it; once the shard drains, every command is answered, in
// order.
func TestShardFullHoldsCommands(t *testing.T) {
	w := newTestWorld(t, 1, 1)
	w.srv.cfg.ShardQueue = 1
	a := w.connect("a", true)
	// Hold the shard busy so the queue fills: a task that waits.
	release := make(chan struct{})
	running := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	w.srv.post(0, func(*shard, *batch) { close(running); <-release })
	<-running
	w.srv.post(0, func(*shard, *batch) {}) // fills the queue of 1
	w.send(a, "JOIN #busy", "PING :after")
	time.Sleep(50 * time.Millisecond)
	if out := a.text(); strings.Contains(out, "#busy") || strings.Contains(out, "PONG") {
		t.Fatalf("commands ran while the shard was full:\n%s", out)
	}
	unblock()
	w.waitFor(a, "PONG laird.local :after")
	out := a.text()
	if j, p := strings.Index(out, "366 a #busy"), strings.Index(out, "PONG laird.local :after"); j < 0 || j > p {
		t.Fatalf("JOIN not answered before PONG:\n%s", out)
	}
	if strings.Contains(out, " 263 ") {
		t.Fatalf("a held command was refused:\n%s", out)
	}
}

// TestShardFloodBounded: clients storm one shard with JOIN/PART across
// 1,000 channels, each pipelining far more than the shard's queue holds.
// The queue stays at its bound (the loops hold commands back) and every
// command is answered, in order.
func TestShardFloodBounded(t *testing.T) {
	w := newTestWorld(t, 1, 2)
	w.srv.cfg.ShardQueue = 64
	w.srv.cfg.PipelineMax = 1000
	const clients, perClient = 20, 300
	var conns []*fakeConn
	for i := 0; i < clients; i++ {
		conns = append(conns, w.connect(fmt.Sprintf("f%d", i), true))
	}
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		most := 0
		for {
			select {
			case <-stop:
				peak <- most
				return
			default:
			}
			most = max(most, w.srv.shards[0].queueLen())
		}
	}()
	for i, c := range conns {
		var lines []string
		for j := 0; j < perClient/2; j++ {
			ch := fmt.Sprintf("#c%d", (i*perClient/2+j)%1000)
			lines = append(lines, "JOIN "+ch, "PART "+ch)
		}
		w.send(c, lines...)
	}
	for i, c := range conns {
		last := fmt.Sprintf("#c%d", (i*perClient/2+perClient/2-1)%1000)
		w.waitFor(c, "PART "+last+"\r\n")
	}
	close(stop)
	most := <-peak
	if bound := 64 + 2*clients; most > bound {
		t.Errorf("shard queue reached %d tasks, bound %d", most, bound)
	}
	for i, c := range conns {
		out := c.text()
		own := fmt.Sprintf(":f%d!f%d@127.0.0.1 PART ", i, i)
		if j, p := strings.Count(out, " 366 "), strings.Count(out, own); j != perClient/2 || p != perClient/2 {
			t.Errorf("client %d: %d JOIN and %d PART answers, want %d each", i, j, p, perClient/2)
		}
	}
	t.Logf("peak queue depth %d", most)
}

// TestPingIsBarrierForDirectMessages: a direct message sent to a client
// before that client's PING reached the server arrives before the PONG,
// even while the shard that carries it is busy: the PONG is made by the
// same shard, behind the message.
func TestPingIsBarrierForDirectMessages(t *testing.T) {
	w := newTestWorld(t, 2, 2)
	a := w.connect("a", true)
	b := w.connect("b", true)
	id := w.srv.shardOf(w.srv.cm.Fold("b"))
	release := make(chan struct{})
	running := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	w.srv.post(id, func(*shard, *batch) { close(running); <-release })
	<-running
	w.send(a, "PRIVMSG b :hello")
	for deadline := time.Now().Add(5 * time.Second); w.srv.shards[id].queueLen() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the PRIVMSG never reached b's shard")
		}
		time.Sleep(time.Millisecond)
	}
	w.send(b, "PING :sync")
	time.Sleep(20 * time.Millisecond)
	unblock()
	w.waitFor(b, "PONG laird.local :sync")
	out := b.text()
	if h, p := strings.Index(out, "PRIVMSG b :hello"), strings.Index(out, "PONG laird.local :sync"); h < 0 || h > p {
		t.Fatalf("PONG overtook a message sent before the PING:\n%s", out)
	}
}
