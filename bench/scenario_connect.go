package bench

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// ConnectConfig sizes the connect scenario: Clients register with at most Parallel
// registrations in flight, then join channels of Room members.
type ConnectConfig struct {
	Clients  int
	Parallel int
	Room     int
}

func (c *ConnectConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Clients, "connect.clients", c.Clients, "connect: clients that register")
	fs.IntVar(&c.Parallel, "connect.parallel", c.Parallel, "connect: registrations in flight")
	fs.IntVar(&c.Room, "connect.room", c.Room, "connect: members per channel joined after registering")
}

type connectScenario struct{ cfg ConnectConfig }

func (s *connectScenario) Name() string { return "connect" }

func (s *connectScenario) LatencyLabel() string { return "dial to 001" }

func (s *connectScenario) Params() map[string]any {
	return map[string]any{"clients": s.cfg.Clients, "parallel": s.cfg.Parallel, "room": s.cfg.Room}
}

func (s *connectScenario) Figures() []FigureSpec {
	// The CPU figure is two 10 ms ticks of /proc accounting spread over the clients; a
	// change smaller than that is the clock, not the server.
	cpuFloor := 20_000 / float64(max(1, s.cfg.Clients))
	return []FigureSpec{
		{Name: "registrations_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.4},
		{Name: "t001_p50_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.5},
		{Name: "t001_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 2},
		{Name: "joins_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.4},
		{Name: "server_cpu_us_per_registration", Unit: "us", Better: LowerIsBetter, Floor: cpuFloor, NeedsPID: true},
	}
}

func (s *connectScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	if cfg.Clients <= 0 || cfg.Room <= 0 {
		return nil, fmt.Errorf("connect: clients and room must be positive")
	}
	nm := names{tag: runTag()}
	m := &meter{pid: t.PID}
	rec := newRecorder(8)
	p := m.begin("register")
	clients, err := connectAll(ctx, t, nm, cfg.Clients, cfg.Parallel, nil, func(c *Client) {
		rec.Record(c.ID, int64(c.Dial001))
	})
	reg := m.end(p)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer closeAll(clients)
	p = m.begin("join")
	err = joinAll(ctx, clients, func(i int) string { return nm.channel(i / cfg.Room) }, cfg.Parallel)
	join := m.end(p)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	h := rec.Merged()
	res := &RunResult{Phases: m.phases, latency: h, Figures: map[string]float64{
		"registrations_per_s": float64(cfg.Clients) / (reg.WallMs / 1e3),
		"t001_p50_ms":         ms(h.ValueAtQuantile(50)),
		"t001_p99_ms":         ms(h.ValueAtQuantile(99)),
		"joins_per_s":         float64(cfg.Clients) / (join.WallMs / 1e3),
	}}
	if cpu, ok := serverCPU(reg); ok {
		res.Figures["server_cpu_us_per_registration"] = float64(cpu/time.Nanosecond) / 1e3 / float64(cfg.Clients)
	}
	return res, nil
}
