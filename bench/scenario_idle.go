package bench

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// IdleConfig sizes the idle scenario: Clients registered in channels of Room members,
// left alone for Settle (the server finishes what the registrations started: a garbage
// collection, a store flush) and then held for Hold, the measured phase, while they only
// answer PING.
type IdleConfig struct {
	Clients  int
	Room     int
	Settle   time.Duration
	Hold     time.Duration
	Parallel int
}

func (c *IdleConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Clients, "idle.clients", c.Clients, "idle: registered clients held")
	fs.IntVar(&c.Room, "idle.room", c.Room, "idle: members per channel")
	fs.DurationVar(&c.Settle, "idle.settle", c.Settle, "idle: wait after setting up, before the measured hold")
	fs.DurationVar(&c.Hold, "idle.hold", c.Hold, "idle: how long the clients stay idle (measured)")
	fs.IntVar(&c.Parallel, "idle.parallel", c.Parallel, "idle: registrations in flight while setting up")
}

type idleScenario struct{ cfg IdleConfig }

func (s *idleScenario) Name() string         { return "idle" }
func (s *idleScenario) LatencyLabel() string { return "" }

func (s *idleScenario) Params() map[string]any {
	return map[string]any{"clients": s.cfg.Clients, "room": s.cfg.Room, "settle_s": s.cfg.Settle.Seconds(), "hold_s": s.cfg.Hold.Seconds()}
}

func (s *idleScenario) Figures() []FigureSpec {
	return []FigureSpec{
		{Name: "server_rss_per_client_bytes", Unit: "B", Better: LowerIsBetter, Floor: 128, NeedsPID: true},
		{Name: "server_idle_cpu_pct", Unit: "%", Better: LowerIsBetter, Threshold: 0.5, Floor: 1, NeedsPID: true},
	}
}

func (s *idleScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	m := &meter{pid: t.PID}
	clients, err := setupRooms(ctx, t, m, names{tag: runTag()}, cfg.Clients, cfg.Room, cfg.Parallel)
	if err != nil {
		return nil, fmt.Errorf("idle: %w", err)
	}
	defer closeAll(clients)
	p := m.begin("settle")
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	m.end(p)
	p = m.begin("hold")
	select {
	case <-time.After(cfg.Hold):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	hold := m.end(p)
	lost := 0
	for _, c := range clients {
		select {
		case <-c.Done():
			lost++
		default:
		}
	}
	res := &RunResult{Phases: m.phases, Figures: map[string]float64{}}
	if lost > 0 {
		return nil, fmt.Errorf("idle: server dropped %d of %d idle clients", lost, len(clients))
	}
	if hold.ServerStatOK && m.phases[0].ServerStatOK {
		grown := hold.RSSAfter - m.phases[0].RSSBefore
		res.Figures["server_rss_per_client_bytes"] = float64(grown) / float64(cfg.Clients)
		res.Figures["server_idle_cpu_pct"] = 100 * hold.ServerCPUMs / hold.WallMs
	}
	return res, nil
}

// setupRooms registers n clients and joins client i to channel i/room, recording the two
// phases "connect" and "join" in m.
func setupRooms(ctx context.Context, t Target, m *meter, nm names, n, room, parallel int) ([]*Client, error) {
	if n <= 0 || room <= 0 {
		return nil, fmt.Errorf("clients and room must be positive")
	}
	p := m.begin("connect")
	clients, err := connectAll(ctx, t, nm, n, parallel, nil, nil)
	m.end(p)
	if err != nil {
		return nil, err
	}
	p = m.begin("join")
	err = joinAll(ctx, clients, func(i int) string { return nm.channel(i / room) }, parallel)
	m.end(p)
	if err != nil {
		closeAll(clients)
		return nil, err
	}
	t.log().Debug("clients ready", "clients", n, "room", room)
	return clients, nil
}
