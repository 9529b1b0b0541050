package chat

import "time"

// A client's ops in flight (Client.ops) and the rules for starting the
// next command; see op.go for one op's life. Loop only.

// headOp returns the oldest op in progress, or nil.
func (c *Client) headOp() *op {
	if len(c.ops) == 0 {
		return nil
	}
	return c.ops[0]
}

// busy reports whether any command of c is still in progress.
func (c *Client) busy() bool { return len(c.ops) > 0 }

// mayStart reports whether a command may start now. With nothing in
// flight it may, unless the shard it is routed to is full (backpressure:
// the line waits in the loop until the shard has room). Otherwise only a
// command routed to the one shard every op in flight is confined to may
// be queued behind them (that shard keeps their order), up to
// PipelineMax; anything else waits until they complete.
func (c *Client) mayStart(cmd *command, route int) bool {
	s := c.srv
	if route >= 0 && !s.shards[route].hasRoom() {
		s.waitForRoom(c, route)
		return false
	}
	if len(c.ops) == 0 {
		return true
	}
	if route < 0 || len(c.ops) >= s.cfg.PipelineMax {
		return false
	}
	for _, o := range c.ops {
		if !o.pipelinable(route) {
			return false
		}
	}
	return true
}

// progress completes finished ops at the head of the queue, in order, and
// streams output the new head held back while it was not first. When an
// op leaves the queue the connection resumes reading. Loop only.
func (c *Client) progress() {
	popped := false
	for len(c.ops) > 0 {
		o := c.ops[0]
		if !o.finished {
			if len(o.label) == 0 && len(o.resp) > 0 {
				c.conn.Write(o.resp)
				o.resp = o.resp[:0]
			}
			if popped {
				c.conn.Resume() // a held command may fit the pipeline now
			}
			return
		}
		popped = true
		o.emit()
		if c.rec != nil && o.metric >= 0 && c.srv.cmdIDs != nil {
			c.rec.Record(c.srv.cmdIDs[o.metric], time.Since(o.start))
		}
		c.ops[0] = nil
		c.ops = c.ops[1:]
		o.recycle()
	}
	c.ops = c.ops[:0] // reuse the array from its start
	if len(c.idle) > 0 {
		fn := c.idle[0]
		c.idle = c.idle[1:]
		fn()
		if c.busy() {
			return
		}
	}
	c.conn.Resume()
}

// internalOp runs fn as an op of c's own that no command started (a
// server-initiated change, such as nick protection's rename), once c has
// nothing in flight; c's next command waits for it like for any op. Loop
// only.
func (c *Client) internalOp(fn func(o *op)) {
	if c.busy() {
		c.idle = append(c.idle, func() { c.internalOp(fn) })
		return
	}
	o := c.newOp(nil, time.Now())
	fn(o)
	o.advance()
}

// waitForRoom holds c's next command until shard id has room: the shard
// wakes c's loop when it drains (resumeWaiting), and a timer retries in
// case the wake-up raced with the drain.
func (s *Server) waitForRoom(c *Client, id int) {
	sh := s.shards[id]
	sh.waiting[c.loop].Store(true)
	sh.anyWaiting.Store(true)
	if !c.waitingRoom {
		c.waitingRoom = true
		ls := s.loopState(c.loop)
		ls.waiting = append(ls.waiting, c)
	}
	c.conn.Delay(time.Now().Add(backpressureRetry))
}

// backpressureRetry bounds how long a held command waits for a wake-up that
// a race may have lost.
const backpressureRetry = 250 * time.Millisecond

// resumeWaiting offers the held commands of loop id's clients again after a
// shard made room. On loop id.
func (s *Server) resumeWaiting(id int) {
	ls := s.loopState(id)
	list := ls.waiting
	ls.waiting = nil
	for _, c := range list {
		c.waitingRoom = false
	}
	for _, c := range list {
		c.conn.Resume()
	}
}
