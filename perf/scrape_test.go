package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// promData is what a scrape of known data must export.
func promData(t *testing.T) *httptest.Server {
	t.Helper()
	reg, clk := newTestRegistry(t, 10)
	id, _ := reg.Command("PRIVMSG")
	rec := reg.NewRecorder(KindLoop, "loop0")
	for v := 100; v < 1100; v++ { // uniform 100 us .. 1.099 ms
		rec.Record(id, time.Duration(v)*time.Microsecond)
	}
	step(reg, clk, rec)
	h, err := NewHTTPHandler(reg, HTTPOptions{Token: testToken, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

// TestPromtoolCheckMetrics lints /metrics with promtool when it is installed.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed")
	}
	srv := promData(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestPrometheusScrapes runs a real Prometheus (when installed) against the
// handler with a bearer token and asks it for the p99 of the exported
// histogram.
func TestPrometheusScrapes(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil || testing.Short() {
		t.Skip("prometheus not installed, or -short")
	}
	srv := promData(t)
	dir := t.TempDir()
	port := freePort(t)
	target := srv.Listener.Addr().String()
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: laird
    authorization: {type: Bearer, credentials: %q}
    static_configs: [{targets: [%q]}]
`, testToken, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	query := `histogram_quantile(0.99, laird_command_duration_seconds_bucket{command="PRIVMSG"})`
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=%s", port, url.QueryEscape(query))
	for {
		if v, ok := promQuery(ctx, api); ok {
			t.Logf("Prometheus: %s = %v s", query, v)
			// 900 of 1000 values are <= 1 ms, all <= 2.5 ms: Prometheus
			// interpolates the 990th inside (1 ms, 2.5 ms].
			if v <= 0.001 || v > 0.0025 {
				t.Fatalf("p99 from Prometheus = %v s, want within (1ms, 2.5ms]", v)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus gave no answer in time; its log:\n%s", logs.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// promQuery returns the single scalar of an instant vector query.
func promQuery(ctx context.Context, api string) (float64, bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Status != "success" || len(body.Data.Result) != 1 {
		return 0, false
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}
