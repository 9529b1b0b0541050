package loop

import (
	"bytes"
	"net/netip"
	"time"

	"laird/chat"
	"laird/codec"
	"laird/perf"
)

// conn is one client connection; see the package invariants.
type conn struct {
	srv    *Server
	el     *eventLoop
	ln     *listener
	sink   Sink         // the top of the transport stack (start)
	tcp    tcpSink      // the socket, in place: the bottom of every stack
	client *chat.Client // nil until admitted (a PROXY header is read first)

	// Output gathered since the last flush: views into the loop's arena
	// (copies of replies) and into parcels (fan-out, shared with every
	// recipient), written in order with one writev at the pass's flush.
	segs    [][]byte
	pending int  // bytes in segs
	dirty   bool // queued on el.dirty

	closed bool // OnClose has run
	// closing is set once the server decided to close; input is ignored.
	closing     bool
	closeReason string
	discarding  bool // dropping the rest of an overlong line
	processing  bool // inside process: Resume is a no-op
	// proxyPending: the listener requires a PROXY header and it has not
	// been read yet; proxy parses it.
	proxyPending bool
	proxy        *codec.ProxyHeader // while proxyPending

	ip      netip.Addr
	delayed bool // on el.delayed, waiting for resumeAt
	// Times as Unix nanoseconds: a time.Time is three words, and 5,000
	// idle connections are what this struct's size is about.
	resumeAt     int64
	opened       int64
	lastRead     int64
	pingSent     int64
	awaitingPong bool
}

// Write implements chat.Conn: the lines are copied into the loop's arena.
func (c *conn) Write(lines []byte) {
	if c.closed || c.closing || len(lines) == 0 {
		return
	}
	if !c.admit(len(lines)) {
		return
	}
	c.append(c.el.arena.copy(lines))
}

// WriteShared implements chat.Conn: the lines stay where they are until
// the pass's flush.
func (c *conn) WriteShared(lines []byte) {
	if c.closed || c.closing || len(lines) == 0 {
		return
	}
	if !c.admit(len(lines)) {
		return
	}
	c.append(lines)
}

// admit enforces SendQ on what is about to be queued.
func (c *conn) admit(n int) bool {
	if c.pending+n+c.sink.Pending() > c.srv.cfg.SendQ {
		c.Overflow()
		return false
	}
	return true
}

func (c *conn) append(seg []byte) {
	c.el.markDirty(c)
	c.pending += len(seg)
	if n := len(c.segs); n > 0 {
		if joined, ok := joinAdjacent(c.segs[n-1], seg); ok {
			c.segs[n-1] = joined
			return
		}
	}
	c.segs = append(c.segs, seg)
}

// joinAdjacent returns a and b as one slice when b directly follows a in
// the same array (consecutive copies into one arena chunk, consecutive
// lines of one parcel), so that a burst to one client is one segment.
func joinAdjacent(a, b []byte) ([]byte, bool) {
	if len(a) == 0 || len(b) == 0 || cap(a)-len(a) < len(b) {
		return nil, false
	}
	ext := a[:len(a)+len(b)]
	if &ext[len(a)] != &b[0] {
		return nil, false
	}
	return ext, true
}

// flush hands gathered output to the transport, which writes what the
// socket takes and keeps the rest; its buffer counts against SendQ.
func (c *conn) flush() {
	c.dirty = false
	segs := c.segs
	n := c.pending
	c.segs, c.pending = nil, 0
	defer c.el.recycleSegs(segs)
	if c.closed || n == 0 {
		return
	}
	st := &c.el.stats
	st.bytesOut.Add(uint64(n))
	if rec := c.el.rec; rec != nil {
		rec.Add(perf.BytesOut, uint64(n))
		rec.Add(perf.MessagesOut, countLines(segs))
	}
	if err := c.sink.Write(segs); err != nil {
		return // the transport closed the connection; OnClose ran
	}
	if c.closed {
		return
	}
	pending := c.sink.Pending()
	if c.client != nil {
		c.client.SetBacklog(pending)
	}
	if pending > c.srv.cfg.SendQ {
		c.Overflow()
	}
}

func countLines(segs [][]byte) uint64 {
	n := 0
	for _, s := range segs {
		n += bytes.Count(s, newline) // vectorised; a byte loop was a visible share of fan-out CPU
	}
	return uint64(n)
}

var newline = []byte{'\n'}

// Close implements chat.Conn: send ERROR, flush, close.
func (c *conn) Close(reason string) {
	if c.closed || c.closing {
		return
	}
	c.closing = true
	c.closeReason = reason
	line := make([]byte, 0, len("ERROR :\r\n")+len(reason))
	line = append(line, "ERROR :"...)
	line = append(line, reason...)
	line = append(line, '\r', '\n')
	c.append(line)
	c.flush()
	c.sink.Close()
}

// Overflow implements chat.Conn: the client is cut as a slow consumer.
// What was queued for it is dropped; the ERROR line still goes out if the
// socket takes it.
func (c *conn) Overflow() {
	if c.closed || c.closing {
		return
	}
	c.srv.slowConsumer(c.el)
	c.srv.log.Debug("slow consumer cut", "ip", c.ip.String(), "nick", c.client.Nick())
	c.segs, c.pending = c.segs[:0], 0
	c.Close("SendQ exceeded")
}

// Resume implements chat.Conn.
func (c *conn) Resume() {
	if !c.processing {
		c.process()
	}
}

// Delay implements chat.Conn: the loop's timer resumes the connection at
// until (fakelag, backpressure).
func (c *conn) Delay(until time.Time) {
	c.resumeAt = until.UnixNano()
	if !c.delayed {
		c.delayed = true
		c.el.delayed = append(c.el.delayed, c)
		c.el.fineTicks.Store(true)
	}
}

// start admits the connection to chat and builds its transport stack:
// the socket, TLS over it, WebSocket over either.
func (c *conn) start(now time.Time) {
	ln := c.ln
	c.sink = &c.tcp
	info := chat.TransportInfo{Name: ln.Transport(), WebSocket: ln.WebSocket}
	if ln.TLS() {
		c.sink = newTLSSink(c, ln, c.srv.cfg.TLSHandshakeTimeout)
	}
	if ln.WebSocket {
		c.sink = newWSSink(c, c.sink, ln.upgrader)
	}
	c.client = c.srv.chat.Connect(c, c.el.id, c.ip, now)
	c.client.SetTransport(info)
}

// secured is told by the TLS sink when the handshake ended well, before
// any of the connection's plaintext reaches chat.
func (c *conn) secured(certFP string) {
	if c.client != nil {
		c.client.SetTransport(tlsInfo(c.ln, certFP))
	}
}

// transportFailed ends a connection whose transport broke (a TLS error, a
// WebSocket protocol violation, a bad PROXY header): nothing can carry an
// ERROR line any more, so it is just closed, with reason for chat.
func (c *conn) transportFailed(reason string) {
	if c.closed || c.closing {
		return
	}
	c.closing = true
	c.closeReason = reason
	c.segs, c.pending = c.segs[:0], 0
	c.sink.Close()
}

// readProxy reads the PROXY header that opens a connection on a listener
// behind a proxy; once it is complete the client it names is admitted like
// any connection. It reports whether the connection may go on.
func (c *conn) readProxy(now time.Time) bool {
	if c.proxy == nil {
		c.proxy = new(codec.ProxyHeader)
	}
	buf := c.tcp.Input()
	n, err := c.proxy.Parse(buf)
	if err != nil {
		c.srv.log.Info("PROXY header refused", "proxy", c.ip.String(), "err", err)
		c.transportFailed("Bad PROXY header")
		return false
	}
	if n == 0 {
		return false // more of it to come
	}
	c.tcp.Consume(n)
	c.proxyPending = false
	if c.proxy.Relayed() {
		c.ip = c.proxy.Source.Addr().Unmap()
	}
	c.proxy = nil
	if reason := c.srv.chat.Admit(c.ip, now); reason != "" {
		c.el.stats.refused.Add(1)
		if !c.ln.TLS() && !c.ln.WebSocket {
			c.append(c.el.arena.copy([]byte("ERROR :Closing Link: " + c.ip.String() + " (" + reason + ")\r\n")))
			c.flush()
		}
		c.closing = true
		c.closeReason = reason
		c.tcp.Close()
		return false
	}
	c.start(now)
	return true
}

// process handles buffered input until it runs out, a line must wait, or
// the connection is closing.
func (c *conn) process() {
	if c.closed || c.closing {
		return
	}
	if c.proxyPending && !c.readProxy(c.el.now()) {
		return
	}
	c.processing = true
	defer func() { c.processing = false }()
	now := c.el.now()
	st := &c.el.stats
	for !c.closed && !c.closing {
		buf := c.sink.Input()
		if len(buf) == 0 {
			return
		}
		if c.discarding {
			i := indexLF(buf)
			if i < 0 {
				c.sink.Consume(len(buf))
				return
			}
			c.sink.Consume(i + 1)
			c.discarding = false
			continue
		}
		used := 0
		waiting := false
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
				waiting = true
				break
			}
			st.linesIn.Add(1)
			if c.el.rec != nil {
				c.el.rec.Inc(perf.MessagesIn)
			}
			used += n
		}
		c.sink.Consume(used)
		if waiting || used == 0 {
			break
		}
	}
	if !c.closed && !c.closing && c.sink.Buffered() > c.srv.cfg.RecvQ {
		st.floods.Add(1)
		c.srv.chat.InputFlood(c.client, now)
	}
}

func indexLF(b []byte) int {
	for i, ch := range b {
		if ch == '\n' {
			return i
		}
	}
	return -1
}
