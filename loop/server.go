package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"laird/chat"
	"laird/perf"
)

// Server is the gnet event handler and implements chat.Loops.
type Server struct {
	gnet.BuiltinEventEngine

	cfg  Config
	chat *chat.Server
	log  *slog.Logger
	eng  gnet.Engine

	loopsMu sync.Mutex
	loops   []atomic.Pointer[eventLoop]
	nloops  atomic.Int32
	recs    []*perf.Recorder // by loop id; nil entries without monitoring
	lns     []*listener      // what is served, in Config.Listeners' order
	lnErr   error            // a listener that could not be set up (Serve reports it)
	fds     fdGate           // the descriptor budget (fdbudget.go)

	started  chan struct{}
	stopped  chan struct{} // closed when the engine stopped (Serve returns)
	stopping atomic.Bool
	ticks    int // OnTick calls; the ticker goroutine only
}

// New returns a Server; SetChat must be called before Serve.
func New(cfg Config, log *slog.Logger) *Server {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log, loops: make([]atomic.Pointer[eventLoop], cfg.Loops),
		started: make(chan struct{}), stopped: make(chan struct{})}
	s.recs = make([]*perf.Recorder, cfg.Loops)
	if cfg.Perf != nil {
		for i := range s.recs {
			s.recs[i] = cfg.Perf.NewRecorder(perf.KindLoop, fmt.Sprintf("loop%d", i))
			s.recs[i].Prepare(perf.Fanout)
		}
	}
	for _, l := range cfg.Listeners {
		ln, err := newListener(l)
		if err != nil {
			s.lnErr = err
			continue
		}
		if cfg.Perf != nil {
			ln.conns = cfg.Perf.Std.Connections.With(ln.Transport())
		}
		s.lns = append(s.lns, ln)
	}
	if err := s.fds.init(cfg.FDs, cfg.Perf); err != nil {
		log.Error("descriptor budget metrics", "err", err)
	}
	return s
}

// Recorder implements chat.Loops.
func (s *Server) Recorder(id int) *perf.Recorder {
	if id < 0 || id >= len(s.recs) {
		return nil
	}
	return s.recs[id]
}

// SetChat connects the chat layer (which needs the Server as its Loops).
func (s *Server) SetChat(c *chat.Server) { s.chat = c }

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Serve runs the engine until Shutdown; it blocks.
func (s *Server) Serve() error {
	defer close(s.stopped)
	if s.chat == nil {
		return errors.New("loop: Serve without SetChat")
	}
	if s.lnErr != nil {
		return s.lnErr
	}
	addrs := make([]string, 0, len(s.lns))
	for _, ln := range s.lns {
		if err := ln.checkFree(); err != nil {
			return err
		}
		addrs = append(addrs, ln.gnetAddr())
	}
	err := gnet.Rotate(s, addrs,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithReusePort(true),
		// SO_REUSEADDR too: the sockets it accepts inherit it, so their
		// TIME_WAIT after a close does not make checkFree refuse a restart.
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{s.log}),
	)
	if err != nil {
		return fmt.Errorf("loop: serve %s: %w", strings.Join(addrs, " "), err)
	}
	return nil
}

// PrepareCertificates reads every TLS listener's certificate and key
// again; apply makes them the ones new handshakes use (connections already
// up keep theirs). When one pair fails to load, nothing is to apply and the
// error says which.
func (s *Server) PrepareCertificates() (apply func(), err error) {
	var loaded []*listener
	for _, ln := range s.lns {
		if !ln.TLS() {
			continue
		}
		fresh := &listener{Listener: ln.Listener}
		if err := fresh.loadCert(); err != nil {
			return nil, err
		}
		loaded = append(loaded, fresh)
	}
	return func() {
		i := 0
		for _, ln := range s.lns {
			if ln.TLS() {
				ln.cert.Store(loaded[i].cert.Load())
				i++
			}
		}
	}, nil
}

// listenerOf returns the listener that accepted gc.
func (s *Server) listenerOf(gc gnet.Conn) *listener {
	local := gc.LocalAddr()
	for _, ln := range s.lns {
		if ln.matches(local) {
			return ln
		}
	}
	return s.lns[0]
}

// Started is closed once the listener accepts connections.
func (s *Server) Started() <-chan struct{} { return s.started }

// OnBoot implements gnet.EventHandler.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	close(s.started)
	return gnet.None
}

// Shutdown tells every client the server is going away, flushes, and stops
// the engine. It returns once the event loops stopped.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.stopping.CompareAndSwap(false, true) {
		return nil
	}
	s.chat.BeginShutdown()
	var wg sync.WaitGroup
	for i := range s.loops {
		el := s.loops[i].Load()
		if el == nil {
			continue
		}
		wg.Add(1)
		el.runLater(func() {
			defer wg.Done()
			for c := range el.conns {
				c.Close("Server shutting down")
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// gnet's Stop polls for the end every 500 ms; the engine itself stops
	// at once, which is when Serve returns.
	errc := make(chan error, 1)
	go func() { errc <- s.eng.Stop(ctx) }()
	select {
	case <-s.stopped:
		return nil
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Count implements chat.Loops.
func (s *Server) Count() int { return len(s.loops) }

// Run implements chat.Loops.
func (s *Server) Run(id int, fn func()) error {
	el := s.loops[id].Load()
	if el == nil {
		return fmt.Errorf("loop: no event loop %d", id)
	}
	el.runLater(fn)
	return nil
}

// Post implements chat.Loops.
func (s *Server) Post(producer, id int, p chat.Parcel) bool {
	el := s.loops[id].Load()
	if el == nil || producer < 0 || producer >= maxProducers {
		// No such loop (not started yet, or gone): nothing will read it.
		p.Release()
		return true
	}
	wasEmpty, over := el.mailbox(producer).put(p, s.cfg.MailboxBytes)
	if wasEmpty {
		el.wake()
	}
	return !over
}

// WaitRoom implements chat.Loops.
func (s *Server) WaitRoom(producer, id int) {
	el := s.loops[id].Load()
	if el == nil || producer < 0 || producer >= maxProducers {
		return
	}
	el.mailbox(producer).waitRoom(s.cfg.MailboxBytes, s.stopped)
}

// loopFor returns the eventLoop for gel, creating it on first sight. It
// runs in OnOpen, on gel's own goroutine.
func (s *Server) loopFor(gel gnet.EventLoop) *eventLoop {
	n := int(s.nloops.Load())
	for i := 0; i < n; i++ {
		if el := s.loops[i].Load(); el.gel == gel {
			return el
		}
	}
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	n = int(s.nloops.Load())
	for i := 0; i < n; i++ {
		if el := s.loops[i].Load(); el.gel == gel {
			return el
		}
	}
	if n == len(s.loops) {
		// More gnet loops than configured: cannot happen with
		// WithNumEventLoop, but never index out of range.
		return s.loops[n-1].Load()
	}
	el := newEventLoop(s, n, gel)
	s.loops[n].Store(el)
	s.nloops.Store(int32(n + 1))
	return el
}

// OnOpen implements gnet.EventHandler.
func (s *Server) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	el := s.loopFor(gc.EventLoop())
	now := time.Now()
	el.clock = now
	ip := addrIP(gc.RemoteAddr())
	ln := s.listenerOf(gc)
	if s.fdFull(gc, now) {
		return s.refuse(el, ln, ip, fdRefusal)
	}
	if len(ln.proxies) > 0 {
		// The client is whoever the PROXY header names: admission waits
		// for it. Only the trusted proxies may connect at all.
		if !ln.trusted(ip) {
			el.stats.refused.Add(1)
			s.log.Info("connection refused: not a trusted proxy", "ip", ip.String(), "listener", ln.Address)
			return nil, gnet.Close
		}
	} else if reason := s.chat.Admit(ip, now); reason != "" {
		// Admission first: a refused connection costs one ERROR line and
		// no per-connection state.
		return s.refuse(el, ln, ip, reason)
	}
	if ln.TLS() && handshakes.Load() >= int64(s.cfg.MaxHandshakes) {
		el.stats.refused.Add(1)
		return nil, gnet.Close
	}
	c := &conn{srv: s, el: el, ln: ln, opened: now.UnixNano(), lastRead: now.UnixNano(), ip: ip}
	c.tcp.gc = gc
	gc.SetContext(c)
	el.conns[c] = struct{}{}
	el.stats.accepted.Add(1)
	el.stats.open.Add(1)
	if ln.conns != nil {
		ln.conns.Inc()
	}
	if len(ln.proxies) > 0 {
		c.proxyPending = true
		c.sink = &c.tcp
		return nil, gnet.None
	}
	c.start(now)
	return nil, gnet.None
}

// refuse answers a connection that is not admitted with one ERROR line
// (in clear: on a TLS or WebSocket listener the client cannot read it,
// and nothing more is spent on it) and closes it.
func (s *Server) refuse(el *eventLoop, ln *listener, ip netip.Addr, reason string) ([]byte, gnet.Action) {
	el.stats.refused.Add(1)
	if ln.TLS() || ln.WebSocket {
		return nil, gnet.Close
	}
	return []byte("ERROR :Closing Link: " + ip.String() + " (" + reason + ")\r\n"), gnet.Close
}

// testHookTraffic, when set by a test, runs at the start of every
// OnTraffic on the loop's goroutine.
var testHookTraffic atomic.Pointer[func(*conn)]

// OnTraffic implements gnet.EventHandler. Output goes out in the loop's
// next pass, with everything else of this wakeup.
func (s *Server) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	el := c.el
	if hook := testHookTraffic.Load(); hook != nil {
		(*hook)(c)
	}
	el.deliverMail()
	el.clock = time.Now()
	c.lastRead = el.clock.UnixNano()
	c.awaitingPong = false
	n := gc.InboundBuffered()
	el.stats.bytesIn.Add(uint64(n))
	if el.rec != nil {
		el.rec.Add(perf.BytesIn, uint64(n))
	}
	c.process()
	if len(el.dirty) > 0 {
		el.wake()
	}
	return gnet.None
}

// OnClose implements gnet.EventHandler.
func (s *Server) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok || c.closed {
		return gnet.None
	}
	c.closed = true
	el := c.el
	delete(el.conns, c)
	el.stats.open.Add(-1)
	if c.ln.conns != nil {
		c.ln.conns.Dec()
	}
	if c.client == nil { // closed before its PROXY header was read
		return gnet.None
	}
	reason := c.closeReason
	if reason == "" {
		reason = "Connection closed"
		if err != nil {
			reason = "Read error: " + errorText(err)
		}
	}
	s.chat.Disconnect(c.client, reason)
	s.chat.Release(c.ip)
	if len(el.dirty) > 0 {
		el.wake()
	}
	return gnet.None
}

// OnTick implements gnet.EventHandler; it runs on gnet's ticker goroutine
// and schedules a timer pass on every loop.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	if s.stopping.Load() {
		return s.cfg.TickInterval, gnet.None
	}
	s.ticks++
	scan := s.ticks%s.scanTicks() == 0
	n := int(s.nloops.Load())
	for i := 0; i < n; i++ {
		el := s.loops[i].Load()
		if scan || el.fineTicks.Load() {
			el.runLater(el.tick)
		}
	}
	return s.cfg.TickInterval, gnet.None
}

// scanTicks is how many ticks make the second between timeout scans.
func (s *Server) scanTicks() int { return int(max(1, time.Second/s.cfg.TickInterval)) }

func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.IPv4Unspecified()
}

func errorText(err error) string {
	var se interface{ Unwrap() error }
	for errors.As(err, &se) {
		inner := se.Unwrap()
		if inner == nil {
			break
		}
		err = inner
	}
	return err.Error()
}

func (s *Server) slowConsumer(el *eventLoop) {
	el.stats.slowConsumers.Add(1)
	if s.cfg.Perf != nil {
		s.cfg.Perf.Std.SlowConsumers.Inc()
	}
}
