package chat

import (
	"hash/maphash"
	"sync"
	"time"

	"laird/perf"
)

// task is one unit of work for a shard: run executes on the shard goroutine
// and writes its output into the drain's batch. When c is set and done is
// true, c's loop is told that the operation completed once its output is
// delivered.
type task struct {
	c    *Client
	run  func(sh *shard, b *batch)
	done bool
	enq  time.Time // when it was queued, for the queue-wait histogram
}

// shard owns one partition of the shared state. Only its goroutine reads or
// writes the maps below.
type shard struct {
	id  int
	srv *Server

	channels map[string]*Channel // by casefolded name
	nicks    map[string]*Client  // by casefolded nick
	// watchers are the MONITOR lists, by casefolded nick watched.
	watchers map[string]map[*Client]struct{}

	mu     sync.Mutex
	queue  []task
	wake   chan struct{}
	spare  []task
	stop   chan struct{}
	closed bool

	rec *perf.Recorder // owned by the shard goroutine; nil without monitoring

	registered map[string]*regChan     // registered channels, by casefolded name (regchan.go)
	held       map[*Client]*heldClient // clients whose tasks wait (hold.go)
}

func newShard(srv *Server, id int) *shard {
	return &shard{
		id:       id,
		srv:      srv,
		channels: make(map[string]*Channel),
		nicks:    make(map[string]*Client),
		watchers: make(map[string]map[*Client]struct{}),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
}

// push queues t. External (client-originated) pushes are refused when the
// queue is over its limit; internal pushes from other shards always
// succeed, since refusing them could lose half of a multi-shard operation
// (their number is bounded by the operations clients may have in flight).
func (sh *shard) push(t task, external bool) bool {
	if sh.rec != nil {
		t.enq = time.Now()
	}
	sh.mu.Lock()
	if sh.closed || (external && len(sh.queue) >= sh.srv.cfg.ShardQueue) {
		sh.mu.Unlock()
		return false
	}
	sh.queue = append(sh.queue, t)
	first := len(sh.queue) == 1
	sh.mu.Unlock()
	if first {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// queueLen returns the current queue depth (for metrics).
func (sh *shard) queueLen() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return len(sh.queue)
}

func (sh *shard) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-sh.wake:
		case <-sh.stop:
			return
		}
		for sh.drain() {
		}
	}
}

// drain runs everything queued as one batch; it reports whether it found
// any work.
func (sh *shard) drain() bool {
	sh.mu.Lock()
	tasks := sh.queue
	sh.queue = sh.spare[:0]
	sh.mu.Unlock()
	if len(tasks) == 0 {
		sh.spare = tasks
		return false
	}
	var start time.Time
	if sh.rec != nil {
		start = time.Now()
		for i := range tasks {
			sh.rec.Record(perf.ShardWait, start.Sub(tasks[i].enq))
		}
	}
	b := sh.srv.newBatch()
	for i := range tasks {
		t := &tasks[i]
		if sh.setAside(t) {
			continue
		}
		t.run(sh, b)
		if t.c != nil && t.done {
			b.done(t.c)
		}
	}
	b.flush()
	if sh.rec != nil {
		sh.rec.AddBusy(time.Since(start))
		sh.rec.SetGauge(perf.QueueDepth, int64(len(tasks)))
		sh.rec.Flip()
	}
	clear(tasks)
	sh.spare = tasks[:0]
	return true
}

var shardSeed = maphash.MakeSeed()

// shardOf returns the shard owning a casefolded name.
func (s *Server) shardOf(folded string) int {
	if len(s.shards) == 1 {
		return 0
	}
	return int(maphash.String(shardSeed, folded) % uint64(len(s.shards)))
}

// submit sends a client operation to shard id and parks the client until
// it completes. It reports false (after telling the client) when the shard
// is overloaded.
func (s *Server) submit(c *Client, id int, run func(sh *shard, b *batch)) bool {
	if !s.shards[id].push(task{c: c, run: run, done: true}, true) {
		r := c.replies()
		r.numeric("263", "*", "Server load is temporarily too heavy. Please wait a while and try again.")
		c.sendReplies(r)
		return false
	}
	if c.inflight == 0 {
		c.inflightTo = id
	} else if c.inflightTo != id {
		c.inflightTo = -1
	}
	c.inflight++
	c.opsStarted++
	return true
}

// post queues internal work on shard id without parking anyone.
func (s *Server) post(id int, run func(sh *shard, b *batch)) {
	s.shards[id].push(task{run: run}, false)
}

// opDone runs on c's loop when one of its shard operations completed.
func (c *Client) opDone() {
	c.inflight--
	c.opFinished()
	if c.inflight == 0 && !c.advance() {
		c.conn.Resume()
	}
}

// sequence runs steps one after another, each after the shard work of the
// previous one completed (JOIN #a,#b touches two shards but answers in
// order). It runs on c's loop inside a handler.
func (c *Client) sequence(steps []func()) {
	c.steps = append(c.steps, steps...)
	c.advance()
}

// labeledSequence runs steps like sequence, giving each the label to
// answer with. With one step, or without a label, the first step answers
// the label. With several steps and a label, the steps' replies are
// wrapped in one labeled-response BATCH, as the spec requires of a command
// whose replies come from several places.
func (c *Client) labeledSequence(label []byte, steps []func(label []byte)) {
	if len(steps) == 0 {
		if len(label) > 0 {
			c.outLabel = append(c.outLabel[:0], label...)
			c.sendReplies(c.replies())
		}
		return
	}
	if len(label) == 0 || len(steps) == 1 || !c.Has(CapBatch) {
		seq := make([]func(), len(steps))
		for i, step := range steps {
			l := label
			if i > 0 {
				l = nil
			}
			seq[i] = func() { step(l) }
		}
		c.sequence(seq)
		return
	}
	s := c.srv
	id := s.batchID()
	start := appendWithTag(nil, appendCmd(nil, s.name, "BATCH", false, "+"+id, "labeled-response"), "label", label)
	c.conn.Write(start)
	ref := batchRef(id)
	seq := make([]func(), 0, len(steps)+1)
	for _, step := range steps {
		seq = append(seq, func() { step(ref) })
	}
	seq = append(seq, func() { c.conn.Write(appendCmd(nil, s.name, "BATCH", false, "-"+id)) })
	c.sequence(seq)
}

// advance runs queued steps until one parks the client; it reports whether
// the client is parked.
func (c *Client) advance() bool {
	before := c.opsStarted
	for c.inflight == 0 && len(c.steps) > 0 {
		step := c.steps[0]
		c.steps[0] = nil
		c.steps = c.steps[1:]
		step()
	}
	// Steps run outside their handler belong to the command that queued
	// them: the newest pending one, since the client was parked since.
	if !c.inHandler && len(c.pending) > 0 {
		c.pending[len(c.pending)-1].ops += c.opsStarted - before
	}
	return c.inflight > 0
}

// unpark undoes a park whose operation never started (inside the handler
// that parked; it does not resume input, the caller is still handling).
func (c *Client) unpark() {
	c.inflight--
	c.opsStarted--
}

// park marks c as waiting for a multi-shard operation that will end with
// a done delivery.
func (c *Client) park() {
	c.inflight++
	c.inflightTo = -1
	c.opsStarted++
}
