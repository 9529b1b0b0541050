package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
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

	stats    Stats
	started  chan struct{}
	stopping atomic.Bool
}

// Stats are the network side's counters, safe to read from any goroutine.
type Stats struct {
	accepted      atomic.Uint64
	open          atomic.Int64
	linesIn       atomic.Uint64
	bytesIn       atomic.Uint64
	bytesOut      atomic.Uint64
	slowConsumers atomic.Uint64
	floods        atomic.Uint64
	refused       atomic.Uint64
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	Accepted, LinesIn, BytesIn, BytesOut, SlowConsumers, Floods uint64
	Open                                                        int64
}

// New returns a Server; SetChat must be called before Serve.
func New(cfg Config, log *slog.Logger) *Server {
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log, loops: make([]atomic.Pointer[eventLoop], cfg.Loops), started: make(chan struct{})}
	s.recs = make([]*perf.Recorder, cfg.Loops)
	if cfg.Perf != nil {
		for i := range s.recs {
			s.recs[i] = cfg.Perf.NewRecorder(perf.KindLoop, fmt.Sprintf("loop%d", i))
			s.recs[i].Prepare(perf.Fanout)
		}
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

// Stats returns a snapshot of the counters.
func (s *Server) Stats() StatsSnapshot {
	return StatsSnapshot{
		Accepted: s.stats.accepted.Load(), LinesIn: s.stats.linesIn.Load(),
		BytesIn: s.stats.bytesIn.Load(), BytesOut: s.stats.bytesOut.Load(),
		SlowConsumers: s.stats.slowConsumers.Load(), Floods: s.stats.floods.Load(),
		Open: s.stats.open.Load(),
	}
}

// Serve runs the engine until Shutdown; it blocks.
func (s *Server) Serve() error {
	if s.chat == nil {
		return errors.New("loop: Serve without SetChat")
	}
	err := gnet.Run(s, "tcp://"+s.cfg.Listen,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithReusePort(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{s.log}),
	)
	if err != nil {
		return fmt.Errorf("loop: serve %s: %w", s.cfg.Listen, err)
	}
	return nil
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
// the engine.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.stopping.CompareAndSwap(false, true) {
		return nil
	}
	var wg sync.WaitGroup
	for i := range s.loops {
		el := s.loops[i].Load()
		if el == nil {
			continue
		}
		wg.Add(1)
		err := s.Run(el.id, func() {
			defer wg.Done()
			for c := range el.conns {
				c.Close("Server shutting down")
			}
		})
		if err != nil {
			wg.Done()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Give the loops a moment to write the ERROR lines before the engine
	// closes the sockets.
	time.Sleep(50 * time.Millisecond)
	return s.eng.Stop(ctx)
}

// Count implements chat.Loops.
func (s *Server) Count() int { return len(s.loops) }

// Run implements chat.Loops.
func (s *Server) Run(id int, fn func()) error {
	el := s.loops[id].Load()
	if el == nil {
		return fmt.Errorf("loop: no event loop %d", id)
	}
	return el.gel.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		el.flushDirty()
		el.flip()
		return nil
	}))
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
	el := &eventLoop{id: n, gel: gel, srv: s, conns: make(map[*conn]struct{}), rec: s.recs[n]}
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
	// Admission first: a refused connection costs one ERROR line and no
	// per-connection state.
	if reason := s.chat.Admit(ip, now); reason != "" {
		s.stats.refused.Add(1)
		return []byte("ERROR :Closing Link: " + ip.String() + " (" + reason + ")\r\n"), gnet.Close
	}
	c := &conn{srv: s, gc: gc, el: el, opened: now, lastRead: now, ip: ip}
	c.client = s.chat.Connect(c, ip, now)
	gc.SetContext(c)
	el.conns[c] = struct{}{}
	s.stats.accepted.Add(1)
	s.stats.open.Add(1)
	if s.cfg.Perf != nil {
		s.cfg.Perf.Std.Connections.With("tcp").Inc()
	}
	return nil, gnet.None
}

// OnTraffic implements gnet.EventHandler.
func (s *Server) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	c.el.clock = time.Now()
	c.lastRead = c.el.clock
	c.awaitingPong = false
	n := gc.InboundBuffered()
	s.stats.bytesIn.Add(uint64(n))
	if c.el.rec != nil {
		c.el.rec.Add(perf.BytesIn, uint64(n))
	}
	c.process()
	c.el.flushDirty()
	c.el.flip()
	return gnet.None
}

// OnClose implements gnet.EventHandler.
func (s *Server) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok || c.closed {
		return gnet.None
	}
	c.closed = true
	delete(c.el.conns, c)
	s.stats.open.Add(-1)
	if s.cfg.Perf != nil {
		s.cfg.Perf.Std.Connections.With("tcp").Dec()
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
	c.el.flushDirty()
	return gnet.None
}

// OnTick implements gnet.EventHandler; it runs on one loop and schedules a
// timer pass on every loop.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	if s.stopping.Load() {
		return s.cfg.TickInterval, gnet.None
	}
	n := int(s.nloops.Load())
	for i := 0; i < n; i++ {
		el := s.loops[i].Load()
		_ = s.Run(el.id, el.tick)
	}
	return s.cfg.TickInterval, gnet.None
}

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

func (s *Server) slowConsumer() {
	s.stats.slowConsumers.Add(1)
	if s.cfg.Perf != nil {
		s.cfg.Perf.Std.SlowConsumers.Inc()
	}
}
