package perf

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// Recording cost, with an unrecorded baseline doing the same loop work.
// The durations vary over a realistic range so the histogram index varies.

var sink int64

func benchDurations() []time.Duration {
	ds := make([]time.Duration, 1024)
	for i := range ds {
		ds[i] = time.Duration(i*37%5000+3) * time.Microsecond
	}
	return ds
}

func BenchmarkRecordBaseline(b *testing.B) {
	ds := benchDurations()
	b.ReportAllocs()
	var acc int64
	for i := 0; b.Loop(); i++ {
		acc += int64(ds[i&1023])
	}
	sink = acc
}

func BenchmarkRecord(b *testing.B) {
	reg := NewRegistry(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	id, _ := reg.Command("PRIVMSG")
	rec := reg.NewRecorder(KindLoop, "loop0")
	ds := benchDurations()
	rec.Record(id, ds[0]) // first record of a series allocates its histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.Record(id, ds[i&1023])
	}
}

// BenchmarkRecordAndCount is what a loop does per command: one latency and
// two counters.
func BenchmarkRecordAndCount(b *testing.B) {
	reg := NewRegistry(Options{})
	id, _ := reg.Command("PRIVMSG")
	rec := reg.NewRecorder(KindLoop, "loop0")
	ds := benchDurations()
	rec.Record(id, ds[0])
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.Record(id, ds[i&1023])
		rec.Inc(MessagesIn)
		rec.Add(BytesIn, 64)
	}
}

// BenchmarkRecordSince includes reading the clock, which callers pay when
// they do not already hold a timestamp.
func BenchmarkRecordSince(b *testing.B) {
	reg := NewRegistry(Options{})
	id, _ := reg.Command("PRIVMSG")
	rec := reg.NewRecorder(KindLoop, "loop0")
	start := time.Now()
	rec.RecordSince(id, start)
	b.ReportAllocs()
	for b.Loop() {
		rec.RecordSince(id, start)
	}
}

func BenchmarkTimeNowBaseline(b *testing.B) {
	start := time.Now()
	b.ReportAllocs()
	var acc int64
	for b.Loop() {
		acc += int64(time.Since(start))
	}
	sink = acc
}

// BenchmarkFlipIdle is the cost of Flip when the reporter asked for nothing.
func BenchmarkFlipIdle(b *testing.B) {
	reg := NewRegistry(Options{})
	rec := reg.NewRecorder(KindShard, "shard0")
	rec.Flip() // takes the initial offer
	b.ReportAllocs()
	for b.Loop() {
		rec.Flip()
	}
}

// BenchmarkProcessCounter is the process-wide atomic counter, uncontended.
func BenchmarkProcessCounter(b *testing.B) {
	reg := NewRegistry(Options{})
	c := reg.Std.FloodActions.With("throttle")
	b.ReportAllocs()
	for b.Loop() {
		c.Inc()
	}
}

// BenchmarkCollect is the reporter's cost per interval with 4 recorders,
// 10 busy series each.
func BenchmarkCollect(b *testing.B) {
	reg := NewRegistry(Options{})
	var ids []MetricID
	for _, c := range []string{"PRIVMSG", "JOIN", "PART", "MODE", "WHO", "NICK", "PING", "QUIT", "TOPIC", "NOTICE"} {
		id, _ := reg.Command(c)
		ids = append(ids, id)
	}
	var recs []*Recorder
	for _, n := range []string{"loop0", "loop1", "shard0", "shard1"} {
		recs = append(recs, reg.NewRecorder(KindLoop, n))
	}
	ds := benchDurations()
	b.ReportAllocs()
	for b.Loop() {
		for _, rec := range recs {
			for j, id := range ids {
				for k := 0; k < 100; k++ {
					rec.Record(id, ds[(j*100+k)&1023])
				}
			}
			rec.Flip()
		}
		reg.Collect()
	}
}
