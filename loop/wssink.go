package loop

import (
	"bytes"
	"errors"
	"time"
)

// wsSink is the IRCv3 WebSocket transport over another Sink (the socket,
// or TLS): an HTTP upgrade, then one IRC line per message each way. Lines
// decoded from the client's frames are kept, with their CRLF, in a buffer
// of the sink's own, so the connection frames lines exactly as on TCP and a
// line that must wait is never decoded twice. Output lines go out as frame
// header plus the line itself, by writev: a line fanned out to many
// WebSocket clients is not copied for each.
type wsSink struct {
	c        *conn
	lower    Sink
	up       *wsUpgrader
	upgraded bool
	dec      wsDecoder
	enc      wsEncoder
	rate     wsControlRate
	lines    []byte   // decoded lines, CRLF-terminated, not yet consumed
	hdrs     []byte   // frame headers of one Write
	iov      [][]byte // one Write's segments
	marks    []wsMark // where each header lies in hdrs
	ended    bool     // a close frame was sent: nothing more goes out
	now      func() time.Time
}

type wsMark struct {
	start, end int
	payload    []byte
}

func newWSSink(c *conn, lower Sink, up *wsUpgrader) *wsSink {
	return &wsSink{c: c, lower: lower, up: up, now: c.el.now}
}

func (w *wsSink) Input() []byte {
	for !w.ended {
		in := w.lower.Input()
		if len(in) == 0 {
			break
		}
		if !w.upgraded {
			n, req, err := w.up.parse(in)
			if err != nil {
				var he *wsHTTPError
				if errors.As(err, &he) {
					_ = w.lower.Write([][]byte{appendWSReject(nil, he)})
				}
				w.ended = true
				w.c.transportFailed("WebSocket upgrade refused: " + errorText(err))
				break
			}
			if n == 0 {
				break // more of the request to come
			}
			if err := w.lower.Write([][]byte{appendWSAccept(nil, &req)}); err != nil {
				break
			}
			w.enc = newWSEncoder(req.proto)
			w.upgraded = true
			w.lower.Consume(n)
			continue
		}
		n, f, err := w.dec.next(in)
		if err != nil {
			w.fail(err)
			break
		}
		if n == 0 {
			break // more of the frame to come
		}
		switch f.kind {
		case wsLine:
			w.lines = append(w.lines, f.data...)
			w.lines = append(w.lines, '\r', '\n')
		case wsPing:
			if err := w.rate.count(w.now()); err != nil {
				w.fail(err)
				return w.lines
			}
			_ = w.lower.Write([][]byte{appendWSControl(nil, wsOpPong, f.data)})
		case wsPong:
			if err := w.rate.count(w.now()); err != nil {
				w.fail(err)
				return w.lines
			}
		case wsClose:
			_ = w.lower.Write([][]byte{appendWSCloseReply(nil, f.data)})
			w.ended = true
			w.lower.Consume(n)
			w.c.transportFailed("Connection closed")
			return w.lines
		}
		w.lower.Consume(n)
	}
	return w.lines
}

// fail answers a protocol violation with its close frame and ends the
// connection.
func (w *wsSink) fail(err error) {
	var ce *wsCloseError
	if errors.As(err, &ce) {
		_ = w.lower.Write([][]byte{appendWSClose(nil, ce.code, ce.reason)})
	}
	w.ended = true
	w.c.transportFailed("WebSocket error: " + errorText(err))
}

func (w *wsSink) Consume(n int) {
	if n >= len(w.lines) {
		w.lines = w.lines[:0]
		if cap(w.lines) > 16<<10 {
			w.lines = nil
		}
		return
	}
	w.lines = w.lines[:copy(w.lines, w.lines[n:])]
}

func (w *wsSink) Buffered() int { return len(w.lines) + w.lower.Buffered() }

// Write frames every line of segs (a segment may hold several) as one
// message and hands the lower Sink headers and lines interleaved.
func (w *wsSink) Write(segs [][]byte) error {
	if w.ended || !w.upgraded {
		return nil // before the upgrade nothing is for the client yet
	}
	hdrs, marks := w.hdrs[:0], w.marks[:0]
	for _, seg := range segs {
		for len(seg) > 0 {
			end := bytes.IndexByte(seg, '\n') + 1
			if end == 0 {
				end = len(seg)
			}
			start := len(hdrs)
			var payload []byte
			hdrs, payload = w.enc.appendHeader(hdrs, seg[:end])
			marks = append(marks, wsMark{start: start, end: len(hdrs), payload: payload})
			seg = seg[end:]
		}
	}
	iov := w.iov[:0]
	for _, m := range marks {
		iov = append(iov, hdrs[m.start:m.end])
		if len(m.payload) > 0 {
			iov = append(iov, m.payload)
		}
	}
	err := w.lower.Write(iov)
	clear(iov)
	clear(marks)
	if cap(hdrs) > 16<<10 {
		hdrs, iov, marks = nil, nil, nil
	}
	w.hdrs, w.iov, w.marks = hdrs[:0], iov[:0], marks[:0]
	return err
}

func (w *wsSink) Pending() int { return w.lower.Pending() }

func (w *wsSink) Close() {
	if w.upgraded && !w.ended {
		w.ended = true
		_ = w.lower.Write([][]byte{appendWSClose(nil, wsCloseNormal, "")})
	}
	w.lower.Close()
}
