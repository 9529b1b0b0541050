package chat

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"laird/perf"
)

// task is one unit of work for a shard: run executes on the shard goroutine
// and writes its output into the drain's batch. A task of an op is one
// part of it: the drain delivers the part's completion after run, unless
// run held the client (hold.go), which moves the completion to release.
type task struct {
	o   *op     // the op this is a part of; nil for internal work
	c   *Client // o.c, or the client internal work is about (may be nil)
	run func(sh *shard, b *batch)
	msg *messageTask // instead of run: a message, without a closure
	enq time.Time    // when it was queued, for the queue-wait histogram
}

// shard owns one partition of the shared state. Only its goroutine reads or
// writes the maps below.
type shard struct {
	id  int
	srv *Server

	channels map[string]*Channel // by casefolded name
	nicks    map[string]*user    // by casefolded nick
	accounts map[string]*user    // users logged in, by casefolded account (multiclient)
	// watchers are the MONITOR lists, by casefolded nick watched.
	watchers map[string]map[*Client]struct{}

	mu     sync.Mutex
	queue  []task
	qlen   atomic.Int64 // len(queue), for lock-free room checks
	wake   chan struct{}
	spare  []task
	stop   chan struct{}
	closed bool
	// waiting[l] is set while loop l holds a client's command back because
	// this queue was full (backpressure); the shard wakes that loop once the
	// queue has room again. anyWaiting spares the scan.
	waiting    []atomic.Bool
	anyWaiting atomic.Bool

	rec  *perf.Recorder // owned by the shard goroutine; nil without monitoring
	free batchFree      // released batches for reuse

	registered map[string]*regChan     // registered channels, by casefolded name (regchan.go)
	reserved   map[string]bool         // channel names a RENAME is moving a channel to (rename.go)
	invites    inviteIndex             // pending stored invitations to this shard's channels (invites.go)
	held       map[*Client]*heldClient // clients whose tasks wait (hold.go)
	cur        *task                   // the task running, for hold
	kept       bool                    // cur was held: its completion moves to release
}

func newShard(srv *Server, id int) *shard {
	return &shard{
		id:       id,
		srv:      srv,
		channels: make(map[string]*Channel),
		nicks:    make(map[string]*user),
		accounts: make(map[string]*user),
		watchers: make(map[string]map[*Client]struct{}),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		waiting:  make([]atomic.Bool, srv.loops.Count()),
	}
}

// push queues t; it never blocks and never refuses. What bounds the queue
// is upstream: a loop starts a client's command only while the shard it
// is routed to has room (Client.mayStart), a client has at most
// PipelineMax commands in flight, and every internal task belongs to an
// op or to a connection event. So the queue is bounded by configuration
// (connections, pipeline depth), not by what clients send.
func (sh *shard) push(t task) {
	if sh.rec != nil {
		t.enq = time.Now()
	}
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return
	}
	sh.queue = append(sh.queue, t)
	first := len(sh.queue) == 1
	sh.qlen.Store(int64(len(sh.queue)))
	sh.mu.Unlock()
	if first {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
}

// queueLen returns the current queue depth.
func (sh *shard) queueLen() int { return int(sh.qlen.Load()) }

// hasRoom reports whether client commands may be queued here.
func (sh *shard) hasRoom() bool { return sh.queueLen() < sh.srv.cfg.ShardQueue }

func (sh *shard) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-sh.wake:
		case <-sh.stop:
			// Stop comes after the loops stopped: run what was queued so
			// that no op is left half done, then exit.
			for sh.drain() {
			}
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
	sh.qlen.Store(0)
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
	b := sh.srv.newBatch(sh.id)
	var full []int
	for i := range tasks {
		sh.runTask(b, &tasks[i])
		if b.big() {
			// A batch stays small enough to keep for reuse, and loops get
			// a long drain's output in pieces.
			full = append(full, b.flush()...)
			b = sh.srv.newBatch(sh.id)
		}
	}
	full = append(full, b.flush()...)
	sh.wakeWaiting()
	if sh.rec != nil {
		sh.rec.AddBusy(time.Since(start))
		sh.rec.SetGauge(perf.QueueDepth, int64(len(tasks)))
		sh.rec.Flip()
	}
	clear(tasks)
	sh.spare = tasks[:0]
	// Backpressure: a loop whose mailbox from this shard is over its bound
	// is not keeping up; take no more work until it has drained, so memory
	// stays bounded. Clients of this shard then wait in their loops (the
	// queue fills and mayStart holds their next command).
	for _, l := range full {
		sh.srv.loops.WaitRoom(sh.id, l)
	}
	return true
}

// runTask runs one task, unless its client is held (its turn comes at
// release), and delivers the part's completion unless run held it.
func (sh *shard) runTask(b *batch, t *task) {
	if sh.setAside(t) {
		return
	}
	sh.cur, sh.kept = t, false
	if t.msg != nil {
		t.msg.run(sh, b)
	} else {
		t.run(sh, b)
	}
	if t.o != nil && !sh.kept {
		b.done(t.o)
	}
	sh.cur = nil
}

// wakeWaiting tells loops that held client commands back for lack of room
// that there is room again.
func (sh *shard) wakeWaiting() {
	if !sh.anyWaiting.Load() || !sh.hasRoom() {
		return
	}
	sh.anyWaiting.Store(false)
	for l := range sh.waiting {
		if sh.waiting[l].Swap(false) {
			sh.srv.onLoopID(l, func() { sh.srv.resumeWaiting(l) })
		}
	}
}

var shardSeed = maphash.MakeSeed()

// shardOf returns the shard owning a casefolded name.
func (s *Server) shardOf(folded string) int {
	if len(s.shards) == 1 {
		return 0
	}
	return int(maphash.String(shardSeed, folded) % uint64(len(s.shards)))
}

// post queues internal work on shard id: no op waits for it.
func (s *Server) post(id int, run func(sh *shard, b *batch)) {
	s.shards[id].push(task{run: run})
}
