package main

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	binenc "encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"laird/codec"
)

// testCert makes a certificate with `laird mkcert` and returns its files.
func testCert(t *testing.T) (dir, cert, key string) {
	t.Helper()
	dir = t.TempDir()
	writeCert(t, dir)
	return dir, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func writeCert(t *testing.T, dir string) {
	t.Helper()
	if err := mkcert([]string{dir}, stdio{out: io.Discard, err: io.Discard}); err != nil {
		t.Fatal(err)
	}
}

func matchRe(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// transportServer serves plain IRC, TLS, WebSocket and a PROXY listener
// at once.
type transportServer struct {
	*testServer
	plain, tls, ws, wss, proxy string
	certFile, keyFile          string
}

func startTransportServer(t *testing.T, mutate func(*Config)) *transportServer {
	t.Helper()
	_, cert, key := testCert(t)
	ts := &transportServer{plain: freeAddr(t), tls: freeAddr(t), ws: freeAddr(t), wss: freeAddr(t), proxy: freeAddr(t), certFile: cert, keyFile: key}
	ts.testServer = startTestServer(t, func(c *Config) {
		c.Server.Listen = ts.plain
		c.Listen = []ListenConfig{
			{Address: ts.plain},
			{Address: ts.tls, TLSCert: cert, TLSKey: key},
			{Address: ts.ws, WebSocket: true},
			{Address: ts.wss, WebSocket: true, TLSCert: cert, TLSKey: key},
			{Address: ts.proxy, ProxyFrom: []string{"127.0.0.1/32"}},
		}
		if mutate != nil {
			mutate(c)
		}
	})
	return ts
}

// dialTLS is a test client over TLS that trusts the test certificate.
func (ts *transportServer) dialTLS(name string) *ircClient {
	ts.t.Helper()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(ts.certFile)
	if err != nil {
		ts.t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", ts.tls, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		ts.t.Fatalf("%s: tls dial: %v", name, err)
	}
	return wrapConn(ts.t, conn, name)
}

// wrapConn makes an ircClient over an established connection.
func wrapConn(t *testing.T, conn net.Conn, name string) *ircClient {
	c := &ircClient{t: t, name: name, conn: conn, lines: make(chan string, 4096), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.lines)
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				c.lines <- strings.TrimRight(line, "\r\n")
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// TestListenersEveryTransport: one server on plain TCP, TLS, WebSocket,
// WebSocket over TLS and behind a PROXY-protocol proxy; users of each
// register and talk in one channel.
func TestListenersEveryTransport(t *testing.T) {
	ts := startTransportServer(t, nil)
	plain := ts.dial("plain")
	plain.register("plain")
	plain.send("JOIN #all")
	plain.expect(` 366 plain #all `)

	secure := ts.dialTLS("secure")
	secure.register("secure")
	secure.send("JOIN #all")
	secure.expect(` 366 secure #all `)

	web := dialWS(t, ts.ws, "text.ircv3.net", nil)
	web.sendLine("NICK web")
	web.sendLine("USER web 0 * :web")
	web.expectLine(` 001 web `)
	web.sendLine("JOIN #all")
	web.expectLine(` 366 web #all `)

	wsecure := dialWS(t, ts.wss, "binary.ircv3.net", ts.tlsConfig())
	wsecure.sendLine("NICK wsecure")
	wsecure.sendLine("USER wsecure 0 * :wsecure")
	wsecure.expectLine(` 001 wsecure `)

	pc, err := net.Dial("tcp", ts.proxy)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(pc, "PROXY TCP4 10.20.30.40 127.0.0.1 4242 6667\r\n")
	proxied := wrapConn(t, pc, "proxied")
	proxied.register("proxied")
	proxied.send("WHOIS proxied")
	proxied.expect(` 378 proxied proxied :is connecting from \*@10\.20\.30\.40 10\.20\.30\.40$`)

	secure.send("PRIVMSG #all :over tls")
	plain.expect(`^:secure!\S+ PRIVMSG #all :over tls$`)
	web.expectLine(`^:secure!\S+ PRIVMSG #all :over tls$`)
	web.sendLine("PRIVMSG #all :over websocket")
	plain.expect(`^:web!\S+ PRIVMSG #all :over websocket$`)
	secure.expect(`^:web!\S+ PRIVMSG #all :over websocket$`)
}

func (ts *transportServer) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ts.certFile)
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// TestTLSBadClients: garbage instead of a ClientHello, a handshake that
// never comes (slowloris) and a client that stops reading are each cut,
// and a client beside them keeps being answered.
func TestTLSBadClients(t *testing.T) {
	ts := startTransportServer(t, func(c *Config) {
		c.Limits.TLSHandshakeTimeout = duration{300 * time.Millisecond}
		c.Limits.SendQ = 64 << 10
	})
	good := ts.dialTLS("good")
	good.register("good")
	good.send("JOIN #busy")
	good.expect(` 366 good #busy `)

	// Garbage: an IRC line where a ClientHello belongs.
	g, err := net.Dial("tcp", ts.tls)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	io.WriteString(g, "NICK notls\r\nUSER x 0 * :x\r\n")
	expectClosedWithin(t, g, 2*time.Second)

	// Slowloris: connect and say nothing.
	sl, err := net.Dial("tcp", ts.tls)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	start := time.Now()
	expectClosedWithin(t, sl, 5*time.Second)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("silent handshake closed after %v, before its timeout", d)
	}

	// A TLS client that stops reading while a channel floods it is cut at
	// SendQ; the good client keeps its round trip.
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	slow, err := tls.DialWithDialer(small, "tcp", ts.tls, ts.tlsConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "NICK slow\r\nUSER slow 0 * :slow\r\nJOIN #busy\r\n")
	good.expect(`^:slow!\S+ JOIN #busy`)
	filler := strings.Repeat("x", 400)
	deadline := time.Now().Add(20 * time.Second)
	cut := false
	for i := 0; time.Now().Before(deadline) && !cut; i++ {
		good.send("PRIVMSG #busy :%d %s", i, filler)
		if i%40 == 39 {
			good.sync() // stay well under RecvQ
			for _, l := range good.log {
				cut = cut || strings.Contains(l, "QUIT :SendQ exceeded")
			}
		}
	}
	if !cut {
		t.Fatal("a TLS client that stopped reading was not cut at SendQ")
	}
	start = time.Now()
	good.sync()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the good client's round trip took %v after the flood", d)
	}
}

// expectClosedWithin reads until the server closes conn or d passes.
func expectClosedWithin(t *testing.T, conn net.Conn, d time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", d)
		}
		return
	}
}

// wsClient is a minimal RFC 6455 client for the tests: it masks what it
// sends, as clients must (unless told not to), and reads one frame at a
// time.
type wsClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	log  []string
}

func dialWS(t *testing.T, addr, proto string, tlsConf *tls.Config) *wsClient {
	t.Helper()
	var conn net.Conn
	var err error
	if tlsConf != nil {
		conn, err = tls.Dial("tcp", addr, tlsConf)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var k [16]byte
	_, _ = rand.Read(k[:])
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(k[:]) + "\r\nSec-WebSocket-Version: 13\r\n"
	if proto != "" {
		req += "Sec-WebSocket-Protocol: " + proto + "\r\n"
	}
	io.WriteString(conn, req+"\r\n")
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		t.Fatalf("websocket upgrade: %q %v", status, err)
	}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
	}
	return &wsClient{t: t, conn: conn, r: r}
}

// frame sends one frame; mask false breaks the protocol on purpose.
func (w *wsClient) frame(fin bool, op byte, payload []byte, mask bool) {
	w.t.Helper()
	b0 := op
	if fin {
		b0 |= 0x80
	}
	hdr := []byte{b0}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, m|byte(n))
	case n < 1<<16:
		hdr = append(hdr, m|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, m|127)
		hdr = binenc.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := append([]byte(nil), payload...)
	if mask {
		var key [4]byte
		_, _ = rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		for i := range body {
			body[i] ^= key[i%4]
		}
	}
	// A write after the server closed fails; what the server answered
	// (its close frame) is still there to read.
	_, _ = w.conn.Write(append(hdr, body...))
}

func (w *wsClient) sendLine(line string) { w.frame(true, 0x1, []byte(line), true) }

// next reads one frame.
func (w *wsClient) next(d time.Duration) (op byte, payload []byte, err error) {
	_ = w.conn.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(w.r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(w.r, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binenc.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(w.r, e[:]); err != nil {
			return 0, nil, err
		}
		n = binenc.BigEndian.Uint64(e[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(w.r, payload)
	return h[0] & 0x0f, payload, err
}

// expectLine reads messages until one matches re.
func (w *wsClient) expectLine(re string) string {
	w.t.Helper()
	deadline := time.Now().Add(expectTimeout)
	for time.Now().Before(deadline) {
		op, p, err := w.next(time.Until(deadline))
		if err != nil {
			w.t.Fatalf("websocket: waiting for %s: %v; got:\n%s", re, err, strings.Join(w.log, "\n"))
		}
		if op != 0x1 && op != 0x2 {
			continue
		}
		line := string(p)
		w.log = append(w.log, line)
		if matchRe(re, line) {
			return line
		}
	}
	w.t.Fatalf("websocket: no %s; got:\n%s", re, strings.Join(w.log, "\n"))
	return ""
}

// expectClose reads until a close frame and returns its code.
func (w *wsClient) expectClose() int {
	w.t.Helper()
	for {
		op, p, err := w.next(5 * time.Second)
		if err != nil {
			w.t.Fatalf("websocket: waiting for a close frame: %v", err)
		}
		if op == 0x8 {
			if len(p) < 2 {
				return 0
			}
			return int(binenc.BigEndian.Uint16(p))
		}
	}
}

// TestWebSocketViolations: each protocol violation is answered with its
// close code, and a client beside them keeps working.
func TestWebSocketViolations(t *testing.T) {
	ts := startTransportServer(t, nil)
	bystander := ts.dial("bystander")
	bystander.register("bystander")
	for _, tc := range []struct {
		name string
		send func(w *wsClient)
		code int
	}{
		{"unmasked frame", func(w *wsClient) { w.frame(true, 0x1, []byte("NICK x"), false) }, 1002},
		{"fragmented ping", func(w *wsClient) { w.frame(false, 0x9, []byte("p"), true) }, 1002},
		{"oversized message", func(w *wsClient) { w.frame(true, 0x1, []byte(strings.Repeat("a", codec.MaxLine+10)), true) }, 1009},
		{"invalid UTF-8 in a text frame", func(w *wsClient) { w.frame(true, 0x1, []byte("PRIVMSG x :\xff\xfe"), true) }, 1007},
		{"ping flood", func(w *wsClient) {
			for i := 0; i < 30; i++ {
				w.frame(true, 0x9, []byte("p"), true)
			}
		}, 1008},
	} {
		w := dialWS(t, ts.ws, "text.ircv3.net", nil)
		tc.send(w)
		if got := w.expectClose(); got != tc.code {
			t.Errorf("%s: close code %d, want %d", tc.name, got, tc.code)
		}
	}
	bystander.sync()
}

// TestProxyProtocol: the header names the client for everything (WHOIS,
// bans); a header from an address that is not a trusted proxy, a missing
// header and a broken one close the connection.
func TestProxyProtocol(t *testing.T) {
	ts := startTransportServer(t, func(c *Config) {
		c.Limits.RegistrationTimeout = duration{time.Second}
	})
	// A v2 header for an IPv6 client.
	pc, err := net.Dial("tcp", ts.proxy)
	if err != nil {
		t.Fatal(err)
	}
	hdr := codec.AppendProxyV2(nil, mustAddrPort("[2001:db8::7]:5000"), mustAddrPort("[2001:db8::1]:6667"))
	pc.Write(hdr)
	v6 := wrapConn(t, pc, "v6")
	v6.register("viasix")
	v6.send("WHOIS viasix")
	v6.expect(` 378 viasix viasix :is connecting from \*@2001:db8::7 2001:db8::7$`)

	// From 127.0.0.2, which is not a trusted proxy: closed before a word.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	untrusted, err := d.Dial("tcp", ts.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	fmt.Fprintf(untrusted, "PROXY TCP4 10.0.0.9 127.0.0.1 1 2\r\nNICK spoof\r\n")
	expectClosedWithin(t, untrusted, 3*time.Second)

	for name, data := range map[string]string{
		"missing header":   "NICK nohdr\r\nUSER x 0 * :x\r\n",
		"broken v1 header": "PROXY TCP4 10.0.0.9 127.0.0.1 5555\r\n",
		"oversized v2":     string(hdr[:14]) + "\xff\xff",
		// Fewer bytes than its length field promises, then silence: the
		// registration timeout ends it.
		"truncated v2": string(hdr[:14]) + "\x00\x24" + "\x20\x01",
	} {
		c, err := net.Dial("tcp", ts.proxy)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, data)
		t.Run(name, func(t *testing.T) { expectClosedWithin(t, c, 3*time.Second) })
		c.Close()
	}
}

// TestAddressInUse: a second server on an address already served refuses
// to start, naming it.
func TestAddressInUse(t *testing.T) {
	ts := startTestServer(t, nil)
	cfg := testConfig(t)
	cfg.Server.Listen = ts.addr
	_, err := start(cfg, quietLogger())
	if err == nil || !strings.Contains(err.Error(), ts.addr) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second server on %s: %v, want an error naming it in use", ts.addr, err)
	}
}

// TestCertificateReload: new certificate files are served after REHASH
// without dropping a connection made before.
func TestCertificateReload(t *testing.T) {
	dir, cert, key := testCert(t)
	tlsAddr := freeAddr(t)
	cfgFile := filepath.Join(dir, "laird.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("[[oper]]\nname = \"op\"\npassword_hash = %q\n\n[[listen]]\naddress = %q\ntls_cert = %q\ntls_key = %q\n",
		operHash(t, "pw"), tlsAddr, cert, key)), 0o600)
	ts := startTestServer(t, func(c *Config) {
		fresh, err := loadConfig(cfgFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Listen, c.Opers, c.path = fresh.Listen, fresh.Opers, fresh.path
	})
	_ = ts
	serial := func() string {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	op := wrapConn(t, conn, "op")
	op.register("op")
	op.send("OPER op pw")
	op.expect(` 381 op `)

	// Renew: new files at the same paths.
	os.Remove(cert)
	os.Remove(key)
	writeCert(t, dir)
	op.send("REHASH")
	op.expect(` 382 op `)
	if after := serial(); after == before {
		t.Fatal("REHASH did not load the renewed certificate")
	}
	op.sync() // the connection made before is still up
}

// TestDataDirInUse: a second server on a data directory in use refuses to
// start and names the process that holds it.
func TestDataDirInUse(t *testing.T) {
	cfg := testConfig(t)
	ts := startTestServer(t, func(c *Config) { c.Server.DataDir = cfg.Server.DataDir })
	_ = ts
	_, err := start(cfg, quietLogger())
	want := fmt.Sprintf("in use by process %d", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second server on the same data directory: %v, want %q", err, want)
	}
}
