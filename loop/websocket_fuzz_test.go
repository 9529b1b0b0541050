package loop

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzWSUpgrade checks that no request panics the handshake parser, that it
// is incremental, and that what it accepts is a GET request net/http reads
// too, answered by a 101 net/http reads back.
func FuzzWSUpgrade(f *testing.F) {
	f.Add([]byte(chromeUpgrade))
	f.Add([]byte(strings.ReplaceAll(chromeUpgrade, "\r\n", "\n")))
	f.Add([]byte(upgradeWith(map[string]string{"Sec-WebSocket-Version": "8"})))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("NICK a\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		u := wsUpgrader{origins: []string{"https://chat.example.org"}}
		n, req, err := u.parse(in)
		var he *wsHTTPError
		switch {
		case err != nil && (!errors.As(err, &he) || n != 0):
			t.Fatalf("parse(%q) = %d, %v", in, n, err)
		case n > len(in) || n > wsDefaultMaxHeader:
			t.Fatalf("parse(%q) = %d", in, n)
		}
		if len(in) <= 2048 {
			checkUpgradePrefixes(t, &u, in, n, err)
		}
		if n == 0 {
			return
		}
		// The request target is not used, only checked to be origin-form
		// in visible ASCII; net/http also checks URL escapes. Compare the
		// rest.
		target := in[4 : 4+bytes.IndexByte(in[4:], ' ')]
		block := bytes.Replace(in[:n], target, []byte("/"), 1)
		hr, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(block)))
		if rerr != nil || hr.Method != "GET" || len(hr.Header.Values("Sec-WebSocket-Key")) != 1 {
			t.Fatalf("accepted %q, which net/http reads as %v", block, rerr)
		}
		resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(appendWSAccept(nil, &req))), nil)
		if rerr != nil || resp.StatusCode != 101 {
			t.Fatalf("101 response unreadable: %v", rerr)
		}
	})
}

// FuzzWSDecode feeds any byte stream, whole and split in two, to the frame
// decoder: no panic, the same results either way, lines without line
// breaks, control payloads within 125 bytes.
func FuzzWSDecode(f *testing.F) {
	f.Add(cat(
		clientFrame(true, wsOpText, []byte("NICK a")),
		clientFrame(false, wsOpBinary, []byte("PRIV")),
		clientFrame(true, wsOpPing, []byte("p")),
		clientFrame(true, wsOpContinuation, []byte("MSG #a :x\r\n")),
		clientFrame(true, wsOpClose, closePayload(1000, "")),
	), uint16(7))
	f.Add(rawFrame(true, wsOpText, false, []byte("x")), uint16(1))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0}, uint16(3))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		whole := decodeChecked(t, bytes.Clone(in), len(in))
		parts := decodeChecked(t, bytes.Clone(in), int(split)%(len(in)+1))
		if strings.Join(whole, "\n") != strings.Join(parts, "\n") {
			t.Fatalf("%q whole: %q; split at %d: %q", in, whole, split, parts)
		}
	})
}

// decodeChecked decodes in as if the first avail bytes arrived, then the
// rest, checking every result; it returns them rendered.
func decodeChecked(t *testing.T, in []byte, avail int) []string {
	var d wsDecoder
	var out []string
	buf := in[:avail]
	for off := 0; off < len(in); {
		n, f, err := d.next(buf[off:])
		if err != nil {
			var ce *wsCloseError
			if !errors.As(err, &ce) || n != 0 {
				t.Fatalf("next = %d, %v", n, err)
			}
			return append(out, err.Error())
		}
		if n == 0 {
			if len(buf) == len(in) {
				return append(out, "need")
			}
			buf = in
			continue
		}
		if n > len(buf)-off {
			t.Fatalf("next claims %d of %d bytes", n, len(buf)-off)
		}
		switch f.kind {
		case wsLine:
			if len(f.data) == 0 || bytes.IndexByte(f.data, '\n') >= 0 || f.data[len(f.data)-1] == '\r' {
				t.Fatalf("line %q", f.data)
			}
		case wsPing, wsPong, wsClose:
			if len(f.data) > wsMaxControl {
				t.Fatalf("control payload of %d bytes", len(f.data))
			}
		}
		out = append(out, string(rune('0'+f.kind))+string(f.data))
		off += n
	}
	return out
}

// FuzzWSRoundTrip sends a payload as client frames cut into fragments and
// checks the decoder returns the line, or the error the payload deserves.
func FuzzWSRoundTrip(f *testing.F) {
	f.Add([]byte("PRIVMSG #a :hello\r\n"), true, uint64(0x0305))
	f.Add([]byte("caf\xe9"), false, uint64(2))
	f.Add([]byte("a\nb"), true, uint64(0))
	f.Fuzz(func(t *testing.T, payload []byte, text bool, cuts uint64) {
		op := byte(wsOpBinary)
		if text {
			op = wsOpText
		}
		// Cut the payload at the lengths given by cuts' bytes, and put a
		// ping between fragments.
		var stream []byte
		rest := payload
		for first := true; ; first = false {
			c := int(cuts & 0xff)
			cuts >>= 8
			if c == 0 || c >= len(rest) {
				stream = append(stream, clientFrame(true, opIf(first, op), rest)...)
				break
			}
			stream = append(stream, clientFrame(false, opIf(first, op), rest[:c])...)
			stream = append(stream, clientFrame(true, wsOpPing, nil)...)
			rest = rest[c:]
		}
		var d wsDecoder
		var line []byte
		var err error
		for off := 0; off < len(stream) && err == nil; {
			var n int
			var fr wsFrame
			n, fr, err = d.next(stream[off:])
			if err == nil && n == 0 {
				t.Fatalf("a whole stream needs more at %d", off)
			}
			if fr.kind == wsLine {
				line = fr.data
			}
			off += n
		}
		trimmed := bytes.TrimRight(payload, "\r\n")
		var want error
		switch {
		case len(payload) > wsMaxMessage:
			want = errWSTooBig
		case text && !utf8.Valid(payload):
			want = errWSInvalidUTF8
		case bytes.IndexByte(trimmed, '\n') >= 0:
			want = errWSSeveralLines
		}
		if err != want || want == nil && !bytes.Equal(line, trimmed) {
			t.Fatalf("payload %q (text %v): line %q, err %v; want %v", payload, text, line, err, want)
		}
	})
}

func opIf(first bool, op byte) byte {
	if first {
		return op
	}
	return wsOpContinuation
}

// FuzzWSEncode checks that every line goes out as one well-formed server
// frame: its bytes as they are in binary, valid UTF-8 in text.
func FuzzWSEncode(f *testing.F) {
	f.Add([]byte("PRIVMSG #a :caf\xe9\r\n"), true)
	f.Add(bytes.Repeat([]byte("x"), 300), false)
	f.Fuzz(func(t *testing.T, line []byte, text bool) {
		p := wsProtoBinary
		if text {
			p = wsProtoText
		}
		frame := newWSEncoder(p).appendFrame(nil, line)
		op, got, n := serverFrame(t, frame)
		if n != len(frame) {
			t.Fatalf("frame of %d bytes, header says %d", len(frame), n)
		}
		want := bytes.TrimRight(line, "\r\n")
		switch {
		case !text && (op != wsOpBinary || !bytes.Equal(got, want)):
			t.Fatalf("binary %q sent as %d %q", line, op, got)
		case text && (op != wsOpText || !utf8.Valid(got)):
			t.Fatalf("text %q sent as %d %q", line, op, got)
		case text && utf8.Valid(want) && !bytes.Equal(got, want):
			t.Fatalf("valid text %q sent as %q", line, got)
		}
	})
}
