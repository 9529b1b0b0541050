package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"laird/perf"
)

// The service files in dist/ are checked by the tools that read them.

const distDir = "../../dist"

// TestSystemdUnit: systemd-analyze accepts dist/laird.service without a
// warning, the unit has what the manual promises (readiness, reload by
// HUP, the state directory as -data), and its sandboxing keeps the
// exposure score low.
func TestSystemdUnit(t *testing.T) {
	requireTools(t, "systemd-analyze")
	unit, err := os.ReadFile(filepath.Join(distDir, "laird.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify\n",
		"ExecReload=/bin/kill -HUP $MAINPID\n",
		"StateDirectory=laird\n",
		"ExecStart=/usr/local/bin/laird -config /etc/laird/laird.toml -data ${STATE_DIRECTORY}/data\n",
	} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("laird.service lacks %q", want)
		}
	}
	// verify checks that the programs exist: point it at the binary built
	// from this tree.
	bin := buildBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "laird.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/laird"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "verify", path)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for laird.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f (0 is best, 10 worst)", score)
	if score > 2 {
		t.Errorf("exposure %.1f: the sandboxing options went missing\n%s", score, out)
	}
}

// TestPrometheusExamples: promtool accepts the example scrape config and
// alert rules, the rules' unit tests pass, and every laird metric the
// rules name is one a running laird exports.
func TestPrometheusExamples(t *testing.T) {
	requireTools(t, "promtool")
	dir := t.TempDir()
	for _, f := range []string{"prometheus.yml", "laird.rules.yml", "laird.rules.test.yml"} {
		b, err := os.ReadFile(filepath.Join(distDir, "prometheus", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The scrape config names a token file; promtool checks it exists.
	if err := os.WriteFile(filepath.Join(dir, "laird.token"), []byte(metricsToken), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "laird.rules.yml"},
		{"test", "rules", "laird.rules.test.yml"},
	} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	rules, _ := os.ReadFile(filepath.Join(dir, "laird.rules.yml"))
	names := map[string]bool{}
	for _, n := range regexp.MustCompile(`\blaird_[a-z_]+`).FindAllString(string(rules), -1) {
		names[n] = true
	}
	if len(names) < 5 {
		t.Fatalf("only %d laird metrics in the rules: %v", len(names), names)
	}
	// laird_alert_firing has a series per configured rule: configure one.
	maddr := freeAddr(t)
	startTestServer(t, func(c *Config) {
		c.Metrics.Listen = maddr
		c.Alerts.Rules = []perf.AlertRule{{Name: "slow", Metric: "p99(cmd.PRIVMSG)", Threshold: 1}}
	})
	_, body := httpGet(t, "http://"+maddr+"/metrics", "")
	for n := range names {
		if !regexp.MustCompile(`(?m)^` + n + `[{ ]`).MatchString(body) {
			t.Errorf("the rules name %s, which laird does not export", n)
		}
	}
}
