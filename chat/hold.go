package chat

// Holding a client on a shard. A part whose output must wait for something
// the shard does not own (a kv commit of a registered channel's state)
// ends its task without completing: hold keeps the part open, and the
// tasks the client had already pipelined to this shard behind it must not
// overtake it, so while a client is held the shard sets its tasks aside and
// runs them, in order, once the hold is released. Holds nest (a released
// task may hold again). Shard only.

// heldClient is one held client's state on a shard.
type heldClient struct {
	n     int    // holds in force
	tasks []task // the client's tasks that arrived meanwhile, in order
}

// hold keeps a part of o open past the end of the running task; release
// completes it. The first hold in o's own task keeps that task's part;
// any other (a held command rerun later, holding again) opens one more
// part, announced to the loop ahead of the release that completes it.
func (sh *shard) hold(b *batch, o *op) {
	if sh.cur != nil && sh.cur.o == o && !sh.kept {
		sh.kept = true
	} else {
		b.openPart(o)
	}
	if sh.held == nil {
		sh.held = make(map[*Client]*heldClient)
	}
	h := sh.held[o.c]
	if h == nil {
		h = &heldClient{}
		sh.held[o.c] = h
	}
	h.n++
}

// release ends one hold of o: the part completes, and when no hold of its
// client remains the tasks set aside run.
func (sh *shard) release(b *batch, o *op) {
	b.done(o)
	c := o.c
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
		// ghost member). Their parts still complete.
		for i := range h.tasks {
			if t := &h.tasks[i]; t.o != nil {
				b.done(t.o)
			}
		}
		return
	}
	cur, kept := sh.cur, sh.kept
	for i := range h.tasks {
		sh.runTask(b, &h.tasks[i])
	}
	sh.cur, sh.kept = cur, kept
}

// setAside takes t if its client is held; runTask calls it for every task.
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
