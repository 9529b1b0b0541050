package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"
)

// Snapshot is the state of the server at one collection: the live window
// and the cumulative totals. It is what /debug/status.json serves, what
// alert rules evaluate and what reports are built from. Latencies are in
// microseconds, rates per second.
type Snapshot struct {
	Time            time.Time      `json:"time"`
	Started         time.Time      `json:"started"`
	IntervalSeconds float64        `json:"interval_seconds"`
	WindowSeconds   float64        `json:"window_seconds"`
	Latencies       []LatencyStat  `json:"latencies"`
	Counters        []SeriesStat   `json:"counters"`
	Gauges          []SeriesStat   `json:"gauges"`
	Recorders       []RecorderStat `json:"recorders"`
	Alerts          []AlertStatus  `json:"alerts"`
}

// LatencyStat is one latency series. Only series with data are listed.
type LatencyStat struct {
	Name       string            `json:"name"` // short name: cmd.PRIVMSG
	Family     string            `json:"family"`
	Labels     map[string]string `json:"labels,omitempty"`
	Count      int64             `json:"count"`       // in the window
	Rate       float64           `json:"rate"`        // per second over the window
	SumSeconds float64           `json:"sum_seconds"` // time spent, in the window
	P50        int64             `json:"p50_us"`
	P90        int64             `json:"p90_us"`
	P99        int64             `json:"p99_us"`
	P999       int64             `json:"p999_us"`
	Max        int64             `json:"max_us"`
	Total      int64             `json:"total"` // since start
	TotalP99   int64             `json:"total_p99_us"`
	TotalSum   float64           `json:"total_sum_seconds"`
}

// SeriesStat is one counter or gauge series.
type SeriesStat struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
	Rate   float64           `json:"rate,omitempty"` // counters: per second over the window
}

// RecorderStat is one owner goroutine (loop, shard, kv writer).
type RecorderStat struct {
	Name          string  `json:"name"`
	Kind          string  `json:"kind"`
	Busy          float64 `json:"busy"` // fraction of the window spent working
	BusySeconds   float64 `json:"busy_seconds_total"`
	QueueDepth    int64   `json:"queue_depth"`
	QueueDepthMax int64   `json:"queue_depth_max"` // highest in the window
	// IdleIntervals counts collections in a row in which the owner did not
	// Flip: a stuck owner, or one that forgot to call Flip.
	IdleIntervals int `json:"idle_intervals"`
}

var quantiles = []float64{50, 90, 99, 99.9, 100}

// snapshotLocked builds the snapshot after a collection. Caller holds r.mu.
func (r *Registry) snapshotLocked(now time.Time) *Snapshot {
	a := &r.agg
	span := a.windowSpan()
	s := &Snapshot{
		Time:            now,
		Started:         r.started,
		IntervalSeconds: r.opts.Interval.Seconds(),
		WindowSeconds:   span.Seconds(),
	}
	for id, d := range r.latencies {
		cum := a.cum[id]
		if cum == nil || cum.TotalCount() == 0 {
			continue
		}
		ls := LatencyStat{
			Name:     d.name,
			Family:   d.fam.name,
			Total:    cum.TotalCount(),
			TotalP99: cum.ValueAtPercentile(99),
			TotalSum: float64(a.cumSumNS[id]) / 1e9,
		}
		if len(d.labels) > 0 {
			ls.Labels = make(map[string]string, len(d.labels))
			for _, l := range d.labels {
				ls.Labels[l.Name] = l.Value
			}
		}
		w, sum := a.window(id)
		if n := w.TotalCount(); n > 0 {
			q := w.ValueAtPercentilesSlice(quantiles)
			ls.Count, ls.P50, ls.P90, ls.P99, ls.P999, ls.Max = n, q[0], q[1], q[2], q[3], q[4]
			ls.SumSeconds = float64(sum) / 1e9
			if span > 0 {
				ls.Rate = float64(n) / span.Seconds()
			}
		}
		s.Latencies = append(s.Latencies, ls)
	}
	r.visitScalars(func(f *family, values []string, v float64) {
		ss := SeriesStat{Name: f.name, Value: v}
		if len(values) > 0 {
			ss.Labels = make(map[string]string, len(values))
			for i, n := range f.labels {
				ss.Labels[n] = values[i]
			}
		}
		switch f.kind {
		case kindCounter:
			key := seriesKey(f.name, values)
			ss.Rate = a.rate(key, v, now)
			a.nextMark[key] = v
			s.Counters = append(s.Counters, ss)
		case kindGauge:
			s.Gauges = append(s.Gauges, ss)
		}
	})
	a.nextMark = a.pushMark(now, a.nextMark)
	for i, rec := range r.recorders {
		st := a.recs[i]
		rs := RecorderStat{
			Name:          rec.name,
			Kind:          rec.kind,
			BusySeconds:   float64(st.busyTotalNS) / 1e9,
			IdleIntervals: st.idle,
		}
		if int(QueueDepth) < len(st.gauges) {
			rs.QueueDepth = st.gauges[QueueDepth]
		}
		var busy int64
		for k := 0; k < a.n; k++ {
			iv := &a.ring[(a.head-k+len(a.ring))%len(a.ring)]
			busy += iv.busy[i]
			if int(QueueDepth) < len(iv.gmax[i]) && iv.gmax[i][QueueDepth] > rs.QueueDepthMax {
				rs.QueueDepthMax = iv.gmax[i][QueueDepth]
			}
		}
		if span > 0 {
			rs.Busy = float64(busy) / float64(span)
		}
		s.Recorders = append(s.Recorders, rs)
	}
	return s
}

// Latency returns the series with the given short name.
func (s *Snapshot) Latency(name string) (LatencyStat, bool) {
	for _, l := range s.Latencies {
		if l.Name == name {
			return l, true
		}
	}
	return LatencyStat{}, false
}

// Commands returns the command latencies, slowest p99 first.
func (s *Snapshot) Commands() []LatencyStat {
	var out []LatencyStat
	for _, l := range s.Latencies {
		if l.Family == FamilyCommand {
			out = append(out, l)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].P99 != out[j].P99 {
			return out[i].P99 > out[j].P99
		}
		return out[i].TotalP99 > out[j].TotalP99
	})
	return out
}

// maxStatusBytes bounds what DecodeStatus reads from a server.
const maxStatusBytes = 16 << 20

// ErrUnauthorized is returned by FetchStatus when the server refuses the token.
var ErrUnauthorized = errors.New("perf: unauthorized (missing or wrong bearer token)")

// DecodeStatus reads a Snapshot as served by /debug/status.json.
func DecodeStatus(r io.Reader) (*Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(io.LimitReader(r, maxStatusBytes))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	return &s, nil
}

// FetchStatus gets the snapshot of a running server from url (its
// /debug/status.json), sending token as a bearer token when not empty.
// It is what `laird report` uses.
func FetchStatus(ctx context.Context, client *http.Client, url, token string) (*Snapshot, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch status: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch status: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("fetch status from %s: %w", url, ErrUnauthorized)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetch status from %s: HTTP %d", url, resp.StatusCode)
	}
	return DecodeStatus(resp.Body)
}
