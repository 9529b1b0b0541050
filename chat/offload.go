package chat

import "runtime"

// hashSlots bounds concurrent password hashing so a login storm queues
// instead of starving the event loops of CPU.
var hashSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// offload runs work on its own goroutine (password hashing must never run
// on an event loop), then then() on c's loop; c stays parked meanwhile and
// its label is restored for then.
func (s *Server) offload(c *Client, work func(), then func()) {
	label := c.takeLabel()
	c.park()
	loopID := c.conn.Loop()
	go func() {
		hashSlots <- struct{}{}
		work()
		<-hashSlots
		err := s.loops.Run(loopID, func() {
			c.outLabel = append(c.outLabel[:0], label...)
			then()
			c.outLabel = c.outLabel[:0]
			c.opDone()
		})
		if err != nil {
			s.log.Debug("offload: loop gone", "err", err)
		}
	}()
}

// onLoop runs fn on c's loop from any goroutine.
func (s *Server) onLoop(c *Client, fn func()) {
	if err := s.loops.Run(c.conn.Loop(), fn); err != nil {
		s.log.Debug("onLoop: loop gone", "err", err)
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
