package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is reported when the server sent ERROR or closed the connection while a
// client was registering.
var ErrServerClosed = errors.New("bench: server closed the connection")

// Handler receives every line a registered client reads, except PING, which the reader
// answers itself. It runs on the client's reader goroutine; l is valid only during the call.
type Handler func(c *Client, l *Line)

// ClientConfig says how to register one client.
type ClientConfig struct {
	Addr string
	Nick string
	// Caps are requested when the server offers them (CAP LS 302). Empty means no
	// capability negotiation at all.
	Caps []string
	// Timeout bounds dialing plus registration. Default 30 s.
	Timeout time.Duration
	// Transport is how to reach Addr; the zero value is plain TCP.
	Transport Transport
}

// Client is one IRC connection. After Register returns, exactly one reader goroutine
// (started by Start) reads from it; any goroutine may call Send, which serialises writes.
type Client struct {
	ID   int
	Nick string
	// Dial001 is the time from starting to dial until 001 (RPL_WELCOME) arrived.
	Dial001 time.Duration
	// ISupport holds the RPL_ISUPPORT tokens seen before the end of the MOTD.
	ISupport map[string]string
	// Caps holds the capabilities the server acknowledged.
	Caps map[string]bool
	// Offered holds the capabilities the server listed in CAP LS.
	Offered map[string]string

	conn    net.Conn     // what lines are read from and written to (TCP, TLS or WebSocket)
	tcp     *net.TCPConn // the socket under conn
	br      *bufio.Reader
	wmu     sync.Mutex
	handler atomic.Pointer[Handler]
	done    chan struct{}
	readErr error // written by the reader before done is closed
	started atomic.Bool
}

// Register dials cfg.Addr and registers with NICK/USER, renaming on 433/436, answering
// PING, and negotiating cfg.Caps. It returns once the MOTD (or 422) has arrived, so
// ISupport is complete; the caller then calls Start.
func Register(ctx context.Context, id int, cfg ClientConfig) (*Client, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	start := time.Now()
	deadline := start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	nc, tc, err := cfg.Transport.dial(ctx, cfg.Addr, deadline)
	if err != nil {
		return nil, err
	}
	c := &Client{
		ID:       id,
		Nick:     cfg.Nick,
		ISupport: map[string]string{},
		Caps:     map[string]bool{},
		Offered:  map[string]string{},
		conn:     nc,
		tcp:      tc,
		br:       bufio.NewReaderSize(nc, 4096),
		done:     make(chan struct{}),
	}
	_ = tc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = tc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.register(cfg, start); err != nil {
		c.abort()
		return nil, fmt.Errorf("register %s: %w", cfg.Nick, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return c, nil
}

func (c *Client) register(cfg ClientConfig, start time.Time) error {
	var out []byte
	if len(cfg.Caps) > 0 {
		out = append(out, "CAP LS 302\r\n"...)
	}
	out = append(out, "NICK "+c.Nick+"\r\nUSER lb 0 * :laird-bench\r\n"...)
	if _, err := c.conn.Write(out); err != nil {
		return err
	}
	renames := 0
	welcomed := false
	var l Line
	for {
		raw, err := c.readLine()
		if err != nil {
			return err
		}
		if ParseLine(raw, &l) != nil {
			continue
		}
		switch {
		case l.Is("PING"):
			if err := c.Send(pong(&l)); err != nil {
				return err
			}
		case l.Is("ERROR"):
			return fmt.Errorf("%w: ERROR %s", ErrServerClosed, l.Last())
		case l.Is("CAP"):
			if err := c.negotiate(&l, cfg.Caps); err != nil {
				return err
			}
		case l.Is("433") || l.Is("436"):
			if welcomed {
				continue
			}
			renames++
			if renames > 10 {
				return fmt.Errorf("nick %s: 433 ten times", c.Nick)
			}
			c.Nick = renamed(c.Nick, renames)
			if err := c.Send([]byte("NICK " + c.Nick + "\r\n")); err != nil {
				return err
			}
		case l.Is("432"):
			return fmt.Errorf("nick %s refused: %s", c.Nick, l.Last())
		case l.Is("001"):
			welcomed = true
			c.Dial001 = time.Since(start)
			if p := l.Param(0); len(p) > 0 {
				c.Nick = string(p)
			}
		case l.Is("005"):
			for i := 1; i < l.NParams()-1; i++ {
				k, v, _ := strings.Cut(string(l.Param(i)), "=")
				c.ISupport[strings.ToUpper(k)] = v
			}
		case l.Is("376") || l.Is("422"):
			if welcomed {
				return nil
			}
		}
	}
}

// negotiate handles one CAP line during registration.
func (c *Client) negotiate(l *Line, want []string) error {
	sub := strings.ToUpper(string(l.Param(1)))
	switch sub {
	case "LS":
		for _, tok := range strings.Fields(string(l.Last())) {
			k, v, _ := strings.Cut(tok, "=")
			c.Offered[k] = v
		}
		if l.NParams() >= 4 && string(l.Param(2)) == "*" {
			return nil // more LS lines follow
		}
		var req []string
		for _, w := range want {
			if _, ok := c.Offered[w]; ok {
				req = append(req, w)
			}
		}
		if len(req) == 0 {
			return c.Send([]byte("CAP END\r\n"))
		}
		return c.Send([]byte("CAP REQ :" + strings.Join(req, " ") + "\r\nCAP END\r\n"))
	case "ACK":
		for _, tok := range strings.Fields(string(l.Last())) {
			if !strings.HasPrefix(tok, "-") {
				c.Caps[tok] = true
			}
		}
	}
	return nil
}

// renamed derives the n-th alternative nick, keeping it within 9 bytes when it was.
func renamed(nick string, n int) string {
	suffix := strconv.Itoa(n)
	if len(nick)+len(suffix) > 9 && len(nick) > len(suffix) {
		nick = nick[:max(1, 9-len(suffix))]
	}
	return nick + suffix
}

func pong(l *Line) []byte {
	return []byte("PONG :" + string(l.Last()) + "\r\n")
}

// readLine returns the next line; a line longer than the buffer is skipped whole.
func (c *Client) readLine() ([]byte, error) {
	for {
		raw, err := c.br.ReadSlice('\n')
		if err == nil {
			return raw, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = c.br.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
	}
}

// SetHandler replaces the handler; lines read after the swap go to h. nil drops lines.
func (c *Client) SetHandler(h Handler) {
	if h == nil {
		c.handler.Store(nil)
		return
	}
	c.handler.Store(&h)
}

// Start launches the reader goroutine. It answers PING and passes every other line to
// the current handler until the connection closes. Start may be called once.
func (c *Client) Start() {
	if !c.started.CompareAndSwap(false, true) {
		return
	}
	go c.readLoop()
}

func (c *Client) readLoop() {
	defer close(c.done)
	var l Line
	for {
		raw, err := c.readLine()
		if err != nil {
			c.readErr = err
			return
		}
		if ParseLine(raw, &l) != nil {
			continue
		}
		if l.Is("PING") {
			if err := c.Send(pong(&l)); err != nil {
				c.readErr = err
				return
			}
			continue
		}
		if h := c.handler.Load(); h != nil {
			(*h)(c, &l)
		}
	}
}

// Send writes b (one or more complete lines) to the server.
func (c *Client) Send(b []byte) error {
	c.wmu.Lock()
	_, err := c.conn.Write(b)
	c.wmu.Unlock()
	return err
}

// Done is closed when the reader goroutine has stopped (the connection ended).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is the error that stopped the reader; valid after Done is closed.
func (c *Client) Err() error {
	<-c.done
	return c.readErr
}

// Close drops the connection without TIME_WAIT (linger 0) and waits for the reader.
func (c *Client) Close() {
	c.abort()
	if c.started.Load() {
		<-c.done
	}
}

func (c *Client) abort() {
	_ = c.tcp.SetLinger(0)
	_ = c.conn.Close()
}
