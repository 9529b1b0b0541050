package perf

import (
	"sync"
	"time"
)

// The recent past of the headline figures, for the status page's charts:
// one point per Options.HistoryStep, the last Options.HistoryLength of
// them, taken from the snapshots as they are collected. Rates are over the
// snapshot's live window, so a point is smoothed over Window intervals.

// HistoryPoint is the state at one moment.
type HistoryPoint struct {
	Time        time.Time `json:"time"`
	MessagesIn  float64   `json:"messages_in_per_s"` // lines received per second
	Deliveries  float64   `json:"deliveries_per_s"`  // fan-out deliveries per second
	Connections float64   `json:"connections"`       // open connections
	CommandP99  int64     `json:"command_p99_us"`    // the slowest command's p99 in the window, µs
}

// History is what /debug/history.json serves: points oldest first.
type History struct {
	StepSeconds float64        `json:"step_seconds"`
	Points      []HistoryPoint `json:"points"`
}

// history is a ring of points; add runs on the reporter, read anywhere.
type history struct {
	step time.Duration
	mu   sync.Mutex
	ring []HistoryPoint
	head int // index of the newest point
	n    int
}

func newHistory(step, length time.Duration) *history {
	size := max(2, int(length/step))
	return &history{step: step, ring: make([]HistoryPoint, size), head: -1}
}

// add records s when a step has passed since the last point. Collections
// run every Interval, so a point is due when the next collection would be
// later than a step after the last one: points stay a step apart on
// average instead of drifting to two intervals.
func (h *history) add(s *Snapshot, interval time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n > 0 && s.Time.Sub(h.ring[h.head].Time) < h.step-interval/2 {
		return
	}
	p := HistoryPoint{Time: s.Time}
	for _, c := range s.Counters {
		switch c.Name {
		case "laird_messages_in_total":
			p.MessagesIn += c.Rate
		case "laird_deliveries_total":
			p.Deliveries += c.Rate
		}
	}
	for _, g := range s.Gauges {
		if g.Name == "laird_connections" {
			p.Connections += g.Value
		}
	}
	for _, l := range s.Latencies {
		if l.Family == FamilyCommand && l.Count > 0 && l.P99 > p.CommandP99 {
			p.CommandP99 = l.P99
		}
	}
	h.head = (h.head + 1) % len(h.ring)
	h.ring[h.head] = p
	h.n = min(h.n+1, len(h.ring))
}

func (h *history) read() History {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := History{StepSeconds: h.step.Seconds(), Points: make([]HistoryPoint, 0, h.n)}
	for i := h.n - 1; i >= 0; i-- {
		out.Points = append(out.Points, h.ring[(h.head-i+len(h.ring))%len(h.ring)])
	}
	return out
}

// History returns the recent points, oldest first. Safe from any goroutine.
func (r *Registry) History() History { return r.hist.read() }
