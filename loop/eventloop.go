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
	id       int
	gel      gnet.EventLoop
	srv      *Server
	conns    map[*conn]struct{}
	dirty    []*conn
	flushing bool // inside flushDirty
	// delayed are connections held back by fakelag until their resumeAt.
	delayed      []*conn
	spareDelayed []*conn
	ticks        int
	clock        time.Time      // time of the current callback
	rec          *perf.Recorder // nil without monitoring
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

// flushDirty writes out every connection that received output. A flush
// can close a connection, and OnClose flushes too: the nested call returns
// at once and the outer loop picks up whatever it appended.
func (el *eventLoop) flushDirty() {
	if el.flushing {
		return
	}
	el.flushing = true
	for i := 0; i < len(el.dirty); i++ {
		c := el.dirty[i]
		el.dirty[i] = nil
		c.flush()
	}
	el.dirty = el.dirty[:0]
	el.flushing = false
}

// tick enforces the registration and ping timeouts on this loop's
// connections.
func (el *eventLoop) tick() {
	el.flip()
	now := time.Now()
	el.clock = now
	el.resumeDelayed(now)
	// Timeouts have second resolution: scan the connections once a second
	// however fine the tick is.
	el.ticks++
	if el.ticks%int(max(1, time.Second/el.srv.cfg.TickInterval)) != 0 {
		return
	}
	cfg := &el.srv.cfg
	for c := range el.conns {
		if c.closing {
			continue
		}
		switch {
		case !c.client.Registered():
			if now.Sub(c.opened) > cfg.RegistrationTimeout {
				el.srv.chat.RegistrationTimedOut(c.client, now)
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

// resumeDelayed re-offers input of connections whose fakelag has passed.
func (el *eventLoop) resumeDelayed(now time.Time) {
	if len(el.delayed) == 0 {
		return
	}
	// process may delay a connection again, appending to el.delayed: work
	// on a detached list.
	list := el.delayed
	el.delayed = el.spareDelayed[:0]
	for _, c := range list {
		switch {
		case c.closed || c.closing:
			c.delayed = false
		case now.Before(c.resumeAt):
			el.delayed = append(el.delayed, c)
		default:
			c.delayed = false
			c.process()
		}
	}
	clear(list)
	el.spareDelayed = list[:0]
}
