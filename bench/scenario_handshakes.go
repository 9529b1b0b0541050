package bench

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HandshakesConfig sizes the handshakes scenario: the chat load of Chat (plain TCP),
// measured for Chat.Duration without, then for as long with, Rate new TLS connections
// per second arriving at the server's TLS listener, each completing a full handshake and
// closing. At most InFlight handshakes are outstanding at once.
type HandshakesConfig struct {
	Chat     ChatConfig
	Rate     float64
	InFlight int
}

func (c *HandshakesConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Chat.Clients, "handshakes.clients", c.Chat.Clients, "handshakes: chatting clients")
	fs.DurationVar(&c.Chat.Duration, "handshakes.duration", c.Chat.Duration, "handshakes: length of each of the two measured phases")
	fs.Float64Var(&c.Rate, "handshakes.rate", c.Rate, "handshakes: TLS handshakes per second during the second phase")
}

type handshakesScenario struct{ cfg HandshakesConfig }

func (s *handshakesScenario) Name() string { return "handshakes" }
func (s *handshakesScenario) LatencyLabel() string {
	return "send to delivery, paced open loop, while TLS handshakes arrive"
}

func (s *handshakesScenario) Params() map[string]any {
	c := s.cfg
	return map[string]any{"clients": c.Chat.Clients, "room": c.Chat.Room, "rate": c.Chat.Rate,
		"duration_s": c.Chat.Duration.Seconds(), "handshakes_per_s": c.Rate, "in_flight": c.InFlight}
}

func (s *handshakesScenario) Figures() []FigureSpec {
	return []FigureSpec{
		// The goal: handshakes never delay other clients' messages (ratio 1).
		{Name: "p99_ratio", Unit: "x", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.3},
		{Name: "quiet_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.2},
		{Name: "handshakes_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.2},
		{Name: "quiet_p50_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.25, Floor: 0.05},
		{Name: "handshakes_p50_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.25, Floor: 0.05},
		{Name: "handshakes_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.1},
		{Name: "handshake_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 1},
		{Name: "completeness", Unit: "", Better: HigherIsBetter, Threshold: 0.001, MustReach: 1},
		{Name: "server_cpu_us_per_handshake", Unit: "us", Better: LowerIsBetter, Threshold: 0.3, Floor: 50, NeedsPID: true},
		{Name: "handshake_failures", Unit: "", Better: LowerIsBetter, Info: true},
	}
}

func (s *handshakesScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	tlsAddr := t.Transports[TransportTLS]
	if tlsAddr == "" {
		return nil, &SkipError{Reason: "the server has no TLS listener known to the benchmark"}
	}
	if cfg.Rate <= 0 || cfg.Chat.Clients < 2 || cfg.Chat.Room < 2 || cfg.Chat.Rate <= 0 || cfg.Chat.Duration <= 0 {
		return nil, fmt.Errorf("handshakes: need rate>0, clients>=2, room>=2, chat rate>0, duration>0")
	}
	m := &meter{pid: t.PID}
	nm := names{tag: runTag()}
	clients, err := setupRooms(ctx, t, m, nm, cfg.Chat.Clients, cfg.Chat.Room, cfg.Chat.Parallel)
	if err != nil {
		return nil, fmt.Errorf("handshakes: %w", err)
	}
	defer closeAll(clients)

	quiet, err := paceChat(ctx, m, "quiet", clients, cfg.Chat, nm)
	if err != nil {
		return nil, err
	}
	hs := startHandshakes(ctx, tlsAddr, cfg.Rate, max(1, cfg.InFlight))
	busy, err := paceChat(ctx, m, "handshakes", clients, cfg.Chat, nm)
	done, failed, hsHist, hsWall := hs.stop()
	if err != nil {
		return nil, err
	}

	qh, bh := quiet.rec.Merged(), busy.rec.Merged()
	res := &RunResult{Phases: m.phases, Series: busy.series, latency: bh, Figures: map[string]float64{
		"quiet_p99_ms":       ms(qh.ValueAtQuantile(99)),
		"quiet_p50_ms":       ms(qh.ValueAtQuantile(50)),
		"handshakes_p99_ms":  ms(bh.ValueAtQuantile(99)),
		"handshakes_p50_ms":  ms(bh.ValueAtQuantile(50)),
		"handshakes_per_s":   float64(done) / hsWall.Seconds(),
		"handshake_p99_ms":   ms(hsHist.ValueAtQuantile(99)),
		"completeness":       ratio(quiet.delivered+busy.delivered, quiet.expected+busy.expected),
		"handshake_failures": float64(failed),
	}}
	if q := qh.ValueAtQuantile(99); q > 0 {
		res.Figures["p99_ratio"] = float64(bh.ValueAtQuantile(99)) / float64(q)
	}
	// The handshakes' CPU is what the busy phase took beyond the quiet one, which carried
	// the same chat load.
	if qc, ok := serverCPU(quiet.phase); ok && done > 0 {
		bc, _ := serverCPU(busy.phase)
		res.Figures["server_cpu_us_per_handshake"] = max(0, float64(bc-qc)/1e3/float64(done))
	}
	res.Notes = append(res.Notes,
		fmt.Sprintf("quiet: sent %d messages, delivered %d of %d", quiet.sent, quiet.delivered, quiet.expected),
		fmt.Sprintf("with handshakes: sent %d messages, delivered %d of %d; %d handshakes, %d failed", busy.sent, busy.delivered, busy.expected, done, failed))
	if !quiet.drained || !busy.drained {
		return res, ErrIncomplete
	}
	return res, nil
}

// handshakeLoad opens TLS connections at a steady rate, each doing a full handshake
// (no session resumption) and closing at once.
type handshakeLoad struct {
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	done, failed atomic.Int64
	rec          *recorder
	start        time.Time
}

func startHandshakes(ctx context.Context, addr string, rate float64, inFlight int) *handshakeLoad {
	ctx, cancel := context.WithCancel(ctx)
	h := &handshakeLoad{cancel: cancel, rec: newRecorder(8), start: time.Now()}
	slots := make(chan struct{}, inFlight)
	conf := benchTLSConfig()
	step := time.Duration(float64(time.Second) / rate)
	h.wg.Go(func() {
		tick := time.NewTicker(step)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			select {
			case slots <- struct{}{}:
			default:
				h.failed.Add(1) // InFlight outstanding: the server is not keeping up
				continue
			}
			h.wg.Go(func() {
				defer func() { <-slots }()
				if d, err := handshakeOnce(ctx, addr, conf); err != nil {
					if ctx.Err() == nil {
						h.failed.Add(1)
					}
				} else {
					h.done.Add(1)
					h.rec.Record(i, int64(d))
				}
			})
		}
	})
	return h
}

// stop ends the load and returns the handshakes completed and failed, their durations
// and the time the load ran.
func (h *handshakeLoad) stop() (done, failed int64, hist *hdrhistogram.Histogram, wall time.Duration) {
	wall = time.Since(h.start)
	h.cancel()
	h.wg.Wait()
	return h.done.Load(), h.failed.Load(), h.rec.Merged(), wall
}

// handshakeOnce dials addr, completes a TLS handshake and closes without TIME_WAIT.
func handshakeOnce(ctx context.Context, addr string, conf *tls.Config) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	d := net.Dialer{Deadline: deadline}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	tc := nc.(*net.TCPConn)
	defer func() { _ = tc.SetLinger(0); _ = tc.Close() }()
	_ = tc.SetDeadline(deadline)
	c := tls.Client(tc, conf)
	if err := c.HandshakeContext(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
