package perf

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock is the reporter clock of a test registry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestRegistry(t testing.TB, window int) (*Registry, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	reg := NewRegistry(Options{Window: window, Logger: quietLogger(), Now: clk.Now})
	return reg, clk
}

// step flips the owners (as their goroutines would) and collects one
// interval of the fake clock.
func step(reg *Registry, clk *fakeClock, recs ...*Recorder) *Snapshot {
	for _, r := range recs {
		r.Flip()
	}
	clk.Advance(time.Second)
	return reg.Collect()
}

func within(t *testing.T, what string, got, want int64, rel float64) {
	t.Helper()
	if math.Abs(float64(got-want)) > rel*float64(want)+1 {
		t.Errorf("%s = %d, want %d within %.2f%%", what, got, want, 100*rel)
	}
}

func TestRecordQuantilesMatchKnownData(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	id, err := reg.Command("PRIVMSG")
	if err != nil {
		t.Fatal(err)
	}
	rec := reg.NewRecorder(KindLoop, "loop0")
	const n = 100_000
	var sumUS int64
	for v := int64(1); v <= n; v++ { // 1 us .. 100 ms, uniform
		rec.Record(id, time.Duration(v)*time.Microsecond)
		sumUS += v
	}
	s := step(reg, clk, rec)
	l, ok := s.Latency("cmd.PRIVMSG")
	if !ok {
		t.Fatal("cmd.PRIVMSG missing from snapshot")
	}
	if l.Count != n || l.Total != n {
		t.Fatalf("count %d total %d, want %d", l.Count, l.Total, n)
	}
	// 3 significant digits: every quantile within 0.1% of the exact value.
	within(t, "p50", l.P50, n/2, 0.001)
	within(t, "p90", l.P90, n*9/10, 0.001)
	within(t, "p99", l.P99, n*99/100, 0.001)
	within(t, "p99.9", l.P999, n*999/1000, 0.001)
	within(t, "max", l.Max, n, 0.001)
	within(t, "total p99", l.TotalP99, n*99/100, 0.001)
	if got, want := l.SumSeconds, float64(sumUS)/1e6; math.Abs(got-want) > 1e-6 {
		t.Errorf("sum %v s, want %v s (exact)", got, want)
	}
	if l.Labels["command"] != "PRIVMSG" || l.Family != FamilyCommand {
		t.Errorf("labels %v family %q", l.Labels, l.Family)
	}
	if math.Abs(l.Rate-n/1.0) > 1 { // one interval of 1 s in the window
		t.Errorf("rate %v, want %v/s", l.Rate, n)
	}
}

func TestRecordSmallValuesExact(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	rec := reg.NewRecorder(KindShard, "shard0")
	for i := 0; i < 99; i++ {
		rec.Record(ShardWait, 7*time.Microsecond)
	}
	rec.Record(ShardWait, 1234*time.Microsecond)
	l, _ := step(reg, clk, rec).Latency("shard.wait")
	if l.P50 != 7 || l.P99 != 7 || l.Max != 1234 {
		t.Errorf("p50 %d p99 %d max %d, want 7 7 1234 (exact below 2048 us)", l.P50, l.P99, l.Max)
	}
}

func TestRecordClampsOutOfRange(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	rec := reg.NewRecorder(KindKV, "kv")
	rec.Record(KVCommit, -time.Second)
	rec.Record(KVCommit, 2*time.Minute)
	rec.Record(MetricID(999), time.Millisecond) // unknown id: dropped, counted
	s := step(reg, clk, rec)
	l, _ := s.Latency("kv.commit")
	if l.Count != 2 {
		t.Fatalf("count %d, want 2 (out-of-range values are kept)", l.Count)
	}
	within(t, "max", l.Max, highestUS, 0.001)
	if l.P50 != 0 {
		t.Errorf("p50 %d, want 0 for a negative duration", l.P50)
	}
	if v := counterValue(s, "laird_perf_dropped_records_total", nil); v != 1 {
		t.Errorf("dropped %v, want 1", v)
	}
}

func counterValue(s *Snapshot, name string, labels map[string]string) float64 {
	var v float64
	for _, c := range append(append([]SeriesStat(nil), s.Counters...), s.Gauges...) {
		if c.Name == name && matches(c.Labels, labelsOf(labels)) {
			v += c.Value
		}
	}
	return v
}

func labelsOf(m map[string]string) []Label {
	var ls []Label
	for k, v := range m {
		ls = append(ls, Label{k, v})
	}
	return ls
}

func TestFlipOnlyWhenOffered(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	rec := reg.NewRecorder(KindLoop, "loop0")
	if !rec.Flip() {
		t.Fatal("first Flip must take the buffer offered at creation")
	}
	if rec.Flip() {
		t.Fatal("Flip swapped without an offer from the reporter")
	}
	rec.Record(Fanout, time.Millisecond)
	// The reporter takes the (empty) buffer of the first flip and offers
	// it back; the record above is still in the active buffer.
	clk.Advance(time.Second)
	if l, ok := reg.Collect().Latency("fanout"); ok {
		t.Fatalf("fanout reported before the owner flipped: %+v", l)
	}
	if !rec.Flip() {
		t.Fatal("Flip after a collection must publish")
	}
	clk.Advance(time.Second)
	if l, _ := reg.Collect().Latency("fanout"); l.Count != 1 {
		t.Fatalf("fanout count %d after flip and collect, want 1", l.Count)
	}
	// An owner that stops flipping shows up as idle.
	clk.Advance(time.Second)
	reg.Collect()
	clk.Advance(time.Second)
	s := reg.Collect()
	if s.Recorders[0].IdleIntervals != 2 {
		t.Errorf("idle intervals %d, want 2", s.Recorders[0].IdleIntervals)
	}
}

func TestCountersGaugesBusy(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	a := reg.NewRecorder(KindShard, "shard0")
	b := reg.NewRecorder(KindShard, "shard1")
	for i := 0; i < 5; i++ {
		a.Inc(MessagesIn)
		b.Inc(MessagesIn)
	}
	a.Add(BytesIn, 100)
	a.SetGauge(QueueDepth, 7)
	a.SetGauge(QueueDepth, 3)
	a.AddBusy(500 * time.Millisecond)
	s := step(reg, clk, a, b)
	if v := counterValue(s, "laird_messages_in_total", nil); v != 10 {
		t.Errorf("messages in %v, want 10 (summed over recorders)", v)
	}
	if v := counterValue(s, "laird_bytes_in_total", nil); v != 100 {
		t.Errorf("bytes in %v, want 100", v)
	}
	if v := counterValue(s, "laird_shard_queue_depth", map[string]string{"recorder": "shard0"}); v != 3 {
		t.Errorf("queue depth gauge %v, want 3 (last value)", v)
	}
	r0 := s.Recorders[0]
	if r0.QueueDepth != 3 || r0.QueueDepthMax != 7 {
		t.Errorf("queue %d max %d, want 3 and 7", r0.QueueDepth, r0.QueueDepthMax)
	}
	if math.Abs(r0.Busy-0.5) > 1e-9 || r0.BusySeconds != 0.5 {
		t.Errorf("busy %v (%v s), want 0.5 of a 1 s window", r0.Busy, r0.BusySeconds)
	}
	// Counters accumulate across intervals and give a rate over the window.
	for i := 0; i < 20; i++ {
		a.Inc(MessagesIn)
	}
	s = step(reg, clk, a, b)
	if v := counterValue(s, "laird_messages_in_total", nil); v != 30 {
		t.Errorf("messages in %v, want 30", v)
	}
	for _, c := range s.Counters {
		if c.Name == "laird_messages_in_total" && math.Abs(c.Rate-15) > 1e-9 {
			t.Errorf("rate %v, want 15/s (30 over two 1 s intervals)", c.Rate)
		}
	}
	// The gauge max of the new interval starts from the value carried in.
	if r := s.Recorders[0]; r.QueueDepthMax != 7 {
		t.Errorf("window queue max %d, want 7 (still in the window)", r.QueueDepthMax)
	}
}

func TestWindowSlidesCumulativeStays(t *testing.T) {
	reg, clk := newTestRegistry(t, 3)
	rec := reg.NewRecorder(KindLoop, "loop0")
	for i := 0; i < 100; i++ {
		rec.Record(Fanout, time.Millisecond)
	}
	s := step(reg, clk, rec)
	if l, _ := s.Latency("fanout"); l.Count != 100 || l.Total != 100 {
		t.Fatalf("count %d total %d", l.Count, l.Total)
	}
	rec.Record(Fanout, 9*time.Millisecond)
	step(reg, clk, rec)
	s = step(reg, clk, rec)
	l, _ := s.Latency("fanout")
	if l.Count != 101 || s.WindowSeconds != 3 {
		t.Fatalf("window count %d over %v s, want 101 over 3 s", l.Count, s.WindowSeconds)
	}
	s = step(reg, clk, rec) // the first interval leaves the window
	l, _ = s.Latency("fanout")
	if l.Count != 1 || l.Total != 101 {
		t.Fatalf("after slide: window %d total %d, want 1 and 101", l.Count, l.Total)
	}
	within(t, "window p50", l.P50, 9000, 0.001)
	within(t, "total p50", l.TotalP99, 1000, 0.001)
	step(reg, clk, rec)
	s = step(reg, clk, rec)
	if l, _ = s.Latency("fanout"); l.Count != 0 || l.Total != 101 {
		t.Fatalf("idle window: count %d total %d, want 0 and 101", l.Count, l.Total)
	}
}

// TestConcurrentRecordAndCollect runs owners recording and flipping while
// the reporter collects; run under -race. Nothing may be lost or counted twice.
func TestConcurrentRecordAndCollect(t *testing.T) {
	reg := NewRegistry(Options{Logger: quietLogger()})
	const owners, n = 2, 100_000
	var recs []*Recorder
	for i := 0; i < owners; i++ {
		recs = append(recs, reg.NewRecorder(KindShard, "shard"+string(rune('0'+i))))
	}
	var wg sync.WaitGroup
	for _, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				rec.Record(ShardWait, time.Duration(i%3000)*time.Microsecond)
				rec.Inc(Deliveries)
				if i%256 == 0 {
					rec.Flip()
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	deadline := time.After(30 * time.Second)
loop:
	for {
		select {
		case <-done:
			break loop
		case <-deadline:
			t.Fatal("owners did not finish in 30 s")
		default:
			reg.Collect()
			time.Sleep(200 * time.Microsecond)
		}
	}
	// The owners are done (wg.Wait happened before close(done)), so this
	// goroutine may act as their owner for the final flip.
	reg.Collect()
	for _, rec := range recs {
		rec.Flip()
	}
	s := reg.Collect()
	l, _ := s.Latency("shard.wait")
	if l.Total != owners*n {
		t.Errorf("recorded %d, want %d", l.Total, owners*n)
	}
	if v := counterValue(s, "laird_deliveries_total", nil); v != owners*n {
		t.Errorf("deliveries %v, want %d", v, owners*n)
	}
}

func TestDroppedIDsLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	reg := NewRegistry(Options{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Now: clk.Now})
	rec := reg.NewRecorder(KindLoop, "loop0")
	rec.Inc(CounterID(200))
	rec.SetGauge(GaugeID(200), 1)
	step(reg, clk, rec)
	rec.Inc(CounterID(200))
	step(reg, clk, rec)
	if got := bytes.Count(buf.Bytes(), []byte("unknown ids dropped")); got != 1 {
		t.Errorf("warning logged %d times, want once:\n%s", got, buf.String())
	}
}

func TestPrepareAvoidsHotPathAllocation(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	id, _ := reg.Command("PRIVMSG")
	lazy := reg.NewRecorder(KindLoop, "loop0")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lazy.Record(id, time.Millisecond)
	runtime.ReadMemStats(&after)
	if after.Mallocs == before.Mallocs {
		t.Fatal("first Record without Prepare did not allocate: the test below proves nothing")
	}
	rec := reg.NewRecorder(KindLoop, "loop1")
	rec.Prepare(id)
	if n := testing.AllocsPerRun(100, func() { rec.Record(id, time.Millisecond) }); n != 0 {
		t.Errorf("Record after Prepare: %v allocs", n)
	}
	rec.Flip() // the other half becomes active
	if n := testing.AllocsPerRun(100, func() { rec.Record(id, time.Millisecond) }); n != 0 {
		t.Errorf("Record after Prepare and Flip: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		rec.Inc(MessagesIn)
		rec.SetGauge(QueueDepth, 3)
		rec.AddBusy(time.Microsecond)
		rec.Flip()
	}); n != 0 {
		t.Errorf("counters, gauges, busy, idle Flip: %v allocs", n)
	}
}

func TestCounterRateSlides(t *testing.T) {
	reg, clk := newTestRegistry(t, 2)
	rec := reg.NewRecorder(KindLoop, "loop0")
	rate := func(s *Snapshot) float64 {
		for _, c := range s.Counters {
			if c.Name == "laird_messages_out_total" {
				return c.Rate
			}
		}
		t.Fatal("counter missing")
		return 0
	}
	want := []float64{10, 15, 30, 20} // per-interval adds 10, 20, 40, 0 over a 2-interval window
	for i, n := range []uint64{10, 20, 40, 0} {
		rec.Add(MessagesOut, n)
		if got := rate(step(reg, clk, rec)); got != want[i] {
			t.Errorf("interval %d: rate %v, want %v", i+1, got, want[i])
		}
	}
}
