package loop

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"laird/perf"
)

// The descriptor budget. gnet (v2.9.7, acceptor_unix.go) treats any accept
// error but EAGAIN, EINTR, ECONNRESET and ECONNABORTED as fatal: at EMFILE
// its engine stops and every client is dropped (issue 15: 1,100
// connections under a limit of 1,024 ended the server). laird listens with
// SO_REUSEPORT, one listener per loop, and each loop accepts one
// connection per readiness event and judges it in OnOpen synchronously, so
// at most one accepted, unjudged descriptor per loop exists. Closing new
// connections in OnOpen while the open ones would eat into a reserve keeps
// accept from ever meeting EMFILE, provided everything else the process
// opens fits in the reserve: the store (its open files are bounded by
// StoreFiles), the metrics listener and its connections (the caller bounds
// them), logs, the accepts in flight. Nothing already connected is
// dropped.

// FDBudget divides the open-files limit between client connections and
// everything else. The zero value imposes no bound (unit tests).
type FDBudget struct {
	// Soft and Hard are RLIMIT_NOFILE as measured.
	Soft, Hard uint64
	// Reserve is what is kept for everything but client connections;
	// StoreFiles (included in it) is what the store may keep open.
	Reserve    int
	StoreFiles int
	// MaxConns is the number of client connections held at most.
	MaxConns int
}

// The reserve, in descriptors.
const (
	// fdFixed covers stdin/out/err, logs, the store's files outside its
	// table cache (WAL, MANIFEST, OPTIONS, LOCK, directories, compaction
	// outputs), the metrics listener and the connections it is allowed
	// (MetricsConns), an alert webhook, /proc reads of the process
	// collector, and slack.
	fdFixed = 64
	// fdPerLoop: each loop's epoll and eventfd descriptors, one listener (each further one adds one),
	// and the one accepted descriptor it may be judging.
	fdPerLoop = 4
	// Pebble's file cache never holds fewer than 64 tables and it counts
	// 10 more files outside it; 1,000 is its default.
	storeFilesMin = 80
	storeFilesMax = 1000
	// minConns: below this many client connections the limit is a
	// misconfiguration worth refusing to start over.
	minConns = 64
)

// MetricsConns bounds the metrics listener's concurrent connections; they
// live in the reserve.
const MetricsConns = 16

// NewFDBudget divides a limit of open files for a server with the given
// number of loops (0: one per CPU, as Config.Loops). The store gets a
// sixteenth of the limit, within [80, 1000].
func NewFDBudget(limit uint64, loops, listeners int) (FDBudget, error) {
	if loops <= 0 {
		loops = min(runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}
	n := int(min(limit, math.MaxInt32))
	b := FDBudget{Soft: limit, Hard: limit}
	b.StoreFiles = min(max(n/16, storeFilesMin), storeFilesMax)
	b.Reserve = fdFixed + (fdPerLoop+max(listeners, 1)-1)*loops + b.StoreFiles
	b.MaxConns = n - b.Reserve
	if b.MaxConns < minConns {
		return b, fmt.Errorf("loop: open-files limit %d is too low: %d are reserved for the store and the listeners, leaving %d connections (raise it with ulimit -n, LimitNOFILE= or prlimit)",
			limit, b.Reserve, max(b.MaxConns, 0))
	}
	return b, nil
}

// MeasureFDBudget reads RLIMIT_NOFILE and divides its soft limit. Go's
// runtime (since 1.19) has already raised the soft limit to the hard one
// at start; if something left it lower, it is raised here (a no-op
// otherwise). Log both numbers: the soft one is what the budget uses.
func MeasureFDBudget(loops, listeners int) (FDBudget, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return FDBudget{}, fmt.Errorf("loop: read the open-files limit: %w", err)
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			rl = raised
		}
	}
	b, err := NewFDBudget(rl.Cur, loops, listeners)
	b.Soft, b.Hard = rl.Cur, rl.Max
	return b, err
}

// fdGate applies the budget in OnOpen and counts its refusals.
type fdGate struct {
	maxConns int64
	// emergency: an accepted descriptor numbered this high means at most
	// this few free below the limit (Linux hands out the lowest free
	// number), whatever the counts say; refuse.
	emergency int
	refused   atomic.Uint64
	lastLog   atomic.Int64 // Unix ns of the last refusal logged
	counter   *perf.Counter
}

func (g *fdGate) init(b FDBudget, reg *perf.Registry) error {
	if b.MaxConns > 0 {
		g.maxConns = int64(b.MaxConns)
		g.emergency = int(min(b.Soft, math.MaxInt32)) - b.Reserve/4
	}
	if reg == nil {
		return nil
	}
	v, err := reg.NewCounterVec("laird_connections_refused_total", "New connections refused before admission, by reason (descriptors: the open-files limit is near).", "reason")
	if err != nil {
		return err
	}
	g.counter = v.With("descriptors") // exported from the start, at zero
	return reg.NewGaugeFunc("laird_connections_max", "Client connections the open-files budget allows (0: unbounded).",
		func() float64 { return float64(g.maxConns) })
}

// fdRefusal is the ERROR line a connection refused for the budget gets.
const fdRefusal = "Server is full; try again later"

// fdFull reports whether gc must be refused to keep the reserve; on the
// accepting loop.
func (s *Server) fdFull(gc gnet.Conn, now time.Time) bool {
	g := &s.fds
	if g.maxConns == 0 {
		return false
	}
	var open int64
	n := int(s.nloops.Load())
	for i := 0; i < n; i++ {
		open += s.loops[i].Load().stats.open.Load()
	}
	if open < g.maxConns && gc.Fd() < g.emergency {
		return false
	}
	total := g.refused.Add(1)
	if g.counter != nil {
		g.counter.Inc()
	}
	if last := g.lastLog.Load(); now.UnixNano()-last > int64(10*time.Second) && g.lastLog.CompareAndSwap(last, now.UnixNano()) {
		s.log.Warn("refusing connections: open descriptors near the limit", "open_connections", open,
			"max_connections", g.maxConns, "fd", gc.Fd(), "refused_total", total)
	}
	return true
}
