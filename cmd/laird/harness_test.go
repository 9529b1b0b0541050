package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testServer is a real laird instance on a loopback port.
type testServer struct {
	t    *testing.T
	addr string
	in   *instance
}

// freeAddr returns a loopback address with a port nobody is listening on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// testConfig is the default configuration adjusted for tests: a fresh port
// and data directory, no metrics listener, no disk reserve, and the limits
// that loopback test clients would trip (flood control, the account
// registration quota) off; the tests of those limits turn them back on.
func testConfig(t *testing.T) Config {
	t.Helper()
	cfg := defaultConfig()
	cfg.Server.Listen = freeAddr(t)
	cfg.Server.DataDir = t.TempDir()
	cfg.Metrics.Listen = "off"
	cfg.Store.DiskReserveMB = -1
	cfg.Guard.Flood.Exempt = []string{"127.0.0.0/8", "::1"}
	cfg.Guard.Quotas.Registrations.Limit = 0
	return cfg
}

// startTestServer runs laird in-process with the default configuration,
// adjusted by mutate, on a fresh port and data directory.
func startTestServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := testConfig(t)
	if mutate != nil {
		mutate(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("LAIRD_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	in, err := start(cfg, log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ts := &testServer{t: t, addr: cfg.Server.Listen, in: in}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = in.stop(ctx)
	})
	return ts
}

// ircClient is a raw-TCP IRC client for tests.
type ircClient struct {
	t     *testing.T
	name  string
	conn  net.Conn
	lines chan string
	done  chan struct{}
	log   []string // everything received, for failure messages
}

func (ts *testServer) dial(name string) *ircClient {
	ts.t.Helper()
	return dialWith(ts.t, ts.addr, name, nil)
}

func dialWith(t *testing.T, addr, name string, dialer *net.Dialer) *ircClient {
	t.Helper()
	if dialer == nil {
		dialer = &net.Dialer{Timeout: 5 * time.Second}
	}
	conn, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	c := &ircClient{t: t, name: name, conn: conn, lines: make(chan string, 4096), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.lines)
		r := bufio.NewReaderSize(conn, 64<<10)
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

func (c *ircClient) send(format string, args ...any) {
	c.t.Helper()
	line := fmt.Sprintf(format, args...)
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("%s: send %q: %v", c.name, line, err)
	}
}

func (c *ircClient) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

const expectTimeout = 5 * time.Second

// expect reads lines until one matches re (a regular expression), skipping
// others, and returns it with its submatches.
func (c *ircClient) expect(re string) []string {
	c.t.Helper()
	return c.expectWithin(re, expectTimeout)
}

func (c *ircClient) expectWithin(re string, d time.Duration) []string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	c.expectMatchWithin(func(line string) bool {
		m = rx.FindStringSubmatch(line)
		return m != nil
	}, "/"+re+"/", d)
	return m
}

// expectMatch is expect with a predicate; desc names it in failures.
func (c *ircClient) expectMatch(match func(string) bool, desc string) string {
	c.t.Helper()
	return c.expectMatchWithin(match, desc, expectTimeout)
}

// expectMatchWithin reads lines until one satisfies match, skipping others.
func (c *ircClient) expectMatchWithin(match func(string) bool, desc string, d time.Duration) string {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("%s: connection closed while waiting for %s; got:\n%s", c.name, desc, strings.Join(c.log, "\n"))
			}
			c.log = append(c.log, line)
			if match(line) {
				return line
			}
		case <-deadline:
			c.t.Fatalf("%s: no line matching %s within %v; got:\n%s", c.name, desc, d, strings.Join(c.log, "\n"))
		}
	}
}

// expectNoneMatch asserts that no line satisfying match arrives within d.
func (c *ircClient) expectNoneMatch(match func(string) bool, d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return
			}
			c.log = append(c.log, line)
			if match(line) {
				c.t.Fatalf("%s: unexpected line %q", c.name, line)
			}
		case <-deadline:
			return
		}
	}
}

// expectNone asserts that no line matching re arrives within d.
func (c *ircClient) expectNone(re string, d time.Duration) {
	c.t.Helper()
	c.expectNoneMatch(regexp.MustCompile(re).MatchString, d)
}

// expectClosed waits for the server to close the connection.
func (c *ircClient) expectClosed() {
	c.t.Helper()
	deadline := time.After(expectTimeout)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return
			}
			c.log = append(c.log, line)
		case <-deadline:
			c.t.Fatalf("%s: connection still open", c.name)
		}
	}
}

// register performs NICK/USER and waits for the end of the welcome burst.
func (c *ircClient) register(nick string) {
	c.t.Helper()
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s's realname", nick, nick)
	c.expect(` 001 ` + regexp.QuoteMeta(nick) + ` `)
	c.expect(` (376|422) `)
}

// sync sends a PING and waits for its PONG, so that everything the server
// sent before is in c.log.
func (c *ircClient) sync() (token string) {
	c.t.Helper()
	tok := fmt.Sprintf("sync%d", time.Now().UnixNano())
	c.send("PING %s", tok)
	c.expect(`PONG \S+ :?` + tok + `$`)
	return tok
}
