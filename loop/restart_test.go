package loop

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"

	"laird/chat"
)

// serveOn runs a server on addr until stop is called, which shuts it down
// and waits for it.
func serveOn(t *testing.T, addr string) (stop func(), err error) {
	t.Helper()
	_, stop, err = serveLoops(t, Config{Listen: addr, Loops: 1}, chat.Config{})
	return stop, err
}

// TestRestartAfterQuits: connections the server closed (QUIT) leave its
// side in TIME_WAIT for a minute; a server restarted on the same address
// at once must start, not report the address as served by another
// process.
func TestRestartAfterQuits(t *testing.T) {
	addr := freeLoopback(t)
	stop, err := serveOn(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		fmt.Fprintf(conn, "NICK q%d\r\nUSER q 0 * :q\r\nQUIT :bye\r\n", i)
		for { // until the server closes: its side goes to TIME_WAIT
			if _, err := r.ReadString('\n'); err != nil {
				break
			}
		}
		conn.Close()
	}
	stop()
	stop, err = serveOn(t, addr)
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	stop()
	// A live server still refuses a second one.
	stop, err = serveOn(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if stop2, err := serveOn(t, addr); err == nil {
		stop2()
		t.Fatal("a second server started on an address already served")
	}
}
