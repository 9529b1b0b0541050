package perf

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Stat is one value a stats callback reports, e.g. one Pebble metric.
type Stat struct {
	Name    string // appended to the callback's prefix: "<prefix>_<Name>"
	Help    string
	Counter bool // monotonic counter; otherwise a gauge
	Value   float64
	Labels  []Label // the same label names every time for one Name
}

type statsSource struct {
	prefix string
	fn     func() []Stat
	fams   map[string]*family // created on first sight of a name
	warned map[string]bool
}

// NewStatsFunc registers a callback that reports a set of values at every
// collection and scrape, exported as <prefix>_<Stat.Name>. The lead uses it
// for the kv store's metrics. fn runs on the reporter or a scrape goroutine
// with the registry locked: it must be safe there and must not call back
// into the Registry.
func (r *Registry) NewStatsFunc(prefix string, fn func() []Stat) error {
	if !validMetricName(prefix) {
		return fmt.Errorf("stats prefix %q: %w", prefix, ErrInvalidName)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = append(r.stats, &statsSource{prefix: prefix, fn: fn, fams: map[string]*family{}, warned: map[string]bool{}})
	return nil
}

func (s *statsSource) familyFor(r *Registry, st *Stat) *family {
	name := s.prefix + "_" + st.Name
	names := make([]string, len(st.Labels))
	for i, l := range st.Labels {
		names[i] = l.Name
	}
	k := kindGauge
	if st.Counter {
		k = kindCounter
	}
	f, ok := s.fams[name]
	if !ok {
		ok = validMetricName(name)
		for _, n := range names {
			ok = ok && validLabelName(n)
		}
		if _, taken := r.families[name]; taken {
			ok = false
		}
		if ok {
			help := st.Help
			if help == "" {
				help = "Reported by the " + s.prefix + " stats callback."
			}
			f = &family{name: name, help: help, kind: k, labels: names}
			f.desc = prometheus.NewDesc(name, help, names, nil)
			s.fams[name] = f
		}
	}
	if f == nil || f.kind != k || strings.Join(f.labels, ",") != strings.Join(names, ",") {
		if !s.warned[name] {
			s.warned[name] = true
			r.log.Warn("perf: stats callback reported an invalid or inconsistent metric; skipped", "metric", name)
		}
		return nil
	}
	return f
}

// visitScalars calls fn for every counter and gauge series: process-wide
// sources, recorder counters and gauges, busy time, stats callbacks and
// alert states. values is only valid during the call. Caller holds r.mu.
func (r *Registry) visitScalars(fn func(f *family, values []string, v float64)) {
	for _, s := range r.sources {
		f := s.fam()
		s.collect(func(values []string, v float64) { fn(f, values, v) })
	}
	a := &r.agg
	for id, f := range r.recCounters {
		var v uint64
		if id < len(a.counterTotals) {
			v = a.counterTotals[id]
		}
		fn(f, nil, float64(v))
	}
	var vs [2]string
	var dropped uint64
	for i, rec := range r.recorders {
		vs[0], vs[1] = rec.kind, rec.name
		var st recState
		if i < len(a.recs) {
			st = a.recs[i]
		}
		for gid, f := range r.recGauges {
			var v int64
			if gid < len(st.gauges) {
				v = st.gauges[gid]
			}
			fn(f, vs[:], float64(v))
		}
		fn(r.busyFam, vs[:], float64(st.busyTotalNS)/1e9)
		dropped += st.dropped
	}
	fn(r.droppedFam, nil, float64(dropped))
	for _, s := range r.stats {
		stats := s.fn()
		for i := range stats {
			st := &stats[i]
			f := s.familyFor(r, st)
			if f == nil {
				continue
			}
			values := make([]string, len(st.Labels))
			for j, l := range st.Labels {
				values[j] = l.Value
			}
			fn(f, values, st.Value)
		}
	}
	if al := r.alerter.Load(); al != nil {
		al.visit(func(rule string, firing bool) {
			v := 0.0
			if firing {
				v = 1
			}
			vs[0] = rule
			fn(r.alertFam, vs[:1], v)
		})
	}
}
