package loop

import (
	"sync"
	"sync/atomic"

	"laird/chat"
)

// mailbox carries one producer's parcels (a shard's output) to one event
// loop. The producer appends and wakes the loop only when the mailbox goes
// from empty to non-empty; the loop takes everything at once in its next
// pass. It is bounded in bytes: past the bound Post reports false and the
// producer waits (WaitRoom) until the loop has taken the parcels, which is
// backpressure on the shard, never a block of the loop.
type mailbox struct {
	mu      sync.Mutex
	parcels []chat.Parcel
	spare   []chat.Parcel
	bytes   int
	waiting bool          // the producer waits for room
	room    chan struct{} // signalled when the loop took the parcels
	// queued mirrors len(parcels) > 0 for the loop's cheap check before
	// it handles a read (deliverMail); written under mu.
	queued atomic.Bool
}

func newMailbox() *mailbox { return &mailbox{room: make(chan struct{}, 1)} }

// put appends p and reports whether the mailbox was empty and whether it
// is now over bound.
func (mb *mailbox) put(p chat.Parcel, bound int) (wasEmpty, over bool) {
	size := p.Size()
	mb.mu.Lock()
	wasEmpty = len(mb.parcels) == 0
	mb.parcels = append(mb.parcels, p)
	mb.queued.Store(true)
	mb.bytes += size
	over = mb.bytes > bound
	mb.mu.Unlock()
	return wasEmpty, over
}

// take returns every parcel queued; the loop hands the slice back with
// giveBack once it delivered them. A waiting producer is told there is
// room.
func (mb *mailbox) take() []chat.Parcel {
	mb.mu.Lock()
	ps := mb.parcels
	mb.parcels = mb.spare[:0]
	mb.spare = nil
	mb.queued.Store(false)
	mb.bytes = 0
	waiting := mb.waiting
	mb.waiting = false
	mb.mu.Unlock()
	if waiting {
		select {
		case mb.room <- struct{}{}:
		default:
		}
	}
	return ps
}

// giveBack returns a slice from take for reuse.
func (mb *mailbox) giveBack(ps []chat.Parcel) {
	clear(ps)
	mb.mu.Lock()
	if mb.spare == nil && cap(ps) <= 1024 {
		mb.spare = ps[:0]
	}
	mb.mu.Unlock()
}

// waitRoom blocks until the mailbox is under bound or stop is closed.
func (mb *mailbox) waitRoom(bound int, stop <-chan struct{}) {
	for {
		mb.mu.Lock()
		if mb.bytes <= bound {
			mb.mu.Unlock()
			return
		}
		mb.waiting = true
		mb.mu.Unlock()
		select {
		case <-mb.room:
		case <-stop:
			return
		}
	}
}
