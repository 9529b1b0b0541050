package chat

// Holding a client on a shard. A command whose output must wait for
// something the shard does not own (a kv commit of a registered channel's
// state) ends its shard task without answering. The client then stays
// parked on its loop, and the tasks it had already pipelined to this shard
// behind that command must not overtake it: while a client is held, the
// shard sets its tasks aside and runs them, in order, once the hold is
// released. Holds nest (a released task may hold again). Shard only.

// heldClient is one held client's state on a shard.
type heldClient struct {
	n     int    // holds in force
	tasks []task // the client's tasks that arrived meanwhile, in order
}

// hold keeps c parked past the end of the current task: its loop gets a
// park (before the task's own done) that release balances.
func (sh *shard) hold(b *batch, c *Client) {
	if sh.held == nil {
		sh.held = make(map[*Client]*heldClient)
	}
	h := sh.held[c]
	if h == nil {
		h = &heldClient{}
		sh.held[c] = h
	}
	h.n++
	b.call(c, (*Client).park)
}

// release ends one hold of c: c's loop gets the matching done, and when no
// hold remains the tasks set aside run.
func (sh *shard) release(b *batch, c *Client) {
	b.done(c)
	h := sh.held[c]
	if h == nil {
		return
	}
	h.n--
	if h.n > 0 {
		return
	}
	delete(sh.held, c)
	if !c.registeredShared() {
		// c disconnected meanwhile, and its QUIT already ran here: what it
		// had sent after must not run after that (a JOIN would leave a
		// ghost member).
		return
	}
	for i := range h.tasks {
		sh.runTask(b, &h.tasks[i])
	}
}

// setAside takes t if its client is held; drain calls it for every task.
func (sh *shard) setAside(t *task) bool {
	if len(sh.held) == 0 || t.c == nil {
		return false
	}
	h := sh.held[t.c]
	if h == nil {
		return false
	}
	h.tasks = append(h.tasks, *t)
	return true
}

// runTask runs one task as drain does, unless its client is held.
func (sh *shard) runTask(b *batch, t *task) {
	if sh.setAside(t) {
		return
	}
	t.run(sh, b)
	if t.c != nil && t.done {
		b.done(t.c)
	}
}
