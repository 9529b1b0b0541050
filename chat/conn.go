package chat

import (
	"time"

	"laird/perf"
)

// Conn is the connection side of a Client, implemented by package loop.
// Every method must be called on the connection's own event loop goroutine.
type Conn interface {
	// Write queues one or more complete lines for output. The bytes are
	// copied before Write returns. Writes after Close are dropped.
	Write(lines []byte)
	// Close sends "ERROR :reason", flushes what can be flushed and closes.
	Close(reason string)
	// Resume continues processing input that was left buffered while the
	// client was parked.
	Resume()
	// Delay asks the loop to call Resume again at until (fakelag): the
	// client sent a command that must wait.
	Delay(until time.Time)
	// Loop returns the index of the event loop that owns the connection.
	Loop() int
}

// Loops runs functions on event loops; implemented by package loop.
type Loops interface {
	// Run schedules fn on event loop id and returns at once; it never
	// blocks. After fn the loop flushes every connection fn wrote to.
	Run(id int, fn func()) error
	// Count returns the number of event loops.
	Count() int
	// Recorder returns loop id's latency recorder (owned by that loop's
	// goroutine), or nil when monitoring is off.
	Recorder(id int) *perf.Recorder
}
