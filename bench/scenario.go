package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Target is the server a scenario runs against.
type Target struct {
	Addr string // host:port, always a loopback address in this project
	// Transport is how clients reach Addr; the zero value is plain TCP. The transport
	// scenario sets it to run the connect and fanout scenarios over TLS and WebSocket.
	Transport Transport
	// Transports lists the server's other listeners (host:port) by transport name
	// (TransportTLS, TransportWS); nil when it has none, as for the peers.
	Transports map[string]string
	// PID of the server process, for CPU and RSS from /proc; 0 when unknown, in which case
	// figures that need it are left out.
	PID int
	Log *slog.Logger
}

func (t Target) log() *slog.Logger {
	if t.Log != nil {
		return t.Log
	}
	return slog.Default()
}

// Better says which direction of a figure is an improvement.
type Better string

// Directions of improvement.
const (
	HigherIsBetter Better = "higher"
	LowerIsBetter  Better = "lower"
)

// FigureSpec describes one number a scenario reports and how to judge a change in it.
type FigureSpec struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Better Better `json:"better"`
	// Threshold is the smallest relative change (0.10 = 10 %) that may count; 0 means the
	// comparison rules' default.
	//
	// On a shared machine the rates and latencies of a CPU-bound phase move with whatever
	// else runs, so their thresholds are wide (30-50 %, more for tails); server CPU per
	// operation and memory per client survive that noise and keep tight ones (10-25 %).
	Threshold float64 `json:"threshold,omitempty"`
	// Floor is the smallest absolute change, in Unit, that may count. It keeps figures
	// near zero (idle CPU, sub-millisecond latencies) from flapping on one clock tick.
	Floor float64 `json:"floor,omitempty"`
	// MustReach, when positive, is a requirement on every run (completeness must be 1):
	// a run below it is a regression whatever the baseline and the noise.
	MustReach float64 `json:"must_reach,omitempty"`
	// NeedsPID marks figures that exist only when the server's PID is known.
	NeedsPID bool `json:"-"`
	// Info marks figures that describe the run (for example the generator's own lag)
	// rather than the server; they are shown but never judged.
	Info bool `json:"info,omitempty"`
}

// RunResult is what one run of a scenario measured.
type RunResult struct {
	Figures map[string]float64 `json:"figures"`
	Phases  []Phase            `json:"phases"`
	Series  []Sample           `json:"series,omitempty"`
	Notes   []string           `json:"notes,omitempty"`
	// latency is merged across runs into the scenario's CDF; not stored per run.
	latency *hdrhistogram.Histogram
}

// Scenario is one kind of load. Run must be bounded in time and message count by its
// configuration, send only to t.Addr, and close every connection it opened before it
// returns.
type Scenario interface {
	Name() string
	// Figures lists what Run reports, headline first.
	Figures() []FigureSpec
	// Params returns the sizes in force, for the result file.
	Params() map[string]any
	// LatencyLabel names what the latency histogram measures ("" when none).
	LatencyLabel() string
	Run(ctx context.Context, t Target) (*RunResult, error)
}

// SkipError means the server lacks what a scenario needs; the scenario is reported as
// skipped with Reason, not as failed.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// IsSkip reports whether err is (or wraps) a SkipError, returning its reason.
func IsSkip(err error) (string, bool) {
	var s *SkipError
	if errors.As(err, &s) {
		return s.Reason, true
	}
	return "", false
}

// ErrIncomplete is returned when a scenario's bounded wait ended before every expected
// reply arrived; the run's figures are still reported (completeness below 1).
var ErrIncomplete = errors.New("bench: not every expected message arrived in time")

// Registry of scenario names, in suite order.
var scenarioNames = []string{"connect", "idle", "fanout", "chat", "history", "offline", "disconnect", "transport", "handshakes"}

// ScenarioNames lists every scenario in the order the suite runs them.
func ScenarioNames() []string { return append([]string(nil), scenarioNames...) }

// Sizes holds every scenario's configuration. Its zero value is not useful: start from
// DefaultSizes, which is sized for a 2-core machine and a suite of a few minutes.
type Sizes struct {
	Connect    ConnectConfig
	Idle       IdleConfig
	Fanout     FanoutConfig
	Chat       ChatConfig
	History    HistoryConfig
	Offline    OfflineConfig
	Disconnect DisconnectConfig
	Transport  TransportConfig
	Handshakes HandshakesConfig
}

// DefaultSizes returns the default suite's sizes.
func DefaultSizes() Sizes {
	return Sizes{
		Connect:    ConnectConfig{Clients: 1000, Parallel: 64, Room: 10},
		Idle:       IdleConfig{Clients: 5000, Room: 10, Settle: 5 * time.Second, Hold: 10 * time.Second, Parallel: 500},
		Fanout:     FanoutConfig{Channels: 10, Members: 100, Senders: 1, Messages: 2000, Window: 32, Payload: 64, Duration: 15 * time.Second, Parallel: 500},
		Chat:       ChatConfig{Clients: 1000, Room: 10, Rate: 2, Duration: 10 * time.Second, Pacers: 4, Payload: 64, Parallel: 500},
		History:    HistoryConfig{Channels: 10, Prefill: 300, Limit: 100, Queriers: 8, WriteRate: 20, Duration: 5 * time.Second, MaxQueries: 200_000},
		Offline:    OfflineConfig{Conversations: 20, PerConversation: 50, Logins: 5},
		Disconnect: DisconnectConfig{Clients: 5000, Room: 10, Parallel: 500, Settle: 10 * time.Second},
		Transport:  DefaultTransportConfig(),
		Handshakes: HandshakesConfig{Rate: 200, InFlight: 256,
			Chat: ChatConfig{Clients: 500, Room: 10, Rate: 2, Duration: 5 * time.Second, Pacers: 4, Payload: 64, Parallel: 100}},
	}
}

// RegisterFlags binds every size to a flag named scenario.size (for example
// -fanout.channels), with the current values as defaults.
func (s *Sizes) RegisterFlags(fs *flag.FlagSet) {
	s.Connect.registerFlags(fs)
	s.Idle.registerFlags(fs)
	s.Fanout.registerFlags(fs)
	s.Chat.registerFlags(fs)
	s.History.registerFlags(fs)
	s.Offline.registerFlags(fs)
	s.Disconnect.registerFlags(fs)
	s.Transport.registerFlags(fs)
	s.Handshakes.registerFlags(fs)
}

// Scenario returns the scenario called name, configured from s.
func (s *Sizes) Scenario(name string) (Scenario, error) {
	switch name {
	case "connect":
		return &connectScenario{cfg: s.Connect}, nil
	case "idle":
		return &idleScenario{cfg: s.Idle}, nil
	case "fanout":
		return &fanoutScenario{cfg: s.Fanout}, nil
	case "chat":
		return &chatScenario{cfg: s.Chat}, nil
	case "history":
		return &historyScenario{cfg: s.History}, nil
	case "offline":
		return &offlineScenario{cfg: s.Offline}, nil
	case "disconnect":
		return &disconnectScenario{cfg: s.Disconnect}, nil
	case "transport":
		return &transportScenario{cfg: s.Transport}, nil
	case "handshakes":
		return &handshakesScenario{cfg: s.Handshakes}, nil
	}
	return nil, fmt.Errorf("bench: unknown scenario %q (have %v)", name, scenarioNames)
}

// serverCPU returns a phase's server CPU time; false without a PID, so that figures
// derived from it are left out rather than reported as zero.
func serverCPU(ph Phase) (time.Duration, bool) {
	if !ph.ServerStatOK {
		return 0, false
	}
	return time.Duration(ph.ServerCPUMs * 1e6), true
}

// waitUntil polls cond every step until it holds or the deadline passes.
func waitUntil(ctx context.Context, deadline time.Time, step time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return cond()
		}
		select {
		case <-time.After(step):
		case <-ctx.Done():
		}
	}
}
