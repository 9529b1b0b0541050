package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"testing"
)

// serverFrame is an unmasked frame, as a server sends.
func serverFrame(fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(p); {
	case n < 126:
		out = append(out, byte(n))
	default:
		out = append(out, 126, byte(n>>8), byte(n))
	}
	return append(out, p...)
}

// readClientFrame reads one frame as a server would: it must be final and masked.
func readClientFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 == 0 {
		return 0, nil, fmt.Errorf("client frame %x: want FIN and MASK set", h)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(e[:]))
	}
	var key [4]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return h[0] & 0x0f, payload, nil
}

// TestWSConnLines: what the client writes leaves as one masked text frame per line;
// what the server sends (a ping, a message in two fragments, a long one) reads back as
// CR LF terminated lines, the ping answered with a pong carrying its payload.
func TestWSConnLines(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	ws := &wsConn{Conn: client, br: bufio.NewReader(client), rng: rand.NewPCG(1, 2)}
	sr := bufio.NewReader(server)

	go func() { _, _ = ws.Write([]byte("NICK a\r\nUSER a 0 * :a\nPING x")) }()
	for _, want := range []string{"NICK a", "USER a 0 * :a", "PING x"} {
		if op, p, err := readClientFrame(sr); err != nil || op != wsText || string(p) != want {
			t.Fatalf("frame op %#x %q (%v), want text %q", op, p, err, want)
		}
	}

	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	go func() {
		_, _ = server.Write(serverFrame(true, wsPing, []byte("are you there")))
		_, _ = server.Write(serverFrame(false, wsText, []byte(":s 001 a ")))
		_, _ = server.Write(serverFrame(true, wsContinuation, []byte(":Welcome")))
		_, _ = server.Write(serverFrame(true, wsText, long))
		_, _ = server.Write(serverFrame(true, wsClose, []byte{0x03, 0xe8}))
	}()
	pong := make(chan []byte, 1)
	go func() {
		op, p, err := readClientFrame(sr)
		if err != nil || op != wsPong {
			p = []byte(fmt.Sprintf("op %#x, err %v", op, err))
		}
		pong <- p
	}()
	got, err := io.ReadAll(bufio.NewReader(ws))
	if err != nil {
		t.Fatal(err)
	}
	if want := ":s 001 a :Welcome\r\n" + string(long) + "\r\n"; string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	if p := <-pong; string(p) != "are you there" {
		t.Fatalf("pong payload %q, want the ping's", p)
	}
}

func TestReadFrameRefusesMaskedServerFrames(t *testing.T) {
	b := appendMaskedFrame(nil, wsText, []byte("x"), 0x01020304)
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(b))); err == nil {
		t.Fatal("a masked frame from the server was accepted")
	}
}

func TestTransportRatios(t *testing.T) {
	f := map[string]float64{
		"tcp_registrations_per_s": 1000, "tls_registrations_per_s": 400, "ws_registrations_per_s": 900,
		"tcp_server_cpu_us_per_delivery": 0.5, "tls_server_cpu_us_per_delivery": 0.6,
		// no ws CPU figure (no PID): its ratio is left out, not zero
	}
	transportRatios(f)
	for name, want := range map[string]float64{"tls_registrations_ratio": 0.4, "ws_registrations_ratio": 0.9, "tls_fanout_cpu_ratio": 1.2} {
		if got, ok := f[name]; !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if v, ok := f["ws_fanout_cpu_ratio"]; ok {
		t.Errorf("ws_fanout_cpu_ratio = %v without its parts", v)
	}
}
