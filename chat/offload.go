package chat

import "runtime"

// workPool runs blocking work (password hashing, store reads) off the event
// loops and shards, at most size jobs at a time; the rest queue. Separate
// pools keep one kind of work from starving another: a login storm's bcrypt
// must not delay CHATHISTORY, nor a burst of history reads the logins.
type workPool struct {
	slots chan struct{}
}

func newWorkPool(size int) *workPool {
	return &workPool{slots: make(chan struct{}, max(1, size))}
}

// run starts fn on its own goroutine once a slot is free.
func (p *workPool) run(fn func()) {
	go func() {
		p.slots <- struct{}{}
		defer func() { <-p.slots }()
		fn()
	}()
}

// The pools. Hashing is CPU-bound: one job per core at most, so the loops
// always keep CPU. Store reads mostly wait on the disk or the page cache.
var (
	hashPool  = newWorkPool(runtime.GOMAXPROCS(0))
	readPool  = newWorkPool(4 * runtime.GOMAXPROCS(0))
	auditPool = newWorkPool(1)
)

// onLoopID runs fn on event loop id from any goroutine.
func (s *Server) onLoopID(id int, fn func()) {
	if err := s.loops.Run(id, fn); err != nil {
		s.log.Debug("onLoop: loop gone", "err", err)
	}
}

// onLoop runs fn on c's loop from any goroutine.
func (s *Server) onLoop(c *Client, fn func()) { s.onLoopID(c.loop, fn) }

// disconnectUser ends every session of u from any goroutine (KILL, bans,
// suspensions, GHOST); an always-on user with no session leaves at once.
func (s *Server) disconnectUser(u *user, reason string) {
	sessions := u.sessionList()
	if len(sessions) == 0 && u.present() {
		s.userLeft(u, reason)
		return
	}
	for _, t := range sessions {
		s.disconnect(t, reason)
	}
}

// disconnect ends t's connection from any goroutine: on t's loop it is
// marked quitting with reason (what its channels see in the QUIT) and gets
// "ERROR :Closing Link: <host> (reason)". Used by KILL, bans, suspensions
// and GHOST.
func (s *Server) disconnect(t *Client, reason string) {
	s.onLoop(t, func() {
		if t.quitting {
			return
		}
		t.quitting = true
		t.quitMsg = reason
		t.conn.Close("Closing Link: " + t.Identity().Host + " (" + reason + ")")
	})
}
