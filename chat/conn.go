package chat

import (
	"time"

	"laird/perf"
)

// Conn is the connection side of a Client, implemented by package loop.
// Every method must be called on the connection's own event loop
// goroutine. Output is gathered and flushed once per loop pass.
type Conn interface {
	// Write queues complete lines for output; they are copied.
	Write(lines []byte)
	// WriteShared queues complete lines that stay valid and unchanged
	// until the end of the loop's current pass (a parcel's bytes): they
	// are written from where they are, without a copy.
	WriteShared(lines []byte)
	// Close sends "ERROR :reason", flushes what can be flushed and closes.
	// Writes after Close are dropped.
	Close(reason string)
	// Overflow cuts the client as a slow consumer (its SendQ is full):
	// counted, logged, closed with "ERROR :SendQ exceeded".
	Overflow()
	// Resume continues processing input that was left buffered while the
	// client waited; a no-op while input is being processed.
	Resume()
	// Delay asks the loop to call Resume again at until (fakelag, or a
	// retry after backpressure).
	Delay(until time.Time)
}

// Parcel is a shard's output for one event loop: lines and completions
// delivered in the loop's next pass (see Loops.Post).
type Parcel interface {
	// Deliver runs on the loop during its pass, before the pass's flush.
	Deliver()
	// Release runs on the loop after the pass's flush, when nothing refers
	// to the parcel's bytes any more.
	Release()
	// Size is the memory the parcel holds, for the mailbox's bound.
	Size() int
}

// Loops is the event loops as chat sees them; implemented by package loop.
type Loops interface {
	// Count returns the number of event loops.
	Count() int
	// Recorder returns loop id's latency recorder (owned by that loop's
	// goroutine), or nil when monitoring is off.
	Recorder(id int) *perf.Recorder
	// Post appends p to loop id's mailbox from producer (a shard index)
	// and wakes the loop if the mailbox was empty. It never blocks. It
	// reports false when the mailbox is over its byte bound: the producer
	// must then WaitRoom before taking more work.
	Post(producer, id int, p Parcel) bool
	// WaitRoom blocks until loop id's mailbox from producer is under its
	// bound again, or the loops stop.
	WaitRoom(producer, id int)
	// Run queues fn for loop id from any goroutine (completions of
	// offloaded work and commits); it never blocks. fn runs in the loop's
	// next pass, and its output is flushed with that pass.
	Run(id int, fn func()) error
}
