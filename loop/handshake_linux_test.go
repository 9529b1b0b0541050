package loop

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHandshakeThreadNice: the goroutine that runs a TLS handshake does so
// on a thread at the lowest priority, and the thread is not shared with
// other goroutines (the event loops keep normal priority).
func TestHandshakeThreadNice(t *testing.T) {
	got := make(chan string, 1)
	go func() {
		lowerHandshakePriority()
		got <- threadNice(unix.Gettid())
	}()
	if nice := <-got; nice != fmt.Sprint(handshakeNice) {
		t.Fatalf("handshake thread nice = %s, want %d", nice, handshakeNice)
	}
	// The test's own thread is untouched.
	if nice := threadNice(unix.Gettid()); nice != "0" {
		t.Fatalf("other thread nice = %s, want 0", nice)
	}
}

// threadNice reads a thread's nice value from /proc (field 19 of stat).
func threadNice(tid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return err.Error()
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "
	return fields[16]                                             // field 19 overall: 3rd is fields[0]
}
