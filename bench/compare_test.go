package bench

import (
	"bytes"
	"strings"
	"testing"
)

func fig(spec FigureSpec, vals ...float64) Figure {
	lo, hi := minMax(vals)
	return Figure{FigureSpec: spec, Median: Median(vals), Min: lo, Max: hi, Values: vals}
}

var (
	cpuSpec  = FigureSpec{Name: "server_cpu_us_per_delivery", Unit: "us", Better: LowerIsBetter}
	rateSpec = FigureSpec{Name: "deliveries_per_s", Unit: "1/s", Better: HigherIsBetter}
)

func TestJudgeFigure(t *testing.T) {
	rules := DefaultRules()
	cases := []struct {
		name      string
		spec      FigureSpec
		base, cur []float64
		want      Verdict
	}{
		{"same", cpuSpec, []float64{1, 1.02, 0.98}, []float64{1, 1.01, 0.99}, Unchanged},
		{"slower beyond spread and threshold", cpuSpec, []float64{1, 1.02, 0.98}, []float64{1.5, 1.48, 1.55}, Regressed},
		{"faster beyond spread and threshold", cpuSpec, []float64{1, 1.02, 0.98}, []float64{0.5, 0.52, 0.49}, Improved},
		{"beyond threshold but within a noisy spread", cpuSpec, []float64{1, 0.6, 1.5}, []float64{1.3, 1.2, 1.35}, Unchanged},
		{"beyond spread but within threshold", cpuSpec, []float64{1, 1.001, 0.999}, []float64{1.05, 1.051, 1.049}, Unchanged},
		{"rate drop is a regression", rateSpec, []float64{1000, 990, 1010}, []float64{700, 690, 720}, Regressed},
		{"rate rise is an improvement", rateSpec, []float64{1000, 990, 1010}, []float64{1500, 1490, 1510}, Improved},
		{"below the absolute floor", FigureSpec{Name: "idle", Better: LowerIsBetter, Floor: 1}, []float64{0.1, 0.1, 0.1}, []float64{0.5, 0.5, 0.5}, Unchanged},
		{"above the absolute floor", FigureSpec{Name: "idle", Better: LowerIsBetter, Floor: 1}, []float64{0.1, 0.1, 0.1}, []float64{5, 5, 5}, Regressed},
		{"figure threshold overrides the default", FigureSpec{Name: "p99", Better: LowerIsBetter, Threshold: 0.5}, []float64{10, 10, 10}, []float64{13, 13, 13}, Unchanged},
		{"info figures are never judged", FigureSpec{Name: "lag", Better: LowerIsBetter, Info: true}, []float64{1, 1, 1}, []float64{100, 100, 100}, Info},
		{"completeness loss in one run", FigureSpec{Name: "completeness", Better: HigherIsBetter, Threshold: 0.001, MustReach: 1}, []float64{1, 1, 1}, []float64{0.99, 1, 0.98}, Regressed},
	}
	for _, c := range cases {
		got, why := JudgeFigure(c.spec, fig(c.spec, c.base...), fig(c.spec, c.cur...), rules)
		if got != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, got, why, c.want)
		}
	}
}

// synthetic builds a one-server result whose fanout figures are scaled by slow: a build
// that is slow times slower costs slow times the CPU and delivers 1/slow as much.
func synthetic(slow float64, jitter []float64) *Result {
	var runs []RunResult
	for _, j := range jitter {
		runs = append(runs, RunResult{Figures: map[string]float64{
			"server_cpu_us_per_delivery": 0.2 * slow * j,
			"deliveries_per_s":           500_000 / slow * j,
			"completeness":               1,
		}})
	}
	sc := &fanoutScenario{cfg: DefaultSizes().Fanout}
	return &Result{Version: ResultVersion, Servers: []ServerResult{{Name: "laird", Scenarios: []ScenarioResult{{
		Name: "fanout", Params: sc.Params(), Figures: aggregate(sc.Figures(), runs), Runs: runs,
	}}}}}
}

func TestCompareFlagsDeliberatelySlowedRun(t *testing.T) {
	base := synthetic(1, []float64{1, 0.97, 1.03})
	slowed := synthetic(1.6, []float64{1.02, 0.98, 1})
	c := Compare(base, slowed, DefaultRules())
	if !c.Failed() {
		t.Fatal("a run 60 % slower was not flagged")
	}
	verdicts := map[string]Verdict{}
	for _, d := range c.Deltas {
		verdicts[d.Figure] = d.Verdict
	}
	if verdicts["server_cpu_us_per_delivery"] != Regressed || verdicts["deliveries_per_s"] != Regressed {
		t.Errorf("verdicts %v", verdicts)
	}
	if verdicts["completeness"] != Unchanged {
		t.Errorf("completeness %v", verdicts["completeness"])
	}
	var out bytes.Buffer
	WriteComparison(&out, c)
	if !strings.Contains(out.String(), "regressed") || !strings.Contains(out.String(), "2 regressed") {
		t.Errorf("printed comparison lacks the regressions:\n%s", out.String())
	}
}

func TestCompareNoiseIsNotARegression(t *testing.T) {
	base := synthetic(1, []float64{1, 0.95, 1.05})
	again := synthetic(1.04, []float64{1.03, 0.97, 1})
	if c := Compare(base, again, DefaultRules()); c.Failed() || c.Count(Unchanged) != 3 {
		var out bytes.Buffer
		WriteComparison(&out, c)
		t.Errorf("4 %% drift inside 10 %% spread flagged:\n%s", out.String())
	}
	faster := synthetic(0.6, []float64{1, 0.99, 1.01})
	if c := Compare(base, faster, DefaultRules()); c.Failed() || c.Count(Improved) != 2 {
		t.Errorf("a faster run: failed=%v improved=%d", c.Failed(), c.Count(Improved))
	}
}

func TestCompareMissingAndIncomparable(t *testing.T) {
	base := synthetic(1, []float64{1, 1, 1})
	skipped := synthetic(1, []float64{1, 1, 1})
	skipped.Servers[0].Scenarios[0].Figures = nil
	skipped.Servers[0].Scenarios[0].Skipped = "no support"
	c := Compare(base, skipped, DefaultRules())
	if !c.Failed() || c.Count(Missing) != 3 {
		t.Errorf("skipped scenario: failed=%v missing=%d", c.Failed(), c.Count(Missing))
	}
	resized := synthetic(2, []float64{1, 1, 1})
	resized.Servers[0].Scenarios[0].Params["channels"] = 99
	c = Compare(base, resized, DefaultRules())
	if c.Failed() || c.Count(Incomparable) != 3 {
		t.Errorf("resized scenario: failed=%v incomparable=%d", c.Failed(), c.Count(Incomparable))
	}
	// Not judged, but the real change is shown and marked.
	var text strings.Builder
	WriteComparison(&text, c)
	for _, d := range c.Deltas {
		want := ""
		switch d.Figure {
		case "server_cpu_us_per_delivery":
			want = "+100.0% (incomparable)"
		case "deliveries_per_s":
			want = "-50.0% (incomparable)"
		case "completeness":
			want = "+0.0% (incomparable)"
		}
		if got := d.ChangeText(); got != want {
			t.Errorf("%s: change %q, want %q", d.Figure, got, want)
		}
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	var html strings.Builder
	if err := WriteHTML(&html, resized, base, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "+100.0% (incomparable)") {
		t.Error("HTML report lacks the incomparable change")
	}
	notRun := synthetic(1, nil)
	notRun.Servers[0].Scenarios = nil
	if c := Compare(base, notRun, DefaultRules()); c.Failed() {
		t.Error("a scenario left out of the run counted as missing")
	}
}

func TestCompareGoBench(t *testing.T) {
	mk := func(vals ...float64) *Result {
		m := BenchMetric{Unit: "ns/op", Better: LowerIsBetter, Values: vals}
		m.summarize()
		return &Result{Version: ResultVersion, GoBench: []GoBench{{Pkg: "laird/codec", Name: "BenchmarkParse", Metrics: []BenchMetric{m}}}}
	}
	base := mk(100, 101, 99, 100, 102, 98)
	gate := DefaultRules()
	gate.GateGoBench = true
	slower := mk(150, 149, 151, 152, 148, 150)
	if c := Compare(base, slower, gate); !c.Failed() || c.Count(Regressed) != 1 {
		t.Error("50 % slower benchmark not flagged")
	}
	if c := Compare(base, slower, DefaultRules()); c.Failed() || c.Count(Regressed) != 1 {
		t.Error("without the gate a benchmark regression is reported but must not fail")
	}
	if c := Compare(base, mk(101, 99, 100, 103, 97, 100), gate); c.Failed() {
		t.Error("same benchmark flagged")
	}
	// Three runs each can never be significant at 5 %.
	if c := Compare(mk(100, 100, 100), mk(200, 201, 202), gate); c.Failed() {
		t.Error("3+3 runs flagged: benchstat would say ~")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	r := synthetic(1, []float64{1, 1.1, 0.9})
	r.Meta = CollectMeta(".")
	path := t.TempDir() + "/r.json"
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := Compare(r, back, DefaultRules()); c.Failed() || c.Count(Incomparable) != 0 || c.Count(Unchanged) != 3 {
		t.Errorf("a result compared with its reloaded self: %+v", c.Deltas)
	}
}

func TestNoisyRuns(t *testing.T) {
	r := synthetic(1, []float64{1, 1, 1})
	sc := &r.Servers[0].Scenarios[0]
	sc.Figures = append(sc.Figures, fig(otherCPUSpec, 10, 40, 60))
	if got := NoisyRuns(r, 25); len(got) != 1 || got[0] != "laird/fanout: 40%" {
		t.Errorf("NoisyRuns = %v", got)
	}
	if got := NoisyRuns(r, 50); len(got) != 0 {
		t.Errorf("NoisyRuns above the median = %v", got)
	}
}
