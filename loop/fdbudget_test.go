package loop

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"laird/perf"
)

func TestNewFDBudget(t *testing.T) {
	for _, tc := range []struct {
		limit                   uint64
		loops                   int
		store, reserve, maxConn int
	}{
		{1024, 2, 80, 64 + 2*4 + 80, 1024 - 152},
		{20000, 2, 1000, 64 + 8 + 1000, 20000 - 1072},
		{4096, 8, 256, 64 + 32 + 256, 4096 - 352},
		{1 << 20, 64, 1000, 64 + 256 + 1000, 1<<20 - 1320},
	} {
		b, err := NewFDBudget(tc.limit, tc.loops, 1)
		if err != nil || b.StoreFiles != tc.store || b.Reserve != tc.reserve || b.MaxConns != tc.maxConn || b.Soft != tc.limit {
			t.Errorf("NewFDBudget(%d, %d) = %+v, %v; want store %d reserve %d max %d",
				tc.limit, tc.loops, b, err, tc.store, tc.reserve, tc.maxConn)
		}
	}
	if _, err := NewFDBudget(200, 2, 1); err == nil || !strings.Contains(err.Error(), "too low") {
		t.Fatalf("a limit of 200: %v", err)
	}
	b, err := MeasureFDBudget(0, 1)
	if err != nil || b.Soft == 0 || b.Soft > b.Hard || b.MaxConns <= 0 {
		t.Fatalf("MeasureFDBudget: %+v %v", b, err)
	}
	// Go's runtime raised the soft limit to the hard one at start.
	if b.Soft != b.Hard {
		t.Fatalf("soft limit %d below the hard limit %d", b.Soft, b.Hard)
	}
}

type lineConn struct {
	net.Conn
	r *bufio.Reader
}

func dialLines(t *testing.T, addr string) *lineConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &lineConn{Conn: c, r: bufio.NewReader(c)}
}

// A connection past the budget gets one ERROR line and is closed; the
// ones held keep working, the refusal is counted, and a slot freed by a
// departure is used again.
func TestFDBudgetRefusesNewKeepsHeld(t *testing.T) {
	reg := perf.NewRegistry(perf.Options{})
	s, addr := startLoop(t, Config{Loops: 2, Perf: reg, FDs: FDBudget{Soft: 1 << 20, Hard: 1 << 20, Reserve: 100, MaxConns: 3}})
	var held []*lineConn
	for i := range 3 {
		c := dialLines(t, addr)
		fmt.Fprintf(c, "NICK h%d\r\nUSER h 0 * :h\r\n", i)
		readUntil(t, c.r, fmt.Sprintf(" 001 h%d ", i))
		held = append(held, c)
	}
	for range 2 {
		extra := dialLines(t, addr)
		line := readUntil(t, extra.r, "ERROR")
		if !strings.Contains(line, "Server is full") {
			t.Fatalf("refusal: %q", line)
		}
		if _, err := extra.r.ReadString('\n'); err != io.EOF {
			t.Fatalf("refused connection not closed: %v", err)
		}
	}
	for i, c := range held {
		fmt.Fprintf(c, "PING :still%d\r\n", i)
		readUntil(t, c.r, fmt.Sprintf("still%d", i))
	}
	if n := s.fds.refused.Load(); n != 2 {
		t.Fatalf("%d refusals counted, want 2", n)
	}
	if n := s.fds.counter.Value(); n != 2 {
		t.Fatalf("metric counts %d refusals, want 2", n)
	}
	io.WriteString(held[0], "QUIT\r\n")
	readUntil(t, held[0].r, "ERROR")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dialLines(t, addr)
		io.WriteString(c, "NICK again\r\nUSER a 0 * :a\r\n")
		line, _ := c.r.ReadString('\n')
		if !strings.HasPrefix(line, "ERROR") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the freed slot was not reused")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
