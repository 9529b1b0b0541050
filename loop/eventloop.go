package loop

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"laird/chat"
	"laird/perf"
)

// eventLoop is laird's per-loop state. Only its own goroutine touches it,
// except where a field says otherwise.
type eventLoop struct {
	id  int // immutable
	gel gnet.EventLoop
	srv *Server

	// Shared with producers: the mailboxes by producer (a slot is
	// created once, under srv.loopsMu, then only read), functions queued
	// by Run, and whether a pass is scheduled.
	mailboxes []atomic.Pointer[mailbox]
	inboxes   atomic.Pointer[[]*mailbox] // the mailboxes created, for the pass to scan
	extMu     sync.Mutex
	ext       []func()
	extSpare  []func()
	scheduled atomic.Bool
	// fineTicks: connections wait on the timer (el.delayed is not empty),
	// so every tick must run here, not only the once-a-second scan. Set
	// by the loop, read by the ticker.
	fineTicks atomic.Bool
	passTask  gnet.Runnable
	stats     loopStats

	conns     map[*conn]struct{}
	dirty     []*conn
	flushing  bool          // inside flushDirty
	delivered []chat.Parcel // parcels delivered this pass, released after its flush
	arena     arena         // copies of lines written this pass
	segPool   [][][]byte    // spare segment lists for connections that go dirty
	// delayed are connections held back (fakelag, backpressure) until their
	// resumeAt.
	delayed      []*conn
	spareDelayed []*conn
	lastScan     time.Time      // last timeout scan
	clock        time.Time      // time of the current callback
	rec          *perf.Recorder // nil without monitoring
}

func newEventLoop(srv *Server, id int, gel gnet.EventLoop) *eventLoop {
	el := &eventLoop{
		id: id, gel: gel, srv: srv, rec: srv.recs[id],
		conns:     make(map[*conn]struct{}),
		mailboxes: make([]atomic.Pointer[mailbox], maxProducers),
	}
	el.passTask = gnet.RunnableFunc(func(context.Context) error {
		el.pass()
		return nil
	})
	return el
}

// maxProducers bounds the producers (shards) that may post to a loop.
const maxProducers = 1024

// mailbox returns producer's mailbox, creating it on first use. Any
// goroutine.
func (el *eventLoop) mailbox(producer int) *mailbox {
	if mb := el.mailboxes[producer].Load(); mb != nil {
		return mb
	}
	el.srv.loopsMu.Lock()
	defer el.srv.loopsMu.Unlock()
	if mb := el.mailboxes[producer].Load(); mb != nil {
		return mb
	}
	mb := newMailbox()
	var list []*mailbox
	if old := el.inboxes.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, mb)
	el.inboxes.Store(&list)
	el.mailboxes[producer].Store(mb)
	return mb
}

// wake schedules a pass unless one is scheduled already. Any goroutine.
func (el *eventLoop) wake() {
	if el.scheduled.CompareAndSwap(false, true) {
		if err := el.gel.Execute(context.Background(), el.passTask); err != nil {
			el.scheduled.Store(false) // the engine is stopping
		}
	}
}

// runLater queues fn for the next pass. Any goroutine.
func (el *eventLoop) runLater(fn func()) {
	el.extMu.Lock()
	first := len(el.ext) == 0
	el.ext = append(el.ext, fn)
	el.extMu.Unlock()
	if first {
		el.wake()
	}
}

// pass is one round of the loop's own work, after the reads of a wakeup:
// functions queued by Run, every mailbox's parcels, then one flush of every
// connection that has output, then the parcels are released. Output made
// in callbacks (replies to input) waits for the next pass too, so however
// many reads and deliveries a wakeup brings, each connection is written
// once.
func (el *eventLoop) pass() {
	el.scheduled.Store(false)
	el.clock = time.Now()
	el.runExt()
	el.deliverMail()
	el.flushDirty()
	for i, p := range el.delivered {
		p.Release()
		el.delivered[i] = nil
	}
	el.delivered = el.delivered[:0]
	el.arena.reset()
	el.flip()
}

// deliverMail delivers the parcels waiting in every mailbox; they are
// released after the pass's flush. Besides the pass, OnTraffic calls it
// before it handles a read: a shard's output that is already in a mailbox
// happened before anything the read causes, and a reply the loop makes on
// its own (PONG, a numeric for a line the shard never sees) must not
// overtake it on the wire.
func (el *eventLoop) deliverMail() {
	p := el.inboxes.Load()
	if p == nil {
		return
	}
	for _, mb := range *p {
		if !mb.queued.Load() {
			continue
		}
		ps := mb.take()
		for _, p := range ps {
			p.Deliver()
		}
		el.delivered = append(el.delivered, ps...)
		mb.giveBack(ps)
	}
}

func (el *eventLoop) runExt() {
	el.extMu.Lock()
	fns := el.ext
	el.ext = el.extSpare[:0]
	el.extMu.Unlock()
	for i, fn := range fns {
		fn()
		fns[i] = nil
	}
	el.extMu.Lock()
	el.extSpare = fns[:0]
	el.extMu.Unlock()
}

// flip publishes recorded data at a safe point (end of a pass).
func (el *eventLoop) flip() {
	if el.rec != nil {
		el.rec.Flip()
	}
}

func (el *eventLoop) now() time.Time {
	if el.clock.IsZero() {
		el.clock = time.Now()
	}
	return el.clock
}

// markDirty queues c for the pass's flush.
func (el *eventLoop) markDirty(c *conn) {
	if c.dirty {
		return
	}
	c.dirty = true
	el.dirty = append(el.dirty, c)
	if c.segs == nil {
		if n := len(el.segPool); n > 0 {
			c.segs = el.segPool[n-1]
			el.segPool[n-1] = nil
			el.segPool = el.segPool[:n-1]
		}
	}
}

// flushDirty writes out every connection that received output. A flush
// can close a connection, and OnClose flushes too: the nested call returns
// at once and the outer loop picks up whatever it appended.
func (el *eventLoop) flushDirty() {
	if el.flushing {
		return
	}
	el.flushing = true
	for i := 0; i < len(el.dirty); i++ {
		c := el.dirty[i]
		el.dirty[i] = nil
		c.flush()
	}
	el.dirty = el.dirty[:0]
	el.flushing = false
}

// recycleSegs takes back a connection's emptied segment list.
func (el *eventLoop) recycleSegs(segs [][]byte) {
	if cap(segs) > 256 || len(el.segPool) >= 4096 {
		return
	}
	clear(segs[:cap(segs)])
	el.segPool = append(el.segPool, segs[:0])
}

// tick enforces the registration and ping timeouts on this loop's
// connections and resumes delayed ones; it runs as a pass's function.
// The ticker runs it every TickInterval while connections are delayed,
// and once a second otherwise (scanTicks), so an idle server wakes its
// loops once a second.
func (el *eventLoop) tick() {
	now := time.Now()
	el.clock = now
	el.resumeDelayed(now)
	el.fineTicks.Store(len(el.delayed) > 0)
	// Timeouts have second resolution: scan the connections once a second
	// however fine the tick is.
	if now.Sub(el.lastScan) < time.Second-el.srv.cfg.TickInterval/2 {
		return
	}
	el.lastScan = now
	cfg := &el.srv.cfg
	for c := range el.conns {
		if c.closing {
			continue
		}
		switch {
		case c.client == nil: // still waiting for its PROXY header
			if since(now, c.opened) > cfg.RegistrationTimeout {
				c.transportFailed("PROXY header timed out")
			}
		case !c.client.Registered():
			if since(now, c.opened) > cfg.RegistrationTimeout {
				el.srv.chat.RegistrationTimedOut(c.client, now)
				c.Close("Registration timed out")
			}
		case c.awaitingPong:
			if since(now, c.pingSent) > cfg.PingTimeout {
				secs := int(since(now, c.lastRead).Seconds())
				c.Close("Ping timeout: " + strconv.Itoa(secs) + " seconds")
			}
		case since(now, c.lastRead) > cfg.PingInterval:
			c.awaitingPong = true
			c.pingSent = now.UnixNano()
			c.Write([]byte("PING :" + el.srv.chat.Name() + "\r\n"))
		}
	}
}

// resumeDelayed re-offers input of connections whose delay has passed.
func (el *eventLoop) resumeDelayed(now time.Time) {
	if len(el.delayed) == 0 {
		return
	}
	// process may delay a connection again, appending to el.delayed: work
	// on a detached list.
	list := el.delayed
	el.delayed = el.spareDelayed[:0]
	for _, c := range list {
		switch {
		case c.closed || c.closing:
			c.delayed = false
		case now.UnixNano() < c.resumeAt:
			el.delayed = append(el.delayed, c)
		default:
			c.delayed = false
			c.process()
		}
	}
	clear(list)
	el.spareDelayed = list[:0]
}

// arena holds copies of lines written during a pass, in large chunks, so
// that a connection's output is a list of views and copying a reply costs
// no allocation. It is reset after the pass's flush: by then the transport
// wrote the bytes or copied what the socket did not take.
type arena struct {
	cur  []byte
	used [][]byte // chunks filled this pass, reused after reset
	free [][]byte
}

const arenaChunk = 64 << 10

// copy returns a copy of b inside the arena.
func (a *arena) copy(b []byte) []byte {
	if len(b) > arenaChunk/4 {
		return append([]byte(nil), b...) // big: its own allocation
	}
	if cap(a.cur)-len(a.cur) < len(b) {
		if a.cur != nil {
			a.used = append(a.used, a.cur)
		}
		if n := len(a.free); n > 0 {
			a.cur = a.free[n-1][:0]
			a.free = a.free[:n-1]
		} else {
			a.cur = make([]byte, 0, arenaChunk)
		}
	}
	start := len(a.cur)
	a.cur = append(a.cur, b...)
	// The copy keeps the chunk's spare capacity, so that the next copy for
	// the same connection can be joined to it (joinAdjacent).
	return a.cur[start:]
}

// reset makes every chunk available again, keeping a few for the next
// pass.
func (a *arena) reset() {
	if a.cur != nil {
		a.used = append(a.used, a.cur)
		a.cur = nil
	}
	for _, c := range a.used {
		if len(a.free) < 8 {
			a.free = append(a.free, c[:0])
		}
	}
	clear(a.used)
	a.used = a.used[:0]
}

// since is the time from a Unix-nanosecond instant to now.
func since(now time.Time, unixNano int64) time.Duration {
	return time.Duration(now.UnixNano() - unixNano)
}
