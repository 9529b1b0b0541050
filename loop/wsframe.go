package loop

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf8"

	"laird/codec"
)

// WebSocket frames (RFC 6455 section 5) after the handshake in websocket.go:
// wsDecoder reads the client's frames in place, wsEncoder writes the
// server's, wsControlRate meters the client's control frames.

// Opcodes.
const (
	wsOpContinuation = 0x0
	wsOpText         = 0x1
	wsOpBinary       = 0x2
	wsOpClose        = 0x8
	wsOpPing         = 0x9
	wsOpPong         = 0xA
)

// Close codes (RFC 6455 section 7.4.1) that laird sends.
const (
	wsCloseNormal   = 1000
	wsCloseProtocol = 1002 // a frame breaks RFC 6455
	wsCloseData     = 1007 // a text message that is not UTF-8; several lines in one message
	wsClosePolicy   = 1008 // control-frame flood
	wsCloseTooBig   = 1009 // a message longer than an IRC line
)

// wsMaxMessage is the longest data message: the longest IRC line a reader
// holds (tags, body, CRLF). Clients must leave out the CRLF, so a message
// this long is already a line chat refuses with 417; anything longer is
// refused by the transport, as soon as its length is read.
const wsMaxMessage = codec.MaxLine

// wsMaxControl is the longest control-frame payload.
const wsMaxControl = 125

// wsCloseError is a client's protocol violation: the connection sends a
// close frame with code and reason (appendWSClose) and closes.
type wsCloseError struct {
	code   uint16
	reason string
}

func (e *wsCloseError) Error() string {
	return "websocket: close " + strconv.Itoa(int(e.code)) + ": " + e.reason
}

// The violations wsDecoder.next reports.
var (
	errWSUnmasked      = &wsCloseError{wsCloseProtocol, "client frames must be masked"}
	errWSReservedBits  = &wsCloseError{wsCloseProtocol, "reserved bits set"}
	errWSOpcode        = &wsCloseError{wsCloseProtocol, "reserved opcode"}
	errWSControlLong   = &wsCloseError{wsCloseProtocol, "control frame longer than 125 bytes"}
	errWSControlFrag   = &wsCloseError{wsCloseProtocol, "fragmented control frame"}
	errWSLength        = &wsCloseError{wsCloseProtocol, "payload length not minimally encoded"}
	errWSContinuation  = &wsCloseError{wsCloseProtocol, "continuation frame outside a fragmented message"}
	errWSInterleaved   = &wsCloseError{wsCloseProtocol, "new message inside a fragmented message"}
	errWSCloseFrame    = &wsCloseError{wsCloseProtocol, "malformed close frame"}
	errWSTooBig        = &wsCloseError{wsCloseTooBig, "message longer than an IRC line"}
	errWSInvalidUTF8   = &wsCloseError{wsCloseData, "text message is not valid UTF-8"}
	errWSSeveralLines  = &wsCloseError{wsCloseData, "one IRC line per message"}
	errWSControlFlood  = &wsCloseError{wsClosePolicy, "too many control frames"}
	errWSFrameAfterEnd = &wsCloseError{wsCloseProtocol, "frame after close"}
)

// wsKind says what a decoded frame asks of the connection.
type wsKind uint8

const (
	// wsNothing: a fragment was buffered or an empty message skipped.
	wsNothing wsKind = iota
	// wsLine: data is one IRC line, without CRLF.
	wsLine
	// wsPing: answer with a pong carrying data (appendWSControl).
	wsPing
	// wsPong: data is the payload of a pong (laird sends no pings of its
	// own yet; a pong is only metered).
	wsPong
	// wsClose: the client closes; data is its close payload. Reply with
	// appendWSCloseReply, flush and close the connection.
	wsClose
)

// wsFrame is one decoded frame. data aliases the buffer given to next (or
// the decoder's reassembly buffer) and is valid until the next call.
type wsFrame struct {
	kind wsKind
	data []byte
}

// wsDecoder reads one connection's client frames. It is owned by the
// connection's event loop. The zero value is ready, with wsMaxMessage.
type wsDecoder struct {
	max    int    // longest data message; 0 means wsMaxMessage
	frag   []byte // the fragmented message so far; nil outside one
	inMsg  bool   // a fragmented message is in progress
	text   bool   // that message is text
	closed bool   // a close frame was read; nothing may follow
}

// next decodes the frame at the start of buf. It returns the frame's length
// once buf holds all of it; 0 and a nil error while more bytes are needed
// (call again with buf and what follows); or a *wsCloseError. Violations
// are reported as soon as the bytes that show them arrive: an oversized
// message fails on its length field, before its payload.
//
// next unmasks the payload in place, so the caller must consume the
// returned length before calling again, and must copy a line it cannot
// handle now (a parked client) rather than decode it twice. Only a
// fragmented message is copied, into the decoder's own buffer; a message in
// one frame (what browsers send) is returned where it lies in buf.
func (d *wsDecoder) next(buf []byte) (int, wsFrame, error) {
	if len(buf) == 0 {
		return 0, wsFrame{}, nil
	}
	if d.closed {
		return 0, wsFrame{}, errWSFrameAfterEnd
	}
	b0 := buf[0]
	fin, op := b0&0x80 != 0, b0&0x0f
	if b0&0x70 != 0 {
		return 0, wsFrame{}, errWSReservedBits // no extension is negotiated
	}
	control := op&0x8 != 0
	switch {
	case control && op > wsOpPong, !control && op > wsOpBinary:
		return 0, wsFrame{}, errWSOpcode
	case control && !fin:
		return 0, wsFrame{}, errWSControlFrag
	case op == wsOpContinuation && !d.inMsg:
		return 0, wsFrame{}, errWSContinuation
	case !control && op != wsOpContinuation && d.inMsg:
		return 0, wsFrame{}, errWSInterleaved
	}
	if len(buf) < 2 {
		return 0, wsFrame{}, nil
	}
	if buf[1]&0x80 == 0 {
		return 0, wsFrame{}, errWSUnmasked
	}
	n, hdr := uint64(buf[1]&0x7f), 2
	switch n {
	case 126:
		if len(buf) < 4 {
			return 0, wsFrame{}, nil
		}
		n, hdr = uint64(binary.BigEndian.Uint16(buf[2:4])), 4
		if n < 126 {
			return 0, wsFrame{}, errWSLength
		}
	case 127:
		if len(buf) < 10 {
			return 0, wsFrame{}, nil
		}
		n, hdr = binary.BigEndian.Uint64(buf[2:10]), 10
		if n < 1<<16 || n>>63 != 0 {
			return 0, wsFrame{}, errWSLength
		}
	}
	limit := d.max
	if limit <= 0 {
		limit = wsMaxMessage
	}
	switch {
	case control && n > wsMaxControl:
		return 0, wsFrame{}, errWSControlLong
	case !control && n > uint64(limit-len(d.frag)):
		return 0, wsFrame{}, errWSTooBig
	}
	hdr += 4 // the masking key
	total := hdr + int(n)
	if len(buf) < total {
		return 0, wsFrame{}, nil
	}
	payload := buf[hdr:total]
	wsMask(payload, [4]byte(buf[hdr-4:hdr]))

	switch op {
	case wsOpPing:
		return total, wsFrame{wsPing, payload}, nil
	case wsOpPong:
		return total, wsFrame{wsPong, payload}, nil
	case wsOpClose:
		if !validClosePayload(payload) {
			return 0, wsFrame{}, errWSCloseFrame
		}
		d.closed = true
		return total, wsFrame{wsClose, payload}, nil
	case wsOpText, wsOpBinary:
		if fin {
			return wsMessage(total, payload, op == wsOpText)
		}
		d.inMsg, d.text = true, op == wsOpText
		d.frag = append(make([]byte, 0, min(limit, 2*len(payload)+64)), payload...)
		return total, wsFrame{}, nil
	}
	// A continuation.
	d.frag = append(d.frag, payload...)
	if !fin {
		return total, wsFrame{}, nil
	}
	msg := d.frag
	// The returned line keeps the array alive while the caller uses it;
	// the decoder drops it so an idle connection holds no buffer.
	d.frag, d.inMsg = nil, false
	return wsMessage(total, msg, d.text)
}

// wsMessage turns a complete data message, whose last frame is n bytes
// long, into next's result for the line it carries.
func wsMessage(n int, msg []byte, text bool) (int, wsFrame, error) {
	if text && !utf8.Valid(msg) {
		return 0, wsFrame{}, errWSInvalidUTF8
	}
	// The spec forbids the CRLF; clients that send it anyway are served.
	line := bytes.TrimRight(msg, "\r\n")
	if bytes.IndexByte(line, '\n') >= 0 {
		return 0, wsFrame{}, errWSSeveralLines
	}
	if len(line) == 0 {
		return n, wsFrame{}, nil
	}
	return n, wsFrame{wsLine, line}, nil
}

// validClosePayload checks a close frame's body: empty, or a status code
// an endpoint may send followed by a UTF-8 reason.
func validClosePayload(p []byte) bool {
	switch {
	case len(p) == 0:
		return true
	case len(p) == 1:
		return false
	}
	code := binary.BigEndian.Uint16(p)
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
	default:
		// 1004-1006 and 1015 are reserved for reporting, never sent;
		// the rest is unassigned.
		return false
	}
	return utf8.Valid(p[2:])
}

// wsMask XORs b with the masking key in place, eight bytes at a time.
func wsMask(b []byte, key [4]byte) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// wsEncoder frames the server's messages for one connection: unmasked, in
// binary frames for binary.ircv3.net and text frames otherwise.
type wsEncoder struct {
	text bool
}

func newWSEncoder(p wsProto) wsEncoder { return wsEncoder{text: p != wsProtoBinary} }

// appendHeader appends to dst the header of the data frame carrying line
// (an IRC line; its CRLF is not sent) and returns dst and the payload to
// send right after it: line without CRLF, left where it is, so a shared
// line goes out by writev without being copied. A text connection must
// not get invalid UTF-8 (the spec; browsers drop the connection), so a
// line that is not valid UTF-8 is appended to dst after the header with
// U+FFFD for each bad byte, and payload is nil.
func (e wsEncoder) appendHeader(dst, line []byte) (out, payload []byte) {
	line = bytes.TrimRight(line, "\r\n")
	op := byte(wsOpBinary)
	if e.text {
		op = wsOpText
		if !utf8.Valid(line) {
			dst = appendWSHeader(dst, op, validUTF8Len(line))
			return appendValidUTF8(dst, line), nil
		}
	}
	return appendWSHeader(dst, op, len(line)), line
}

// appendFrame appends a whole frame carrying line to dst.
func (e wsEncoder) appendFrame(dst, line []byte) []byte {
	dst, payload := e.appendHeader(dst, line)
	return append(dst, payload...)
}

// appendWSHeader appends an unmasked final frame's header for an n-byte
// payload.
func appendWSHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	}
	dst = append(dst, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// appendWSControl appends a ping, pong or close frame; a payload longer
// than a control frame allows is cut.
func appendWSControl(dst []byte, op byte, payload []byte) []byte {
	payload = payload[:min(len(payload), wsMaxControl)]
	dst = appendWSHeader(dst, op, len(payload))
	return append(dst, payload...)
}

// appendWSClose appends a close frame with code and reason, the reason cut
// at a rune boundary to fit.
func appendWSClose(dst []byte, code uint16, reason string) []byte {
	if len(reason) > wsMaxControl-2 {
		reason = reason[:wsMaxControl-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	dst = appendWSHeader(dst, wsOpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}

// appendWSCloseReply appends the answer to a client's close frame whose
// payload is p: its status code echoed, or an empty close when it sent
// none (RFC 6455 section 5.5.1).
func appendWSCloseReply(dst, p []byte) []byte {
	return appendWSControl(dst, wsOpClose, p[:min(len(p), 2)])
}

// validUTF8Len is the length of appendValidUTF8's output for b.
func validUTF8Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			n += utf8.RuneLen(utf8.RuneError)
		} else {
			n += size
		}
		b = b[size:]
	}
	return n
}

// appendValidUTF8 appends b with each byte that is not part of a valid
// UTF-8 sequence replaced by U+FFFD.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}

// Defaults of wsControlRate.
const (
	wsControlLimit  = 10
	wsControlWindow = 10 * time.Second
)

// wsControlRate meters a client's control frames (ping, pong, close): each
// costs the server a frame or a wakeup but no IRC flood budget, so a flood
// of them is cut on its own. It counts per fixed window; owned by the
// connection's loop; the zero value uses the defaults above.
type wsControlRate struct {
	limit  int           // frames allowed per window; 0 means wsControlLimit
	window time.Duration // 0 means wsControlWindow
	start  time.Time
	n      int // frames in the window that began at start
}

// count counts one control frame at now; past the limit it returns
// errWSControlFlood, to close the connection with.
func (r *wsControlRate) count(now time.Time) error {
	limit, window := r.limit, r.window
	if limit <= 0 {
		limit = wsControlLimit
	}
	if window <= 0 {
		window = wsControlWindow
	}
	if d := now.Sub(r.start); d >= window || d < 0 {
		r.start, r.n = now, 0
	}
	r.n++
	if r.n > limit {
		return errWSControlFlood
	}
	return nil
}
