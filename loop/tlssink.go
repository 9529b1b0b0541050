package loop

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"laird/chat"
)

// tlsSink is TLS over the connection's socket: records are decrypted and
// encrypted on the event loop by a tlsEngine, whose handshake runs on a
// goroutine of its own (so a handshake never delays other clients). The
// choice and its figures are in doc.go.
//
// Input keeps the plaintext it decrypted in a buffer of its own: a line
// that must wait (a client with commands in flight) is offered again from
// there, never decrypted twice.
type tlsSink struct {
	c     *conn
	raw   *tcpSink
	eng   *tlsEngine
	plain []byte // decrypted, not yet consumed
	flush []byte // one pass's plaintext, encrypted in one call (one record per 16 KiB)
	out   []byte // ciphertext on its way to the socket
	up    bool   // the handshake ended well and chat was told
	err   error  // why the session ended
}

// handshakes counts TLS handshakes in flight (each holds a goroutine until
// it ends or times out), for the bound in Config.MaxHandshakes.
var handshakes atomic.Int64

func newTLSSink(c *conn, ln *listener, timeout time.Duration) *tlsSink {
	t := &tlsSink{c: c, raw: &c.tcp}
	gc := c.tcp.gc
	handshakes.Add(1)
	t.eng = newTLSEngine(ln.tlsConf, timeout, gc.LocalAddr(), gc.RemoteAddr(), func() {
		// From the handshake goroutine: let the loop take the output
		// and see the outcome.
		_ = gc.Wake(nil)
	})
	go func() {
		<-t.eng.hsDone
		handshakes.Add(-1)
	}()
	return t
}

func (t *tlsSink) Input() []byte {
	if t.err != nil {
		return t.plain
	}
	raw := t.raw.Input()
	if len(raw) > 0 {
		t.eng.feed(raw)
	}
	var err error
	t.plain, err = t.eng.readPlain(t.plain)
	// readPlain consumed every byte fed (it borrows them until then).
	t.raw.Consume(len(raw))
	if !t.up && t.eng.state() == tlsEstablished {
		t.up = true
		t.c.secured(t.eng.certFP())
	}
	t.pump()
	if err != nil {
		t.err = err
		t.c.transportFailed(tlsFailureText(err))
	}
	return t.plain
}

// tlsFailureText is what the log says of a session's end.
func tlsFailureText(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errTLSClosed):
		return "Connection closed"
	case errors.Is(err, errTLSHandshakeTimeout):
		return "TLS handshake timed out"
	}
	return "TLS error: " + errorText(err)
}

func (t *tlsSink) Consume(n int) {
	if n >= len(t.plain) {
		t.plain = t.plain[:0]
		if cap(t.plain) > 16<<10 {
			t.plain = nil // an idle connection keeps no buffer
		}
		return
	}
	t.plain = t.plain[:copy(t.plain, t.plain[n:])]
}

func (t *tlsSink) Buffered() int { return len(t.plain) + t.raw.Buffered() }

// Write encrypts a pass's output in one call, so that a burst goes out in
// as few records as TLS allows.
func (t *tlsSink) Write(segs [][]byte) error {
	if t.err != nil {
		return t.err
	}
	buf := t.flush[:0]
	for _, s := range segs {
		buf = append(buf, s...)
	}
	err := t.eng.write(buf)
	if cap(buf) > 16<<10 {
		buf = nil
	}
	t.flush = buf[:0]
	if err != nil {
		t.err = err
		return err
	}
	return t.pump()
}

// pump sends the ciphertext the engine has (records, handshake messages,
// alerts) to the socket.
func (t *tlsSink) pump() error {
	out := t.eng.takeOutput(t.out[:0])
	if len(out) == 0 {
		return nil
	}
	err := t.raw.Write([][]byte{out})
	if cap(out) > 16<<10 {
		out = nil
	}
	t.out = out[:0]
	return err
}

func (t *tlsSink) Pending() int { return t.raw.Pending() + t.eng.pending() }

// Close sends close_notify (or stops a handshake still running) and closes
// the socket after it.
func (t *tlsSink) Close() {
	t.eng.closeNotify()
	_ = t.pump()
	t.raw.Close()
}

// info is what chat learns of a TLS connection once its handshake ended.
func tlsInfo(ln *listener, certFP string) chat.TransportInfo {
	return chat.TransportInfo{Name: ln.Transport(), Secure: true, CertFP: certFP, WebSocket: ln.WebSocket}
}
