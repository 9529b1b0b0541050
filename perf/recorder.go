package perf

import (
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range, in microseconds: 1 us .. 60 s. Longer values are
// recorded as 60 s so that counts stay exact.
const (
	lowestUS  = 1
	highestUS = 60_000_000
)

func newHistogram(digits int) *hdr.Histogram {
	return hdr.New(lowestUS, highestUS, digits)
}

// series is one latency metric's data inside a buffer.
type series struct {
	h     *hdr.Histogram // nil until the first Record into this buffer
	sumNS int64          // exact sum of the recorded durations
}

// buffer is one half of a recorder's double buffer. The owner writes the
// active one; the reporter reads a published one. Ownership passes only
// through Recorder.free and Recorder.full.
type buffer struct {
	series   []series // by MetricID
	counters []uint64 // by CounterID, deltas since the previous flip
	gauges   []int64  // by GaugeID, values at the flip that published the buffer
	gaugeMax []int64  // by GaugeID, highest value set while the buffer was active
	busyNS   int64
	dropped  uint64 // records with an id this recorder does not know
}

func newBuffer(nLat, nCnt, nGauge int) *buffer {
	return &buffer{
		series:   make([]series, nLat),
		counters: make([]uint64, nCnt),
		gauges:   make([]int64, nGauge),
		gaugeMax: make([]int64, nGauge),
	}
}

// reset zeroes a drained buffer, keeping its histograms for reuse.
func (b *buffer) reset() {
	for i := range b.series {
		if s := &b.series[i]; s.h != nil {
			if s.h.TotalCount() != 0 {
				s.h.Reset()
			}
			s.sumNS = 0
		}
	}
	clear(b.counters)
	b.busyNS = 0
	b.dropped = 0
}

// Recorder records latencies and counts for exactly one owner goroutine:
// an event loop, a chat shard or the kv writer. Record, Add, Inc, SetGauge,
// AddBusy and Flip must only be called by that goroutine; they take no
// lock, do no atomic read-modify-write and do not allocate (except the
// first Record of a series into each half of the double buffer).
//
// The reporter never touches the active buffer. When it wants data it offers
// an empty buffer; the owner's next Flip swaps it in and publishes the full
// one. Flip is one atomic load when nothing was offered, so call it often:
// after every batch and from a timer, at least once per Registry interval.
// Data recorded before a Flip is reported at the collection after it.
type Recorder struct {
	kind, name string
	digits     int

	// Owned by the owner goroutine.
	active *buffer
	gauges []int64

	free  atomic.Pointer[buffer] // offered by the reporter: asks for a flip
	full  atomic.Pointer[buffer] // published by the owner, awaiting the reporter
	flips atomic.Uint64          // number of flips, to spot owners that stopped
}

func newRecorder(kind, name string, nLat, nCnt, nGauge, digits int) *Recorder {
	r := &Recorder{
		kind:   kind,
		name:   name,
		digits: digits,
		active: newBuffer(nLat, nCnt, nGauge),
		gauges: make([]int64, nGauge),
	}
	r.free.Store(newBuffer(nLat, nCnt, nGauge))
	return r
}

// Name returns the recorder's name, e.g. "shard3".
func (r *Recorder) Name() string { return r.name }

// Kind returns the recorder's kind, e.g. KindShard.
func (r *Recorder) Kind() string { return r.kind }

// Record adds one duration to the series id. Negative durations count as
// zero, durations above 60 s as 60 s; an unknown id is counted as dropped.
func (r *Recorder) Record(id MetricID, d time.Duration) { r.RecordN(id, d, 1) }

// RecordN adds n observations of the same duration at the cost of one: a
// fan-out task that writes one message to many recipients with one clock
// reading records them all at once.
func (r *Recorder) RecordN(id MetricID, d time.Duration, n int64) {
	if n <= 0 {
		return
	}
	b := r.active
	if int(id) >= len(b.series) {
		b.dropped++
		return
	}
	s := &b.series[id]
	if s.h == nil {
		s.h = newHistogram(r.digits)
	}
	if d < 0 {
		d = 0
	}
	us := int64(d / time.Microsecond)
	if us > highestUS {
		us = highestUS
	}
	_ = s.h.RecordValues(us, n) // cannot fail: us is within the histogram's range
	s.sumNS += int64(d) * n
}

// Prepare allocates the histograms of the given series in both halves of
// the double buffer, so that the first Record of each does not allocate on
// the owner's hot path. Owner only; best before the owner's first Flip (a
// half that is with the reporter at the time is left to allocate lazily).
func (r *Recorder) Prepare(ids ...MetricID) {
	halves := []*buffer{r.active}
	if f := r.free.Load(); f != nil { // offered: the reporter no longer touches it
		halves = append(halves, f)
	}
	for _, b := range halves {
		for _, id := range ids {
			if int(id) < len(b.series) && b.series[id].h == nil {
				b.series[id].h = newHistogram(r.digits)
			}
		}
	}
}

// RecordSince records the time elapsed since start.
func (r *Recorder) RecordSince(id MetricID, start time.Time) {
	r.Record(id, time.Since(start))
}

// Add adds n to the recorder counter id.
func (r *Recorder) Add(id CounterID, n uint64) {
	b := r.active
	if int(id) >= len(b.counters) {
		b.dropped++
		return
	}
	b.counters[id] += n
}

// Inc adds one to the recorder counter id.
func (r *Recorder) Inc(id CounterID) { r.Add(id, 1) }

// SetGauge sets the recorder gauge id, e.g. the queue depth at a drain.
func (r *Recorder) SetGauge(id GaugeID, v int64) {
	if int(id) >= len(r.gauges) {
		r.active.dropped++
		return
	}
	r.gauges[id] = v
	if m := &r.active.gaugeMax[id]; v > *m {
		*m = v
	}
}

// AddBusy adds time the owner spent working (not waiting); reports use it to
// find the hottest shard.
func (r *Recorder) AddBusy(d time.Duration) { r.active.busyNS += int64(d) }

// Flip publishes the active buffer if the reporter has asked for it and
// reports whether it did. It is cheap when no flip was asked for.
func (r *Recorder) Flip() bool {
	next := r.free.Load()
	if next == nil {
		return false
	}
	// The reporter offers a buffer only after taking the previous full one,
	// so free and full are never both set: no other writer can race us here.
	r.free.Store(nil)
	old := r.active
	copy(old.gauges, r.gauges)
	copy(next.gaugeMax, r.gauges)
	r.active = next
	r.flips.Add(1)
	r.full.Store(old)
	return true
}

// take returns the published buffer, if any. Reporter only.
func (r *Recorder) take() *buffer { return r.full.Swap(nil) }

// give offers a drained buffer back to the owner. Reporter only, and only
// with the buffer take returned.
func (r *Recorder) give(b *buffer) {
	b.reset()
	r.free.Store(b)
}
