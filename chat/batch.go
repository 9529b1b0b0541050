package chat

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"laird/perf"
)

// batch collects one shard drain's output: lines encoded once into buf and
// deliveries grouped by event loop. flush posts one parcel per loop that
// has deliveries to that loop's mailbox from this shard; each loop delivers
// its parcel in its next pass, writes the lines straight from buf (no copy
// per recipient: a connection's output is a list of views into shared
// buffers) and releases the parcel after the pass's flush; the last
// release returns the batch to the pool. Only the shard goroutine writes a
// batch until flush; after that the loops only read it.
type batch struct {
	srv     *Server
	shard   int
	buf     []byte
	perLoop [][]delivery
	parcels []parcel
	refs    atomic.Int32
}

type deliveryKind uint8

const (
	deliverLine  deliveryKind = iota // write buf[off:end] to c
	deliverReply                     // buf[off:end] is output of op o
	deliverDone                      // one part of op o completed
	deliverCall                      // run fn(c) on c's loop
	deliverCut                       // c passed its SendQ: cut it as a slow consumer
	deliverOpen                      // op o has one more part in flight (hold.go)
)

type delivery struct {
	c        *Client
	o        *op
	fn       func(*Client)
	off, end int32
	kind     deliveryKind
	at       int64 // unix ns the message arrived, for fan-out latency; 0 = not a message
}

var deliverySize = int(unsafe.Sizeof(delivery{}))

// batchFree keeps a shard's released batches, with their grown buffers, for
// its next drains: a sync.Pool would drop them at every GC and a big
// channel's fan-out would grow its delivery lists again each time. Loops
// release into it, the shard takes from it; a handful at most are in
// flight per loop.
type batchFree struct {
	mu   sync.Mutex
	list []*batch
}

const batchFreeMax = 64

func (f *batchFree) get() *batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.list); n > 0 {
		b := f.list[n-1]
		f.list[n-1] = nil
		f.list = f.list[:n-1]
		return b
	}
	return nil
}

func (f *batchFree) put(b *batch) {
	f.mu.Lock()
	if len(f.list) < batchFreeMax {
		f.list = append(f.list, b)
	}
	f.mu.Unlock()
}

func (s *Server) newBatch(shard int) *batch {
	b := s.shards[shard].free.get()
	if b == nil {
		b = new(batch)
	}
	b.srv, b.shard = s, shard
	if n := s.loops.Count(); len(b.perLoop) != n {
		b.perLoop = make([][]delivery, n)
		b.parcels = make([]parcel, n)
		for i := range b.parcels {
			b.parcels[i] = parcel{b: b, loop: i}
		}
	}
	return b
}

// appendLine copies a complete line into the batch and returns its span.
func (b *batch) appendLine(line []byte) (off, end int32) {
	off = int32(len(b.buf))
	b.buf = append(b.buf, line...)
	return off, int32(len(b.buf))
}

// admit charges n bytes of fan-out to c's SendQ before it is queued. A
// client over its SendQ is cut as a slow consumer once (its loop closes
// it; nobody else waits) and gets nothing more.
func (b *batch) admit(c *Client, n int32) bool {
	if c.slow.Load() {
		return false
	}
	q := c.queued.Add(int64(n))
	if lim := int64(b.srv.cfg.SendQ); lim > 0 && q+c.backlog.Load() > lim {
		if c.slow.CompareAndSwap(false, true) {
			b.perLoop[c.loop] = append(b.perLoop[c.loop], delivery{c: c, kind: deliverCut})
		}
		return false
	}
	return true
}

// sendSpan delivers an already appended span to c.
func (b *batch) sendSpan(c *Client, off, end int32) {
	if !b.admit(c, end-off) {
		return
	}
	b.perLoop[c.loop] = append(b.perLoop[c.loop], delivery{c: c, off: off, end: end})
}

// sendUser delivers an already appended span to every session of u.
func (b *batch) sendUser(u *user, off, end int32) {
	for _, s := range u.sessionList() {
		b.sendSpan(s, off, end)
	}
}

// send copies line into the batch and delivers it to c.
func (b *batch) send(c *Client, line []byte) {
	off, end := b.appendLine(line)
	b.sendSpan(c, off, end)
}

// replySpan delivers an appended span as output of op o (its client's
// reply to its own command).
func (b *batch) replySpan(o *op, off, end int32) {
	l := o.c.loop
	b.perLoop[l] = append(b.perLoop[l], delivery{o: o, off: off, end: end, kind: deliverReply})
}

// reply appends r's lines as output of op o and recycles r.
func (b *batch) reply(o *op, r *replies) {
	if !r.empty() {
		off, end := b.appendLine(r.buf)
		b.replySpan(o, off, end)
	}
	putReplies(r)
}

// replyLine appends one encoded line as output of op o.
func (b *batch) replyLine(o *op, line []byte) {
	off, end := b.appendLine(line)
	b.replySpan(o, off, end)
}

// done tells o's loop that one part of o completed.
func (b *batch) done(o *op) {
	l := o.c.loop
	b.perLoop[l] = append(b.perLoop[l], delivery{o: o, kind: deliverDone})
}

// openPart tells o's loop that o has one more part in flight, which a
// later done completes.
func (b *batch) openPart(o *op) {
	l := o.c.loop
	b.perLoop[l] = append(b.perLoop[l], delivery{o: o, kind: deliverOpen})
}

// call runs fn(c) on c's loop after the deliveries queued before it.
func (b *batch) call(c *Client, fn func(*Client)) {
	b.perLoop[c.loop] = append(b.perLoop[c.loop], delivery{c: c, kind: deliverCall, fn: fn})
}

// flush posts one parcel per loop with deliveries. b must not be used by
// the caller afterwards. It returns the loops whose mailbox from this shard
// is over its bound: the shard must wait for room before taking more work.
// A parcel may be delivered and released before flush returns, so the
// loop list is taken first.
func (b *batch) flush() (full []int) {
	var idsBuf [64]int
	ids := idsBuf[:0]
	for id, ds := range b.perLoop {
		if len(ds) > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		b.release()
		return nil
	}
	b.refs.Store(int32(len(ids)))
	loops, shard := b.srv.loops, b.shard
	for _, id := range ids {
		if !loops.Post(shard, id, &b.parcels[id]) {
			full = append(full, id)
		}
	}
	return full
}

// A drain starts a new batch once one holds this much, so that a batch,
// kept for reuse with its grown buffers, stays small, and a long drain's
// output reaches the loops in pieces.
const (
	batchBytes      = 256 << 10
	batchDeliveries = 16 << 10
)

// big reports whether the batch reached its size.
func (b *batch) big() bool {
	if len(b.buf) >= batchBytes {
		return true
	}
	n := 0
	for _, ds := range b.perLoop {
		n += len(ds)
	}
	return n >= batchDeliveries
}

// parcel is one loop's part of a batch; it implements Parcel.
type parcel struct {
	b    *batch
	loop int
}

// Size is the memory the parcel keeps alive: the shared buffer (counted in
// full by every loop that reads it) and its deliveries.
func (p *parcel) Size() int { return len(p.b.buf) + len(p.b.perLoop[p.loop])*deliverySize }

// Deliver runs on loop p.loop, in its pass, before the pass's flush.
func (p *parcel) Deliver() {
	b := p.b
	rec := b.srv.loops.Recorder(p.loop)
	var now int64
	if rec != nil {
		now = time.Now().UnixNano()
	}
	deliveries := uint64(0)
	// Deliveries of one message share its arrival time and this pass's
	// clock reading: record each run of them once, with its count.
	var runAt, runN int64
	for _, d := range b.perLoop[p.loop] {
		switch d.kind {
		case deliverLine:
			c := d.c
			c.queued.Add(int64(d.off - d.end))
			c.conn.WriteShared(b.buf[d.off:d.end])
			if d.at != 0 && rec != nil {
				if d.at != runAt && runN > 0 {
					rec.RecordN(perf.Fanout, time.Duration(now-runAt), runN)
					runN = 0
				}
				runAt = d.at
				runN++
				deliveries++
			}
		case deliverReply:
			d.o.writeShared(b.buf[d.off:d.end])
		case deliverDone:
			d.o.partDone()
		case deliverOpen:
			d.o.parts++
		case deliverCall:
			d.fn(d.c)
		case deliverCut:
			d.c.conn.Overflow()
		}
	}
	if rec != nil && deliveries > 0 {
		if runN > 0 {
			rec.RecordN(perf.Fanout, time.Duration(now-runAt), runN)
		}
		rec.Add(perf.Deliveries, deliveries)
	}
}

// Release runs on loop p.loop after the pass's flush: nothing refers to
// the batch's bytes any more.
func (p *parcel) Release() {
	if p.b.refs.Add(-1) == 0 {
		p.b.release()
	}
}

func (b *batch) release() {
	for i := range b.perLoop {
		clear(b.perLoop[i])
		if cap(b.perLoop[i]) > 2*batchDeliveries {
			b.perLoop[i] = nil
		}
		b.perLoop[i] = b.perLoop[i][:0]
	}
	if cap(b.buf) > 2*batchBytes {
		b.buf = nil // do not keep a burst's memory forever
	}
	b.buf = b.buf[:0]
	b.srv.shards[b.shard].free.put(b)
}
