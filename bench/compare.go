package bench

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"text/tabwriter"
)

// Verdict is the judgement on one figure against the baseline.
type Verdict string

// Verdicts. Only Regressed and Missing make a comparison fail.
const (
	Unchanged    Verdict = "unchanged"
	Improved     Verdict = "improved"
	Regressed    Verdict = "regressed"
	Missing      Verdict = "missing"      // the baseline has it; this run did not produce it
	New          Verdict = "new"          // this run has it; the baseline does not
	Incomparable Verdict = "incomparable" // the scenario ran with other sizes than the baseline
	Info         Verdict = "info"         // describes the run, never judged
)

// Rules are the noise-aware regression rules.
//
// A figure with a requirement (MustReach) regresses when any run misses it. Otherwise a
// figure counts as changed only when the difference of the medians is larger than the
// observed min-max spread of both the baseline and this run, AND larger than the relative
// threshold (the figure's own, else Threshold) of the baseline median, AND larger than the
// figure's absolute floor. Go benchmarks, which have more runs, count as changed when a
// Mann-Whitney U test gives p < Alpha AND the medians differ by more than Threshold, as
// benchstat does.
type Rules struct {
	Threshold float64 // default relative threshold; 0.10 means 10 %
	Alpha     float64 // significance level for Go benchmarks
	// GateGoBench makes a Go benchmark regression fail the comparison. Off by default:
	// nanosecond benchmarks on a shared machine shift with its load, so they are reported
	// and judged but only the load scenarios decide the exit status unless asked.
	GateGoBench bool
}

// DefaultRules returns a 10 % threshold and alpha 0.05.
func DefaultRules() Rules { return Rules{Threshold: 0.10, Alpha: 0.05} }

// Delta is one figure compared with the baseline.
type Delta struct {
	Server   string  `json:"server"`
	Scenario string  `json:"scenario"`
	Figure   string  `json:"figure"`
	Unit     string  `json:"unit"`
	Base     *Figure `json:"base,omitempty"`
	Cur      *Figure `json:"cur,omitempty"`
	Change   float64 `json:"change"` // relative change of the median, (cur-base)/|base|
	Verdict  Verdict `json:"verdict"`
	Reason   string  `json:"reason"`
}

// BenchDelta is one Go benchmark metric compared with the baseline.
type BenchDelta struct {
	Pkg     string       `json:"pkg"`
	Name    string       `json:"name"`
	Unit    string       `json:"unit"`
	Base    *BenchMetric `json:"base,omitempty"`
	Cur     *BenchMetric `json:"cur,omitempty"`
	Change  float64      `json:"change"`
	P       float64      `json:"p"`
	Verdict Verdict      `json:"verdict"`
	Reason  string       `json:"reason"`
}

// Comparison is a result compared with a baseline.
type Comparison struct {
	Deltas []Delta      `json:"deltas"`
	Bench  []BenchDelta `json:"bench,omitempty"`
	// GateGoBench is copied from the Rules: whether Bench regressions fail.
	GateGoBench bool `json:"gate_gobench"`
}

// Failed reports whether any figure regressed or went missing, or (when the rules gate
// on them) any Go benchmark regressed.
func (c *Comparison) Failed() bool {
	for _, d := range c.Deltas {
		if d.Verdict == Regressed || d.Verdict == Missing {
			return true
		}
	}
	if c.GateGoBench {
		for _, d := range c.Bench {
			if d.Verdict == Regressed {
				return true
			}
		}
	}
	return false
}

// Count returns how many figures and benchmarks got verdict v.
func (c *Comparison) Count(v Verdict) int {
	n := 0
	for _, d := range c.Deltas {
		if d.Verdict == v {
			n++
		}
	}
	for _, d := range c.Bench {
		if d.Verdict == v {
			n++
		}
	}
	return n
}

func (c *Comparison) benchRegressed() bool {
	for _, d := range c.Bench {
		if d.Verdict == Regressed {
			return true
		}
	}
	return false
}

// JudgeFigure applies the rules to one figure. spec says the direction, threshold and floor.
func JudgeFigure(spec FigureSpec, base, cur Figure, rules Rules) (Verdict, string) {
	if spec.Info {
		return Info, "describes the run"
	}
	diff := cur.Median - base.Median
	adiff := math.Abs(diff)
	noise := math.Max(base.Spread(), cur.Spread())
	thr := spec.Threshold
	if thr <= 0 {
		thr = rules.Threshold
	}
	rel := thr * math.Abs(base.Median)
	if spec.MustReach > 0 && cur.Min < spec.MustReach-1e-9 {
		return Regressed, fmt.Sprintf("a run reached %s, below the required %s", formatValue(cur.Min), formatValue(spec.MustReach))
	}
	switch {
	case math.IsNaN(diff):
		return Incomparable, "no median"
	case adiff <= noise:
		return Unchanged, fmt.Sprintf("difference %s within observed spread %s", formatValue(adiff), formatValue(noise))
	case adiff <= rel:
		return Unchanged, fmt.Sprintf("difference %.1f%% within threshold %.0f%%", 100*adiff/math.Abs(base.Median), 100*thr)
	case adiff <= spec.Floor:
		return Unchanged, fmt.Sprintf("difference %s below floor %s %s", formatValue(adiff), formatValue(spec.Floor), spec.Unit)
	}
	why := fmt.Sprintf("median moved %s (spread %s, threshold %.0f%%)", formatChange(relChange(base.Median, cur.Median)), formatValue(noise), 100*thr)
	if (diff > 0) == (spec.Better == HigherIsBetter) {
		return Improved, why
	}
	return Regressed, why
}

// JudgeBench applies the rules to one Go benchmark metric.
func JudgeBench(base, cur BenchMetric, rules Rules) (Verdict, float64, string) {
	p := MannWhitney(base.Values, cur.Values)
	change := relChange(base.Median, cur.Median)
	switch {
	case p >= rules.Alpha:
		return Unchanged, p, fmt.Sprintf("~ (p=%.3f n=%d+%d)", p, len(base.Values), len(cur.Values))
	case math.Abs(change) <= rules.Threshold:
		return Unchanged, p, fmt.Sprintf("%s below threshold (p=%.3f)", formatChange(change), p)
	}
	why := fmt.Sprintf("%s (p=%.3f n=%d+%d)", formatChange(change), p, len(base.Values), len(cur.Values))
	if (change > 0) == (base.Better == HigherIsBetter) {
		return Improved, p, why
	}
	return Regressed, p, why
}

// Compare judges every figure of cur against base. Servers are matched by name (a single
// server on each side is matched whatever its name). A scenario that cur did not run at all
// is not compared; one it ran but that produced no figures (skipped or failed) counts as
// Missing.
func Compare(base, cur *Result, rules Rules) *Comparison {
	c := &Comparison{GateGoBench: rules.GateGoBench}
	for i := range cur.Servers {
		cs := &cur.Servers[i]
		bs := base.Server(cs.Name)
		if bs == nil && len(base.Servers) == 1 && len(cur.Servers) == 1 {
			bs = &base.Servers[0]
		}
		if bs == nil {
			continue
		}
		for j := range cs.Scenarios {
			c.Deltas = append(c.Deltas, compareScenario(cs.Name, bs.Scenario(cs.Scenarios[j].Name), &cs.Scenarios[j], rules)...)
		}
	}
	for i := range cur.GoBench {
		g := &cur.GoBench[i]
		var bg *GoBench
		for k := range base.GoBench {
			if base.GoBench[k].Pkg == g.Pkg && base.GoBench[k].Name == g.Name {
				bg = &base.GoBench[k]
			}
		}
		for _, m := range g.Metrics {
			d := BenchDelta{Pkg: g.Pkg, Name: g.Name, Unit: m.Unit, Cur: &m, Verdict: New}
			if bg != nil {
				if bm := bg.Metric(m.Unit); bm != nil {
					d.Base = bm
					d.Change = relChange(bm.Median, m.Median)
					d.Verdict, d.P, d.Reason = JudgeBench(*bm, m, rules)
				}
			}
			c.Bench = append(c.Bench, d)
		}
	}
	return c
}

func compareScenario(server string, bsc, csc *ScenarioResult, rules Rules) []Delta {
	var out []Delta
	if bsc == nil {
		for k := range csc.Figures {
			f := &csc.Figures[k]
			out = append(out, Delta{Server: server, Scenario: csc.Name, Figure: f.Name, Unit: f.Unit, Cur: f, Verdict: New})
		}
		return out
	}
	sameSizes := reflect.DeepEqual(normalizeParams(bsc.Params), normalizeParams(csc.Params))
	for k := range bsc.Figures {
		bf := &bsc.Figures[k]
		d := Delta{Server: server, Scenario: csc.Name, Figure: bf.Name, Unit: bf.Unit, Base: bf}
		cf := csc.Figure(bf.Name)
		switch {
		case cf == nil && bf.Info:
			continue
		case cf == nil:
			d.Verdict, d.Reason = Missing, "not measured in this run"
			if csc.Skipped != "" {
				d.Reason = "scenario skipped: " + csc.Skipped
			}
		case !sameSizes:
			// The change is shown, so a reader sees how far apart the runs are, but
			// it is not judged: the scenario measured something else.
			d.Cur, d.Verdict, d.Reason = cf, Incomparable, "scenario sizes differ from the baseline"
			d.Change = relChange(bf.Median, cf.Median)
		default:
			d.Cur = cf
			d.Change = relChange(bf.Median, cf.Median)
			// The current run's spec decides: a figure's rules may have been refined since.
			d.Verdict, d.Reason = JudgeFigure(cf.FigureSpec, *bf, *cf, rules)
		}
		out = append(out, d)
	}
	for k := range csc.Figures {
		if bsc.Figure(csc.Figures[k].Name) == nil {
			f := &csc.Figures[k]
			out = append(out, Delta{Server: server, Scenario: csc.Name, Figure: f.Name, Unit: f.Unit, Cur: f, Verdict: New})
		}
	}
	return out
}

// normalizeParams makes params read back from JSON (numbers as float64) comparable with
// params produced in this process (ints).
func normalizeParams(p map[string]any) map[string]float64 {
	out := map[string]float64{}
	for k, v := range p {
		switch x := v.(type) {
		case int:
			out[k] = float64(x)
		case float64:
			out[k] = x
		}
	}
	return out
}

func relChange(base, cur float64) float64 {
	if base == 0 {
		if cur == 0 {
			return 0
		}
		return math.Inf(int(math.Copysign(1, cur)))
	}
	return (cur - base) / math.Abs(base)
}

func formatChange(c float64) string {
	if math.IsInf(c, 0) {
		return "from 0"
	}
	return fmt.Sprintf("%+.1f%%", 100*c)
}

// WriteComparison prints one line per figure: baseline and current medians with their
// ranges, the change, and the verdict.
func WriteComparison(w io.Writer, c *Comparison) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tfigure\tbaseline\tthis run\tchange\tverdict\twhy\n")
	for _, d := range c.Deltas {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Scenario, d.Figure, figText(d.Base), figText(d.Cur),
			d.ChangeText(), d.Verdict, d.Reason)
	}
	for _, d := range c.Bench {
		fmt.Fprintf(tw, "go:%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", shortPkg(d.Pkg), d.Name, d.Unit, benchText(d.Base), benchText(d.Cur),
			changeText(d.Base != nil, d.Change), d.Verdict, d.Reason)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d improved, %d unchanged, %d regressed, %d missing\n",
		c.Count(Improved), c.Count(Unchanged), c.Count(Regressed), c.Count(Missing))
	if !c.GateGoBench && c.benchRegressed() {
		fmt.Fprintln(w, "(Go benchmark regressions are reported only; -gobench-gate makes them fail)")
	}
}

func figText(f *Figure) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%s [%s-%s]", formatValue(f.Median), formatValue(f.Min), formatValue(f.Max))
}

func benchText(m *BenchMetric) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s", formatValue(m.Median), ciText(*m))
}

func changeText(ok bool, c float64) string {
	if !ok || math.IsNaN(c) {
		return ""
	}
	return formatChange(c)
}

// ChangeText is the change column of a report row: the relative change of
// the medians, marked when the row is not comparable with the baseline.
func (d *Delta) ChangeText() string {
	t := changeText(d.Base != nil && d.Cur != nil, d.Change)
	if t != "" && d.Verdict == Incomparable {
		t += " (incomparable)"
	}
	return t
}

// UnmetRequirements lists figures of r that missed their MustReach in some run, as
// "server/scenario/figure: min < required"; they fail a suite even without a baseline.
func UnmetRequirements(r *Result) []string {
	var out []string
	for _, s := range r.Servers {
		for _, sc := range s.Scenarios {
			for _, f := range sc.Figures {
				if f.MustReach > 0 && f.Min < f.MustReach-1e-9 {
					out = append(out, fmt.Sprintf("%s/%s/%s: %s < %s", s.Name, sc.Name, f.Name, formatValue(f.Min), formatValue(f.MustReach)))
				}
			}
		}
	}
	return out
}
