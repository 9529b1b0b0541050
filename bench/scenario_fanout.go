package bench

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// FanoutConfig sizes the fanout scenario: Channels channels of Members members, the first
// Senders members of each sending Messages messages as fast as the server delivers them.
// Each sender keeps at most Window messages not yet delivered to every member, so the
// server's queues stay bounded and no member is cut as a slow consumer.
type FanoutConfig struct {
	Channels int
	Members  int
	Senders  int
	Messages int
	Window   int
	Payload  int
	Duration time.Duration // bound on the sending phase
	Parallel int
}

func (c *FanoutConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Channels, "fanout.channels", c.Channels, "fanout: channels")
	fs.IntVar(&c.Members, "fanout.members", c.Members, "fanout: members per channel (senders included)")
	fs.IntVar(&c.Senders, "fanout.senders", c.Senders, "fanout: senders per channel")
	fs.IntVar(&c.Messages, "fanout.messages", c.Messages, "fanout: messages per sender")
	fs.IntVar(&c.Window, "fanout.window", c.Window, "fanout: messages per sender not yet delivered everywhere")
	fs.IntVar(&c.Payload, "fanout.payload", c.Payload, "fanout: filler bytes per message")
	fs.DurationVar(&c.Duration, "fanout.duration", c.Duration, "fanout: bound on the sending phase")
	fs.IntVar(&c.Parallel, "fanout.parallel", c.Parallel, "fanout: registrations in flight while setting up")
}

type fanoutScenario struct{ cfg FanoutConfig }

func (s *fanoutScenario) Name() string         { return "fanout" }
func (s *fanoutScenario) LatencyLabel() string { return "send to delivery, saturated" }

func (s *fanoutScenario) Params() map[string]any {
	c := s.cfg
	return map[string]any{"channels": c.Channels, "members": c.Members, "senders": c.Senders,
		"messages": c.Messages, "window": c.Window, "payload": c.Payload, "duration_s": c.Duration.Seconds()}
}

func (s *fanoutScenario) Figures() []FigureSpec {
	return []FigureSpec{
		{Name: "server_cpu_us_per_delivery", Unit: "us", Better: LowerIsBetter, Floor: 0.005, NeedsPID: true},
		{Name: "deliveries_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.3},
		{Name: "completeness", Unit: "", Better: HigherIsBetter, Threshold: 0.001, MustReach: 1},
		{Name: "delay_p50_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 1},
		{Name: "delay_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 5},
		{Name: "member_delay_spread", Unit: "x", Better: LowerIsBetter, Threshold: 0.25, Floor: 0.2},
	}
}

// fanoutSender is one sender's flow-control state. Members receive a channel's messages in
// order, so messages complete in sequence order and at most Window are outstanding: slot
// seq%Window of ring counts the members that got message seq, and is free again once the
// token for it has come back.
type fanoutSender struct {
	client   *Client
	channel  string
	ring     []atomic.Int32
	tokens   chan struct{}
	expected int32
	sent     atomic.Int64
}

func (s *fanoutScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	if cfg.Channels <= 0 || cfg.Members < 2 || cfg.Senders <= 0 || cfg.Senders > cfg.Members || cfg.Window <= 0 {
		return nil, fmt.Errorf("fanout: need channels>0, members>=2, 0<senders<=members, window>0")
	}
	m := &meter{pid: t.PID}
	nm := names{tag: runTag()}
	clients, err := setupRooms(ctx, t, m, nm, cfg.Channels*cfg.Members, cfg.Members, cfg.Parallel)
	if err != nil {
		return nil, fmt.Errorf("fanout: %w", err)
	}
	defer closeAll(clients)

	senders := make([]*fanoutSender, 0, cfg.Channels*cfg.Senders)
	for ch := 0; ch < cfg.Channels; ch++ {
		for j := 0; j < cfg.Senders; j++ {
			st := &fanoutSender{client: clients[ch*cfg.Members+j], channel: nm.channel(ch),
				ring: make([]atomic.Int32, cfg.Window), tokens: make(chan struct{}, cfg.Window),
				expected: int32(cfg.Members - 1)}
			for range cfg.Window {
				st.tokens <- struct{}{}
			}
			senders = append(senders, st)
		}
	}
	rec := newRecorder(16)
	delay := newMemberDelays(len(clients))
	var stray atomic.Int64
	for _, c := range clients {
		c.SetHandler(func(c *Client, l *Line) {
			if !l.Is("PRIVMSG") {
				return
			}
			mk, err := ParseMarker(l.Last())
			if err != nil || mk.Sender >= len(senders) || mk.Seq < 0 {
				stray.Add(1)
				return
			}
			d := now() - mk.SentNs
			rec.Record(c.ID, d)
			delay.add(c.ID, d)
			st := senders[mk.Sender]
			slot := &st.ring[mk.Seq%len(st.ring)]
			if slot.Add(1) == st.expected {
				slot.Store(0)
				// A token was taken for this message, so there is room; only a server that
				// duplicates deliveries could overfill, and a handler must never block.
				select {
				case st.tokens <- struct{}{}:
				default:
				}
			}
		})
	}

	p := m.begin("fanout")
	smp := startSampler(100*time.Millisecond, rec.Count)
	stop := time.Now().Add(cfg.Duration)
	sendCtx, cancel := context.WithDeadline(ctx, stop)
	var wg sync.WaitGroup
	errs := make(chan error, len(senders))
	for id, st := range senders {
		wg.Go(func() {
			buf := make([]byte, 0, 128+cfg.Payload)
			for seq := 0; seq < cfg.Messages; seq++ {
				select {
				case <-st.tokens:
				case <-sendCtx.Done():
					return
				}
				buf = AppendMarker(buf[:0], st.channel, Marker{Sender: id, Seq: seq, SentNs: now()}, cfg.Payload)
				if err := st.client.Send(buf); err != nil {
					errs <- fmt.Errorf("fanout: sender %d: %w", id, err)
					return
				}
				st.sent.Add(1)
			}
		})
	}
	wg.Wait()
	cancel()
	drained := waitUntil(ctx, time.Now().Add(10*time.Second), 5*time.Millisecond, func() bool {
		for _, st := range senders {
			if len(st.tokens) < cap(st.tokens) {
				return false
			}
		}
		return true
	})
	series := smp.Stop()
	ph := m.end(p)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}

	var sent int64
	for _, st := range senders {
		sent += st.sent.Load()
	}
	delivered := rec.Count()
	expected := sent * int64(cfg.Members-1)
	h := rec.Merged()
	res := &RunResult{Phases: m.phases, Series: series, latency: h, Figures: map[string]float64{
		"deliveries_per_s":    float64(delivered) / (ph.WallMs / 1e3),
		"completeness":        ratio(delivered, expected),
		"delay_p50_ms":        ms(h.ValueAtQuantile(50)),
		"delay_p99_ms":        ms(h.ValueAtQuantile(99)),
		"member_delay_spread": delay.spread(),
	}}
	if cpu, ok := serverCPU(ph); ok && delivered > 0 {
		res.Figures["server_cpu_us_per_delivery"] = float64(cpu) / 1e3 / float64(delivered)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("sent %d messages, delivered %d of %d", sent, delivered, expected))
	if n := stray.Load(); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d PRIVMSGs without a valid marker", n))
	}
	if !drained {
		return res, ErrIncomplete
	}
	return res, nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// memberDelays keeps each member's total delivery delay, for fairness: under saturation
// every member should see about the same delay.
type memberDelays struct {
	sum, n []atomic.Int64
}

func newMemberDelays(members int) *memberDelays {
	return &memberDelays{sum: make([]atomic.Int64, members), n: make([]atomic.Int64, members)}
}

func (d *memberDelays) add(member int, ns int64) {
	d.sum[member].Add(ns)
	d.n[member].Add(1)
}

// spread is the worst member's mean delay over the median member's mean delay (1 = fair).
func (d *memberDelays) spread() float64 {
	var means []float64
	for i := range d.sum {
		if n := d.n[i].Load(); n > 0 {
			means = append(means, float64(d.sum[i].Load())/float64(n))
		}
	}
	if len(means) == 0 {
		return 0
	}
	sort.Float64s(means)
	med := means[len(means)/2]
	if med <= 0 {
		return 0
	}
	return means[len(means)-1] / med
}
