package loop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A client's side of RFC 6455 framing, written independently of the
// decoder under test so the two check each other.

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// clientFrame returns a masked client frame.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	return rawFrame(fin, op, true, payload)
}

// rawFrame builds a frame with any FIN, opcode and masking.
func rawFrame(fin bool, op byte, masked bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var mbit byte
	if masked {
		mbit = 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mbit|byte(n))
	case n < 1<<16:
		out = append(out, mbit|126, byte(n>>8), byte(n))
	default:
		out = append(out, mbit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	out = append(out, testMask[:]...)
	for i, c := range payload {
		out = append(out, c^testMask[i%4])
	}
	return out
}

// serverFrame reads one server frame as a client does: it must be final and
// unmasked.
func serverFrame(t *testing.T, b []byte) (op byte, payload []byte, n int) {
	t.Helper()
	if len(b) < 2 || b[0]&0xf0 != 0x80 || b[1]&0x80 != 0 {
		t.Fatalf("server frame %q: not final and unmasked", b)
	}
	l, hdr := int(b[1]&0x7f), 2
	switch l {
	case 126:
		l, hdr = int(binary.BigEndian.Uint16(b[2:])), 4
		if l < 126 {
			t.Fatalf("server frame: 16-bit length %d", l)
		}
	case 127:
		l, hdr = int(binary.BigEndian.Uint64(b[2:])), 10
		if l < 1<<16 {
			t.Fatalf("server frame: 64-bit length %d", l)
		}
	}
	if len(b) < hdr+l {
		t.Fatalf("server frame: %d bytes, header says %d", len(b), hdr+l)
	}
	return b[0] & 0x0f, b[hdr : hdr+l], hdr + l
}

// decodeAll runs the decoder over in frame by frame and renders what it
// returns: "line:...", "ping:...", "pong:...", "close:<code>:<reason>",
// "-" for nothing, "need" when bytes are left over, and "error:<code>:<reason>".
func decodeAll(d *wsDecoder, in []byte) []string {
	var out []string
	for len(in) > 0 {
		n, f, err := d.next(in)
		if err != nil {
			var ce *wsCloseError
			if !errors.As(err, &ce) {
				return append(out, "error of type "+err.Error())
			}
			return append(out, "error:"+strconv.Itoa(int(ce.code))+":"+ce.reason)
		}
		if n == 0 {
			return append(out, "need")
		}
		switch f.kind {
		case wsNothing:
			out = append(out, "-")
		case wsLine:
			out = append(out, "line:"+string(f.data))
		case wsPing:
			out = append(out, "ping:"+string(f.data))
		case wsPong:
			out = append(out, "pong:"+string(f.data))
		case wsClose:
			s := "close"
			if len(f.data) >= 2 {
				s += ":" + strconv.Itoa(int(binary.BigEndian.Uint16(f.data))) + ":" + string(f.data[2:])
			}
			out = append(out, s)
		}
		in = in[n:]
	}
	return out
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func TestWSDecode(t *testing.T) {
	long := strings.Repeat("x", 300)
	maxLine := "PRIVMSG #a :" + strings.Repeat("y", wsMaxMessage-len("PRIVMSG #a :"))
	tests := []struct {
		name string
		in   []byte
		want string // decodeAll's results joined by " | "
	}{
		{"text line", clientFrame(true, wsOpText, []byte("PRIVMSG #a :hi")), "line:PRIVMSG #a :hi"},
		{"binary line", clientFrame(true, wsOpBinary, []byte("PRIVMSG #a :caf\xe9")), "line:PRIVMSG #a :caf\xe9"},
		{"CRLF stripped", clientFrame(true, wsOpText, []byte("PING x\r\n")), "line:PING x"},
		{"LF stripped", clientFrame(true, wsOpBinary, []byte("PING x\n")), "line:PING x"},
		{"16-bit length", clientFrame(true, wsOpText, []byte("PRIVMSG #a :"+long)), "line:PRIVMSG #a :" + long},
		{"longest message", clientFrame(true, wsOpText, []byte(maxLine)), "line:" + maxLine},
		{"empty message skipped", clientFrame(true, wsOpText, nil), "-"},
		{"CRLF only skipped", clientFrame(true, wsOpText, []byte("\r\n")), "-"},
		{"several frames in one read", cat(
			clientFrame(true, wsOpText, []byte("NICK a")),
			clientFrame(true, wsOpText, []byte("USER a 0 * :A")),
		), "line:NICK a | line:USER a 0 * :A"},
		{"fragmented, ping between", cat(
			clientFrame(false, wsOpText, []byte("PRIV")),
			clientFrame(false, wsOpContinuation, []byte("MSG #a ")),
			clientFrame(true, wsOpPing, []byte("p")),
			clientFrame(true, wsOpContinuation, []byte(":h\xc3\xa9")),
			clientFrame(true, wsOpText, []byte("PING y")),
		), "- | - | ping:p | line:PRIVMSG #a :h\xc3\xa9 | line:PING y"},
		// a rune split across fragments is valid once the message is whole
		{"rune across fragments", cat(
			clientFrame(false, wsOpText, []byte("A \xc3")),
			clientFrame(true, wsOpContinuation, []byte("\xa9")),
		), "- | line:A \xc3\xa9"},
		{"ping", clientFrame(true, wsOpPing, []byte("hello")), "ping:hello"},
		{"ping of 125 bytes", clientFrame(true, wsOpPing, bytes.Repeat([]byte("p"), 125)), "ping:" + strings.Repeat("p", 125)},
		{"pong", clientFrame(true, wsOpPong, []byte("x")), "pong:x"},
		{"close with code", clientFrame(true, wsOpClose, closePayload(1001, "bye")), "close:1001:bye"},
		{"empty close", clientFrame(true, wsOpClose, nil), "close"},
		{"close code 4000", clientFrame(true, wsOpClose, closePayload(4000, "")), "close:4000:"},
		{"nothing after close", cat(
			clientFrame(true, wsOpClose, closePayload(1000, "")),
			clientFrame(true, wsOpText, []byte("PING x")),
		), "close:1000: | error:1002:frame after close"},
		{"partial header", clientFrame(true, wsOpText, []byte("PING x"))[:1], "need"},
		{"partial payload", clientFrame(true, wsOpText, []byte("PING x"))[:8], "need"},

		{"unmasked", rawFrame(true, wsOpText, false, []byte("PING x")), "error:1002:client frames must be masked"},
		{"RSV1 (no deflate)", append([]byte{0xc1}, clientFrame(true, wsOpText, []byte("x"))[1:]...), "error:1002:reserved bits set"},
		{"RSV3", append([]byte{0x91}, clientFrame(true, wsOpText, []byte("x"))[1:]...), "error:1002:reserved bits set"},
		{"opcode 3", clientFrame(true, 0x3, []byte("x")), "error:1002:reserved opcode"},
		{"opcode 0xB", clientFrame(true, 0xB, nil), "error:1002:reserved opcode"},
		{"ping of 126 bytes", clientFrame(true, wsOpPing, bytes.Repeat([]byte("p"), 126)), "error:1002:control frame longer than 125 bytes"},
		{"fragmented ping", clientFrame(false, wsOpPing, []byte("p")), "error:1002:fragmented control frame"},
		{"fragmented close", clientFrame(false, wsOpClose, nil), "error:1002:fragmented control frame"},
		{"lone continuation", clientFrame(true, wsOpContinuation, []byte("x")), "error:1002:continuation frame outside a fragmented message"},
		{"new message inside a fragmented one", cat(
			clientFrame(false, wsOpText, []byte("PRIV")),
			clientFrame(true, wsOpText, []byte("PING x")),
		), "- | error:1002:new message inside a fragmented message"},
		{"non-minimal 16-bit length", append([]byte{0x81, 0x80 | 126, 0, 5}, append(testMask[:], "hello"...)...), "error:1002:payload length not minimally encoded"},
		{"non-minimal 64-bit length", append([]byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 1, 0}, testMask[:]...), "error:1002:payload length not minimally encoded"},
		{"64-bit length with the top bit", []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1}, "error:1002:payload length not minimally encoded"},
		{"close of 1 byte", clientFrame(true, wsOpClose, []byte{3}), "error:1002:malformed close frame"},
		{"close code 1005", clientFrame(true, wsOpClose, closePayload(1005, "")), "error:1002:malformed close frame"},
		{"close code 999", clientFrame(true, wsOpClose, closePayload(999, "")), "error:1002:malformed close frame"},
		{"close code 2000", clientFrame(true, wsOpClose, closePayload(2000, "")), "error:1002:malformed close frame"},
		{"close reason not UTF-8", clientFrame(true, wsOpClose, closePayload(1000, "\xff")), "error:1002:malformed close frame"},
		{"text not UTF-8", clientFrame(true, wsOpText, []byte("PRIVMSG #a :caf\xe9")), "error:1007:text message is not valid UTF-8"},
		{"fragmented text not UTF-8", cat(
			clientFrame(false, wsOpText, []byte("A \xc3")),
			clientFrame(true, wsOpContinuation, []byte("B")),
		), "- | error:1007:text message is not valid UTF-8"},
		{"two lines in one message", clientFrame(true, wsOpText, []byte("NICK a\r\nUSER a 0 * :A")), "error:1007:one IRC line per message"},
		{"one byte too long", clientFrame(true, wsOpText, []byte(maxLine+"z")), "error:1009:message longer than an IRC line"},
		// refused on the length field: the payload never has to arrive
		{"oversized header only", clientFrame(true, wsOpBinary, make([]byte, 1<<20))[:14], "error:1009:message longer than an IRC line"},
		{"oversized 64-bit header only", []byte{0x82, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0}, "error:1009:message longer than an IRC line"},
		{"fragments over the limit", cat(
			clientFrame(false, wsOpBinary, []byte(maxLine[:5000])),
			clientFrame(true, wsOpContinuation, []byte(maxLine[:5000])),
		), "- | error:1009:message longer than an IRC line"},
	}
	for _, tt := range tests {
		var d wsDecoder
		got := strings.Join(decodeAll(&d, bytes.Clone(tt.in)), " | ")
		if got != tt.want {
			t.Errorf("%s:\n got %.200q\nwant %.200q", tt.name, got, tt.want)
		}
	}
}

// TestWSDecodeIncremental splits a stream of frames at every byte: the
// decoder must answer "need more" without touching the bytes, then decode
// the same frames as from one read.
func TestWSDecodeIncremental(t *testing.T) {
	stream := cat(
		clientFrame(true, wsOpText, []byte("NICK a")),
		clientFrame(false, wsOpBinary, []byte("PRIVMSG #a :"+strings.Repeat("z", 200))),
		clientFrame(true, wsOpPing, []byte("p")),
		clientFrame(true, wsOpContinuation, []byte(" end\r\n")),
		clientFrame(true, wsOpClose, closePayload(1000, "")),
	)
	var whole wsDecoder
	want := decodeAll(&whole, bytes.Clone(stream))
	for split := 1; split < len(stream); split++ {
		in := bytes.Clone(stream)
		var d wsDecoder
		var got []string
		buf := in[:split] // what has arrived
		for off := 0; off < len(in); {
			before := bytes.Clone(buf[off:])
			n, f, err := d.next(buf[off:])
			if err != nil {
				t.Fatalf("split %d: %v", split, err)
			}
			if n == 0 {
				if !bytes.Equal(before, buf[off:]) {
					t.Fatalf("split %d: need-more modified the buffer", split)
				}
				buf = in // the rest arrives
				continue
			}
			switch f.kind {
			case wsLine:
				got = append(got, "line:"+string(f.data))
			case wsPing:
				got = append(got, "ping:"+string(f.data))
			case wsClose:
				got = append(got, "close:1000:")
			default:
				got = append(got, "-")
			}
			off += n
		}
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Fatalf("split %d: %q, want %q", split, got, want)
		}
	}
}

func TestWSDecodeLimit(t *testing.T) {
	d := wsDecoder{max: 16}
	if got := decodeAll(&d, clientFrame(true, wsOpText, []byte("0123456789abcdef"))); got[0] != "line:0123456789abcdef" {
		t.Errorf("at the limit: %q", got)
	}
	d = wsDecoder{max: 16}
	if got := decodeAll(&d, clientFrame(true, wsOpText, []byte("0123456789abcdefg"))); got[0] != "error:1009:message longer than an IRC line" {
		t.Errorf("over the limit: %q", got)
	}
}

// TestWSDecodeNoAllocs: a message in one frame is decoded where it lies.
func TestWSDecodeNoAllocs(t *testing.T) {
	frame := clientFrame(true, wsOpText, []byte("PRIVMSG #laird :the quick brown fox jumps over the lazy dog"))
	buf := make([]byte, len(frame))
	var d wsDecoder
	if allocs := testing.AllocsPerRun(100, func() {
		copy(buf, frame)
		n, f, err := d.next(buf)
		if n != len(frame) || err != nil || f.kind != wsLine || &f.data[0] != &buf[6] {
			t.Fatalf("next = %d, %+v, %v", n, f, err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
}

func TestWSEncode(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 1000, 65535, 65536, 70000} {
		for _, p := range []wsProto{wsProtoBinary, wsProtoText, wsProtoNone} {
			line := append(bytes.Repeat([]byte("a"), n), "\r\n"...)
			e := newWSEncoder(p)
			hdr, payload := e.appendHeader([]byte("prefix"), line)
			hdr = hdr[len("prefix"):]
			if len(payload) != n || n > 0 && &payload[0] != &line[0] {
				t.Fatalf("%v %d: payload is not the line in place without CRLF", p, n)
			}
			op, got, size := serverFrame(t, append(bytes.Clone(hdr), payload...))
			wantOp := byte(wsOpText)
			if p == wsProtoBinary {
				wantOp = wsOpBinary
			}
			if op != wantOp || !bytes.Equal(got, line[:n]) || size != len(hdr)+n {
				t.Fatalf("%v %d: op %d, %d bytes", p, n, op, len(got))
			}
			if whole := e.appendFrame(nil, line); !bytes.Equal(whole, append(bytes.Clone(hdr), payload...)) {
				t.Fatalf("%v %d: appendFrame differs from header + payload", p, n)
			}
		}
	}
}

// TestWSEncodeInvalidUTF8: a text connection never gets invalid UTF-8 (the
// IRCv3 spec; irctest's testReceiveNonUtf8Text checks "caf\uFFFD").
func TestWSEncodeInvalidUTF8(t *testing.T) {
	tests := []struct{ in, text string }{
		{":n!u@h PRIVMSG web :caf\xe9\r\n", ":n!u@h PRIVMSG web :caf\uFFFD"},
		{"a\xff\xfeb", "a\uFFFD\uFFFDb"},
		{"\xe2\x82", "\uFFFD\uFFFD"}, // a cut rune
		{"ok \xc3\xa9", "ok \xc3\xa9"},
	}
	for _, tt := range tests {
		out, payload := newWSEncoder(wsProtoText).appendHeader(nil, []byte(tt.in))
		op, got, _ := serverFrame(t, append(out, payload...))
		if op != wsOpText || string(got) != tt.text || !utf8.Valid(got) {
			t.Errorf("text %q: sent %q", tt.in, got)
		}
		// binary frames carry the bytes as they are
		out, payload = newWSEncoder(wsProtoBinary).appendHeader(nil, []byte(tt.in))
		_, got, _ = serverFrame(t, append(out, payload...))
		if string(got) != strings.TrimRight(tt.in, "\r\n") {
			t.Errorf("binary %q: sent %q", tt.in, got)
		}
	}
}

func TestWSEncodeNoAllocs(t *testing.T) {
	line := []byte(":alice!alice@127.0.0.1 PRIVMSG #laird :the quick brown fox jumps over the lazy dog\r\n")
	hdrs := make([]byte, 0, 64)
	e := newWSEncoder(wsProtoText)
	if allocs := testing.AllocsPerRun(100, func() {
		hdrs, _ = e.appendHeader(hdrs[:0], line)
	}); allocs != 0 {
		t.Errorf("%v allocations per header", allocs)
	}
}

func TestWSControlFrames(t *testing.T) {
	op, p, _ := serverFrame(t, appendWSControl(nil, wsOpPong, []byte("hello")))
	if op != wsOpPong || string(p) != "hello" {
		t.Errorf("pong: %d %q", op, p)
	}
	op, p, _ = serverFrame(t, appendWSControl(nil, wsOpPong, bytes.Repeat([]byte("x"), 200)))
	if op != wsOpPong || len(p) != 125 {
		t.Errorf("long pong: %d, %d bytes", op, len(p))
	}
	op, p, _ = serverFrame(t, appendWSClose(nil, wsClosePolicy, "too many control frames"))
	if op != wsOpClose || binary.BigEndian.Uint16(p) != 1008 || string(p[2:]) != "too many control frames" {
		t.Errorf("close: %d %q", op, p)
	}
	// A long reason is cut to fit, at a rune boundary.
	_, p, _ = serverFrame(t, appendWSClose(nil, wsCloseNormal, strings.Repeat("é", 100)))
	if len(p) > 125 || !utf8.Valid(p[2:]) || len(p) < 123 {
		t.Errorf("long close reason: %d bytes, valid %v", len(p), utf8.Valid(p[2:]))
	}
	// The reply to a client's close echoes its code only.
	_, p, _ = serverFrame(t, appendWSCloseReply(nil, closePayload(1001, "going away")))
	if !bytes.Equal(p, []byte{0x03, 0xe9}) {
		t.Errorf("close reply: %q", p)
	}
	_, p, _ = serverFrame(t, appendWSCloseReply(nil, nil))
	if len(p) != 0 {
		t.Errorf("reply to an empty close: %q", p)
	}
	// Each server frame decodes with the client framing above.
	var d wsDecoder
	if got := decodeAll(&d, clientFrame(true, wsOpClose, p)); got[0] != "close" {
		t.Errorf("%q", got)
	}
}

func TestWSControlRate(t *testing.T) {
	var r wsControlRate
	t0 := time.Unix(1000, 0)
	for i := range wsControlLimit {
		if err := r.count(t0.Add(time.Duration(i) * time.Millisecond)); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
	}
	if err := r.count(t0.Add(time.Second)); err != errWSControlFlood {
		t.Fatalf("frame %d within the window: %v", wsControlLimit+1, err)
	}
	if err := r.count(t0.Add(wsControlWindow)); err != nil {
		t.Fatalf("a new window did not reset the count: %v", err)
	}
	// A clock that steps back starts a new window rather than stalling.
	if err := r.count(t0.Add(-time.Hour)); err != nil {
		t.Fatalf("clock step back: %v", err)
	}
	custom := wsControlRate{limit: 2, window: time.Second}
	var errs []error
	for range 3 {
		errs = append(errs, custom.count(t0))
	}
	if errs[0] != nil || errs[1] != nil || errs[2] != errWSControlFlood {
		t.Fatalf("custom limit of 2: %v", errs)
	}
	if err := custom.count(t0.Add(time.Second)); err != nil {
		t.Fatalf("custom window of 1s: %v", err)
	}
}

func BenchmarkWSDecode(b *testing.B) {
	frame := clientFrame(true, wsOpText, []byte("PRIVMSG #laird :the quick brown fox jumps over the lazy dog"))
	buf := make([]byte, len(frame))
	var d wsDecoder
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		copy(buf, frame)
		if _, _, err := d.next(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWSEncodeHeader(b *testing.B) {
	line := []byte(":alice!alice@127.0.0.1 PRIVMSG #laird :the quick brown fox jumps over the lazy dog\r\n")
	hdrs := make([]byte, 0, 64)
	e := newWSEncoder(wsProtoText)
	b.ReportAllocs()
	for b.Loop() {
		hdrs, _ = e.appendHeader(hdrs[:0], line)
	}
}
