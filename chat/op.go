package chat

import (
	"bytes"
	"sync"
	"time"

	"laird/codec"
	"laird/kv"
)

// An op is one command of one client, as a value: its reply context (the
// label), the work it started (parts on shards, offloaded work, commits),
// what runs next on the client's loop when that work is done
// (continuations and steps), and its completion.
//
// The loop keeps per-connection order with the client's queue of ops
// (Client.ops): output of an op that is not at the head of the queue, and
// all output of a labeled op, is held in the op until it may go out, so a
// client sees replies in the order it sent commands whatever shard answers
// first; labeled-response framing (ACK, one tagged line, or a BATCH) is
// applied in one place, when the op completes. Handlers never count work
// or carry labels: they start parts and name what comes next.
//
// Ownership: an op is created, advanced and completed on its client's
// loop; every field below parts is loop-owned. Shards and other goroutines
// only read s, c and the fields set before the first part started, and
// reach the loop through deliveries (batch.done, batch.reply) or
// Loops.Run.
type op struct {
	s      *Server
	c      *Client
	cmd    *command  // the table row; nil for an unknown command
	label  []byte    // the labeled-response label, unescaped; empty when none
	metric int       // index into Server.cmdIDs; -1 records nothing
	start  time.Time // when the command was parsed

	// Loop-owned.
	parts    int      // work in flight: shard tasks, offloads, commits
	shard    int      // the one shard all parts went to; shardNone before any, shardMany after others
	conts    []func() // run when parts reaches zero, before the next step
	steps    []func() // the rest of a multi-step command, in order
	finished bool     // nothing in flight and nothing left to run
	resp     []byte   // output held back (labeled, or not at the head)
	// batchLabel puts the label on the opening line of an output that is
	// one batch, instead of wrapping it (a draft/multiline echo).
	batchLabel bool
}

const (
	shardNone = -2 // no part started yet
	shardMany = -1 // parts on several shards, or work that is not a shard's
)

var opPool = sync.Pool{New: func() any { return new(op) }}

// newOp starts an op for c. Loop only.
func (c *Client) newOp(cmd *command, now time.Time) *op {
	o := opPool.Get().(*op)
	o.s, o.c, o.cmd, o.start = c.srv, c, cmd, now
	o.metric = -1
	if cmd != nil {
		o.metric = cmd.index
	}
	o.shard = shardNone
	c.ops = append(c.ops, o)
	return o
}

func (o *op) recycle() {
	resp := o.resp[:0]
	if cap(resp) > 4<<10 {
		resp = nil
	}
	label := o.label[:0]
	clear(o.conts)
	clear(o.steps)
	*o = op{resp: resp, label: label, conts: o.conts[:0], steps: o.steps[:0]}
	opPool.Put(o)
}

// setLabel records the label of a labeled-response command.
func (o *op) setLabel(v []byte) {
	o.label = codec.UnescapeTag(o.label[:0], v)
}

// Output. Every line an op produces for its own client goes through write:
// straight out while the op is at the head of the client's queue and has
// no label, held in the op otherwise.

// write sends complete lines to o's client; they are copied.
func (o *op) write(lines []byte) {
	if len(lines) == 0 {
		return
	}
	if len(o.label) == 0 && o.c.headOp() == o {
		o.c.conn.Write(lines)
		return
	}
	o.resp = append(o.resp, lines...)
}

// writeShared is write for lines that stay valid until the end of the
// loop's pass (a parcel's bytes): streamed without a copy.
func (o *op) writeShared(lines []byte) {
	if len(o.label) == 0 && o.c.headOp() == o {
		o.c.conn.WriteShared(lines)
		return
	}
	o.resp = append(o.resp, lines...)
}

// replies returns an empty reply collector addressed to o's client.
func (o *op) replies() *replies { return o.c.replies() }

// reply writes r and recycles it.
func (o *op) reply(r *replies) {
	o.write(r.buf)
	putReplies(r)
}

// numeric replies with one numeric.
func (o *op) numeric(num string, params ...string) {
	r := o.replies()
	r.numeric(num, params...)
	o.reply(r)
}

// fail replies with an IRCv3 standard-replies FAIL.
func (o *op) fail(command, code, context, description string) {
	r := o.replies()
	r.fail(command, code, context, description)
	o.reply(r)
}

// failWith replies with a FAIL whose context is several parameters.
func (o *op) failWith(command, code, description string, context ...string) {
	r := o.replies()
	r.failWith(command, code, description, context...)
	o.reply(r)
}

// Work. Each kind of work is a part: the op waits for every part, then runs
// its continuations and steps on the loop.

// toShard runs fn on shard id with o's client; its output and o's
// completion are delivered to the loop in the shard's batch. It never
// fails: the loop checked the shard's capacity before starting the
// command (Client.mayStart), and work an op started must not be lost
// halfway.
func (o *op) toShard(id int, fn func(sh *shard, b *batch)) {
	o.onShard(id)
	o.s.shards[id].push(task{o: o, c: o.c, run: fn})
}

// onShard counts a part that runs on shard id.
func (o *op) onShard(id int) {
	o.parts++
	switch o.shard {
	case shardNone:
		o.shard = id
	case id:
	default:
		o.shard = shardMany
	}
}

// toShardMessage is toShard for the message hot path: the task carries
// the message instead of a closure.
func (o *op) toShardMessage(id int, msg *messageTask) {
	o.onShard(id)
	o.s.shards[id].push(task{o: o, c: o.c, msg: msg})
}

// then runs fn on the loop once the parts started so far are done. From
// a continuation, fn runs after the continuations already queued.
func (o *op) then(fn func()) { o.conts = append(o.conts, fn) }

// sequence queues steps that run one after another on the loop, each once
// the work of the one before is done (JOIN #a,#b: one shard, then the
// next, answering in order).
func (o *op) sequence(steps ...func()) { o.steps = append(o.steps, steps...) }

// offload runs work on a goroutine of pool (never on a loop: bcrypt, store
// reads), then then on the loop.
func (o *op) offload(p *workPool, work func(), then func()) {
	o.parts++
	o.shard = shardMany
	o.then(then)
	loop := o.c.loop
	p.run(func() {
		work()
		o.s.onLoopID(loop, o.partDone)
	})
}

// commit commits t and runs then(err) on the loop once the outcome is
// known: nil when durable. Refusals before the writer sees t (busy, disk
// full, unavailable) arrive the same way.
func (o *op) commit(t *kv.Txn, then func(err error)) {
	o.parts++
	o.shard = shardMany
	var result error
	o.then(func() { then(result) })
	loop := o.c.loop
	if err := o.s.store.Commit(t, func(err error) {
		result = err
		o.s.onLoopID(loop, o.partDone)
	}); err != nil {
		result = err
		o.parts-- // on the loop already: the part never started
	}
}

// waitFor runs then on the loop when an asynchronous callback fires: start
// receives the function to call (from any goroutine, once).
func (o *op) waitFor(start func(done func()), then func()) {
	o.parts++
	o.shard = shardMany
	o.then(then)
	loop := o.c.loop
	start(func() { o.s.onLoopID(loop, o.partDone) })
}

// partDone accounts one finished part; on the loop.
func (o *op) partDone() {
	o.parts--
	o.advance()
}

// advance runs continuations and steps while nothing is in flight and
// completes the op when nothing is left. On the loop.
func (o *op) advance() {
	for o.parts == 0 && !o.finished {
		switch {
		case len(o.conts) > 0:
			fn := o.conts[0]
			o.conts[0] = nil
			o.conts = o.conts[1:]
			fn()
		case len(o.steps) > 0:
			fn := o.steps[0]
			o.steps[0] = nil
			o.steps = o.steps[1:]
			fn()
		default:
			o.finished = true
			o.c.progress()
			return
		}
	}
}

// pipelinable reports whether a command routed to shard id may be queued
// behind o: o's work so far is only on id and nothing more is planned.
func (o *op) pipelinable(id int) bool {
	return !o.finished && o.shard == id && len(o.conts) == 0 && len(o.steps) == 0 &&
		o.cmd != nil && o.cmd.route != nil
}

// emit sends what o held back, framed for its label. Loop only.
func (o *op) emit() {
	c := o.c
	if len(o.label) == 0 {
		if len(o.resp) > 0 {
			c.conn.Write(o.resp)
		}
		return
	}
	if c.quitting {
		return
	}
	if o.batchLabel && oneBatch(o.resp) {
		end := lineEnd(o.resp)
		out := appendWithTag(nil, o.resp[:end], "label", o.label)
		c.conn.Write(append(out, o.resp[end:]...))
		return
	}
	c.conn.Write(frameLabeled(nil, o.s, o.label, o.resp, c.Has(CapBatch)))
}

// frameLabeled applies labeled-response to a command's complete output:
// no line is an ACK, one line gets the label tag, several are wrapped in a
// labeled-response BATCH (lines that belong to a batch of their own, such
// as chathistory, keep their tag; that batch's BATCH lines join the
// labeled one). A client without batch gets several lines untagged, as
// the spec allows.
func frameLabeled(dst []byte, s *Server, label, out []byte, batchOK bool) []byte {
	n := countLines(out)
	switch {
	case n == 0:
		dst = append(dst, "@label="...)
		dst = codec.AppendEscapedTag(dst, label)
		dst = append(dst, " :"...)
		dst = append(dst, s.name...)
		return append(dst, " ACK\r\n"...)
	case n == 1:
		return appendWithTag(dst, out, "label", label)
	case !batchOK:
		return append(dst, out...)
	}
	id := s.batchID()
	dst = append(dst, "@label="...)
	dst = codec.AppendEscapedTag(dst, label)
	dst = append(dst, " :"...)
	dst = append(dst, s.name...)
	dst = append(dst, " BATCH +"...)
	dst = append(dst, id...)
	dst = append(dst, " labeled-response\r\n"...)
	for len(out) > 0 {
		end := lineEnd(out)
		line := out[:end]
		out = out[end:]
		if hasTag(line, "batch") {
			dst = append(dst, line...)
			continue
		}
		dst = appendWithTag(dst, line, "batch", []byte(id))
	}
	dst = append(dst, ':')
	dst = append(dst, s.name...)
	dst = append(dst, " BATCH -"...)
	dst = append(dst, id...)
	return append(dst, '\r', '\n')
}

// oneBatch reports whether out is exactly one batch: its first line opens
// batch X ("BATCH +X"), its last closes it.
func oneBatch(out []byte) bool {
	first := out[:lineEnd(out)]
	last := out
	for len(last) > 0 {
		n := lineEnd(last)
		if n == len(last) {
			break
		}
		last = last[n:]
	}
	var m, e codec.Message
	if len(first) == len(out) || m.Parse(bytes.TrimSuffix(first, []byte("\r\n"))) != nil ||
		e.Parse(bytes.TrimSuffix(last, []byte("\r\n"))) != nil {
		return false
	}
	return m.CommandIs("BATCH") && e.CommandIs("BATCH") && len(m.Param(0)) > 1 && m.Param(0)[0] == '+' &&
		len(e.Param(0)) > 1 && e.Param(0)[0] == '-' && bytes.Equal(m.Param(0)[1:], e.Param(0)[1:])
}

// lineEnd returns the length of the first line of out, CRLF included.
func lineEnd(out []byte) int {
	for i := 0; i+1 < len(out); i++ {
		if out[i] == '\r' && out[i+1] == '\n' {
			return i + 2
		}
	}
	return len(out)
}

func countLines(out []byte) int {
	n := 0
	for len(out) > 0 {
		out = out[lineEnd(out):]
		n++
	}
	return n
}

// hasTag reports whether an encoded line carries tag key.
func hasTag(line []byte, key string) bool {
	if len(line) == 0 || line[0] != '@' {
		return false
	}
	rest := line[1:]
	if sp := bytes.IndexByte(rest, ' '); sp >= 0 {
		rest = rest[:sp]
	}
	for {
		k, _, r, ok := codec.NextTag(rest)
		if !ok {
			return false
		}
		if string(k) == key {
			return true
		}
		rest = r
	}
}
