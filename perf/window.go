package perf

import (
	"context"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The reporter side: Collect drains every recorder's published buffer into
// one interval, merges it into the cumulative histograms (never reset) and
// keeps the last Window intervals for live quantiles and rates. Interval and
// window histograms are sparse (hdr.PackedHistogram): a few hundred buckets
// populated out of ~17k, so the window costs kilobytes, not megabytes.

// interval is what one collection gathered.
type interval struct {
	end   time.Time
	dur   time.Duration
	lat   []*hdr.PackedHistogram // by MetricID; nil until a series first has data
	sumNS []int64                // by MetricID
	busy  []int64                // by recorder index
	gmax  [][]int64              // by recorder index, then GaugeID
}

// recState is the reporter's view of one recorder.
type recState struct {
	gauges      []int64
	busyTotalNS int64
	flips       uint64
	idle        int // consecutive collections in which the owner did not flip
	dropped     uint64
}

// mark is the value of every counter series at one collection, for rates.
type mark struct {
	at     time.Time
	values map[string]float64
}

type aggregator struct {
	digits  int
	ring    []interval
	head, n int // newest slot and number of filled slots
	last    time.Time

	cum           []*hdr.PackedHistogram // by MetricID; cumulative, never reset
	cumSumNS      []int64
	counterTotals []uint64 // recorder counters, summed over recorders
	recs          []recState
	scratch       *hdr.PackedHistogram

	marks           []mark // the last Window collections: rates span up to Window intervals
	markHead, markN int
	nextMark        map[string]float64
}

func (a *aggregator) init(window, digits int, start time.Time) {
	a.digits = digits
	a.ring = make([]interval, window)
	a.head = window - 1
	a.last = start
	a.scratch = hdr.NewPacked(lowestUS, highestUS, digits)
	// A series missing from a mark counts as zero (vec children and numerics
	// appear at their first increment), so an empty mark at the start makes
	// the first window's rates right.
	a.marks = make([]mark, window)
	a.marks[0] = mark{at: start, values: map[string]float64{}}
	a.markN = 1
	a.nextMark = map[string]float64{}
}

// grow sizes the per-series and per-recorder slices after registrations.
func (a *aggregator) grow(nLat, nCnt int, recs []*Recorder) {
	for len(a.cum) < nLat {
		a.cum = append(a.cum, nil)
		a.cumSumNS = append(a.cumSumNS, 0)
	}
	for len(a.counterTotals) < nCnt {
		a.counterTotals = append(a.counterTotals, 0)
	}
	for len(a.recs) < len(recs) {
		a.recs = append(a.recs, recState{gauges: make([]int64, len(recs[len(a.recs)].gauges))})
	}
	for i := range a.ring {
		iv := &a.ring[i]
		for len(iv.lat) < nLat {
			iv.lat = append(iv.lat, nil)
			iv.sumNS = append(iv.sumNS, 0)
		}
		for len(iv.busy) < len(recs) {
			iv.busy = append(iv.busy, 0)
			iv.gmax = append(iv.gmax, make([]int64, len(recs[len(iv.gmax)].gauges)))
		}
	}
}

// Collect gathers what every recorder published since the last call,
// publishes a new Snapshot (alerts evaluated) and returns it. Run calls it
// every Interval; tests call it directly.
func (r *Registry) Collect() *Snapshot {
	r.collectMu.Lock()
	defer r.collectMu.Unlock()
	now := r.now()
	r.mu.Lock()
	r.collectLocked(now)
	s := r.snapshotLocked(now)
	r.mu.Unlock()
	if al := r.alerter.Load(); al != nil {
		s.Alerts = al.Evaluate(s)
	}
	r.snap.Store(s)
	r.hist.add(s, r.opts.Interval)
	return s
}

// Snapshot returns the latest published snapshot, or nil before the first
// collection. The snapshot is immutable.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Run collects every Interval until ctx is done. It is the reporter
// goroutine: run exactly one per Registry.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Collect()
		}
	}
}

func (r *Registry) collectLocked(now time.Time) {
	a := &r.agg
	nLat := len(r.latencies)
	a.grow(nLat, len(r.recCounters), r.recorders)

	a.head = (a.head + 1) % len(a.ring)
	if a.n < len(a.ring) {
		a.n++
	}
	iv := &a.ring[a.head]
	for id, h := range iv.lat {
		if h != nil {
			h.Reset()
		}
		iv.sumNS[id] = 0
	}
	iv.end, iv.dur = now, now.Sub(a.last)
	a.last = now

	for i, rec := range r.recorders {
		st := &a.recs[i]
		b := rec.take()
		if b == nil {
			st.idle++
			iv.busy[i] = 0
			copy(iv.gmax[i], st.gauges)
			continue
		}
		st.idle = 0
		st.flips = rec.flips.Load()
		for id := range b.series {
			s := &b.series[id]
			if s.h == nil || s.h.TotalCount() == 0 {
				continue
			}
			if iv.lat[id] == nil {
				iv.lat[id] = hdr.NewPacked(lowestUS, highestUS, a.digits)
			}
			iv.lat[id].MergeFrom(s.h)
			iv.sumNS[id] += s.sumNS
		}
		for id, c := range b.counters {
			a.counterTotals[id] += c
		}
		copy(st.gauges, b.gauges)
		copy(iv.gmax[i], b.gaugeMax)
		iv.busy[i] = b.busyNS
		st.busyTotalNS += b.busyNS
		if b.dropped != 0 {
			if st.dropped == 0 {
				r.log.Warn("perf: records with unknown ids dropped; ids must come from this recorder's registry",
					"recorder", rec.name, "count", b.dropped)
			}
			st.dropped += b.dropped
		}
		rec.give(b)
	}

	for id, h := range iv.lat {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		if a.cum[id] == nil {
			a.cum[id] = hdr.NewPacked(lowestUS, highestUS, a.digits)
		}
		a.cum[id].Merge(h)
		a.cumSumNS[id] += iv.sumNS[id]
	}
}

// windowSpan is the time the filled intervals cover.
func (a *aggregator) windowSpan() time.Duration {
	var d time.Duration
	for i := 0; i < a.n; i++ {
		d += a.ring[(a.head-i+len(a.ring))%len(a.ring)].dur
	}
	return d
}

// window merges the series' intervals into the scratch histogram and
// returns it with the window's sum. The result is valid until the next call.
func (a *aggregator) window(id int) (*hdr.PackedHistogram, int64) {
	a.scratch.Reset()
	var sum int64
	for i := 0; i < a.n; i++ {
		iv := &a.ring[(a.head-i+len(a.ring))%len(a.ring)]
		if id < len(iv.lat) && iv.lat[id] != nil {
			a.scratch.Merge(iv.lat[id])
			sum += iv.sumNS[id]
		}
	}
	return a.scratch, sum
}

// rate returns the per-second increase of a counter series from the oldest
// mark to cur at now. Call before pushMark.
func (a *aggregator) rate(key string, cur float64, now time.Time) float64 {
	oldest := &a.marks[(a.markHead-a.markN+1+len(a.marks))%len(a.marks)]
	span := now.Sub(oldest.at).Seconds()
	if span <= 0 {
		return 0
	}
	d := cur - oldest.values[key]
	if d < 0 { // a counter from a callback went backwards (its source restarted)
		return 0
	}
	return d / span
}

// pushMark records the counter values of this collection, evicting the
// oldest mark once Window marks are kept, and returns a map for the next.
func (a *aggregator) pushMark(now time.Time, values map[string]float64) map[string]float64 {
	a.markHead = (a.markHead + 1) % len(a.marks)
	if a.markN < len(a.marks) {
		a.markN++
	}
	m := &a.marks[a.markHead]
	spare := m.values
	m.at, m.values = now, values
	if spare == nil {
		return make(map[string]float64, len(values))
	}
	clear(spare)
	return spare
}

func seriesKey(name string, values []string) string {
	if len(values) == 0 {
		return name
	}
	return name + "\xff" + strings.Join(values, "\xff")
}
