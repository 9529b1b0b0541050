package perf

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics from h and parses the text format back.
func scrape(t *testing.T, h http.Handler, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// findSeries returns the metric of family name whose labels include want.
func findSeries(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("family %s missing", name)
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s%v missing", name, want)
	return nil
}

func bucketCounts(m *dto.Metric) map[float64]uint64 {
	out := map[float64]uint64{}
	for _, b := range m.GetHistogram().GetBucket() {
		out[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return out
}

func TestPrometheusOutputParsesBack(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	privmsg, _ := reg.Command("PRIVMSG")
	if _, err := reg.Command("JOIN"); err != nil {
		t.Fatal(err)
	}
	loop := reg.NewRecorder(KindLoop, "loop0")
	shard := reg.NewRecorder(KindShard, "shard0")
	// 10 us sits exactly on a bound: Prometheus buckets are "less or equal".
	for _, d := range []time.Duration{8 * time.Microsecond, 10 * time.Microsecond, 30 * time.Microsecond, 2 * time.Millisecond} {
		loop.Record(privmsg, d)
	}
	loop.Add(MessagesIn, 4)
	shard.SetGauge(QueueDepth, 4)
	shard.AddBusy(250 * time.Millisecond)
	reg.Std.Errors.Inc(433)
	reg.Std.Errors.Inc(433)
	reg.Std.Errors.Inc(1)
	reg.Std.Connections.With("tls").Add(2)
	reg.Std.Connections.With("tcp").Inc()
	reg.Std.Bans.With("kline").Inc()
	if err := reg.NewStatsFunc("laird_kv", func() []Stat {
		return []Stat{
			{Name: "compactions_total", Counter: true, Value: 12},
			{Name: "level_files", Value: 5, Labels: []Label{{"level", "0"}}},
			{Name: "bad name!", Value: 1}, // skipped, logged
		}
	}); err != nil {
		t.Fatal(err)
	}
	step(reg, clk, loop, shard)

	h, err := NewHTTPHandler(reg, HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, h, "")

	m := findSeries(t, fams, FamilyCommand, map[string]string{"command": "PRIVMSG"})
	hist := m.GetHistogram()
	if hist.GetSampleCount() != 4 {
		t.Errorf("sample count %d, want 4", hist.GetSampleCount())
	}
	if got := hist.GetSampleSum(); math.Abs(got-0.002048) > 1e-12 {
		t.Errorf("sample sum %v, want 0.002048", got)
	}
	b := bucketCounts(m)
	for le, want := range map[float64]uint64{5e-6: 0, 1e-5: 2, 2.5e-5: 2, 5e-5: 3, 1e-3: 3, 2.5e-3: 4, 10: 4} {
		if b[le] != want {
			t.Errorf("bucket le=%g: %d, want %d", le, b[le], want)
		}
	}
	if len(b) != len(DefaultBuckets)+1 { // +Inf is added by the exposition
		t.Errorf("%d buckets, want %d", len(b), len(DefaultBuckets)+1)
	}
	// A registered series without data is exported with zero counts.
	if c := findSeries(t, fams, FamilyCommand, map[string]string{"command": "JOIN"}).GetHistogram().GetSampleCount(); c != 0 {
		t.Errorf("JOIN count %d, want 0", c)
	}
	for _, fam := range []string{FamilyFanout, FamilyKVCommit, FamilyShardWait} {
		if fams[fam].GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s type %v", fam, fams[fam].GetType())
		}
	}

	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"laird_messages_in_total", nil, 4},
		{"laird_errors_total", map[string]string{"numeric": "433"}, 2},
		{"laird_errors_total", map[string]string{"numeric": "001"}, 1},
		{"laird_connections", map[string]string{"transport": "tls"}, 2},
		{"laird_connections", map[string]string{"transport": "tcp"}, 1},
		{"laird_bans_total", map[string]string{"kind": "kline"}, 1},
		{"laird_shard_queue_depth", map[string]string{"recorder": "shard0", "kind": "shard"}, 4},
		{"laird_recorder_busy_seconds_total", map[string]string{"recorder": "shard0"}, 0.25},
		{"laird_kv_compactions_total", nil, 12},
		{"laird_kv_level_files", map[string]string{"level": "0"}, 5},
	}
	for _, c := range checks {
		m := findSeries(t, fams, c.name, c.labels)
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		if v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if fams["laird_messages_in_total"].GetType() != dto.MetricType_COUNTER || fams["laird_connections"].GetType() != dto.MetricType_GAUGE {
		t.Error("counter/gauge types wrong")
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("runtime/process family %s missing", name)
		}
	}

	// Cumulative: a new interval adds, nothing is reset.
	loop.Record(privmsg, 100*time.Millisecond)
	step(reg, clk, loop, shard)
	step(reg, clk, loop, shard)
	m = findSeries(t, scrape(t, h, ""), FamilyCommand, map[string]string{"command": "PRIVMSG"})
	if c := m.GetHistogram().GetSampleCount(); c != 5 {
		t.Errorf("after more data: count %d, want 5", c)
	}
	if b := bucketCounts(m); b[0.1] != 5 || b[0.05] != 4 {
		t.Errorf("after more data: le=0.1 %d le=0.05 %d, want 5 and 4", b[0.1], b[0.05])
	}
}

func TestOpenMetricsNegotiated(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	rec := reg.NewRecorder(KindKV, "kv")
	rec.Record(KVCommit, 3*time.Millisecond)
	step(reg, clk, rec)
	h, err := NewHTTPHandler(reg, HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("content type %q, want OpenMetrics", ct)
	}
	body, _ := io.ReadAll(w.Body)
	if !strings.HasSuffix(string(body), "# EOF\n") || !strings.Contains(string(body), `laird_kv_commit_seconds_bucket{le="0.005"} 1`) {
		t.Errorf("OpenMetrics body unexpected:\n%s", body)
	}
	// Without negotiation: the classic text format.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("default content type %q, want text/plain", ct)
	}
}

// TestStdSeriesPresentFromStart: a fresh registry exports the documented
// counters at 0 and, with rules, laird_alert_firing at 0 per rule, before
// any event or collection.
func TestStdSeriesPresentFromStart(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	if _, err := reg.Command("PRIVMSG"); err != nil {
		t.Fatal(err)
	}
	a, err := NewAlerter(reg, AlertConfig{Rules: []AlertRule{{Name: "slow", Metric: "p99(cmd.PRIVMSG)", Threshold: 1}}}, AlertOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h, err := NewHTTPHandler(reg, HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, h, "")
	for _, s := range []struct {
		fam    string
		labels map[string]string
	}{
		{"laird_flood_actions_total", map[string]string{"action": "fakelag"}},
		{"laird_flood_actions_total", map[string]string{"action": "disconnect"}},
		{"laird_bans_total", map[string]string{"kind": "kline"}},
		{"laird_bans_total", map[string]string{"kind": "dline"}},
		{"laird_bans_total", map[string]string{"kind": "dline.refused"}},
		{"laird_connections", map[string]string{"transport": "tcp"}},
		{"laird_alert_firing", map[string]string{"rule": "slow"}},
		{"laird_slow_consumer_disconnects_total", nil},
		{"laird_registrations_total", nil},
	} {
		m := findSeries(t, fams, s.fam, s.labels)
		if v := m.GetCounter().GetValue() + m.GetGauge().GetValue(); v != 0 {
			t.Errorf("%s%v = %v at start", s.fam, s.labels, v)
		}
	}
}
