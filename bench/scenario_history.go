package bench

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// HistoryConfig sizes the history scenario: Channels channels, each prefilled with Prefill
// messages and then written to at WriteRate messages per second while Queriers clients each
// run CHATHISTORY LATEST and BEFORE (Limit messages) back to back for Duration, at most
// MaxQueries queries in all.
type HistoryConfig struct {
	Channels   int
	Prefill    int
	Limit      int
	Queriers   int
	WriteRate  float64
	Duration   time.Duration
	MaxQueries int
}

func (c *HistoryConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Channels, "history.channels", c.Channels, "history: channels")
	fs.IntVar(&c.Prefill, "history.prefill", c.Prefill, "history: messages written to each channel before querying")
	fs.IntVar(&c.Limit, "history.limit", c.Limit, "history: messages asked for per query")
	fs.IntVar(&c.Queriers, "history.queriers", c.Queriers, "history: clients querying back to back")
	fs.Float64Var(&c.WriteRate, "history.write-rate", c.WriteRate, "history: messages per second written to each channel while querying")
	fs.DurationVar(&c.Duration, "history.duration", c.Duration, "history: querying time")
	fs.IntVar(&c.MaxQueries, "history.max-queries", c.MaxQueries, "history: bound on queries")
}

type historyScenario struct{ cfg HistoryConfig }

func (s *historyScenario) Name() string         { return "history" }
func (s *historyScenario) LatencyLabel() string { return "CHATHISTORY query to end of batch" }

func (s *historyScenario) Params() map[string]any {
	c := s.cfg
	return map[string]any{"channels": c.Channels, "prefill": c.Prefill, "limit": c.Limit,
		"queriers": c.Queriers, "write_rate": c.WriteRate, "duration_s": c.Duration.Seconds()}
}

func (s *historyScenario) Figures() []FigureSpec {
	return []FigureSpec{
		{Name: "queries_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.3},
		{Name: "query_p50_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.3, Floor: 0.05},
		{Name: "query_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.5},
		{Name: "latest_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.5},
		{Name: "before_p99_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 0.5},
		{Name: "messages_per_query", Unit: "", Better: HigherIsBetter, Info: true},
		{Name: "server_cpu_us_per_query", Unit: "us", Better: LowerIsBetter, Threshold: 0.15, NeedsPID: true},
	}
}

// historyCaps are requested by queriers; batch is what lets a client see where a reply ends.
var historyCaps = []string{"draft/chathistory", "batch", "message-tags", "server-time"}

// supportsHistory explains why c's server cannot run the scenario, or returns "".
func supportsHistory(c *Client) string {
	_, isupport := c.ISupport["CHATHISTORY"]
	_, cap := c.Offered["draft/chathistory"]
	if !isupport && !cap {
		return "server advertises neither the draft/chathistory capability nor CHATHISTORY in ISUPPORT"
	}
	if !c.Caps["batch"] {
		return "server did not grant the batch capability, so the end of a CHATHISTORY reply cannot be seen"
	}
	return ""
}

type queryReply struct {
	msgs   int
	oldest string // reference ("msgid=..." or "timestamp=...") of the oldest message returned
	err    string
}

// historyReader follows one querier's replies. It runs on the querier's reader goroutine.
type historyReader struct {
	batch  string
	msgs   int
	oldest string
	out    chan queryReply
}

// reply hands a finished query to the querier without ever blocking the reader: a second
// reply to one query (a FAIL and an empty batch, say) is dropped.
func (r *historyReader) reply(q queryReply) {
	select {
	case r.out <- q:
	default:
	}
}

func (r *historyReader) handle(_ *Client, l *Line) {
	switch {
	case l.Is("BATCH"):
		ref := string(l.Param(0))
		if len(ref) > 1 && ref[0] == '+' && string(l.Param(1)) == "chathistory" {
			r.batch, r.msgs, r.oldest = ref[1:], 0, ""
		} else if len(ref) > 1 && ref[0] == '-' && ref[1:] == r.batch {
			r.batch = ""
			r.reply(queryReply{msgs: r.msgs, oldest: r.oldest})
		}
	case l.Is("FAIL") && string(l.Param(0)) == "CHATHISTORY":
		r.reply(queryReply{err: string(l.Param(1)) + " " + string(l.Last())})
	case r.batch != "":
		if b, ok := l.Tag("batch"); !ok || string(b) != r.batch {
			return
		}
		r.msgs++
		if r.oldest == "" {
			if id, ok := l.Tag("msgid"); ok && len(id) > 0 {
				r.oldest = "msgid=" + string(id)
			} else if ts, ok := l.Tag("time"); ok && len(ts) > 0 {
				r.oldest = "timestamp=" + string(ts)
			}
		}
	}
}

func (s *historyScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	if cfg.Channels <= 0 || cfg.Queriers <= 0 || cfg.Limit <= 0 {
		return nil, fmt.Errorf("history: channels, queriers and limit must be positive")
	}
	m := &meter{pid: t.PID}
	nm := names{tag: runTag()}
	p := m.begin("connect")
	queriers, err := connectAll(ctx, t, names{tag: nm.tag + "q"}, cfg.Queriers, 8, historyCaps, nil)
	m.end(p)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer closeAll(queriers)
	if why := supportsHistory(queriers[0]); why != "" {
		return nil, &SkipError{Reason: why}
	}
	limit := cfg.Limit
	if n, err := strconv.Atoi(queriers[0].ISupport["CHATHISTORY"]); err == nil && n > 0 && n < limit {
		limit = n
	}
	writers, err := setupRooms(ctx, t, m, nm, cfg.Channels, 1, 8)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer closeAll(writers)
	for _, q := range queriers {
		for ch := 0; ch < cfg.Channels; ch++ {
			if err := joinOne(ctx, q, nm.channel(ch)); err != nil {
				return nil, fmt.Errorf("history: querier: %w", err)
			}
		}
	}

	// Prefill, and wait until querier 0 has seen every message, so they are stored.
	var seen atomic.Int64
	queriers[0].SetHandler(func(_ *Client, l *Line) {
		if l.Is("PRIVMSG") {
			seen.Add(1)
		}
	})
	p = m.begin("prefill")
	buf := make([]byte, 0, 256)
	for k := 0; k < cfg.Prefill; k++ {
		for ch, w := range writers {
			buf = AppendMarker(buf[:0], nm.channel(ch), Marker{Sender: ch, Seq: k, SentNs: now()}, 32)
			if err := w.Send(buf); err != nil {
				return nil, fmt.Errorf("history: prefill: %w", err)
			}
		}
		if k%50 == 49 {
			time.Sleep(5 * time.Millisecond) // let the server keep up without a flood penalty
		}
	}
	want := int64(cfg.Prefill * cfg.Channels)
	if !waitUntil(ctx, time.Now().Add(30*time.Second), 10*time.Millisecond, func() bool { return seen.Load() >= want }) {
		return nil, fmt.Errorf("history: prefill: querier saw %d of %d messages", seen.Load(), want)
	}
	m.end(p)

	rec := newRecorder(len(queriers))
	// LATEST and BEFORE take different paths through a store; each gets its own tail.
	latest, before := newRecorder(len(queriers)), newRecorder(len(queriers))
	readers := make([]*historyReader, len(queriers))
	for i, q := range queriers {
		readers[i] = &historyReader{out: make(chan queryReply, 1)}
		q.SetHandler(readers[i].handle)
	}
	p = m.begin("history")
	stop := time.Now().Add(cfg.Duration)
	qctx, cancel := context.WithDeadline(ctx, stop)
	defer cancel()
	var wg sync.WaitGroup
	for ch, w := range writers {
		wg.Go(func() { writeAtRate(qctx, w, nm.channel(ch), ch, cfg.WriteRate) })
	}
	var queries, msgs, failed atomic.Int64
	var firstFail atomic.Value
	perQuerier := max(1, cfg.MaxQueries/len(queriers))
	var qwg sync.WaitGroup
	for i, q := range queriers {
		qwg.Go(func() {
			oldest := make([]string, cfg.Channels)
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for k := 0; k < perQuerier && qctx.Err() == nil; k++ {
				ch := (i + k/2) % cfg.Channels
				cmd := "CHATHISTORY LATEST " + nm.channel(ch) + " * " + strconv.Itoa(limit) + "\r\n"
				kind := latest
				if k%2 == 1 && oldest[ch] != "" {
					cmd = "CHATHISTORY BEFORE " + nm.channel(ch) + " " + oldest[ch] + " " + strconv.Itoa(limit) + "\r\n"
					kind = before
				}
				sent := now()
				if err := q.Send([]byte(cmd)); err != nil {
					failed.Add(1)
					return
				}
				timer.Reset(5 * time.Second)
				select {
				case r := <-readers[i].out:
					if r.err != "" {
						failed.Add(1)
						firstFail.CompareAndSwap(nil, r.err)
						continue
					}
					d := now() - sent
					rec.Record(i, d)
					kind.Record(i, d)
					queries.Add(1)
					msgs.Add(int64(r.msgs))
					if k%2 == 0 {
						oldest[ch] = r.oldest
					}
				case <-timer.C:
					failed.Add(1)
					firstFail.CompareAndSwap(nil, "no end of batch within 5s")
					return
				case <-q.Done():
					failed.Add(1)
					return
				}
			}
		})
	}
	qwg.Wait()
	elapsed := time.Since(stop.Add(-cfg.Duration))
	cancel()
	wg.Wait()
	ph := m.end(p)

	h := rec.Merged()
	n := queries.Load()
	res := &RunResult{Phases: m.phases, latency: h, Figures: map[string]float64{
		"queries_per_s":      float64(n) / elapsed.Seconds(),
		"query_p50_ms":       ms(h.ValueAtQuantile(50)),
		"query_p99_ms":       ms(h.ValueAtQuantile(99)),
		"messages_per_query": ratio(msgs.Load(), n),
	}}
	// BEFORE runs only when the server tags replies with msgid or time; absent, not zero.
	for name, r := range map[string]*recorder{"latest_p99_ms": latest, "before_p99_ms": before} {
		if r.Count() > 0 {
			res.Figures[name] = ms(r.Merged().ValueAtQuantile(99))
		}
	}
	if cpu, ok := serverCPU(ph); ok && n > 0 {
		res.Figures["server_cpu_us_per_query"] = float64(cpu) / 1e3 / float64(n)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d queries answered, %d failed, limit %d", n, failed.Load(), limit))
	if f, ok := firstFail.Load().(string); ok {
		res.Notes = append(res.Notes, "first failure: "+f)
	}
	if n == 0 {
		return res, fmt.Errorf("history: no query answered (%d failed)", failed.Load())
	}
	return res, nil
}

// writeAtRate sends marked messages to channel at rate per second until ctx ends.
func writeAtRate(ctx context.Context, c *Client, channel string, sender int, rate float64) {
	if rate <= 0 {
		return
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	buf := make([]byte, 0, 256)
	for seq := 0; ; seq++ {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		buf = AppendMarker(buf[:0], channel, Marker{Sender: sender, Seq: seq, SentNs: now()}, 32)
		if c.Send(buf) != nil {
			return
		}
	}
}
