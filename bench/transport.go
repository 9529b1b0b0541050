package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// Transport names, as in Target.Transports and the transport scenario's figures.
const (
	TransportTCP = "tcp"
	TransportTLS = "tls"
	TransportWS  = "ws"
)

// Transport says how a client reaches the server: plain TCP (the zero value), TLS, or
// the IRCv3 WebSocket transport (text.ircv3.net, one line per frame), over TLS when TLS
// is set too.
type Transport struct {
	// TLS, when set, wraps the TCP connection. The generator measures the server, not
	// certificate checks: the scenarios use InsecureSkipVerify, and no session cache, so
	// every connection pays a full handshake.
	TLS       *tls.Config
	WebSocket bool
}

// transportFor returns the Transport of a transport name.
func transportFor(name string) (Transport, error) {
	switch name {
	case TransportTCP:
		return Transport{}, nil
	case TransportTLS:
		return Transport{TLS: benchTLSConfig()}, nil
	case TransportWS:
		return Transport{WebSocket: true}, nil
	}
	return Transport{}, fmt.Errorf("bench: unknown transport %q", name)
}

func benchTLSConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // loopback benchmark; the server's certificate is generated per run
}

// dial connects to addr over tr within deadline: TCP, then the TLS handshake, then the
// WebSocket upgrade, as configured. It returns the connection to read and write lines
// on and the TCP connection under it (for linger and Nagle).
func (tr Transport) dial(ctx context.Context, addr string, deadline time.Time) (net.Conn, *net.TCPConn, error) {
	d := net.Dialer{Deadline: deadline}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	tc := nc.(*net.TCPConn)
	_ = tc.SetNoDelay(true)
	var c net.Conn = tc
	fail := func(err error) (net.Conn, *net.TCPConn, error) {
		_ = tc.SetLinger(0)
		_ = tc.Close()
		return nil, nil, err
	}
	if tr.TLS != nil {
		_ = tc.SetDeadline(deadline)
		tlc := tls.Client(tc, tr.TLS)
		if err := tlc.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("tls handshake with %s: %w", addr, err))
		}
		c = tlc
	}
	if tr.WebSocket {
		_ = tc.SetDeadline(deadline)
		ws, err := wsUpgrade(c, addr)
		if err != nil {
			return fail(fmt.Errorf("websocket upgrade at %s: %w", addr, err))
		}
		c = ws
	}
	return c, tc, nil
}

// wsSubprotocol is the IRCv3 WebSocket subprotocol the generator speaks.
const wsSubprotocol = "text.ircv3.net"

// wsUpgrade performs the client side of the WebSocket opening handshake on c.
func wsUpgrade(c net.Conn, host string) (*wsConn, error) {
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + wsSubprotocol + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, 4096)
	status, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		return nil, fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	accept, proto := "", ""
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			break
		}
		name, value, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sec-websocket-accept":
			accept = strings.TrimSpace(value)
		case "sec-websocket-protocol":
			proto = strings.TrimSpace(value)
		}
	}
	if accept != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, errors.New("wrong Sec-WebSocket-Accept")
	}
	if proto != wsSubprotocol {
		return nil, fmt.Errorf("subprotocol %q, want %s", proto, wsSubprotocol)
	}
	return &wsConn{Conn: c, br: br, rng: mrand.NewPCG(mrand.Uint64(), mrand.Uint64())}, nil
}

// wsConn presents a WebSocket connection as a stream of IRC lines: Read returns each
// data message followed by CR LF, Write sends each line of what it is given as one
// masked text frame. It answers pings itself. Reads happen on one goroutine; writes are
// serialised here, since a pong may be written while the client sends.
type wsConn struct {
	net.Conn
	br      *bufio.Reader
	pending []byte // the rest of the last message (and its CR LF) not yet read
	msg     []byte

	wmu  sync.Mutex
	wbuf []byte
	rng  *mrand.PCG
}

// WebSocket opcodes.
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xa
)

func (w *wsConn) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		if err := w.readMessage(); err != nil {
			return 0, err
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

// readMessage reads frames until a whole data message is in pending.
func (w *wsConn) readMessage() error {
	w.msg = w.msg[:0]
	for {
		fin, op, payload, err := readFrame(w.br)
		if err != nil {
			return err
		}
		switch op {
		case wsPing:
			if err := w.writeFrames(wsPong, [][]byte{payload}); err != nil {
				return err
			}
			continue
		case wsPong:
			continue
		case wsClose:
			return io.EOF
		case wsText, wsBinary, wsContinuation:
			w.msg = append(w.msg, payload...)
		default:
			return fmt.Errorf("websocket: opcode %#x", op)
		}
		if fin {
			w.pending = append(w.msg, '\r', '\n')
			return nil
		}
	}
}

// readFrame reads one unmasked (server to client) frame.
func readFrame(r *bufio.Reader) (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	if h[1]&0x80 != 0 {
		return false, 0, nil, errors.New("websocket: masked frame from the server")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err = io.ReadFull(r, e[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err = io.ReadFull(r, e[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 1<<20 {
		return false, 0, nil, fmt.Errorf("websocket: %d-byte frame", n)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(r, payload)
	return
}

// Write sends every line of b (CR LF or LF terminated; a last line without one too) as
// a text frame, all in one write.
func (w *wsConn) Write(b []byte) (int, error) {
	var lines [][]byte
	for rest := b; len(rest) > 0; {
		line, tail, _ := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		if line = bytes.TrimSuffix(line, []byte{'\r'}); len(line) > 0 {
			lines = append(lines, line)
		}
	}
	if err := w.writeFrames(wsText, lines); err != nil {
		return 0, err
	}
	return len(b), nil
}

// writeFrames writes one masked frame of opcode op per payload, in one write.
func (w *wsConn) writeFrames(op byte, payloads [][]byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.wbuf = w.wbuf[:0]
	for _, p := range payloads {
		w.wbuf = appendMaskedFrame(w.wbuf, op, p, uint32(w.rng.Uint64()))
	}
	_, err := w.Conn.Write(w.wbuf)
	return err
}

// appendMaskedFrame appends a final client frame carrying p masked with key.
func appendMaskedFrame(dst []byte, op byte, p []byte, key uint32) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n < 1<<16:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], key)
	dst = append(dst, k[:]...)
	for i, c := range p {
		dst = append(dst, c^k[i&3])
	}
	return dst
}
