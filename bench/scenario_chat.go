package bench

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ChatConfig sizes the chat scenario: Clients in rooms of Room members, each sending Rate
// messages per second for Duration, open loop. Pacers goroutines share the sending.
type ChatConfig struct {
	Clients  int
	Room     int
	Rate     float64
	Duration time.Duration
	Pacers   int
	Payload  int
	Parallel int
}

func (c *ChatConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Clients, "chat.clients", c.Clients, "chat: clients")
	fs.IntVar(&c.Room, "chat.room", c.Room, "chat: members per room")
	fs.Float64Var(&c.Rate, "chat.rate", c.Rate, "chat: messages per second per client")
	fs.DurationVar(&c.Duration, "chat.duration", c.Duration, "chat: sending time")
	fs.IntVar(&c.Pacers, "chat.pacers", c.Pacers, "chat: sending goroutines")
	fs.IntVar(&c.Payload, "chat.payload", c.Payload, "chat: filler bytes per message")
	fs.IntVar(&c.Parallel, "chat.parallel", c.Parallel, "chat: registrations in flight while setting up")
}

type chatScenario struct{ cfg ChatConfig }

func (s *chatScenario) Name() string         { return "chat" }
func (s *chatScenario) LatencyLabel() string { return "send to delivery, paced open loop" }

func (s *chatScenario) Params() map[string]any {
	c := s.cfg
	return map[string]any{"clients": c.Clients, "room": c.Room, "rate": c.Rate,
		"duration_s": c.Duration.Seconds(), "payload": c.Payload}
}

func (s *chatScenario) Figures() []FigureSpec {
	return []FigureSpec{
		{Name: "latency_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.2},
		{Name: "latency_p50_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.25, Floor: 0.05},
		{Name: "latency_p90_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.3, Floor: 0.1},
		{Name: "latency_p999_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 1.0, Floor: 1},
		{Name: "latency_max_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 2.0, Floor: 5},
		{Name: "deliveries_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.05},
		{Name: "completeness", Unit: "", Better: HigherIsBetter, Threshold: 0.001, MustReach: 1},
		{Name: "server_cpu_us_per_delivery", Unit: "us", Better: LowerIsBetter, Threshold: 0.25, Floor: 0.05, NeedsPID: true},
		{Name: "open_loop_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.5},
		{Name: "open_loop_p999_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 1.0, Floor: 1},
		{Name: "generator_lag_p99_ms", Unit: "ms", Better: LowerIsBetter, Info: true},
	}
}

func (s *chatScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	if cfg.Clients < 2 || cfg.Room < 2 || cfg.Rate <= 0 || cfg.Duration <= 0 {
		return nil, fmt.Errorf("chat: need clients>=2, room>=2, rate>0, duration>0")
	}
	m := &meter{pid: t.PID}
	nm := names{tag: runTag()}
	clients, err := setupRooms(ctx, t, m, nm, cfg.Clients, cfg.Room, cfg.Parallel)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	defer closeAll(clients)
	r, err := paceChat(ctx, m, "chat", clients, cfg, nm)
	if err != nil {
		return nil, err
	}
	h := r.rec.Merged()
	res := &RunResult{Phases: m.phases, Series: r.series, latency: h, Figures: map[string]float64{
		"latency_p50_ms":       ms(h.ValueAtQuantile(50)),
		"latency_p90_ms":       ms(h.ValueAtQuantile(90)),
		"latency_p99_ms":       ms(h.ValueAtQuantile(99)),
		"latency_p999_ms":      ms(h.ValueAtQuantile(99.9)),
		"latency_max_ms":       ms(h.Max()),
		"deliveries_per_s":     float64(r.delivered) / cfg.Duration.Seconds(),
		"completeness":         ratio(r.delivered, r.expected),
		"open_loop_p99_ms":     ms(r.open.Merged().ValueAtQuantile(99)),
		"open_loop_p999_ms":    ms(r.open.Merged().ValueAtQuantile(99.9)),
		"generator_lag_p99_ms": ms(r.lag.Merged().ValueAtQuantile(99)),
	}}
	if cpu, ok := serverCPU(r.phase); ok && r.delivered > 0 {
		res.Figures["server_cpu_us_per_delivery"] = float64(cpu) / 1e3 / float64(r.delivered)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("sent %d messages, delivered %d of %d", r.sent, r.delivered, r.expected))
	if !r.drained {
		return res, ErrIncomplete
	}
	return res, nil
}

// chatRound is what one paced round of chat measured.
type chatRound struct {
	// rec measures the server: from the write to the socket to the read. open adds how
	// late the write was against the schedule: the latency an open-loop client would see,
	// which also exposes a sender held back by a server that stopped reading. lag is the
	// generator's lateness alone.
	rec, open, lag            *recorder
	sent, expected, delivered int64
	drained                   bool // every expected delivery arrived
	phase                     Phase
	series                    []Sample
}

// paceChat makes every client of clients (client i in room i/cfg.Room, joined) send
// cfg.Rate messages per second to its room for cfg.Duration, open loop, measured as
// phase name of m, then waits (10 s at most) for the deliveries. It replaces the
// clients' handlers.
func paceChat(ctx context.Context, m *meter, name string, clients []*Client, cfg ChatConfig, nm names) (*chatRound, error) {
	pacers := max(1, min(cfg.Pacers, len(clients)))
	// recipients of a message from client i: the others in its room (the last room may be short).
	recipients := func(i int) int64 {
		room := i / cfg.Room
		return int64(min(len(clients), (room+1)*cfg.Room)-room*cfg.Room) - 1
	}
	r := &chatRound{rec: newRecorder(16), open: newRecorder(16), lag: newRecorder(pacers)}
	for _, c := range clients {
		c.SetHandler(func(c *Client, l *Line) {
			if !l.Is("PRIVMSG") {
				return
			}
			if mk, err := ParseMarker(l.Last()); err == nil {
				d := now() - mk.SentNs
				r.rec.Record(c.ID, d)
				r.open.Record(c.ID, d+mk.LagNs)
			}
		})
	}

	p := m.begin(name)
	smp := startSampler(100*time.Millisecond, r.rec.Count)
	var expected, sent atomic.Int64
	start := now() + int64(10*time.Millisecond)
	errs := make(chan error, pacers)
	var wg sync.WaitGroup
	for g := 0; g < pacers; g++ {
		wg.Go(func() {
			var owned []*Client
			for i := g; i < len(clients); i += pacers {
				owned = append(owned, clients[i])
			}
			// The pacer's clients take turns, so it sends every step; pacers are staggered.
			step := int64(float64(time.Second) / (cfg.Rate * float64(len(owned))))
			offset := step * int64(g) / int64(pacers)
			total := int(cfg.Duration.Seconds() * cfg.Rate * float64(len(owned)))
			buf := make([]byte, 0, 128+cfg.Payload)
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for k := 0; k < total; k++ {
				due := start + offset + int64(k)*step
				if d := due - now(); d > 0 {
					timer.Reset(time.Duration(d))
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				c := owned[k%len(owned)]
				// The lag behind the schedule travels with the message, so the open-loop
				// latency shows a late generator instead of hiding it (no coordinated omission).
				at := now()
				late := max(0, at-due)
				buf = AppendMarker(buf[:0], nm.channel(c.ID/cfg.Room), Marker{Sender: c.ID, Seq: k, SentNs: at, LagNs: late}, cfg.Payload)
				r.lag.Record(g, late)
				if err := c.Send(buf); err != nil {
					errs <- fmt.Errorf("%s: client %d: %w", name, c.ID, err)
					return
				}
				sent.Add(1)
				expected.Add(recipients(c.ID))
			}
		})
	}
	wg.Wait()
	r.drained = waitUntil(ctx, time.Now().Add(10*time.Second), 5*time.Millisecond, func() bool {
		return r.rec.Count() >= expected.Load()
	})
	r.series = smp.Stop()
	r.phase = m.end(p)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	r.sent, r.expected, r.delivered = sent.Load(), expected.Load(), r.rec.Count()
	return r, nil
}
