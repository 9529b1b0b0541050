package loop

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// tlsEngine is one TLS server session driven by an event loop over byte
// buffers, with crypto/tls doing all of TLS. The loop feeds it the
// ciphertext it reads (feed), takes decrypted input (readPlain), hands it
// output to encrypt (write) and takes the ciphertext to send (takeOutput).
//
// crypto/tls cannot suspend a handshake halfway, so the handshake runs on a
// goroutine of its own over a blocking in-memory conn, bounded by a
// timeout; it calls wake whenever it has output to send and when it ends.
// After that, records are decrypted and encrypted on the loop's goroutine:
// the in-memory conn's Read then returns errTLSWouldBlock, a Temporary
// net.Error, when it runs dry. crypto/tls (conn.go, readRecordOrCCS and
// readFromUntil) does not make Temporary errors sticky and keeps a partial
// record in its own buffer, so the next Read resumes it. Post-handshake
// messages go through the same path: a TLS 1.3 KeyUpdate is applied and,
// when the peer asks, answered with ours (written to the output); a TLS 1.2
// renegotiation attempt gets a no_renegotiation or unexpected_message alert
// and an error, and the connection must close.
//
// Except for wake, every method belongs to the connection's loop goroutine.
type tlsEngine struct {
	conn *tls.Conn
	mem  *memConn
	// hsDone is closed when the handshake goroutine has ended, after its
	// last call to wake.
	hsDone chan struct{}

	// Loop-owned.
	pre  []byte // plaintext written before the handshake ended
	done bool   // the loop has seen the handshake end (see sync)
	err  error  // why the session ended; nil while it works
	fp   string // SHA-256 of the client certificate, hex; "" without one
	cs   tls.ConnectionState
}

// tlsState says where a session is.
type tlsState uint8

const (
	tlsHandshaking tlsState = iota
	tlsEstablished
	tlsFailed // handshake failure or timeout, a fatal alert, a closed session
)

// errTLSWouldBlock is what the in-memory conn's Read returns once the
// handshake is over and no ciphertext is left: crypto/tls keeps its state
// and the loop waits for the next feed.
var errTLSWouldBlock error = wouldBlockError{}

type wouldBlockError struct{}

func (wouldBlockError) Error() string   { return "tls engine: no ciphertext buffered" }
func (wouldBlockError) Timeout() bool   { return false }
func (wouldBlockError) Temporary() bool { return true }

// Errors ending a session.
var (
	errTLSHandshakeTimeout = errors.New("tls: handshake timed out")
	errTLSClosed           = errors.New("tls: session closed")
)

// newTLSEngine starts a server session: the handshake goroutine begins
// reading what feed provides. cfg is shared by all sessions (crypto/tls
// treats it as read-only once in use). timeout bounds the handshake.
// wake is called from the handshake goroutine when output is waiting and
// when the handshake ends; it must not block (gnet's Conn.Wake).
func newTLSEngine(cfg *tls.Config, timeout time.Duration, local, remote net.Addr, wake func()) *tlsEngine {
	if wake == nil {
		wake = func() {}
	}
	m := &memConn{blocking: true, signal: make(chan struct{}, 1), wake: wake, local: local, remote: remote}
	e := &tlsEngine{mem: m, conn: tls.Server(m, cfg), hsDone: make(chan struct{})}
	go e.handshake(timeout)
	return e
}

// handshake runs on its own goroutine until the handshake ends.
func (e *tlsEngine) handshake(timeout time.Duration) {
	defer close(e.hsDone)
	timer := time.AfterFunc(timeout, func() { e.mem.close(errTLSHandshakeTimeout) })
	err := e.conn.Handshake()
	if !timer.Stop() && err == nil {
		err = errTLSHandshakeTimeout // it fired as the handshake ended
	}
	m := e.mem
	m.mu.Lock()
	if m.closeErr != nil {
		err = m.closeErr // the reason the conn was closed under it
	}
	m.blocking = false
	m.state = tlsEstablished
	if err != nil {
		m.state, m.hsErr = tlsFailed, fmt.Errorf("tls handshake: %w", err)
	}
	wake := m.wake
	m.wake = nil // the loop drives everything from now on
	m.mu.Unlock()
	wake()
}

// sync brings the loop's view up to date once the handshake has ended:
// it records the outcome and encrypts what was written meanwhile.
func (e *tlsEngine) sync() tlsState {
	if e.done {
		if e.err != nil {
			return tlsFailed
		}
		return tlsEstablished
	}
	e.mem.mu.Lock()
	st, hsErr := e.mem.state, e.mem.hsErr
	e.mem.mu.Unlock()
	switch st {
	case tlsHandshaking:
		return st
	case tlsFailed:
		e.done, e.err, e.pre = true, hsErr, nil
		return st
	}
	e.done = true
	e.cs = e.conn.ConnectionState()
	if certs := e.cs.PeerCertificates; len(certs) > 0 {
		sum := sha256.Sum256(certs[0].Raw)
		e.fp = hex.EncodeToString(sum[:])
	}
	if len(e.pre) > 0 {
		pre := e.pre
		e.pre = nil
		if _, err := e.conn.Write(pre); err != nil {
			e.err = err
			return tlsFailed
		}
	}
	return tlsEstablished
}

// state reports where the session is; after tlsFailed, err says why.
func (e *tlsEngine) state() tlsState { return e.sync() }

// failure is why the session ended, nil while it works.
func (e *tlsEngine) failure() error {
	e.sync()
	return e.err
}

// feed hands the engine ciphertext read from the socket. While the
// handshake runs it is copied. Afterwards the engine borrows b until the
// next readPlain, which consumes all of it, so a connection's read buffer
// (gnet's Next slice) is decrypted where it lies: call readPlain before b
// is reused.
func (e *tlsEngine) feed(ciphertext []byte) { e.mem.feed(ciphertext) }

// readPlain decrypts every complete record fed so far and appends the
// plaintext to dst. While the handshake runs it returns dst unchanged; once
// the session has failed, or the peer sent close_notify (io.EOF), it
// returns the error, and the connection should flush takeOutput (it may
// hold an alert) and close.
func (e *tlsEngine) readPlain(dst []byte) ([]byte, error) {
	switch e.sync() {
	case tlsHandshaking:
		return dst, nil
	case tlsFailed:
		return dst, e.err
	}
	for {
		if cap(dst)-len(dst) < 2048 {
			dst = slices.Grow(dst, 4096)
		}
		n, err := e.conn.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case err == nil:
		case errors.Is(err, errTLSWouldBlock):
			return dst, nil // the borrowed input is all consumed
		default:
			e.err = err
			e.mem.unborrow()
			return dst, err
		}
	}
}

// write encrypts plaintext into the output (one record per 16 KiB, so a
// flush should write its lines in one call). Before the handshake ends,
// plaintext is held and encrypted when it does.
func (e *tlsEngine) write(plaintext []byte) error {
	switch e.sync() {
	case tlsHandshaking:
		e.pre = append(e.pre, plaintext...)
		return nil
	case tlsFailed:
		return e.err
	}
	if _, err := e.conn.Write(plaintext); err != nil {
		e.err = err
		return err
	}
	return nil
}

// takeOutput appends the ciphertext waiting to be sent (handshake
// messages, records, alerts) to dst and forgets it.
func (e *tlsEngine) takeOutput(dst []byte) []byte {
	e.sync()
	return e.mem.take(dst)
}

// pending is the number of bytes the session holds for the peer:
// ciphertext not yet taken and plaintext waiting for the handshake. The
// connection adds it to what its socket holds when it applies SendQ.
func (e *tlsEngine) pending() int {
	e.mem.mu.Lock()
	n := len(e.mem.out)
	e.mem.mu.Unlock()
	return n + len(e.pre)
}

// closeNotify ends the session: a close_notify alert goes to the output
// when the handshake had finished (take and send it, then close the
// socket), and a handshake still running is stopped.
func (e *tlsEngine) closeNotify() {
	if e.sync() == tlsEstablished {
		_ = e.conn.Close() // writes close_notify, then closes the memConn
	} else {
		e.mem.close(errTLSClosed)
	}
	if e.err == nil {
		e.err = errTLSClosed
	}
	e.done = true
}

// version is the negotiated TLS version (tls.VersionTLS12, ...), 0 before
// the handshake ends.
func (e *tlsEngine) version() uint16 {
	e.sync()
	return e.cs.Version
}

// certFP is the lower-case hex SHA-256 of the client's certificate (the
// leaf, DER), as SASL EXTERNAL and WHOIS 276 use it; "" when the client
// sent none or the handshake has not ended.
func (e *tlsEngine) certFP() string {
	e.sync()
	return e.fp
}

// connState is crypto/tls's view of the session once established.
func (e *tlsEngine) connState() tls.ConnectionState {
	e.sync()
	return e.cs
}

// memConn is the net.Conn under the tls.Conn: ciphertext in from feed, out
// to take. While blocking (the handshake), Read waits for feed or close;
// afterwards it returns errTLSWouldBlock when empty. Deadlines are not
// used: the handshake timeout closes the conn instead.
//
// After the handshake an idle session holds no buffer here: fed bytes are
// borrowed, not copied, and the output buffer is kept only while small.
// (crypto/tls itself keeps its record buffer, some KiB.)
type memConn struct {
	mu       sync.Mutex
	in       []byte // fed, not yet read; in[inOff:] is unread
	inOff    int
	borrowed bool // in is the caller's slice (see tlsEngine.feed)
	out      []byte
	blocking bool
	closed   bool
	closeErr error         // why close was called, for the handshake's error
	state    tlsState      // set by the handshake goroutine when it ends
	hsErr    error         // its error
	signal   chan struct{} // wakes a blocked Read; capacity 1
	wake     func()        // nil once the handshake has ended

	local, remote net.Addr
}

// memConnKeep is the largest output buffer kept once emptied after the
// handshake: room for a flush of a few lines, not a record of 16 KiB.
const memConnKeep = 1 << 10

func (m *memConn) feed(b []byte) {
	m.mu.Lock()
	switch {
	case m.closed:
	case !m.blocking && m.inOff == len(m.in):
		m.in, m.inOff, m.borrowed = b, 0, true
	default:
		if m.borrowed {
			m.unborrowLocked()
		}
		m.in = append(m.in, b...)
	}
	m.mu.Unlock()
	m.notify()
}

// unborrow copies what is left of a borrowed input (a readPlain that
// stopped on an error), so nothing refers to the caller's buffer.
func (m *memConn) unborrow() {
	m.mu.Lock()
	m.unborrowLocked()
	m.mu.Unlock()
}

func (m *memConn) unborrowLocked() {
	if m.borrowed {
		m.in, m.inOff, m.borrowed = slices.Clone(m.in[m.inOff:]), 0, false
	}
}

func (m *memConn) notify() {
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

func (m *memConn) Read(p []byte) (int, error) {
	for {
		m.mu.Lock()
		if m.inOff < len(m.in) {
			n := copy(p, m.in[m.inOff:])
			m.inOff += n
			if m.inOff == len(m.in) {
				m.in, m.inOff = m.in[:0], 0
				if !m.blocking {
					// Borrowed, or left from the handshake: drop it.
					m.in, m.borrowed = nil, false
				}
			}
			m.mu.Unlock()
			return n, nil
		}
		closed, blocking := m.closed, m.blocking
		m.mu.Unlock()
		switch {
		case closed:
			return 0, io.EOF
		case !blocking:
			return 0, errTLSWouldBlock
		}
		<-m.signal
	}
}

func (m *memConn) Write(p []byte) (int, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return 0, net.ErrClosed
	}
	m.out = append(m.out, p...)
	wake := m.wake
	m.mu.Unlock()
	if wake != nil {
		wake()
	}
	return len(p), nil
}

// take appends the output to dst and empties it.
func (m *memConn) take(dst []byte) []byte {
	m.mu.Lock()
	dst = append(dst, m.out...)
	m.out = m.out[:0]
	if !m.blocking && cap(m.out) > memConnKeep {
		m.out = nil
	}
	m.mu.Unlock()
	return dst
}

// close makes Read and Write fail; why is kept for the handshake's error.
// Output already written stays available to take.
func (m *memConn) close(why error) {
	m.mu.Lock()
	if !m.closed {
		m.closed, m.closeErr = true, why
	}
	m.mu.Unlock()
	m.notify()
}

func (m *memConn) Close() error {
	m.close(nil)
	return nil
}

func (m *memConn) LocalAddr() net.Addr              { return m.local }
func (m *memConn) RemoteAddr() net.Addr             { return m.remote }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }
