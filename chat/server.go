package chat

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"laird/codec"
	"laird/guard"
	"laird/kv"
	"laird/perf"
)

// Server is the IRC state machine shared by all event loops.
type Server struct {
	cfg       Config
	name      string
	cm        *codec.Casemapping
	log       *slog.Logger
	loops     Loops
	shards    []*shard
	wg        sync.WaitGroup
	caps      []Cap
	saslMechs []string
	isupport  []string // 005 lines' tokens, pre-split into lines
	whowas    *whowasLog
	store     *kv.Store
	guardp    atomic.Pointer[guard.Guard] // replaced whole on reload (reload.go)
	perf      *perf.Registry
	cmdIDs    []perf.MetricID
	std       *perf.Std
	live      atomic.Pointer[Reloadable]
	rehash    func(by string) (RehashResult, error)
	perLoop   []loopState // by loop id; each owned by its loop

	// Counters for LUSERS; updated atomically from any goroutine.
	users    atomic.Int64 // registered clients
	unknown  atomic.Int64 // connections not yet registered
	opers    atomic.Int64
	channels atomic.Int64
	maxUsers atomic.Int64
	monitors atomic.Int64 // MONITOR entries of all clients

	// shuttingDown is set when the server stops: connections are closing
	// all at once, and nobody remains to hear of each other's QUIT.
	shuttingDown atomic.Bool

	// One goroutine at a time moves renamed channels' history (rename.go).
	historyMover, historyMoveAgain atomic.Bool

	decoyOnce sync.Once // decoyHash
	decoy     string
}

// ErrConfig wraps configuration errors returned by New.
var ErrConfig = errors.New("chat: invalid configuration")

// New builds a Server; Start must be called before clients connect.
func New(cfg Config, loops Loops, log *slog.Logger) (*Server, error) {
	cfg.setDefaults()
	if cfg.Shards <= 0 {
		cfg.Shards = min(runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if log == nil {
		log = slog.Default()
	}
	cm, _ := codec.CasemappingByName(cfg.Casemapping)
	s := &Server{
		cfg:   cfg,
		name:  cfg.ServerName,
		cm:    cm,
		log:   log,
		loops: loops,
		caps: []Cap{CapCapNotify, CapMessageTags, CapServerTime, CapEchoMessage, CapBatch, CapPreAway,
			CapLabeledResponse, CapAccountTag, CapAwayNotify, CapExtendedJoin, CapMultiPrefix,
			CapUserhostInNames, CapInviteNotify, CapChghost, CapSetname, CapAccountNotify, CapExtendedMonitor,
			CapStandardReplies, CapNoImplicitNames, CapNoImplicitNamesDraft, CapMultiline,
			CapMetadata, CapMetadata3, CapChannelRename},
		whowas: newWhowasLog(cfg.WhowasLength),
	}
	s.isupport = s.buildISupport()
	s.perLoop = make([]loopState, loops.Count())
	s.live.Store(&Reloadable{MOTD: cfg.MOTD, Opers: cfg.Opers, Password: cfg.Password, Accounts: cfg.Accounts, InviteTTL: cfg.InviteTTL, STS: cfg.STS})
	for i := 0; i < cfg.Shards; i++ {
		s.shards = append(s.shards, newShard(s, i))
	}
	return s, nil
}

// Start runs the shard goroutines.
func (s *Server) Start() {
	s.loadRegistered()
	s.loadAlwaysOn()
	s.loadInvites()
	for _, sh := range s.shards {
		s.wg.Add(1)
		go sh.run(&s.wg)
	}
}

// Stop ends the shard goroutines after their queued work. Call it after the
// event loops stopped.
func (s *Server) Stop() {
	for _, sh := range s.shards {
		sh.mu.Lock()
		already := sh.closed
		sh.closed = true
		sh.mu.Unlock()
		if !already {
			close(sh.stop)
		}
	}
	s.wg.Wait()
}

// Name returns the server name.
func (s *Server) Name() string { return s.name }

// Casemapping returns the server's casemapping.
func (s *Server) Casemapping() *codec.Casemapping { return s.cm }

// Stats is a snapshot of the LUSERS counters.
type Stats struct {
	Users, Unknown, Opers, Channels int64
	ShardQueues                     []int
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	st := Stats{Users: s.users.Load(), Unknown: s.unknown.Load(), Opers: s.opers.Load(), Channels: s.channels.Load()}
	for _, sh := range s.shards {
		st.ShardQueues = append(st.ShardQueues, sh.queueLen())
	}
	return st
}

// loopState is chat's state per event loop, touched only by that loop.
type loopState struct {
	waiting []*Client // clients holding a command back for a full shard
	// msgs are parse scratch for HandleLine; depth of them are in use (a
	// handler may, rarely, lead to another client's line being handled).
	msgs  []*codec.Message
	depth int
}

func (s *Server) loopState(id int) *loopState { return &s.perLoop[id] }

// Connect creates the Client for a new connection on event loop loopID;
// called on that loop.
func (s *Server) Connect(conn Conn, loopID int, ip netip.Addr, now time.Time) *Client {
	c := &Client{srv: s, conn: conn, loop: loopID, ip: ip, signon: now.Unix(), lastActive: now.UnixNano()}
	if s.perf != nil {
		c.rec = s.loops.Recorder(loopID)
	}
	if s.guard() != nil {
		c.budget = guard.NewBudget(s.guard().Flood.For(ip, false))
	}
	host := ip.String()
	if ip.Is6() && len(host) > 0 && host[0] == ':' {
		host = "0" + host // a leading ':' would break the prefix syntax
	}
	u := newUser(s, c, (&Identity{Nick: "*", User: "*", Host: host}).withPrefix())
	u.activeAt.Store(now.Unix())
	c.u.Store(u)
	s.unknown.Add(1)
	return c
}

// BeginShutdown tells chat that every connection is about to close:
// disconnects then skip telling the others (QUIT, MONITOR, WHOWAS), which
// would be work for nobody. Any goroutine.
func (s *Server) BeginShutdown() { s.shuttingDown.Store(true) }

// Disconnect tears the client down after its connection closed; called on
// its loop. reason is shown to the channels it shared.
func (s *Server) Disconnect(c *Client, reason string) {
	if s.shuttingDown.Load() {
		if c.Registered() {
			s.users.Add(-1)
		} else {
			s.unknown.Add(-1)
		}
		c.reg = 0
		c.live.Store(false)
		return
	}
	if c.quitting {
		reason = c.quitReason()
	}
	registered := c.Registered()
	if registered {
		s.users.Add(-1)
		if c.Identity().Modes&UModeOper != 0 {
			s.opers.Add(-1)
		}
	} else {
		s.unknown.Add(-1)
	}
	c.reg = 0
	c.live.Store(false)
	monitorClear(s, c)
	s.sessionClosed(c, reason, registered)
}
