package bench

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"
)

// DisconnectConfig sizes the disconnect scenario: Clients in channels of Room members all
// send QUIT at once; Settle bounds the wait for the server to close them and go quiet.
type DisconnectConfig struct {
	Clients  int
	Room     int
	Parallel int
	Settle   time.Duration
}

func (c *DisconnectConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Clients, "disconnect.clients", c.Clients, "disconnect: clients that quit at once")
	fs.IntVar(&c.Room, "disconnect.room", c.Room, "disconnect: members per channel")
	fs.IntVar(&c.Parallel, "disconnect.parallel", c.Parallel, "disconnect: registrations in flight while setting up")
	fs.DurationVar(&c.Settle, "disconnect.settle", c.Settle, "disconnect: bound on waiting for the server to close and go quiet")
}

type disconnectScenario struct{ cfg DisconnectConfig }

func (s *disconnectScenario) Name() string         { return "disconnect" }
func (s *disconnectScenario) LatencyLabel() string { return "" }

func (s *disconnectScenario) Params() map[string]any {
	return map[string]any{"clients": s.cfg.Clients, "room": s.cfg.Room}
}

func (s *disconnectScenario) Figures() []FigureSpec {
	return []FigureSpec{
		{Name: "server_cpu_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.2, Floor: 30, NeedsPID: true},
		{Name: "all_closed_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 50},
		{Name: "closed_fraction", Unit: "", Better: HigherIsBetter, Threshold: 0.001, MustReach: 1},
	}
}

func (s *disconnectScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	if cfg.Settle <= 0 {
		cfg.Settle = 10 * time.Second
	}
	m := &meter{pid: t.PID}
	clients, err := setupRooms(ctx, t, m, names{tag: runTag()}, cfg.Clients, cfg.Room, cfg.Parallel)
	if err != nil {
		return nil, fmt.Errorf("disconnect: %w", err)
	}
	defer closeAll(clients)

	p := m.begin("quit")
	start := time.Now()
	deadline := start.Add(cfg.Settle)
	var wg sync.WaitGroup
	const writers = 8
	for w := 0; w < writers; w++ {
		wg.Go(func() {
			for i := w; i < len(clients); i += writers {
				_ = clients[i].Send([]byte("QUIT :bench\r\n"))
			}
		})
	}
	wg.Wait()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	closed := 0
	expired := false
	for _, c := range clients {
		if !expired {
			select {
			case <-c.Done():
				closed++
				continue
			case <-timer.C:
				expired = true
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		select {
		case <-c.Done():
			closed++
		default:
		}
	}
	allClosed := time.Since(start)
	if t.PID > 0 {
		waitQuiet(ctx, t.PID, deadline)
	}
	quit := m.end(p)
	res := &RunResult{Phases: m.phases, Figures: map[string]float64{
		"all_closed_ms":   float64(allClosed) / 1e6,
		"closed_fraction": float64(closed) / float64(len(clients)),
	}}
	if cpu, ok := serverCPU(quit); ok {
		res.Figures["server_cpu_ms"] = float64(cpu) / 1e6
	}
	if closed < len(clients) {
		res.Notes = append(res.Notes, fmt.Sprintf("%d of %d connections still open after %v", len(clients)-closed, len(clients), cfg.Settle))
		return res, ErrIncomplete
	}
	return res, nil
}

// waitQuiet returns once the process's CPU time has not moved for three readings 100 ms
// apart (the server finished its clean-up), or at the deadline.
func waitQuiet(ctx context.Context, pid int, deadline time.Time) {
	last, err := ReadProc(pid)
	if err != nil {
		return
	}
	still := 0
	waitUntil(ctx, deadline, 100*time.Millisecond, func() bool {
		cur, err := ReadProc(pid)
		if err != nil {
			return true
		}
		if cur.CPU == last.CPU {
			still++
		} else {
			still = 0
		}
		last = cur
		return still >= 3
	})
}
