package perf

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// collector exports a Registry to Prometheus. It is unchecked (Describe
// sends nothing) because families appear as callers register them and as
// stats callbacks report them.
type collector struct{ r *Registry }

// PrometheusCollector returns a collector exporting every series of r:
// latencies as histograms built from the cumulative HDR data (never reset),
// counters and gauges as they are. It reads the reporter's state, not the
// recorders, so what it shows is as of the last Collect.
func (r *Registry) PrometheusCollector() prometheus.Collector { return collector{r} }

// Describe sends nothing: the collector is unchecked.
func (c collector) Describe(chan<- *prometheus.Desc) {}

// Collect builds const metrics under the registry lock and sends them after
// releasing it, so a slow scrape cannot stall the reporter.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	r := c.r
	var out []prometheus.Metric
	var errs []error
	r.mu.Lock()
	for id, d := range r.latencies {
		var h *hdr.PackedHistogram
		var sumNS int64
		if id < len(r.agg.cum) {
			h, sumNS = r.agg.cum[id], r.agg.cumSumNS[id]
		}
		count, buckets := r.promBuckets(h)
		m, err := prometheus.NewConstHistogram(d.fam.desc, count, float64(sumNS)/1e9, buckets, d.values...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
			continue
		}
		out = append(out, m)
	}
	r.visitScalars(func(f *family, values []string, v float64) {
		t := prometheus.GaugeValue
		if f.kind == kindCounter {
			t = prometheus.CounterValue
		}
		m, err := prometheus.NewConstMetric(f.desc, t, v, values...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
			return
		}
		out = append(out, m)
	})
	r.mu.Unlock()
	for _, err := range errs {
		ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(err), err)
	}
	for _, m := range out {
		ch <- m
	}
}

// promBuckets converts an HDR histogram into cumulative Prometheus bucket
// counts. An HDR bucket is attributed by its lowest equivalent value; below
// 2048 us buckets are exact, above they are 0.1% wide (at 3 digits), so a
// value can land at most 0.1% past a bound.
func (r *Registry) promBuckets(h *hdr.PackedHistogram) (uint64, map[float64]uint64) {
	counts := make([]uint64, len(r.bounds))
	var total uint64
	if h != nil {
		i := 0
		for value, count := range h.ForEachBucket {
			total += uint64(count)
			for i < len(r.bounds) && value > r.bounds[i] {
				i++
			}
			if i < len(r.bounds) {
				counts[i] += uint64(count)
			}
		}
	}
	buckets := make(map[float64]uint64, len(r.bounds))
	var cum uint64
	for i, b := range r.bounds {
		cum += counts[i]
		buckets[float64(b)/1e6] = cum
	}
	return total, buckets
}

// NewPrometheusRegistry returns a Prometheus registry with r's collector and
// the Go runtime and process collectors: what /metrics serves by default.
func NewPrometheusRegistry(r *Registry) (*prometheus.Registry, error) {
	pr := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		r.PrometheusCollector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := pr.Register(c); err != nil {
			return nil, fmt.Errorf("register collector: %w", err)
		}
	}
	return pr, nil
}
