package main

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helpers for the account, SASL and services tests.

// fastAccounts makes password hashing cheap for tests.
func fastAccounts(c *Config) {
	c.Accounts.BcryptCost = 4
}

// logCapture keeps the server's log records (message and attributes) so
// tests can assert that an error was logged or read a verification code.
type logCapture struct {
	mu    sync.Mutex
	lines []string
	next  slog.Handler
}

func (lc *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (lc *logCapture) Handle(ctx context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		sb.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	lc.mu.Lock()
	lc.lines = append(lc.lines, sb.String())
	lc.mu.Unlock()
	if lc.next.Enabled(ctx, r.Level) {
		return lc.next.Handle(ctx, r)
	}
	return nil
}

func (lc *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{lc: lc, attrs: attrs}
}

func (lc *logCapture) WithGroup(string) slog.Handler { return lc }

// attrHandler carries With() attributes into the capture.
type attrHandler struct {
	lc    *logCapture
	attrs []slog.Attr
}

func (h *attrHandler) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (h *attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(h.attrs...)
	return h.lc.Handle(ctx, r)
}
func (h *attrHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{lc: h.lc, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}
func (h *attrHandler) WithGroup(string) slog.Handler { return h }

// find waits until a log line matches re and returns its submatches.
func (lc *logCapture) find(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(expectTimeout)
	for time.Now().Before(deadline) {
		lc.mu.Lock()
		for _, l := range lc.lines {
			if m := rx.FindStringSubmatch(l); m != nil {
				lc.mu.Unlock()
				return m
			}
		}
		lc.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	t.Fatalf("no log line matching /%s/; log:\n%s", re, strings.Join(lc.lines, "\n"))
	return nil
}

// startCaptured is startTestServer with the log captured. cfg.Server.DataDir
// may be set by mutate to reuse a directory.
func startCaptured(t *testing.T, mutate func(*Config)) (*testServer, *logCapture) {
	t.Helper()
	cfg := testConfig(t)
	fastAccounts(&cfg)
	if mutate != nil {
		mutate(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("LAIRD_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	lc := &logCapture{next: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})}
	in, err := start(cfg, slog.New(lc))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ts := &testServer{t: t, addr: cfg.Server.Listen, in: in}
	t.Cleanup(func() { ts.stop() })
	return ts, lc
}

func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = ts.in.stop(ctx)
}

// connect dials and registers nick after negotiating caps.
func (ts *testServer) connect(nick string, caps ...string) *ircClient {
	ts.t.Helper()
	c := ts.dial(nick)
	if len(caps) > 0 {
		c.send("CAP LS 302")
		c.send("CAP REQ :%s", strings.Join(caps, " "))
		c.expect(`CAP \S+ ACK`)
		c.send("NICK %s", nick)
		c.send("USER %s 0 * :%s's realname", nick, nick)
		c.send("CAP END")
		c.expect(` 001 ` + regexp.QuoteMeta(nick) + ` `)
		c.expect(` (376|422) `)
		return c
	}
	c.register(nick)
	return c
}

// quit disconnects c and waits until the server has freed its nick.
func (c *ircClient) quit() {
	c.t.Helper()
	nick := ""
	for _, l := range c.log {
		if m := regexp.MustCompile(` 001 (\S+) `).FindStringSubmatch(l); m != nil {
			nick = m[1]
		}
	}
	c.send("QUIT")
	c.expectClosed()
	if nick == "" {
		return
	}
	// A QUIT frees the nick on its shard right after the connection
	// closes; wait for that.
	deadline := time.Now().Add(expectTimeout)
	for time.Now().Before(deadline) {
		p := dialWith(c.t, c.conn.RemoteAddr().String(), "probe", nil)
		p.send("NICK %s", nick)
		p.send("PING probe")
		line := p.expect(` 433 | PONG `)
		// The probe may hold the nick now: QUIT and wait for the close,
		// by which time its release is queued on the nick's shard ahead
		// of any later claim.
		p.send("QUIT")
		p.expectClosed()
		if !strings.Contains(line[0], " 433 ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("nick %s still in use after QUIT", nick)
}

// registerAccount connects nick, registers it as an account with REGISTER
// and returns the logged-in client.
func (ts *testServer) registerAccount(nick, password string, caps ...string) *ircClient {
	ts.t.Helper()
	c := ts.connect(nick, caps...)
	c.send("REGISTER * * %s", password)
	c.expect(`REGISTER SUCCESS ` + regexp.QuoteMeta(nick) + ` `)
	c.expect(` 900 ` + regexp.QuoteMeta(nick) + ` \S+ ` + regexp.QuoteMeta(nick) + ` `)
	return c
}

// capLS sends CAP LS 302 and returns the advertised capabilities of every
// reply line (the list continues over lines marked "*").
func (c *ircClient) capLS() string {
	c.t.Helper()
	c.send("CAP LS 302")
	var caps []string
	for {
		m := c.expect(`CAP \S+ LS (\* )?:?(.*)$`)
		caps = append(caps, m[2])
		if m[1] == "" {
			return strings.Join(caps, " ")
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// saslPlain authenticates a connected client with PLAIN and returns the
// reply numeric's line (900... or 904).
func (c *ircClient) saslPlain(account, password string) {
	c.t.Helper()
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE %s", b64("\x00"+account+"\x00"+password))
}

// scramClient is the client side of SCRAM-SHA-256, written for the tests
// from RFC 5802.
type scramClient struct {
	user, password string
	nonce          string
	firstBare      string
	authMessage    string
	saltedPassword []byte
}

func newScramClient(user, password string) *scramClient {
	nb := make([]byte, 18)
	rand.Read(nb)
	return &scramClient{user: user, password: password, nonce: base64.RawStdEncoding.EncodeToString(nb)}
}

func (sc *scramClient) first() string {
	name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(sc.user)
	sc.firstBare = "n=" + name + ",r=" + sc.nonce
	return "n,," + sc.firstBare
}

func scramHMAC(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// final answers the server-first-message.
func (sc *scramClient) final(serverFirst string) (string, error) {
	attrs := map[string]string{}
	for _, kv := range strings.Split(serverFirst, ",") {
		k, v, _ := strings.Cut(kv, "=")
		attrs[k] = v
	}
	if !strings.HasPrefix(attrs["r"], sc.nonce) {
		return "", fmt.Errorf("server nonce %q does not extend ours", attrs["r"])
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil {
		return "", err
	}
	var iter int
	fmt.Sscan(attrs["i"], &iter)
	sc.saltedPassword, err = pbkdf2.Key(sha256.New, sc.password, salt, iter, 32)
	if err != nil {
		return "", err
	}
	withoutProof := "c=" + b64("n,,") + ",r=" + attrs["r"]
	sc.authMessage = sc.firstBare + "," + serverFirst + "," + withoutProof
	clientKey := scramHMAC(sc.saltedPassword, "Client Key")
	stored := sha256.Sum256(clientKey)
	sig := scramHMAC(stored[:], sc.authMessage)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

// verify checks the server-final-message (mutual authentication).
func (sc *scramClient) verify(serverFinal string) bool {
	want := "v=" + base64.StdEncoding.EncodeToString(scramHMAC(scramHMAC(sc.saltedPassword, "Server Key"), sc.authMessage))
	return hmac.Equal([]byte(serverFinal), []byte(want))
}

// saslScram runs a SCRAM-SHA-256 exchange up to the client-final message;
// it reports the server's final line (an AUTHENTICATE with v= on success,
// or 904).
func (c *ircClient) saslScram(user, password string) (sc *scramClient, final string) {
	c.t.Helper()
	sc = newScramClient(user, password)
	c.send("AUTHENTICATE SCRAM-SHA-256")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE %s", b64(sc.first()))
	m := c.expect(`^AUTHENTICATE (\S+)$`)
	sf, err := base64.StdEncoding.DecodeString(m[1])
	if err != nil {
		c.t.Fatalf("server-first not base64: %q", m[1])
	}
	cf, err := sc.final(string(sf))
	if err != nil {
		c.t.Fatal(err)
	}
	c.send("AUTHENTICATE %s", b64(cf))
	line := c.expect(`^AUTHENTICATE \S+$| 904 `)
	return sc, line[0]
}
