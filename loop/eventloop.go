package loop

import (
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"

	"laird/perf"
)

// eventLoop is laird's per-loop state. Only its own goroutine touches it,
// except id and gel which are immutable.
type eventLoop struct {
	id    int
	gel   gnet.EventLoop
	srv   *Server
	conns map[*conn]struct{}
	dirty []*conn
	clock time.Time      // time of the current callback
	rec   *perf.Recorder // nil without monitoring
}

// flip publishes recorded data at a safe point (end of a callback or task).
func (el *eventLoop) flip() {
	if el.rec != nil {
		el.rec.Flip()
	}
}

func (el *eventLoop) now() time.Time {
	if el.clock.IsZero() {
		el.clock = time.Now()
	}
	return el.clock
}

// flushDirty writes out every connection that received output.
func (el *eventLoop) flushDirty() {
	for i := 0; i < len(el.dirty); i++ { // flush may append (Close)
		el.dirty[i].flush()
		el.dirty[i] = nil
	}
	el.dirty = el.dirty[:0]
}

// tick enforces the registration and ping timeouts on this loop's
// connections.
func (el *eventLoop) tick() {
	el.flip()
	now := time.Now()
	el.clock = now
	cfg := &el.srv.cfg
	for c := range el.conns {
		if c.closing {
			continue
		}
		switch {
		case !c.client.Registered():
			if now.Sub(c.opened) > cfg.RegistrationTimeout {
				c.Close("Registration timed out")
			}
		case c.awaitingPong:
			if now.Sub(c.pingSent) > cfg.PingTimeout {
				secs := int(now.Sub(c.lastRead).Seconds())
				c.Close("Ping timeout: " + strconv.Itoa(secs) + " seconds")
			}
		case now.Sub(c.lastRead) > cfg.PingInterval:
			c.awaitingPong = true
			c.pingSent = now
			c.Write([]byte("PING :" + el.srv.chat.Name() + "\r\n"))
		}
	}
}
