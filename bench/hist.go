package bench

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds, in nanoseconds: 1 µs resolution up to two minutes, 3 significant digits.
const (
	histLowest  = 1_000
	histHighest = 120_000_000_000
	histDigits  = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// recorder collects latencies from many reader goroutines. Values go to one of a few
// stripes chosen by the caller's key, each with its own lock, so readers rarely contend;
// Count is lock-free. Merged may run concurrently with Record.
type recorder struct {
	stripes []stripe
}

type stripe struct {
	mu    sync.Mutex
	h     *hdrhistogram.Histogram
	count atomic.Int64
	_     [40]byte // keep neighbouring stripes off one cache line
}

func newRecorder(n int) *recorder {
	r := &recorder{stripes: make([]stripe, n)}
	for i := range r.stripes {
		r.stripes[i].h = newHist()
	}
	return r
}

// Record adds one latency of ns nanoseconds under key (any non-negative int).
func (r *recorder) Record(key int, ns int64) {
	s := &r.stripes[key%len(r.stripes)]
	if ns < histLowest {
		ns = histLowest
	}
	if ns > histHighest {
		ns = histHighest
	}
	s.mu.Lock()
	_ = s.h.RecordValue(ns)
	s.mu.Unlock()
	s.count.Add(1)
}

// Count is the number of values recorded so far.
func (r *recorder) Count() int64 {
	var n int64
	for i := range r.stripes {
		n += r.stripes[i].count.Load()
	}
	return n
}

// Merged returns one histogram holding every stripe's values.
func (r *recorder) Merged() *hdrhistogram.Histogram {
	h := newHist()
	for i := range r.stripes {
		s := &r.stripes[i]
		s.mu.Lock()
		h.Merge(s.h)
		s.mu.Unlock()
	}
	return h
}

// Latency summarises a latency histogram in milliseconds, with points of its CDF for
// plotting (Pct is the percentile, 0-100).
type Latency struct {
	Count int64      `json:"count"`
	Mean  float64    `json:"mean_ms"`
	P50   float64    `json:"p50_ms"`
	P90   float64    `json:"p90_ms"`
	P99   float64    `json:"p99_ms"`
	P999  float64    `json:"p999_ms"`
	Max   float64    `json:"max_ms"`
	CDF   []CDFPoint `json:"cdf,omitempty"`
}

// CDFPoint is one point of a latency CDF.
type CDFPoint struct {
	Pct float64 `json:"pct"`
	Ms  float64 `json:"ms"`
}

// cdfPercentiles are spaced evenly on the "nines" axis, so tails get as many points as the body.
var cdfPercentiles = func() []float64 {
	var ps []float64
	for x := 0.0; x <= 5.0001; x += 0.125 { // 1 - 10^-x: 0, 25 %, ... 99.999 %
		ps = append(ps, 100*(1-math.Pow(10, -x)))
	}
	return append(ps, 100)
}()

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// summarize turns h into a Latency; nil when h is empty.
func summarize(h *hdrhistogram.Histogram) *Latency {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	l := &Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1e6,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
	for _, p := range cdfPercentiles {
		l.CDF = append(l.CDF, CDFPoint{Pct: p, Ms: ms(h.ValueAtQuantile(p))})
	}
	return l
}

// Sample is one point of a throughput time series: events per second over the interval
// ending T seconds after the phase started.
type Sample struct {
	T    float64 `json:"t"`
	Rate float64 `json:"rate"`
}

// sampler polls a monotonically growing counter at a fixed interval until stopped.
type sampler struct {
	stop chan struct{}
	done chan []Sample
}

func startSampler(every time.Duration, count func() int64) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan []Sample, 1)}
	go func() {
		start := time.Now()
		last, lastT := count(), start
		t := time.NewTicker(every)
		defer t.Stop()
		var out []Sample
		for {
			select {
			case <-s.stop:
				// The last, partial interval counts too, so short phases have a point.
				at := time.Now()
				if dt := at.Sub(lastT).Seconds(); dt > 0.001 {
					out = append(out, Sample{T: at.Sub(start).Seconds(), Rate: float64(count()-last) / dt})
				}
				s.done <- out
				return
			case at := <-t.C:
				n := count()
				if dt := at.Sub(lastT).Seconds(); dt > 0 {
					out = append(out, Sample{T: at.Sub(start).Seconds(), Rate: float64(n-last) / dt})
				}
				last, lastT = n, at
				if len(out) >= 100_000 { // bound memory on absurdly long phases
					<-s.stop
					s.done <- out
					return
				}
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the series.
func (s *sampler) Stop() []Sample {
	close(s.stop)
	return <-s.done
}
