package perf

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestAlertConfigFromTOML(t *testing.T) {
	const doc = `
[[rule]]
name = "privmsg-slow"
metric = "p99(cmd.PRIVMSG)"
threshold = 0.005
for = "30s"

[[rule]]
name = "errors"
metric = "per_minute(laird_errors_total)"
op = ">="
threshold = 100
for = "1m"

[webhook]
url = "http://127.0.0.1:9/hook"
timeout = "2s"
`
	var cfg AlertConfig
	if _, err := toml.Decode(doc, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 2 || cfg.Rules[0].For != 30*time.Second || cfg.Rules[1].For != time.Minute ||
		cfg.Rules[0].Threshold != 0.005 || cfg.Rules[1].Op != ">=" || cfg.Webhook.Timeout != 2*time.Second {
		t.Fatalf("decoded %+v", cfg)
	}
}

// snapAt is a snapshot at second sec with PRIVMSG p99 = p99us (0: no data).
func snapAt(base time.Time, sec int, p99us int64) *Snapshot {
	s := &Snapshot{Time: base.Add(time.Duration(sec) * time.Second)}
	if p99us > 0 {
		s.Latencies = []LatencyStat{{Name: "cmd.PRIVMSG", Family: FamilyCommand, Count: 10, P99: p99us}}
	}
	return s
}

func TestAlertHysteresis(t *testing.T) {
	var events []AlertEvent
	a, err := NewAlerter(nil, AlertConfig{Rules: []AlertRule{{
		Name: "privmsg-slow", Metric: "p99(cmd.PRIVMSG)", Threshold: 0.005, For: 30 * time.Second,
	}}}, AlertOptions{Logger: quietLogger(), OnChange: func(ev AlertEvent) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		sec   int
		p99   int64
		state string // "" when idle
	}{
		{0, 6000, StatePending},
		{10, 6000, StatePending},
		{20, 4000, ""}, // condition broke: the run restarts
		{25, 6000, StatePending},
		{54, 6000, StatePending}, // 29 s of 30
		{55, 6000, StateFiring},  // fires
		{60, 4000, StateResolving},
		{70, 7000, StateFiring}, // back above: stays firing, no event
		{80, 4000, StateResolving},
		{100, 0, StateResolving}, // no data counts as false
		{109, 4000, StateResolving},
		{110, 4000, ""}, // false for 30 s: resolved
		{111, 6000, StatePending},
	}
	for _, st := range steps {
		active := a.Evaluate(snapAt(base, st.sec, st.p99))
		got := ""
		if len(active) == 1 {
			got = active[0].State
		} else if len(active) > 1 {
			t.Fatalf("t=%d: %d active", st.sec, len(active))
		}
		if got != st.state {
			t.Errorf("t=%d p99=%dus: state %q, want %q", st.sec, st.p99, got, st.state)
		}
	}
	if len(events) != 2 {
		t.Fatalf("events %+v, want firing then resolved", events)
	}
	f, r := events[0], events[1]
	if f.State != StateFiring || !f.At.Equal(base.Add(55*time.Second)) || !f.Since.Equal(base.Add(25*time.Second)) || f.Value != 0.006 {
		t.Errorf("firing event %+v", f)
	}
	if r.State != StateResolved || !r.At.Equal(base.Add(110*time.Second)) || !r.Since.Equal(base.Add(80*time.Second)) {
		t.Errorf("resolved event %+v", r)
	}
}

func TestAlertForZeroFiresImmediately(t *testing.T) {
	a, err := NewAlerter(nil, AlertConfig{Rules: []AlertRule{{Name: "r", Metric: "p50(cmd.PRIVMSG)", Op: "<", Threshold: 0.001}}}, AlertOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(0, 0)
	s := snapAt(base, 0, 1)
	s.Latencies[0].P50 = 500
	if act := a.Evaluate(s); len(act) != 1 || act[0].State != StateFiring {
		t.Fatalf("active %+v, want firing at once", act)
	}
}

func TestAlertExprEval(t *testing.T) {
	s := &Snapshot{
		Counters: []SeriesStat{
			{Name: "laird_errors_total", Labels: map[string]string{"numeric": "433"}, Value: 50, Rate: 2},
			{Name: "laird_errors_total", Labels: map[string]string{"numeric": "401"}, Value: 10, Rate: 0.5},
		},
		Gauges: []SeriesStat{
			{Name: "laird_shard_queue_depth", Labels: map[string]string{"recorder": "shard0"}, Value: 3},
			{Name: "laird_shard_queue_depth", Labels: map[string]string{"recorder": "shard1"}, Value: 40},
			{Name: "laird_connections", Labels: map[string]string{"transport": "tcp"}, Value: 100},
			{Name: "laird_connections", Labels: map[string]string{"transport": "tls"}, Value: 20},
		},
		Latencies: []LatencyStat{{Name: "kv.commit", Count: 5, P99: 12000, P999: 20000, Max: 30000}},
	}
	cases := map[string]float64{
		"per_minute(laird_errors_total)":                     150,
		`per_minute(laird_errors_total{numeric="433"})`:      120,
		"per_second(laird_errors_total)":                     2.5,
		"max(laird_shard_queue_depth)":                       40,
		"min(laird_shard_queue_depth)":                       3,
		"laird_connections":                                  120,
		`laird_connections{transport="tls"}`:                 20,
		`sum(laird_connections{ transport = "tcp" })`:        100,
		"laird_errors_total":                                 60, // a counter's current value
		"p99(kv.commit)":                                     0.012,
		"p99.9(kv.commit)":                                   0.02,
		"p100(kv.commit)":                                    0.03,
		`per_minute(laird_errors_total{numeric="999"})`:      0,
		`max(laird_shard_queue_depth{recorder="nope"})`:      0,
		"  p99( kv.commit )  ":                               0.012,
		`laird_connections{transport="tls",transport="tls"}`: 20,
	}
	for in, want := range cases {
		e, err := parseExpr(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		got, ok := e.eval(s)
		if !ok || got != want {
			t.Errorf("%q = %v (ok %v), want %v", in, got, ok, want)
		}
	}
	if e, _ := parseExpr("p99(cmd.PRIVMSG)"); func() bool { _, ok := e.eval(s); return ok }() {
		t.Error("quantile of a series without data must not be judged")
	}
	for _, bad := range []string{"", "p98(kv.commit)", "p99(kv commit)", "rate(x)", "max(laird_x", "max(1abc)",
		`x{a=b}`, `x{a="b"`, `x{a="b" c="d"}`, `x{__a="b"}`, "p99()", `x{a}`, `x{="v"}`} {
		if _, err := parseExpr(bad); !errors.Is(err, ErrBadExpr) {
			t.Errorf("%q: err %v, want ErrBadExpr", bad, err)
		}
	}
}

func TestAlertRulesCheckedAgainstRegistry(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	if _, err := reg.Command("PRIVMSG"); err != nil {
		t.Fatal(err)
	}
	if err := reg.NewStatsFunc("laird_kv", func() []Stat { return nil }); err != nil {
		t.Fatal(err)
	}
	ok := []string{"p99(cmd.PRIVMSG)", "p99(kv.commit)", "per_minute(laird_errors_total)",
		"max(laird_shard_queue_depth)", `laird_connections{transport="tls"}`, "laird_kv_anything"}
	for _, m := range ok {
		if _, err := NewAlerter(reg, AlertConfig{Rules: []AlertRule{{Name: "r", Metric: m}}}, AlertOptions{Logger: quietLogger()}); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
	bad := map[string]error{
		"p99(cmd.NOPE)":                       ErrUnknownMetric,
		"max(laird_nope)":                     ErrUnknownMetric,
		"per_minute(laird_connections)":       ErrBadExpr,
		"max(laird_command_duration_seconds)": ErrBadExpr,
		`laird_connections{nick="x"}`:         ErrBadExpr,
	}
	for m, want := range bad {
		_, err := NewAlerter(reg, AlertConfig{Rules: []AlertRule{{Name: "r", Metric: m}}}, AlertOptions{Logger: quietLogger()})
		if !errors.Is(err, want) || !errors.Is(err, ErrBadRule) {
			t.Errorf("%q: %v, want %v", m, err, want)
		}
	}
	for _, rules := range [][]AlertRule{
		{{Name: "", Metric: "p99(kv.commit)"}},
		{{Name: "a", Metric: "p99(kv.commit)"}, {Name: "a", Metric: "p99(kv.commit)"}},
		{{Name: "a", Metric: "p99(kv.commit)", Op: "!="}},
		{{Name: "a", Metric: "p99(kv.commit)", For: -time.Second}},
	} {
		if _, err := NewAlerter(reg, AlertConfig{Rules: rules}, AlertOptions{}); !errors.Is(err, ErrBadRule) {
			t.Errorf("%+v: %v, want ErrBadRule", rules, err)
		}
	}
	if _, err := NewAlerter(reg, AlertConfig{Webhook: WebhookConfig{URL: "ftp://x"}}, AlertOptions{}); err == nil {
		t.Error("non-http webhook URL accepted")
	}
}

// TestAlertMetricAndLog runs an alert through a registry: the metric, the
// log line and the snapshot all show it.
func TestAlertMetricAndLog(t *testing.T) {
	var logs bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	reg := NewRegistry(Options{Logger: quietLogger(), Now: clk.Now})
	rec := reg.NewRecorder(KindShard, "shard0")
	a, err := NewAlerter(reg, AlertConfig{Rules: []AlertRule{
		{Name: "deep-queue", Metric: "max(laird_shard_queue_depth)", Threshold: 100, For: 2 * time.Second},
		{Name: "quiet", Metric: "max(laird_shard_queue_depth)", Threshold: 1e9},
	}}, AlertOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h, err := NewHTTPHandler(reg, HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	firing := func() float64 {
		return findSeries(t, scrape(t, h, ""), "laird_alert_firing", map[string]string{"rule": "deep-queue"}).GetGauge().GetValue()
	}
	rec.SetGauge(QueueDepth, 500)
	step(reg, clk, rec)
	step(reg, clk, rec)
	if firing() != 0 {
		t.Fatal("fired before the for duration")
	}
	s := step(reg, clk, rec)
	if firing() != 1 || len(s.Alerts) != 1 || s.Alerts[0].State != StateFiring {
		t.Fatalf("not firing after 2 s: metric %v alerts %+v", firing(), s.Alerts)
	}
	if v := findSeries(t, scrape(t, h, ""), "laird_alert_firing", map[string]string{"rule": "quiet"}).GetGauge().GetValue(); v != 0 {
		t.Errorf("quiet rule exported %v", v)
	}
	if !strings.Contains(logs.String(), "alert firing") || !strings.Contains(logs.String(), "rule=deep-queue") {
		t.Errorf("firing not logged:\n%s", logs.String())
	}
	rec.SetGauge(QueueDepth, 0)
	for i := 0; i < 4; i++ {
		step(reg, clk, rec)
	}
	if firing() != 0 || !strings.Contains(logs.String(), "alert resolved") {
		t.Errorf("not resolved: metric %v\n%s", firing(), logs.String())
	}
	a.Close()
	if s := step(reg, clk, rec); s.Alerts != nil {
		t.Error("closed alerter still evaluated")
	}
}

func TestWebhookDelivery(t *testing.T) {
	var mu sync.Mutex
	var got []AlertEvent
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev AlertEvent
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &ev) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, ev)
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer srv.Close()
	a, err := NewAlerter(nil, AlertConfig{
		Rules:   []AlertRule{{Name: "slow", Metric: "p99(cmd.PRIVMSG)", Threshold: 0.005}},
		Webhook: WebhookConfig{URL: srv.URL + "/hook", Token: "hooktoken", Timeout: 5 * time.Second},
	}, AlertOptions{Logger: quietLogger(), Client: srv.Client(), Source: "irc.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	base := time.Unix(0, 0)
	a.Evaluate(snapAt(base, 0, 9000))
	a.Evaluate(snapAt(base, 1, 1000))
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %d events in 10 s, want 2", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0].Rule != "slow" || got[0].Source != "irc.example.net" || got[0].State != StateFiring || got[0].Value != 0.009 || got[1].State != StateResolved {
		t.Errorf("events %+v", got)
	}
	if auth[0] != "Bearer hooktoken" {
		t.Errorf("authorization %q", auth[0])
	}
	// The sender counts a delivery once the response is back, which can
	// be after the handler above has recorded it.
	for a.hook.sent.Load() != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a.hook.sent.Load() != 2 {
		t.Errorf("sent %d", a.hook.sent.Load())
	}
}

// TestWebhookNeverBlocksEvaluator: a webhook that hangs must not slow the
// evaluator; the queue overflows into drops and Close returns promptly.
func TestWebhookNeverBlocksEvaluator(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	a, err := NewAlerter(nil, AlertConfig{
		Rules:   []AlertRule{{Name: "flap", Metric: "p99(cmd.PRIVMSG)", Threshold: 0.005}},
		Webhook: WebhookConfig{URL: srv.URL, Timeout: 30 * time.Second},
	}, AlertOptions{Logger: quietLogger(), Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(0, 0)
	start := time.Now()
	for i := 0; i < 200; i++ { // 200 transitions
		p := int64(9000)
		if i%2 == 1 {
			p = 1000
		}
		a.Evaluate(snapAt(base, i, p))
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("200 evaluations took %v with a hung webhook", el)
	}
	if a.hook.dropped.Load() == 0 {
		t.Error("no events dropped although the queue must have overflowed")
	}
	start = time.Now()
	a.Close()
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Close took %v", el)
	}
	a.Evaluate(snapAt(base, 500, 9000)) // after Close: no send on a closed queue
}

// TestWebhookFailureLogsNoSecret: chat webhooks carry their secret in the
// URL path; a failed delivery is logged without it.
func TestWebhookFailureLogsNoSecret(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // connection refused from now on
	var mu sync.Mutex
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	a, err := NewAlerter(nil, AlertConfig{
		Rules:   []AlertRule{{Name: "r", Metric: "p99(cmd.PRIVMSG)", Threshold: 0.001}},
		Webhook: WebhookConfig{URL: addr + "/services/T0/B0/SECRETPATH", Timeout: 2 * time.Second},
	}, AlertOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	a.Evaluate(snapAt(time.Unix(0, 0), 0, 5000))
	deadline := time.Now().Add(10 * time.Second)
	for a.hook.failed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	a.Close()
	mu.Lock()
	defer mu.Unlock()
	if a.hook.failed.Load() != 1 || !strings.Contains(logs.String(), "delivery failed") {
		t.Fatalf("failure not counted/logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "SECRETPATH") {
		t.Errorf("webhook path logged:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestAlerterReloadCarriesState(t *testing.T) {
	var mu sync.Mutex
	var events []AlertEvent
	opts := AlertOptions{Logger: quietLogger(), OnChange: func(ev AlertEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}}
	slow := AlertRule{Name: "privmsg-slow", Metric: "p99(cmd.PRIVMSG)", Threshold: 0.005}
	other := AlertRule{Name: "privmsg-very-slow", Metric: "p99(cmd.PRIVMSG)", Threshold: 0.001}
	hook := WebhookConfig{URL: "http://127.0.0.1:9/hook"}
	reg := NewRegistry(Options{Logger: quietLogger()})
	if _, err := reg.Command("PRIVMSG"); err != nil {
		t.Fatal(err)
	}
	a, err := NewAlerter(reg, AlertConfig{Rules: []AlertRule{slow, other}, Webhook: hook}, opts)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(0, 0)
	if act := a.Evaluate(snapAt(base, 0, 6000)); len(act) != 2 {
		t.Fatalf("active %+v, want both firing", act)
	}
	// The reload keeps "privmsg-slow" as it was, changes the other rule's
	// threshold and keeps the webhook.
	changed := other
	changed.Threshold = 0.002
	b, err := NewAlerter(reg, AlertConfig{Rules: []AlertRule{slow, changed}, Webhook: hook}, AlertOptions{
		Logger: opts.Logger, OnChange: opts.OnChange, Previous: a})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if reg.alerter.Load() != b || b.hook != a.hook || b.hook == nil {
		t.Fatal("the new alerter is not attached or did not take over the webhook sender")
	}
	if b.hook.closed {
		t.Fatal("closing the old alerter closed the shared webhook sender")
	}
	mu.Lock()
	if len(events) != 3 || events[2].Rule != other.Name || events[2].State != StateResolved {
		t.Fatalf("events %+v: want two firings, then the changed rule resolved", events)
	}
	mu.Unlock()
	act := b.Active()
	if len(act) != 1 || act[0].Rule != slow.Name || act[0].State != StateFiring {
		t.Fatalf("after the reload: %+v, want privmsg-slow still firing", act)
	}
	// Still firing: the unchanged rule does not fire again.
	b.Evaluate(snapAt(base, 1, 6000))
	mu.Lock()
	if n := len(events); n != 4 || events[3].Rule != changed.Name || events[3].State != StateFiring {
		t.Fatalf("events %+v: want only the changed rule firing anew", events)
	}
	mu.Unlock()
	b.Close()
	if !b.hook.closed {
		t.Fatal("the last owner did not close the webhook sender")
	}
	if err := reg.CheckAlerts(AlertConfig{Rules: []AlertRule{{Name: "x", Metric: "p99(cmd.NOPE)"}}}); !errors.Is(err, ErrUnknownMetric) {
		t.Fatalf("CheckAlerts of an unknown metric: %v", err)
	}
	if err := reg.CheckAlerts(AlertConfig{Webhook: WebhookConfig{URL: "ftp://x"}}); !errors.Is(err, ErrBadRule) {
		t.Fatalf("CheckAlerts of a bad webhook: %v", err)
	}
	if reg.alerter.Load() != nil {
		t.Fatal("CheckAlerts attached something")
	}
}
