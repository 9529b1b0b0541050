package loop

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"laird/chat"
	"laird/codec"
	"laird/perf"
)

// conn is one client connection; see the package invariants.
type conn struct {
	srv    *Server
	gc     gnet.Conn
	el     *eventLoop
	client *chat.Client

	out    *bytebufferpool.ByteBuffer // output gathered since the last flush; nil when none
	dirty  bool                       // queued on el.dirty
	closed bool                       // OnClose has run
	// closing is set once the server decided to close; input is ignored.
	closing     bool
	closeReason string
	discarding  bool // dropping the rest of an overlong line

	ip           netip.Addr
	delayed      bool // on el.delayed, waiting for resumeAt
	resumeAt     time.Time
	opened       time.Time
	lastRead     time.Time
	pingSent     time.Time
	awaitingPong bool
}

// Write implements chat.Conn.
func (c *conn) Write(lines []byte) {
	if c.closed || c.closing {
		return
	}
	if c.pending()+len(lines)+c.gc.OutboundBuffered() > c.srv.cfg.SendQ {
		c.srv.slowConsumer()
		c.release()
		c.Close("SendQ exceeded")
		return
	}
	b := c.buffer()
	b.B = append(b.B, lines...)
	if !c.dirty {
		c.dirty = true
		c.el.dirty = append(c.el.dirty, c)
	}
}

// flush hands gathered output to gnet. gnet writes what the socket takes
// and keeps the rest; its own buffer counts against SendQ.
func (c *conn) flush() {
	c.dirty = false
	if c.closed || c.pending() == 0 {
		c.release()
		return
	}
	// gnet copies whatever the socket does not take, so the buffer goes
	// back to the pool at once: an idle client holds no output memory.
	buf := c.out
	c.out = nil
	defer bytebufferpool.Put(buf)
	out := buf.B
	c.srv.stats.bytesOut.Add(uint64(len(out)))
	if rec := c.el.rec; rec != nil {
		rec.Add(perf.BytesOut, uint64(len(out)))
		rec.Add(perf.MessagesOut, uint64(bytes.Count(out, []byte{'\n'})))
	}
	if _, err := c.gc.Write(out); err != nil {
		return // gnet closed the connection; OnClose ran
	}
	if !c.closed && c.gc.OutboundBuffered() > c.srv.cfg.SendQ {
		c.srv.slowConsumer()
		c.Close("SendQ exceeded")
	}
}

// Close implements chat.Conn: send ERROR, flush, close.
func (c *conn) Close(reason string) {
	if c.closed || c.closing {
		return
	}
	c.closing = true
	c.closeReason = reason
	b := c.buffer()
	b.B = append(b.B, "ERROR :"...)
	b.B = append(b.B, reason...)
	b.B = append(b.B, '\r', '\n')
	c.flush()
	_ = c.gc.Close()
}

// buffer returns the connection's output buffer, taking one from the pool
// when it has none.
func (c *conn) buffer() *bytebufferpool.ByteBuffer {
	if c.out == nil {
		c.out = bytebufferpool.Get()
	}
	return c.out
}

// pending is the number of output bytes gathered and not yet flushed.
func (c *conn) pending() int {
	if c.out == nil {
		return 0
	}
	return len(c.out.B)
}

// release returns the output buffer to the pool, dropping its content.
func (c *conn) release() {
	if c.out != nil {
		bytebufferpool.Put(c.out)
		c.out = nil
	}
}

// Resume implements chat.Conn.
func (c *conn) Resume() { c.process() }

// Delay implements chat.Conn: the loop's timer resumes the connection at
// until (fakelag).
func (c *conn) Delay(until time.Time) {
	c.resumeAt = until
	if !c.delayed {
		c.delayed = true
		c.el.delayed = append(c.el.delayed, c)
	}
}

// Loop implements chat.Conn.
func (c *conn) Loop() int { return c.el.id }

// process handles buffered input until it runs out, the client is parked,
// or the connection is closing.
func (c *conn) process() {
	if c.closed || c.closing {
		return
	}
	now := c.el.now()
	for !c.closed && !c.closing {
		buf, _ := c.gc.Peek(-1)
		if len(buf) == 0 {
			return
		}
		if c.discarding {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				_, _ = c.gc.Discard(len(buf))
				return
			}
			_, _ = c.gc.Discard(i + 1)
			c.discarding = false
			continue
		}
		used := 0
		parked := false
		for !c.closing {
			line, n, err := codec.SplitLine(buf[used:])
			if err != nil {
				// A line without LF longer than any legal line: answer
				// 417 once and drop it up to its end.
				c.srv.chat.InputTooLong(c.client)
				c.discarding = true
				used = len(buf)
				break
			}
			if n == 0 {
				break
			}
			if !c.srv.chat.HandleLine(c.client, line, now) {
				parked = true
				break
			}
			c.srv.stats.linesIn.Add(1)
			if c.el.rec != nil {
				c.el.rec.Inc(perf.MessagesIn)
			}
			used += n
		}
		if used > 0 {
			// Discard(0) would drop the whole buffer: gnet treats n <= 0
			// as "everything".
			_, _ = c.gc.Discard(used)
		}
		if parked || used == 0 {
			break
		}
	}
	if !c.closed && !c.closing && c.gc.InboundBuffered() > c.srv.cfg.RecvQ {
		c.srv.stats.floods.Add(1)
		c.srv.chat.InputFlood(c.client, now)
	}
}
