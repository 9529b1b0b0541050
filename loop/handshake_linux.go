package loop

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// handshakeNice is the nice value of the threads that run TLS handshakes.
const handshakeNice = 19

// lowerHandshakePriority runs the calling goroutine, a handshake, on a
// thread of its own at the lowest scheduling priority, for the rest of its
// life: a handshake costs most of a millisecond of CPU in one piece, and
// on a busy core the kernel then lets the event loops' threads run first
// instead of timeslicing them with it, so handshakes arriving do not delay
// other clients' messages. The goroutine ends locked, which retires the
// thread (its priority cannot be raised back without privilege).
func lowerHandshakePriority() {
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), handshakeNice) // best effort
}
