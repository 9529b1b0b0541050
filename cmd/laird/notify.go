package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The service manager's readiness protocol (sd_notify(3)), spoken directly:
// systemd started us with Type=notify and passes a datagram socket in
// NOTIFY_SOCKET; each message is newline-separated VAR=value lines. A
// path starting with '@' is in the abstract namespace, which package net
// handles itself. Without NOTIFY_SOCKET nothing is sent.

type notifier struct{ addr string }

func newNotifier() *notifier {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	// Children (none today) must not talk to our manager in our name.
	os.Unsetenv("NOTIFY_SOCKET")
	return &notifier{addr: addr}
}

// send delivers one state message. Errors are returned for the log; the
// server carries on either way.
func (n *notifier) send(lines ...string) error {
	if n == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("notify %s: %w", n.addr, err)
	}
	return nil
}

// reloading is the message that starts a reload: systemd wants the
// CLOCK_MONOTONIC time with it to match the reload to its request.
func reloadingMessage() []string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	usec := ts.Sec*int64(time.Second/time.Microsecond) + ts.Nsec/int64(time.Microsecond)
	return []string{"RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", usec)}
}
