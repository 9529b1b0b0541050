package loop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCert makes a self-signed certificate for 127.0.0.1 and localhost.
func testCert(t testing.TB, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsFixture is a server certificate, the server config laird would use
// (client certificates requested, not verified: SASL EXTERNAL matches
// fingerprints) and a client config trusting the server.
type tlsFixture struct {
	server *tls.Config
	client *tls.Config
}

func newTLSFixture(t testing.TB) *tlsFixture {
	cert := testCert(t, "laird test server")
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tlsFixture{
		server: &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert},
		client: &tls.Config{RootCAs: pool, ServerName: "localhost"},
	}
}

// loopSim stands in for an event loop serving one TLS connection: it feeds
// what the socket delivers, decrypts, runs tasks and sends the output, all
// on one goroutine, as gnet's OnTraffic and wakeups would.
type loopSim struct {
	e    *tlsEngine
	sock net.Conn
	wake chan struct{}
	task chan func()
	// feedBytewise feeds ciphertext one byte at a time, reading in between,
	// so every record arrives cut at every point.
	feedBytewise bool

	ready chan struct{} // closed once e and sock are set

	mu    sync.Mutex
	plain []byte
	err   error // what readPlain or write returned; the loop then stops
	got   chan struct{}
	ended chan struct{}
}

// serveTLS accepts one connection on a loopback listener and runs a loopSim
// for it; it returns the sim and the address to dial.
func serveTLS(t *testing.T, cfg *tls.Config, timeout time.Duration, bytewise bool) (*loopSim, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &loopSim{wake: make(chan struct{}, 1), task: make(chan func()), got: make(chan struct{}, 1), ended: make(chan struct{}), feedBytewise: bytewise}
	ready := make(chan struct{})
	go func() {
		defer l.Close()
		sock, err := l.Accept()
		if err != nil {
			close(ready)
			return
		}
		s.sock = sock
		s.e = newTLSEngine(cfg, timeout, sock.LocalAddr(), sock.RemoteAddr(), func() {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		})
		close(ready)
		s.run()
	}()
	t.Cleanup(func() {
		<-ready
		if s.sock != nil {
			s.sock.Close()
			<-s.ended
			select {
			case <-s.e.hsDone:
			case <-time.After(5 * time.Second):
				t.Error("handshake goroutine still running after the connection closed")
			}
		}
	})
	s.ready = ready
	return s, l.Addr().String()
}

func (s *loopSim) run() {
	defer close(s.ended)
	// One read buffer, reused after each callback and scribbled over, as
	// gnet reuses its own: nothing may keep pointing into it.
	reads := make(chan []byte)
	done := make(chan struct{})
	go func() {
		defer close(reads)
		buf := make([]byte, 64<<10) // gnet's default read buffer
		for {
			n, err := s.sock.Read(buf)
			if n > 0 {
				select {
				case reads <- buf[:n]:
				case <-s.ended:
					return
				}
				<-done
				for i := range buf[:n] {
					buf[i] = 0xAA
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case b, ok := <-reads:
			if !ok {
				s.e.closeNotify()
				return
			}
			ok = true
			if s.feedBytewise {
				for i := range b {
					s.e.feed(b[i : i+1])
					if ok = s.step(); !ok {
						break
					}
				}
			} else {
				s.e.feed(b)
				ok = s.step()
			}
			done <- struct{}{}
			if !ok {
				return
			}
			continue
		case <-s.wake:
		case f := <-s.task:
			f()
		}
		if !s.step() {
			return
		}
	}
}

// step decrypts, sends the output, and reports whether to go on.
func (s *loopSim) step() bool {
	plain, err := s.e.readPlain(nil)
	out := s.e.takeOutput(nil)
	if len(out) > 0 {
		_, _ = s.sock.Write(out)
	}
	s.mu.Lock()
	s.plain = append(s.plain, plain...)
	if err != nil && s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	if len(plain) > 0 || err != nil {
		select {
		case s.got <- struct{}{}:
		default:
		}
	}
	if err != nil {
		s.sock.Close()
		return false
	}
	return true
}

// do runs f on the loop goroutine and waits for it.
func (s *loopSim) do(f func()) {
	<-s.ready
	done := make(chan struct{})
	select {
	case s.task <- func() { f(); close(done) }:
		<-done
	case <-s.ended:
	}
}

// waitPlain waits until the loop has received want (a prefix of all the
// plaintext so far) or an error.
func (s *loopSim) waitPlain(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		got, err := string(s.plain), s.err
		s.mu.Unlock()
		if strings.HasPrefix(got, want) {
			return
		}
		if err != nil {
			t.Fatalf("loop stopped with %v after %q; want %q", err, got, want)
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("timed out with %q; want %q", got, want)
		}
	}
}

// waitErr waits for the loop to stop and returns why.
func (s *loopSim) waitErr(t *testing.T) error {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("loop still running")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func TestTLSEngineSession(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  uint16
		bytewise bool
	}{
		{"TLS 1.3", tls.VersionTLS13, false},
		{"TLS 1.2", tls.VersionTLS12, false},
		// every record reaches the engine cut at every byte
		{"TLS 1.3 bytewise", tls.VersionTLS13, true},
		{"TLS 1.2 bytewise", tls.VersionTLS12, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newTLSFixture(t)
			s, addr := serveTLS(t, fx.server, 5*time.Second, tc.bytewise)
			ccfg := fx.client.Clone()
			ccfg.MaxVersion = tc.version
			c, err := tls.Dial("tcp", addr, ccfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte("NICK alice\r\nUSER a 0 * :Alice\r\n")); err != nil {
				t.Fatal(err)
			}
			s.waitPlain(t, "NICK alice\r\nUSER a 0 * :Alice\r\n")
			var ver uint16
			var fp string
			s.do(func() {
				ver, fp = s.e.version(), s.e.certFP()
				if err := s.e.write([]byte(":srv 001 alice :Welcome\r\n")); err != nil {
					t.Error(err)
				}
			})
			if ver != tc.version || fp != "" {
				t.Errorf("version %x, fingerprint %q; want %x and none", ver, fp, tc.version)
			}
			buf := make([]byte, 100)
			n, err := io.ReadAtLeast(c, buf, len(":srv 001 alice :Welcome\r\n"))
			if err != nil || string(buf[:n]) != ":srv 001 alice :Welcome\r\n" {
				t.Fatalf("client read %q, %v", buf[:n], err)
			}
			// close_notify from the client ends the session with io.EOF.
			c.Close()
			if err := s.waitErr(t); err != io.EOF {
				t.Errorf("after the client's close_notify: %v", err)
			}
		})
	}
}

// TestTLSEngineLargeTransfers moves a megabyte each way: many records,
// reads and writes spanning records.
func TestTLSEngineLargeTransfers(t *testing.T) {
	fx := newTLSFixture(t)
	s, addr := serveTLS(t, fx.server, 5*time.Second, false)
	c, err := tls.Dial("tcp", addr, fx.client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	big := bytes.Repeat([]byte("PRIVMSG #big :0123456789abcdefghijklmnopqrstuvwxyz\r\n"), 20000)
	go func() { _, _ = c.Write(big) }()
	s.waitPlain(t, string(big))

	s.do(func() {
		if err := s.e.write(big); err != nil {
			t.Error(err)
		}
	})
	got := make([]byte, len(big))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("client read %d bytes, %v", len(got), err)
	}
}

// TestTLSEngineWriteBeforeEstablished: output written while the handshake
// runs (a notice on connect) is held and sent once it ends.
func TestTLSEngineWriteBeforeEstablished(t *testing.T) {
	fx := newTLSFixture(t)
	s, addr := serveTLS(t, fx.server, 5*time.Second, false)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	var st tlsState
	s.do(func() {
		st = s.e.state()
		_ = s.e.write([]byte("NOTICE * :*** hello\r\n"))
	})
	if st != tlsHandshaking {
		t.Fatalf("state %d before any ClientHello", st)
	}
	c := tls.Client(raw, fx.client)
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(c, buf, len("NOTICE * :*** hello\r\n"))
	if err != nil || string(buf[:n]) != "NOTICE * :*** hello\r\n" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
}

func TestTLSEngineClientCertificate(t *testing.T) {
	fx := newTLSFixture(t)
	s, addr := serveTLS(t, fx.server, 5*time.Second, false)
	clientCert := testCert(t, "alice")
	ccfg := fx.client.Clone()
	ccfg.Certificates = []tls.Certificate{clientCert}
	c, err := tls.Dial("tcp", addr, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write([]byte("CAP LS\r\n"))
	s.waitPlain(t, "CAP LS\r\n")
	sum := sha256.Sum256(clientCert.Certificate[0])
	var fp string
	var cs tls.ConnectionState
	s.do(func() { fp, cs = s.e.certFP(), s.e.connState() })
	if fp != hex.EncodeToString(sum[:]) || len(fp) != 64 {
		t.Errorf("fingerprint %q, want %x", fp, sum)
	}
	if len(cs.PeerCertificates) != 1 || cs.PeerCertificates[0].Subject.CommonName != "alice" {
		t.Errorf("peer certificates %v", cs.PeerCertificates)
	}
}

func TestTLSEngineGarbage(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"IRC instead of TLS", []byte("NICK alice\r\nUSER a 0 * :Alice\r\n")},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"SSLv2 hello", []byte{0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15}},
		{"handshake record of garbage", append([]byte{0x16, 0x03, 0x01, 0x00, 0x20}, bytes.Repeat([]byte{0xee}, 32)...)},
		{"oversized record", []byte{0x16, 0x03, 0x01, 0xff, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newTLSFixture(t)
			s, addr := serveTLS(t, fx.server, 10*time.Second, false)
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			start := time.Now()
			_, _ = raw.Write(tc.in)
			err = s.waitErr(t)
			if err == nil || !strings.HasPrefix(err.Error(), "tls handshake:") || errors.Is(err, errTLSHandshakeTimeout) {
				t.Fatalf("error %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the garbage waited for the timeout", d)
			}
			// The connection was closed by the server.
			_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(raw); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				t.Errorf("reading after the failure: %v", err)
			}
		})
	}
}

// TestTLSEngineHandshakeTimeout: a client that starts a handshake and never
// finishes it (slowloris over TLS) is cut at the timeout, and the
// handshake goroutine ends.
func TestTLSEngineHandshakeTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(c net.Conn)
	}{
		{"silent", func(net.Conn) {}},
		{"half a ClientHello", func(c net.Conn) {
			_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newTLSFixture(t)
			s, addr := serveTLS(t, fx.server, 300*time.Millisecond, false)
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			tc.send(raw)
			start := time.Now()
			if err := s.waitErr(t); !errors.Is(err, errTLSHandshakeTimeout) {
				t.Fatalf("error %v, want the handshake timeout", err)
			}
			if d := time.Since(start); d < 200*time.Millisecond {
				t.Errorf("cut after %v, before the timeout", d)
			}
			select {
			case <-s.e.hsDone:
			case <-time.After(5 * time.Second):
				t.Fatal("handshake goroutine still running")
			}
		})
	}
}

// TestTLSEngineCloseDuringHandshake: the connection closing (client gone,
// server shutdown) stops the handshake goroutine at once.
func TestTLSEngineCloseDuringHandshake(t *testing.T) {
	fx := newTLSFixture(t)
	e := newTLSEngine(fx.server, time.Hour, nil, nil, func() {})
	e.feed([]byte{0x16, 0x03, 0x01})
	e.closeNotify()
	select {
	case <-e.hsDone:
	case <-time.After(5 * time.Second):
		t.Fatal("handshake goroutine still running after closeNotify")
	}
	if st := e.state(); st != tlsFailed || !errors.Is(e.failure(), errTLSClosed) {
		t.Fatalf("state %d, %v", st, e.failure())
	}
	if _, err := e.readPlain(nil); err == nil {
		t.Fatal("readPlain after close succeeded")
	}
	if err := e.write([]byte("x")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

// pipeEngine returns an engine whose handshake with a crypto/tls client
// over net.Pipe has been pumped by hand, as a loop would, and the client.
// Nothing runs after it returns: the caller drives both ends.
func pipeEngine(tb testing.TB) (*tlsEngine, *tls.Conn) {
	tb.Helper()
	fx := newTLSFixture(tb)
	cli, srv := net.Pipe()
	tb.Cleanup(func() { cli.Close(); srv.Close() })
	woke := make(chan struct{}, 1)
	e := newTLSEngine(fx.server, 5*time.Second, nil, nil, func() {
		select {
		case woke <- struct{}{}:
		default:
		}
	})
	tb.Cleanup(e.closeNotify)
	hsErr := make(chan error, 1)
	c := tls.Client(cli, fx.client)
	go func() { hsErr <- c.Handshake() }()
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		buf := make([]byte, 4096)
		for {
			n, err := srv.Read(buf)
			if err != nil {
				return
			}
			e.feed(buf[:n])
		}
	}()
	for e.state() == tlsHandshaking {
		select {
		case <-woke:
		case <-time.After(5 * time.Second):
			tb.Fatal("handshake stuck")
		}
		if out := e.takeOutput(nil); len(out) > 0 {
			if _, err := srv.Write(out); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := <-hsErr; err != nil || e.state() != tlsEstablished {
		tb.Fatalf("handshake: %v, %v", err, e.failure())
	}
	_ = e.takeOutput(nil) // session tickets, if any
	// Stop the feeding goroutine: from here the caller owns both ends.
	srv.Close()
	<-fed
	return e, c
}

// TestTLSEnginePending: a peer that stops reading leaves ciphertext in the
// engine (or, once taken, in the socket); pending tells SendQ how much.
func TestTLSEnginePending(t *testing.T) {
	e, _ := pipeEngine(t)
	// The client reads nothing from here on.
	line := []byte(":alice!a@h PRIVMSG #c :" + strings.Repeat("x", 80) + "\r\n")
	before := e.pending()
	for range 1000 {
		if err := e.write(line); err != nil {
			t.Fatal(err)
		}
	}
	held := e.pending() - before
	if held < 1000*len(line) || held > 1000*(len(line)+64) {
		t.Fatalf("pending grew by %d for %d bytes of plaintext", held, 1000*len(line))
	}
	out := e.takeOutput(nil)
	if len(out) != held+before || e.pending() != 0 {
		t.Fatalf("took %d bytes, %d still pending", len(out), e.pending())
	}
	// Plaintext held during a handshake counts too.
	fx := newTLSFixture(t)
	e2 := newTLSEngine(fx.server, 5*time.Second, nil, nil, func() {})
	defer e2.closeNotify()
	_ = e2.write(line)
	if e2.pending() != len(line) {
		t.Fatalf("pending during the handshake: %d", e2.pending())
	}
}

// TestTLSEngineSteadyStateAllocs: once established, encrypting a flush and
// taking its ciphertext allocates nothing of the engine's.
func TestTLSEngineSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	e, _ := pipeEngine(t)
	line := []byte(":alice!alice@127.0.0.1 PRIVMSG #laird :the quick brown fox jumps over the lazy dog\r\n")
	out := make([]byte, 0, 4096)
	if allocs := testing.AllocsPerRun(200, func() {
		if err := e.write(line); err != nil {
			t.Fatal(err)
		}
		out = e.takeOutput(out[:0])
	}); allocs != 0 {
		t.Errorf("%v allocations per flush", allocs)
	}
}

// BenchmarkTLSEngineFlush is the loop's cost of one flush of one line to a
// TLS connection: encrypt into a record, take the ciphertext.
func BenchmarkTLSEngineFlush(b *testing.B) {
	e, _ := pipeEngine(b)
	line := []byte(":alice!alice@127.0.0.1 PRIVMSG #laird :the quick brown fox jumps over the lazy dog\r\n")
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if err := e.write(line); err != nil {
			b.Fatal(err)
		}
		out = e.takeOutput(out[:0])
	}
}

// TestTLSEngineIdleBuffers: a session that has moved large reads and
// writes and gone idle holds no large buffer of its own.
func TestTLSEngineIdleBuffers(t *testing.T) {
	fx := newTLSFixture(t)
	s, addr := serveTLS(t, fx.server, 5*time.Second, false)
	c, err := tls.Dial("tcp", addr, fx.client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	big := bytes.Repeat([]byte("x"), 256<<10)
	_, _ = c.Write(big)
	s.waitPlain(t, string(big))
	// The socket reads of up to 64 KiB went through the input buffer;
	// now a large write goes through the output buffer (the loop takes it
	// after the task).
	var inCap, outCap, peak int
	s.do(func() {
		_ = s.e.write(big)
		peak = cap(s.e.mem.out)
	})
	s.do(func() { inCap, outCap = cap(s.e.mem.in), cap(s.e.mem.out) })
	if peak < len(big) || inCap != 0 || outCap > memConnKeep {
		t.Errorf("output peaked at %d bytes; idle buffers: in %d, out %d bytes", peak, inCap, outCap)
	}
	if _, err := io.ReadFull(c, make([]byte, len(big))); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer collects a process's output for polling.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls out until it contains s.
func waitFor(t *testing.T, out *syncBuffer, s string) {
	t.Helper()
	waitForCount(t, out, s, 1)
}

// waitForCount polls out until it contains s n times.
func waitForCount(t *testing.T, out *syncBuffer, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", s, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// opensslClient starts `openssl s_client` against addr in its interactive
// mode, where lines "R", "k" and "K" renegotiate or update keys. It skips
// the test when openssl is missing, except under CI, which installs it.
func opensslClient(t *testing.T, addr string, args ...string) (io.WriteCloser, *syncBuffer) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is missing (.ci/run installs it)")
		}
		t.Skip("openssl not installed")
	}
	cmd := exec.Command(bin, append([]string{"s_client", "-connect", addr, "-servername", "localhost"}, args...)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return stdin, out
}

// TestTLSEngineRenegotiation: a TLS 1.2 client asking to renegotiate gets an
// alert and the session ends; nothing it sent before is lost.
func TestTLSEngineRenegotiation(t *testing.T) {
	fx := newTLSFixture(t)
	s, addr := serveTLS(t, fx.server, 5*time.Second, false)
	stdin, out := opensslClient(t, addr, "-tls1_2")
	_, _ = io.WriteString(stdin, "PING before\n")
	s.waitPlain(t, "PING before\n")
	_, _ = io.WriteString(stdin, "R\n")
	waitFor(t, out, "RENEGOTIATING")
	err := s.waitErr(t)
	if err == nil || !strings.Contains(err.Error(), "unexpected handshake message") {
		t.Fatalf("after a renegotiation attempt: %v", err)
	}
	waitFor(t, out, "alert unexpected message")
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(s.plain) != "PING before\n" {
		t.Errorf("plaintext %q", s.plain)
	}
}

// TestTLSEngineKeyUpdate: TLS 1.3 key updates from the client, with and
// without a request for ours, keep the session working both ways.
func TestTLSEngineKeyUpdate(t *testing.T) {
	fx := newTLSFixture(t)
	s, addr := serveTLS(t, fx.server, 5*time.Second, false)
	stdin, out := opensslClient(t, addr, "-tls1_3", "-msg")
	_, _ = io.WriteString(stdin, "PING one\n")
	s.waitPlain(t, "PING one\n")
	// K: update and request ours; the reply is written on the loop.
	_, _ = io.WriteString(stdin, "K\n")
	waitFor(t, out, "KEYUPDATE")
	_, _ = io.WriteString(stdin, "PING two\n")
	s.waitPlain(t, "PING one\nPING two\n")
	s.do(func() { _ = s.e.write([]byte("PONG after-K\r\n")) })
	waitFor(t, out, "PONG after-K")
	// openssl -msg shows the KeyUpdate the engine sent back.
	if !strings.Contains(out.String(), "<<< TLS 1.3, Handshake [length 0005], KeyUpdate") {
		t.Errorf("no KeyUpdate from the server in:\n%s", out)
	}
	// k: update without a request. (openssl takes a command from a whole
	// read of its stdin, so the next line waits for it to be done.)
	_, _ = io.WriteString(stdin, "k\n")
	waitForCount(t, out, "KEYUPDATE", 2)
	_, _ = io.WriteString(stdin, "PING three\n")
	s.waitPlain(t, "PING one\nPING two\nPING three\n")
	s.do(func() { _ = s.e.write([]byte("PONG after-k\r\n")) })
	waitFor(t, out, "PONG after-k")
}
