package loop

import (
	"github.com/panjf2000/gnet/v2"
)

// Sink is a connection's transport: the one interface between a
// connection and its socket. Input turns what the socket received into the
// IRC byte stream; Write sends a pass's output. Plain TCP passes both
// through; TLS and WebSocket decrypt and deframe. Everything above the Sink
// (line framing, RecvQ and SendQ, fakelag, mailboxes, the once-per-pass
// flush) is shared by every transport.
//
// A Sink belongs to its connection's event loop; every method runs there.
type Sink interface {
	// Input returns the IRC bytes received and not yet consumed. The
	// slice is valid until Consume or the end of the callback.
	Input() []byte
	// Consume drops the first n bytes of Input.
	Consume(n int)
	// Buffered is the number of input bytes held, for RecvQ.
	Buffered() int
	// Write sends segs, in order. The slices are only valid during the
	// call: whatever the socket does not take at once is copied. An error
	// means the connection is gone (its close callback ran or will run).
	Write(segs [][]byte) error
	// Pending is the number of output bytes the transport holds unsent,
	// for SendQ.
	Pending() int
	// Close closes the connection after what was written.
	Close()
}

// tcpSink is plain TCP: gnet's buffers as they are.
type tcpSink struct {
	gc gnet.Conn
}

func (t *tcpSink) Input() []byte {
	buf, _ := t.gc.Peek(-1)
	return buf
}

func (t *tcpSink) Consume(n int) {
	if n > 0 {
		// Discard(0) would drop the whole buffer: gnet treats n <= 0 as
		// "everything".
		_, _ = t.gc.Discard(n)
	}
}

func (t *tcpSink) Buffered() int { return t.gc.InboundBuffered() }

// Write uses writev: the segments are views into shared buffers (a line
// fanned out to many connections is never copied per recipient), and gnet
// copies only the unwritten tail. writev takes at most IOV_MAX segments per
// call; later calls append to gnet's buffer behind the first.
func (t *tcpSink) Write(segs [][]byte) error {
	for len(segs) > 0 {
		n := min(len(segs), iovMax)
		if _, err := t.gc.Writev(segs[:n]); err != nil {
			return err
		}
		segs = segs[n:]
	}
	return nil
}

// iovMax is Linux's IOV_MAX.
const iovMax = 1024

func (t *tcpSink) Pending() int { return t.gc.OutboundBuffered() }

func (t *tcpSink) Close() { _ = t.gc.Close() }
