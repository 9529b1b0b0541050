package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"laird/bench"
)

// result builds a one-scenario result whose CPU figure has the given run values.
func result(cpu ...float64) *bench.Result {
	lo, hi := cpu[0], cpu[0]
	for _, v := range cpu {
		lo, hi = min(lo, v), max(hi, v)
	}
	return &bench.Result{Version: bench.ResultVersion, Servers: []bench.ServerResult{{Name: "laird", Scenarios: []bench.ScenarioResult{{
		Name:   "fanout",
		Params: map[string]any{"channels": 10.0},
		Figures: []bench.Figure{{
			FigureSpec: bench.FigureSpec{Name: "server_cpu_us_per_delivery", Unit: "us", Better: bench.LowerIsBetter},
			Median:     bench.Median(cpu), Min: lo, Max: hi, Values: cpu,
		}},
	}}}}}
}

func save(t *testing.T, dir, name string, r *bench.Result) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := r.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	base := save(t, dir, "base.json", result(0.20, 0.21, 0.19))
	same := save(t, dir, "same.json", result(0.20, 0.205, 0.195))
	slow := save(t, dir, "slow.json", result(0.30, 0.31, 0.29))
	if code := cmdCheck([]string{"-repo", dir, "-baseline", base, "-result", same}); code != exitOK {
		t.Errorf("unchanged result: exit %d", code)
	}
	if code := cmdCheck([]string{"-repo", dir, "-baseline", base, "-result", slow}); code != exitRegression {
		t.Errorf("50%% slower result: exit %d, want %d", code, exitRegression)
	}
	if code := cmdCheck([]string{"-repo", dir, "-baseline", filepath.Join(dir, "none.json"), "-result", same}); code != exitError {
		t.Errorf("missing baseline: exit %d, want %d", code, exitError)
	}
}

func TestBaselineFromPromotesAResult(t *testing.T) {
	dir := t.TempDir()
	src := save(t, dir, "run.json", result(0.2, 0.2, 0.2))
	dst := filepath.Join(dir, "bench", "baseline.json")
	if code := cmdSuite(context.Background(), []string{"-repo", dir, "-from", src}, true); code != exitOK {
		t.Fatalf("baseline -from: exit %d", code)
	}
	if _, err := bench.LoadResult(dst); err != nil {
		t.Fatalf("baseline not written: %v", err)
	}
}

func TestReportWritesHTML(t *testing.T) {
	dir := t.TempDir()
	src := save(t, dir, "run.json", result(0.2, 0.25, 0.2))
	if code := cmdReport([]string{"-repo", dir, "-result", src}); code != exitOK {
		t.Fatalf("report: exit %d", code)
	}
	b, err := os.ReadFile(filepath.Join(dir, "run.html"))
	if err != nil || len(b) < 1000 {
		t.Fatalf("report: %d bytes, %v", len(b), err)
	}
}

func TestSuiteWithoutLairdBinaryFailsClearly(t *testing.T) {
	dir := t.TempDir()
	code := cmdSuite(context.Background(), []string{"-repo", dir, "-pin=false", "-laird", filepath.Join(dir, "nope")}, false)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
}

func TestProblemLinesKeepsFailures(t *testing.T) {
	out := "goos: linux\npkg: laird/codec\nBenchmarkX-2 \t 10\t 5 ns/op\n# laird/chat\nchat/x.go:1: undefined: y\nFAIL\tlaird/chat [build failed]\nPASS\nok  \tlaird/codec\t1s\n"
	got := problemLines(out, 10)
	want := "# laird/chat\nchat/x.go:1: undefined: y\nFAIL\tlaird/chat [build failed]"
	if got != want {
		t.Errorf("problemLines = %q, want %q", got, want)
	}
}
