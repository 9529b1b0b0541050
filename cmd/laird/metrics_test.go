package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"laird/chat"
	"laird/kv"
	"laird/perf"
)

const metricsToken = "test-token-1234"

func startMetricsServer(t *testing.T) (*testServer, string) {
	t.Helper()
	maddr := freeAddr(t)
	ts := startTestServer(t, func(c *Config) {
		c.Metrics.Listen = maddr
		c.Metrics.Token = metricsToken
		c.Metrics.Interval = duration{200 * time.Millisecond}
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "pw")}}
	})
	return ts, "http://" + maddr
}

func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// chatter makes PRIVMSG traffic in a channel of three.
func chatter(t *testing.T, ts *testServer, n int) {
	t.Helper()
	a, b, c := ts.dial("a"), ts.dial("b"), ts.dial("c")
	for _, cl := range []*ircClient{a, b, c} {
		cl.register("m" + cl.name)
		cl.send("JOIN #metrics")
		cl.expect(` 366 `)
	}
	for i := 0; i < n; i++ {
		a.send("PRIVMSG #metrics :message %d", i)
	}
	a.sync()
	c.expect(fmt.Sprintf("message %d$", n-1))
}

func TestMetricsEndpoint(t *testing.T) {
	ts, base := startMetricsServer(t)
	chatter(t, ts, 200)

	if code, _ := httpGet(t, base+"/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without token: %d, want 401", code)
	}
	if code, _ := httpGet(t, base+"/metrics", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong token: %d, want 401", code)
	}
	var body string
	eventually(t, 10*time.Second, "PRIVMSG latency in /metrics", func() (bool, string) {
		code, b := httpGet(t, base+"/metrics", metricsToken)
		body = b
		return code == 200 && strings.Contains(b, `laird_command_duration_seconds_count{command="PRIVMSG"} 2`), b
	})
	for _, want := range []string{
		`laird_command_duration_seconds_bucket{command="PRIVMSG",le="0.001"}`,
		`laird_fanout_delivery_seconds_count`,
		`laird_kv_commit_seconds`,
		`laird_shard_queue_wait_seconds_count`,
		`laird_connections{transport="tcp"} 3`,
		`laird_registrations_total 3`,
		`laird_deliveries_total`,
		`laird_kv_healthy 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, metricsToken) {
		t.Error("token appears in /metrics")
	}

	code, js := httpGet(t, base+"/debug/status.json", metricsToken)
	if code != 200 {
		t.Fatalf("status.json: %d", code)
	}
	var status map[string]any
	if err := json.Unmarshal([]byte(js), &status); err != nil {
		t.Fatalf("status.json: %v", err)
	}
	if !strings.Contains(js, "PRIVMSG") {
		t.Errorf("status.json has no PRIVMSG entry: %.300s", js)
	}
	if code, page := httpGet(t, base+"/debug/status", ""); code != 200 || !strings.Contains(page, "<html") {
		t.Errorf("status page: %d", code)
	}
	if code, _ := httpGet(t, base+"/debug/pprof/", ""); code != http.StatusUnauthorized {
		t.Errorf("pprof without token: %d, want 401", code)
	}
	if code, page := httpGet(t, base+"/debug/pprof/heap?debug=1", metricsToken); code != 200 || !strings.Contains(page, "heap profile") {
		t.Errorf("pprof heap with token: %d", code)
	}

	// STATS L over IRC, operators only.
	o := ts.dial("o")
	o.register("oper")
	o.send("STATS L")
	o.expect(` 481 oper `)
	o.send("OPER admin pw")
	o.expect(` 381 `)
	o.send("STATS L")
	o.expect(` 249 oper L :.*PRIVMSG`)
	o.expect(` 219 oper L :End of /STATS report`)
}

func TestAdminBackup(t *testing.T) {
	ts, base := startMetricsServer(t)
	c := ts.dial("c")
	c.register("c")
	dest := filepath.Join(t.TempDir(), "backup")
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/backup?dir="+url.QueryEscape(dest), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Fatalf("backup without token: %d", code)
	}
	if code := post(metricsToken); code != 200 {
		t.Fatalf("backup: %d", code)
	}
	st, err := kv.Open(kv.Options{Dir: dest, DiskReserve: -1})
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	st.Close()

	// The CLI does the same.
	var out bytes.Buffer
	dest2 := filepath.Join(t.TempDir(), "cli-backup")
	maddr := strings.TrimPrefix(base, "http://")
	if err := backup([]string{"-metrics", maddr, "-token", metricsToken, dest2}, stdio{out: &out, err: io.Discard}); err != nil {
		t.Fatalf("laird backup: %v", err)
	}
	if !strings.Contains(out.String(), dest2) {
		t.Fatalf("laird backup said %q", out.String())
	}
	if err := backup([]string{"-metrics", maddr, "-token", "wrong", dest2 + "x"}, stdio{out: &out, err: io.Discard}); err == nil {
		t.Fatal("backup with a wrong token succeeded")
	}
}

func TestReportCommand(t *testing.T) {
	ts, base := startMetricsServer(t)
	chatter(t, ts, 50)
	var out bytes.Buffer
	eventually(t, 10*time.Second, "a report naming PRIVMSG", func() (bool, string) {
		out.Reset()
		err := report([]string{"-metrics", strings.TrimPrefix(base, "http://"), "-token", metricsToken}, stdio{out: &out, err: io.Discard})
		return err == nil && strings.Contains(out.String(), "PRIVMSG") && strings.Contains(out.String(), "shard"), out.String()
	})
}

// TestPrometheusScrapesLaird runs Debian's Prometheus against a running
// laird, sends traffic, and asks Prometheus for the p99 of PRIVMSG latency;
// promtool lints the exposition.
func TestPrometheusScrapesLaird(t *testing.T) {
	requireTools(t, "prometheus", "promtool")
	ts, base := startMetricsServer(t)
	_, body := httpGet(t, base+"/metrics", metricsToken)
	lint := exec.Command("promtool", "check", "metrics")
	lint.Stdin = strings.NewReader(body)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}

	dir := t.TempDir()
	promAddr := freeAddr(t)
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: laird
    authorization: {type: Bearer, credentials: %q}
    static_configs: [{targets: [%q]}]
`, metricsToken, strings.TrimPrefix(base, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, "prometheus",
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	chatter(t, ts, 500)
	query := `histogram_quantile(0.99, sum by (le) (laird_command_duration_seconds_bucket{command="PRIVMSG"}))`
	api := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(query)
	for {
		if v, ok := promScalar(ctx, api); ok && v > 0 {
			t.Logf("Prometheus: p99 PRIVMSG latency = %.3f ms", v*1000)
			if v > 1 {
				t.Fatalf("p99 PRIVMSG latency %v s on loopback is not sane", v)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus gave no answer; its log:\n%s", logs.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func promScalar(ctx context.Context, api string) (float64, bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct{ Result []struct{ Value [2]any } }
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Status != "success" || len(body.Data.Result) != 1 {
		return 0, false
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

var _ = net.Listen

// TestAlertFiresToOperators: a rule that holds at once fires, reaches
// operators as a notice and shows in /metrics.
func TestAlertFiresToOperators(t *testing.T) {
	maddr := freeAddr(t)
	ts := startTestServer(t, func(c *Config) {
		c.Metrics.Listen = maddr
		c.Metrics.Interval = duration{100 * time.Millisecond}
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "pw")}}
		c.Alerts.Rules = []perf.AlertRule{{Name: "any-ping", Metric: "p100(cmd.PING)", Op: ">", Threshold: 0, For: 0}}
	})
	op := ts.dial("op")
	op.register("op")
	op.send("OPER admin pw")
	op.expect(` 381 `)
	for i := 0; i < 20; i++ {
		op.send("PING :x%d", i)
	}
	op.expect(`NOTICE \* :\*\*\* Notice -- alert any-ping firing`)
	eventually(t, 5*time.Second, "laird_alert_firing in /metrics", func() (bool, string) {
		_, body := httpGet(t, "http://"+maddr+"/metrics", "")
		return strings.Contains(body, `laird_alert_firing{rule="any-ping"} 1`), body
	})
}

// TestServiceLatencyNamed: a message to NickServ is recorded as the
// service's command, not as PRIVMSG, so that a slow IDENTIFY (bcrypt) never
// shows as slow chat.
func TestServiceLatencyNamed(t *testing.T) {
	maddr := freeAddr(t)
	ts := startTestServer(t, func(c *Config) {
		fastAccounts(c)
		c.Metrics.Listen = maddr
		c.Metrics.Token = metricsToken
		c.Metrics.Interval = duration{200 * time.Millisecond}
	})
	ts.registerAccount("svc", "sesame11").quit()
	c := ts.connect("svcuser")
	for i := 0; i < 3; i++ {
		c.send("PRIVMSG NickServ :IDENTIFY svc wrongpass%d", i)
		c.expect(`NOTICE svcuser :`)
	}
	c.send("PRIVMSG ChanServ :INFO #nothere")
	c.expect(`^:ChanServ!\S+ NOTICE svcuser :`)
	eventually(t, 10*time.Second, "service latency in /metrics", func() (bool, string) {
		_, b := httpGet(t, "http://"+maddr+"/metrics", metricsToken)
		return strings.Contains(b, `laird_command_duration_seconds_count{command="NICKSERV"} 3`) &&
			strings.Contains(b, `laird_command_duration_seconds_count{command="CHANSERV"} 1`), b
	})
	_, b := httpGet(t, "http://"+maddr+"/metrics", metricsToken)
	if strings.Contains(b, `laird_command_duration_seconds_count{command="PRIVMSG"}`) {
		for _, l := range strings.Split(b, "\n") {
			if strings.HasPrefix(l, `laird_command_duration_seconds_count{command="PRIVMSG"}`) && !strings.HasSuffix(l, " 0") {
				t.Fatalf("service messages recorded as PRIVMSG: %s", l)
			}
		}
	}
}
