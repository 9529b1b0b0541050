package perf

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testToken = "s3cret-token-value"

func get(h http.Handler, path, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestBearerTokenAuth(t *testing.T) {
	var logs bytes.Buffer
	reg, clk := newTestRegistry(t, 10)
	step(reg, clk)
	h, err := NewHTTPHandler(reg, HTTPOptions{Token: testToken, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/metrics", "/debug/status.json", "/debug/history.json", "/debug/report", "/debug/report.json"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", "Basic " + testToken, "Bearer", "Bearer "} {
			w := get(h, path, auth)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s with %q: HTTP %d, want 401", path, auth, w.Code)
			}
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: 401 without a Bearer challenge", path)
			}
			if strings.Contains(w.Body.String(), testToken) {
				t.Errorf("%s: token echoed in the response", path)
			}
		}
		for _, auth := range []string{"Bearer " + testToken, "bearer " + testToken} {
			if w := get(h, path, auth); w.Code != http.StatusOK {
				t.Errorf("%s with the right token (%q): HTTP %d", path, auth[:6], w.Code)
			}
		}
	}
	// The page itself holds no data and is served without the token.
	if w := get(h, "/debug/status", ""); w.Code != http.StatusOK {
		t.Errorf("/debug/status: HTTP %d", w.Code)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Error("token appears in the logs")
	}
}

func TestNoTokenConfiguredIsOpen(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	step(reg, clk)
	h, err := NewHTTPHandler(reg, HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if w := get(h, "/metrics", ""); w.Code != http.StatusOK {
		t.Errorf("/metrics: HTTP %d", w.Code)
	}
	req := httptest.NewRequest(http.MethodPost, "/metrics", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: HTTP %d, want 405", w.Code)
	}
}

func TestStatusPageSelfContained(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	h, err := NewHTTPHandler(reg, HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w := get(h, "/debug/status", "")
	body := w.Body.String()
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("content type %q", w.Header().Get("Content-Type"))
	}
	// The SVG namespace of the charts is a name, never fetched.
	assets := strings.ReplaceAll(body, `"http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"http://", "https://", "<link", " src=", "@import", "url("} {
		if strings.Contains(assets, bad) {
			t.Errorf("status page refers to an external asset (%q)", bad)
		}
	}
	for _, want := range []string{"status.json", "history.json", "setInterval", "p99.9", "createElementNS"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	// Before the first collection the JSON says so instead of serving nothing.
	if w := get(h, "/debug/status.json", ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("status.json before a collection: HTTP %d, want 503", w.Code)
	}
}

func TestStatusJSON(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	privmsg, _ := reg.Command("PRIVMSG")
	loop := reg.NewRecorder(KindLoop, "loop0")
	shard := reg.NewRecorder(KindShard, "shard0")
	for i := 0; i < 1000; i++ {
		loop.Record(privmsg, time.Duration(100+i)*time.Microsecond)
	}
	loop.Add(MessagesIn, 1000)
	shard.AddBusy(300 * time.Millisecond)
	shard.SetGauge(QueueDepth, 9)
	reg.Std.Connections.With("ws").Add(5)
	if _, err := NewAlerter(reg, AlertConfig{Rules: []AlertRule{
		{Name: "many-conns", Metric: "laird_connections", Threshold: 1},
	}}, AlertOptions{Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	step(reg, clk, loop, shard)
	h, err := NewHTTPHandler(reg, HTTPOptions{Token: testToken, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w := get(h, "/debug/status.json", "Bearer "+testToken)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	s, err := DecodeStatus(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := s.Latency("cmd.PRIVMSG")
	if !ok || l.Count != 1000 || l.Labels["command"] != "PRIVMSG" {
		t.Fatalf("PRIVMSG in status.json: %+v", l)
	}
	within(t, "p50", l.P50, 600, 0.001)
	within(t, "p99", l.P99, 1090, 0.001)
	if !s.Time.Equal(clk.Now()) || s.WindowSeconds != 1 {
		t.Errorf("time %v window %v", s.Time, s.WindowSeconds)
	}
	if len(s.Recorders) != 2 || s.Recorders[1].Name != "shard0" || s.Recorders[1].QueueDepth != 9 || s.Recorders[1].Busy != 0.3 {
		t.Errorf("recorders %+v", s.Recorders)
	}
	if v := counterValue(s, "laird_connections", map[string]string{"transport": "ws"}); v != 5 {
		t.Errorf("connections %v", v)
	}
	if len(s.Alerts) != 1 || s.Alerts[0].Rule != "many-conns" || s.Alerts[0].State != StateFiring {
		t.Errorf("alerts %+v, want many-conns firing", s.Alerts)
	}
}

func TestFetchStatus(t *testing.T) {
	reg, clk := newTestRegistry(t, 10)
	rec := reg.NewRecorder(KindKV, "kv")
	rec.Record(KVCommit, 2*time.Millisecond)
	step(reg, clk, rec)
	h, err := NewHTTPHandler(reg, HTTPOptions{Token: testToken, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // loopback
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := FetchStatus(ctx, srv.Client(), srv.URL+"/debug/status.json", testToken)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Latency("kv.commit"); l.Count != 1 {
		t.Errorf("kv.commit %+v", l)
	}
	if _, err := FetchStatus(ctx, srv.Client(), srv.URL+"/debug/status.json", "nope"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong token: %v, want ErrUnauthorized", err)
	}
	if _, err := FetchStatus(ctx, srv.Client(), srv.URL+"/nothing", testToken); err == nil {
		t.Error("404 not reported as an error")
	}
}
