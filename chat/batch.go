package chat

import (
	"sync"
	"sync/atomic"
	"time"

	"laird/perf"
)

// batch collects one shard drain's output: lines encoded once into buf and
// deliveries grouped by event loop. flush hands every loop one task; the
// last task to finish returns the batch to the pool. Only the shard
// goroutine writes a batch until flush; after that the loop tasks only read.
type batch struct {
	srv     *Server
	buf     []byte
	perLoop [][]delivery
	refs    atomic.Int32
}

type deliveryKind uint8

const (
	deliverLine deliveryKind = iota // write buf[off:end]
	deliverDone                     // one shard operation of c completed
	deliverCall                     // run fn(c) on c's loop
)

type delivery struct {
	c        *Client
	off, end int32
	kind     deliveryKind
	fn       func(*Client)
	at       int64 // unix ns the message arrived, for fan-out latency; 0 = not a message
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

func (s *Server) newBatch() *batch {
	b := batchPool.Get().(*batch)
	b.srv = s
	if len(b.perLoop) != s.loops.Count() {
		b.perLoop = make([][]delivery, s.loops.Count())
	}
	return b
}

// appendLine copies a complete line into the batch and returns its span.
func (b *batch) appendLine(line []byte) (off, end int32) {
	off = int32(len(b.buf))
	b.buf = append(b.buf, line...)
	return off, int32(len(b.buf))
}

// sendSpan delivers an already appended span to c.
func (b *batch) sendSpan(c *Client, off, end int32) {
	l := c.conn.Loop()
	b.perLoop[l] = append(b.perLoop[l], delivery{c: c, off: off, end: end})
}

// send copies line into the batch and delivers it to c.
func (b *batch) send(c *Client, line []byte) {
	off, end := b.appendLine(line)
	b.sendSpan(c, off, end)
}

// done tells c's loop that one of c's shard operations completed.
func (b *batch) done(c *Client) {
	l := c.conn.Loop()
	b.perLoop[l] = append(b.perLoop[l], delivery{c: c, kind: deliverDone})
}

// call runs fn(c) on c's loop after the lines queued before it.
func (b *batch) call(c *Client, fn func(*Client)) {
	l := c.conn.Loop()
	b.perLoop[l] = append(b.perLoop[l], delivery{c: c, kind: deliverCall, fn: fn})
}

// replies appends r's lines (with label rules) for c.
func (b *batch) replies(c *Client, r *replies, label []byte) {
	if r.empty() && len(label) == 0 {
		return
	}
	off := int32(len(b.buf))
	b.buf = r.appendTo(b.buf, label, c.Has(CapBatch))
	b.sendSpan(c, off, int32(len(b.buf)))
}

// flush submits one task per loop that has deliveries. b must not be used
// by the caller afterwards: a task may finish and recycle b before flush
// returns, so the loop list is taken first.
func (b *batch) flush() {
	var idsBuf [64]int
	ids := idsBuf[:0]
	for id, ds := range b.perLoop {
		if len(ds) > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		b.release()
		return
	}
	b.refs.Store(int32(len(ids)))
	srv := b.srv
	for _, id := range ids {
		if err := srv.loops.Run(id, func() { b.deliver(id) }); err != nil {
			// The engine is shutting down; nothing will read these.
			b.finish()
		}
	}
}

// deliver runs on loop id.
func (b *batch) deliver(id int) {
	rec := b.srv.loops.Recorder(id)
	var now int64
	if rec != nil {
		now = time.Now().UnixNano()
	}
	deliveries := uint64(0)
	// Deliveries of one message share its arrival time and this task's
	// clock reading: record each run of them once, with its count.
	var runAt, runN int64
	for _, d := range b.perLoop[id] {
		switch d.kind {
		case deliverLine:
			d.c.conn.Write(b.buf[d.off:d.end])
			if d.at != 0 && rec != nil {
				if d.at != runAt && runN > 0 {
					rec.RecordN(perf.Fanout, time.Duration(now-runAt), runN)
					runN = 0
				}
				runAt = d.at
				runN++
				deliveries++
			}
		case deliverDone:
			d.c.opDone()
		case deliverCall:
			d.fn(d.c)
		}
	}
	if rec != nil && deliveries > 0 {
		if runN > 0 {
			rec.RecordN(perf.Fanout, time.Duration(now-runAt), runN)
		}
		rec.Add(perf.Deliveries, deliveries)
	}
	b.finish()
}

func (b *batch) finish() {
	if b.refs.Add(-1) == 0 {
		b.release()
	}
}

func (b *batch) release() {
	for i := range b.perLoop {
		clear(b.perLoop[i])
		b.perLoop[i] = b.perLoop[i][:0]
	}
	if cap(b.buf) > 1<<20 {
		b.buf = nil // do not keep a burst's memory forever
	}
	b.buf = b.buf[:0]
	b.srv = nil
	batchPool.Put(b)
}
