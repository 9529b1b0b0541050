package perf

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func reportSnapshot() *Snapshot {
	cmd := func(c string, count, p99 int64, sum float64) LatencyStat {
		return LatencyStat{Name: "cmd." + c, Family: FamilyCommand, Labels: map[string]string{"command": c},
			Count: count, Rate: float64(count) / 10, P50: p99 / 4, P90: p99 / 2, P99: p99, P999: p99 * 2, Max: p99 * 3,
			SumSeconds: sum, Total: count * 10, TotalP99: p99, TotalSum: sum * 10}
	}
	return &Snapshot{
		Time:          time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC),
		WindowSeconds: 10,
		Latencies: []LatencyStat{
			cmd("PRIVMSG", 10000, 800, 3),
			cmd("WHO", 50, 25000, 1),
			cmd("JOIN", 300, 1500, 1),
			cmd("IDLE", 0, 0, 0),
			{Name: "kv.commit", Family: FamilyKVCommit, Count: 40, P99: 4000},
		},
		Recorders: []RecorderStat{
			{Name: "loop0", Kind: KindLoop, Busy: 0.95},
			{Name: "shard0", Kind: KindShard, Busy: 0.20, QueueDepthMax: 3},
			{Name: "shard1", Kind: KindShard, Busy: 0.70, QueueDepth: 12, QueueDepthMax: 40},
			{Name: "shard2", Kind: KindShard, Busy: 0.70, QueueDepthMax: 2},
		},
		Alerts: []AlertStatus{{Rule: "who-slow", Metric: "p99(cmd.WHO)", Op: ">", Threshold: 0.01, Value: 0.025, State: StateFiring}},
	}
}

func TestBuildReport(t *testing.T) {
	r := BuildReport(reportSnapshot(), 2)
	if r.Cumulative {
		t.Error("cumulative although commands ran in the window")
	}
	if len(r.Slowest) != 2 || commandName(r.Slowest[0].LatencyStat) != "WHO" || commandName(r.Slowest[1].LatencyStat) != "JOIN" {
		t.Fatalf("slowest %+v, want WHO then JOIN", r.Slowest)
	}
	if math.Abs(r.Slowest[0].Share-0.2) > 1e-9 { // 1 s of 5 s of command time
		t.Errorf("WHO share %v, want 0.2", r.Slowest[0].Share)
	}
	// Busy ties between shards are broken by queue depth; the busier loop is
	// not a shard.
	if r.HottestShard == nil || r.HottestShard.Name != "shard1" {
		t.Fatalf("hottest shard %+v, want shard1", r.HottestShard)
	}
	if r.Recorders[0].Name != "loop0" || len(r.Pipeline) != 1 || r.Pipeline[0].Name != "kv.commit" {
		t.Errorf("recorders %+v pipeline %+v", r.Recorders, r.Pipeline)
	}
	text := r.String()
	for _, want := range []string{"WHO", "p99=25.00ms", "Hottest shard: shard1, busy 70.0%", "kv.commit", "FIRING", "who-slow"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "PRIVMSG") {
		t.Errorf("top 2 should not name PRIVMSG:\n%s", text)
	}
	var back Report
	body, _ := json.Marshal(r)
	if err := json.Unmarshal(body, &back); err != nil || back.HottestShard.Name != "shard1" || back.Slowest[0].P99 != 25000 || back.Slowest[0].Share != r.Slowest[0].Share {
		t.Errorf("JSON round trip: %v %s", err, body)
	}
}

func TestBuildReportIdleUsesTotals(t *testing.T) {
	s := reportSnapshot()
	for i := range s.Latencies {
		s.Latencies[i].Count = 0
	}
	s.Recorders = nil
	r := BuildReport(s, 0)
	if !r.Cumulative || len(r.Slowest) != 4 || commandName(r.Slowest[0].LatencyStat) != "WHO" {
		t.Fatalf("idle report %+v", r)
	}
	if text := r.String(); !strings.Contains(text, "totals since start") || !strings.Contains(text, "no shard recorders") {
		t.Errorf("idle text:\n%s", text)
	}
}

func TestLatencyLines(t *testing.T) {
	lines := LatencyLines(reportSnapshot(), 0)
	if len(lines) != 4 { // header + 3 commands that ran
		t.Fatalf("lines %q", lines)
	}
	if !strings.HasPrefix(lines[0], "command") || !strings.HasPrefix(lines[1], "WHO ") || !strings.HasPrefix(lines[3], "PRIVMSG ") {
		t.Errorf("order %q", lines)
	}
	if !strings.Contains(lines[1], "25.00ms") || !strings.Contains(lines[3], "800us") {
		t.Errorf("values %q", lines)
	}
	for _, l := range lines {
		if len(l) > 400 || strings.ContainsAny(l, "\r\n\x00") {
			t.Errorf("line unfit for IRC: %q", l)
		}
		for _, c := range l {
			if c > 127 {
				t.Errorf("non-ASCII in %q", l)
			}
		}
	}
	if l := LatencyLines(reportSnapshot(), 1); len(l) != 2 {
		t.Errorf("limit 1: %q", l)
	}
	if l := LatencyLines(nil, 0); len(l) != 2 || !strings.Contains(l[1], "no commands") {
		t.Errorf("before any collection: %q", l)
	}
	if r := BuildReport(nil, 5); len(r.Slowest) != 0 || r.HottestShard != nil {
		t.Errorf("report before any collection: %+v", r)
	}
}

func TestFormatUS(t *testing.T) {
	for us, want := range map[int64]string{0: "0us", 999: "999us", 1000: "1.00ms", 1234: "1.23ms", 2_500_000: "2.50s"} {
		if got := FormatUS(us); got != want {
			t.Errorf("FormatUS(%d) = %q, want %q", us, got, want)
		}
	}
}

func TestDecodeStatusRejectsGarbage(t *testing.T) {
	if _, err := DecodeStatus(strings.NewReader("<html>")); err == nil {
		t.Error("HTML decoded as a snapshot")
	}
	body, _ := json.Marshal(reportSnapshot())
	s, err := DecodeStatus(bytes.NewReader(body))
	if err != nil || len(s.Latencies) != 5 || s.Recorders[2].QueueDepthMax != 40 {
		t.Errorf("round trip: %v %+v", err, s)
	}
}
