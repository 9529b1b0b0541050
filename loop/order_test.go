package loop

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"laird/chat"
)

// lineParcel is a shard's output for one connection: one line.
type lineParcel struct {
	c    *conn
	line string
}

func (p *lineParcel) Deliver()  { p.c.Write([]byte(p.line)) }
func (p *lineParcel) Release()  {}
func (p *lineParcel) Size() int { return len(p.line) }

// TestDeliveryBeforeReply: output a shard posted for a connection before
// its next read is handled reaches the client before the loop's own reply
// to that read. The hook posts a parcel at the instant the read arrives, as
// a shard on another core would; the read is a PING, which the loop answers
// itself.
func TestDeliveryBeforeReply(t *testing.T) {
	_, addr := startLoopChat(t, Config{Loops: 1}, chat.Config{Shards: 1})
	var armed atomic.Bool
	hook := func(c *conn) {
		if c.client != nil && c.client.Nick() == "alice" && armed.CompareAndSwap(true, false) {
			c.el.srv.Post(0, c.el.id, &lineParcel{c: c, line: "NOTICE alice :posted first\r\n"})
		}
	}
	testHookTraffic.Store(&hook)
	t.Cleanup(func() { testHookTraffic.Store(nil) })

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "NICK alice\r\nUSER alice 0 * :Alice\r\n")
	readUntil(t, r, " 001 alice ")
	// Let the registration burst go out so that the armed read is the PING.
	fmt.Fprintf(conn, "PING sync\r\n")
	readUntil(t, r, "PONG")

	for round := 0; round < 20; round++ {
		armed.Store(true)
		fmt.Fprintf(conn, "PING r%d\r\n", round)
		first, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(first, "posted first") {
			t.Fatalf("round %d: the loop's reply overtook the shard's earlier output: got %q first", round, first)
		}
		readUntil(t, r, fmt.Sprintf("r%d", round))
	}
}
