package bench

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// TransportConfig sizes the transport scenario: the connect and fanout scenarios, run
// with these sizes over plain TCP, TLS and WebSocket against one server instance, one
// transport after the other.
type TransportConfig struct {
	Connect ConnectConfig
	Fanout  FanoutConfig
}

func (c *TransportConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Connect.Clients, "transport.clients", c.Connect.Clients, "transport: clients that register, per transport")
	fs.IntVar(&c.Connect.Parallel, "transport.parallel", c.Connect.Parallel, "transport: registrations in flight")
	fs.IntVar(&c.Fanout.Channels, "transport.channels", c.Fanout.Channels, "transport: fan-out channels, per transport")
	fs.IntVar(&c.Fanout.Members, "transport.members", c.Fanout.Members, "transport: members per fan-out channel")
	fs.IntVar(&c.Fanout.Messages, "transport.messages", c.Fanout.Messages, "transport: fan-out messages per channel")
	fs.DurationVar(&c.Fanout.Duration, "transport.duration", c.Fanout.Duration, "transport: bound on each fan-out phase")
}

// transports are measured in this order; plain TCP first, as the reference.
var transports = []string{TransportTCP, TransportTLS, TransportWS}

type transportScenario struct{ cfg TransportConfig }

func (s *transportScenario) Name() string         { return "transport" }
func (s *transportScenario) LatencyLabel() string { return "" }

func (s *transportScenario) Params() map[string]any {
	c := s.cfg
	return map[string]any{"clients": c.Connect.Clients, "parallel": c.Connect.Parallel,
		"channels": c.Fanout.Channels, "members": c.Fanout.Members, "messages": c.Fanout.Messages,
		"transports": fmt.Sprint(transports)}
}

// The ratios are this run's TLS or WebSocket figure over its plain TCP one: the
// registration ratios are of rates (below 1: slower than plain), the CPU ratios of
// server CPU per delivery (above 1: costlier than plain).
func (s *transportScenario) Figures() []FigureSpec {
	specs := []FigureSpec{
		{Name: "tls_fanout_cpu_ratio", Unit: "x", Better: LowerIsBetter, Threshold: 0.25, Floor: 0.1, NeedsPID: true},
		{Name: "ws_fanout_cpu_ratio", Unit: "x", Better: LowerIsBetter, Threshold: 0.25, Floor: 0.1, NeedsPID: true},
		{Name: "tls_registrations_ratio", Unit: "x", Better: HigherIsBetter, Threshold: 0.4, Floor: 0.05},
		{Name: "ws_registrations_ratio", Unit: "x", Better: HigherIsBetter, Threshold: 0.4, Floor: 0.05},
	}
	cpuFloor := 20_000 / float64(max(1, s.cfg.Connect.Clients))
	for _, tr := range transports {
		specs = append(specs,
			FigureSpec{Name: tr + "_registrations_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.4},
			FigureSpec{Name: tr + "_server_cpu_us_per_registration", Unit: "us", Better: LowerIsBetter, Floor: cpuFloor, NeedsPID: true},
			FigureSpec{Name: tr + "_server_cpu_us_per_delivery", Unit: "us", Better: LowerIsBetter, Floor: 0.005, NeedsPID: true},
			FigureSpec{Name: tr + "_deliveries_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.3},
		)
	}
	return specs
}

func (s *transportScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	for _, tr := range transports[1:] {
		if t.Transports[tr] == "" {
			return nil, &SkipError{Reason: "the server has no " + tr + " listener known to the benchmark"}
		}
	}
	res := &RunResult{Figures: map[string]float64{}}
	for _, tr := range transports {
		tt := t
		tt.Transport, _ = transportFor(tr)
		if tr != TransportTCP {
			tt.Addr = t.Transports[tr]
		}
		conn, err := (&connectScenario{cfg: s.cfg.Connect}).Run(ctx, tt)
		if err != nil {
			return nil, fmt.Errorf("transport %s: %w", tr, err)
		}
		fan, err := (&fanoutScenario{cfg: s.cfg.Fanout}).Run(ctx, tt)
		if err != nil {
			return nil, fmt.Errorf("transport %s: %w", tr, err)
		}
		res.Figures[tr+"_registrations_per_s"] = conn.Figures["registrations_per_s"]
		res.Figures[tr+"_deliveries_per_s"] = fan.Figures["deliveries_per_s"]
		copyFigure(res.Figures, tr+"_server_cpu_us_per_registration", conn.Figures, "server_cpu_us_per_registration")
		copyFigure(res.Figures, tr+"_server_cpu_us_per_delivery", fan.Figures, "server_cpu_us_per_delivery")
		for _, ph := range append(conn.Phases, fan.Phases...) {
			ph.Name = tr + "." + ph.Name
			res.Phases = append(res.Phases, ph)
		}
		for _, n := range fan.Notes {
			res.Notes = append(res.Notes, tr+": "+n)
		}
	}
	transportRatios(res.Figures)
	return res, nil
}

// transportRatios adds each transport's ratios to plain TCP from the per-transport
// figures present; a ratio whose parts are missing or zero is left out.
func transportRatios(f map[string]float64) {
	for _, tr := range transports[1:] {
		if num, den := f[tr+"_registrations_per_s"], f[TransportTCP+"_registrations_per_s"]; num > 0 && den > 0 {
			f[tr+"_registrations_ratio"] = num / den
		}
		if num, den := f[tr+"_server_cpu_us_per_delivery"], f[TransportTCP+"_server_cpu_us_per_delivery"]; num > 0 && den > 0 {
			f[tr+"_fanout_cpu_ratio"] = num / den
		}
	}
}

func copyFigure(dst map[string]float64, name string, src map[string]float64, from string) {
	if v, ok := src[from]; ok {
		dst[name] = v
	}
}

// DefaultTransportConfig is the suite's transport scenario: small enough that the three
// transports together take about half a minute on a 2-core machine.
func DefaultTransportConfig() TransportConfig {
	return TransportConfig{
		Connect: ConnectConfig{Clients: 500, Parallel: 32, Room: 10},
		Fanout: FanoutConfig{Channels: 5, Members: 100, Senders: 1, Messages: 1000, Window: 32, Payload: 64,
			Duration: 10 * time.Second, Parallel: 100},
	}
}
