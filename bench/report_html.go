package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteHTML writes a self-contained HTML report of r (inline CSS and SVG, no scripts, no
// external assets): the machine, the comparison with the baseline (base and cmp may be
// nil), servers side by side when there are several, CPU per delivery, and per scenario
// its figures, latency CDF and throughput over time, then the Go micro-benchmarks.
func WriteHTML(w io.Writer, r *Result, base *Result, cmp *Comparison) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	title := "laird-bench " + r.Meta.Date.Format("2006-01-02 15:04") + " " + r.Meta.Commit
	p(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title><style>%s</style></head><body>`, esc(title), reportCSS)
	p(`<h1>%s</h1>`, esc(title))
	p(`<table class="meta">`)
	for _, kv := range [][2]string{
		{"date", r.Meta.Date.Format("2006-01-02 15:04:05 MST")}, {"commit", r.Meta.Commit},
		{"machine", fmt.Sprintf("%s, %d CPU, kernel %s", r.Meta.CPU, r.Meta.NumCPU, r.Meta.Kernel)},
		{"go", r.Meta.GoVersion}, {"pinning", r.Meta.Pinning},
		{"runs", fmt.Sprintf("%d per scenario; figures are medians with [min-max]", r.Meta.Runs)},
		{"command", r.Meta.Command},
	} {
		p(`<tr><th>%s</th><td>%s</td></tr>`, kv[0], esc(kv[1]))
	}
	if base != nil {
		p(`<tr><th>baseline</th><td>%s, commit %s</td></tr>`, esc(base.Meta.Date.Format("2006-01-02 15:04")), esc(base.Meta.Commit))
	}
	p(`</table>`)

	if cmp != nil {
		writeComparisonHTML(p, cmp)
	}
	if len(r.Servers) > 1 {
		writeSideBySide(p, r)
	}
	if bars := cpuBars(r, base); len(bars) > 0 {
		p(`<h2>Server CPU per delivery</h2><p class="note">Server CPU time (utime+stime) spent per message delivered to one member; the figure that survives a noisy machine.</p>%s`,
			svgBars("server CPU per delivery", "µs", bars))
	}
	for _, name := range scenarioOrder(r) {
		writeScenarioHTML(p, r, base, name)
	}
	if len(r.GoBench) > 0 || (cmp != nil && len(cmp.Bench) > 0) {
		writeGoBenchHTML(p, r, cmp)
	}
	p(`</body></html>`)
	return bw.Flush()
}

const reportCSS = `body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.regressed td,tr.missing td{background:#fde0e0}tr.improved td{background:#e0f5e0}tr.incomparable td{background:#fff4d6}
.note{color:#555;font-size:13px}.skip{color:#a60}.err{color:#b00}svg{display:block;margin:.5em 0 1em}
h2{border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:1.6em}`

func writeComparisonHTML(p func(string, ...any), c *Comparison) {
	p(`<h2>Against the baseline</h2><p><b>%d improved, %d unchanged, %d regressed, %d missing.</b> `,
		c.Count(Improved), c.Count(Unchanged), c.Count(Regressed), c.Count(Missing))
	p(`A change counts only when the medians differ by more than the observed min-max spread of both results and by more than the figure's threshold.</p>`)
	p(`<table><tr><th>server</th><th>scenario</th><th>figure</th><th>baseline</th><th>this run</th><th>change</th><th>verdict</th><th>why</th></tr>`)
	for _, d := range c.Deltas {
		p(`<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td class="num">%s</td><td class="num">%s</td><td class="num">%s</td><td>%s</td><td>%s</td></tr>`,
			d.Verdict, esc(d.Server), esc(d.Scenario), esc(d.Figure), esc(figText(d.Base)), esc(figText(d.Cur)),
			esc(d.ChangeText()), d.Verdict, esc(d.Reason))
	}
	p(`</table>`)
}

func writeSideBySide(p func(string, ...any), r *Result) {
	first := r.Servers[0]
	p(`<h2>Side by side</h2><p class="note">Ratio is %s divided by the other server; whether higher is better is given per figure.</p><table><tr><th>scenario</th><th>figure</th><th>better</th>`, esc(first.Name))
	for _, s := range r.Servers {
		p(`<th>%s</th>`, esc(s.Name))
	}
	for _, s := range r.Servers[1:] {
		p(`<th>%s / %s</th>`, esc(first.Name), esc(s.Name))
	}
	p(`</tr>`)
	for _, row := range sideBySideRows(r) {
		p(`<tr><td>%s</td><td>%s</td><td>%s</td>`, esc(row.scenario), esc(row.figure), row.better)
		for _, f := range row.figs {
			p(`<td class="num">%s</td>`, esc(figText(f)))
		}
		for _, ratio := range row.ratios {
			p(`<td class="num">%s</td>`, esc(ratio))
		}
		p(`</tr>`)
	}
	p(`</table>`)
}

type sideRow struct {
	scenario, figure string
	better           Better
	figs             []*Figure
	ratios           []string
}

// sideBySideRows lines up every figure of every server; ratios are the first server's
// median over each other's.
func sideBySideRows(r *Result) []sideRow {
	var rows []sideRow
	for _, name := range scenarioOrder(r) {
		seen := map[string]bool{}
		for _, s := range r.Servers {
			sc := s.Scenario(name)
			if sc == nil {
				continue
			}
			for _, f := range sc.Figures {
				if seen[f.Name] {
					continue
				}
				seen[f.Name] = true
				row := sideRow{scenario: name, figure: f.Name + unitSuffix(f.Unit), better: f.Better}
				for i := range r.Servers {
					var fig *Figure
					if osc := r.Servers[i].Scenario(name); osc != nil {
						if osc.Skipped != "" {
							fig = nil
						} else {
							fig = osc.Figure(f.Name)
						}
					}
					row.figs = append(row.figs, fig)
				}
				for _, other := range row.figs[1:] {
					row.ratios = append(row.ratios, ratioText(row.figs[0], other))
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " (" + u + ")"
}

func ratioText(a, b *Figure) string {
	if a == nil || b == nil || b.Median == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a.Median/b.Median)
}

// scenarioOrder lists scenario names in suite order, as they appear in any server.
func scenarioOrder(r *Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range r.Servers {
		for _, sc := range s.Scenarios {
			if !seen[sc.Name] {
				seen[sc.Name] = true
				out = append(out, sc.Name)
			}
		}
	}
	return out
}

func cpuBars(r, base *Result) []bar {
	var bars []bar
	for _, name := range scenarioOrder(r) {
		for i, s := range r.Servers {
			sc := s.Scenario(name)
			if sc == nil {
				continue
			}
			f := sc.Figure("server_cpu_us_per_delivery")
			if f == nil {
				continue
			}
			bars = append(bars, bar{label: s.Name + " " + name, color: palette[i%len(palette)], median: f.Median, lo: f.Min, hi: f.Max, haveRange: true})
			if base == nil {
				continue
			}
			if bs := base.Server(s.Name); bs != nil {
				if bsc := bs.Scenario(name); bsc != nil {
					if bf := bsc.Figure("server_cpu_us_per_delivery"); bf != nil {
						bars = append(bars, bar{label: "baseline " + s.Name + " " + name, color: palette[i%len(palette)], median: bf.Median,
							lo: bf.Min, hi: bf.Max, haveRange: true, dashed: true})
					}
				}
			}
		}
	}
	return bars
}

// The latency CDF's x axis counts nines: 0 is the minimum, 2 is p99, 5 is p99.999; the
// maximum is drawn a little to the right of p99.999.
var (
	ninesTicks = []float64{0, 1, 2, 3, 4, 5, 5.4}
	ninesNames = []string{"0", "90", "99", "99.9", "99.99", "99.999", "max"}
)

func nines(pct float64) float64 {
	if pct >= 100 {
		return 5.4
	}
	return math.Min(5, -math.Log10(1-pct/100))
}

func latencySeries(l *Latency, name, color string, dashed bool) chartSeries {
	s := chartSeries{name: name, color: color, dashed: dashed}
	for _, pt := range l.CDF {
		s.xs = append(s.xs, nines(pt.Pct))
		s.ys = append(s.ys, pt.Ms)
	}
	return s
}

func writeScenarioHTML(p func(string, ...any), r, base *Result, name string) {
	p(`<h2>%s</h2>`, esc(name))
	var lat, thr []chartSeries
	label := ""
	for i, s := range r.Servers {
		sc := s.Scenario(name)
		if sc == nil {
			continue
		}
		color := palette[i%len(palette)]
		p(`<h3>%s</h3>`, esc(s.Name))
		if len(sc.Params) > 0 {
			var parts []string
			for _, k := range sortedKeys(sc.Params) {
				parts = append(parts, fmt.Sprintf("%s=%v", k, sc.Params[k]))
			}
			p(`<p class="note">sizes: %s</p>`, esc(strings.Join(parts, ", ")))
		}
		if sc.Skipped != "" {
			p(`<p class="skip">skipped: %s</p>`, esc(sc.Skipped))
			continue
		}
		for _, e := range sc.Errors {
			p(`<p class="err">%s</p>`, esc(e))
		}
		if len(sc.Figures) > 0 {
			p(`<table><tr><th>figure</th><th>median</th><th>min</th><th>max</th><th>unit</th><th>each run</th><th>better</th></tr>`)
			for _, f := range sc.Figures {
				var vals []string
				for _, v := range f.Values {
					vals = append(vals, formatValue(v))
				}
				p(`<tr><td>%s</td><td class="num">%s</td><td class="num">%s</td><td class="num">%s</td><td>%s</td><td class="num">%s</td><td>%s</td></tr>`,
					esc(f.Name), formatValue(f.Median), formatValue(f.Min), formatValue(f.Max), esc(f.Unit), esc(strings.Join(vals, " ")), f.Better)
			}
			p(`</table>`)
		}
		for k, run := range sc.Runs {
			for _, n := range run.Notes {
				p(`<p class="note">run %d: %s</p>`, k+1, esc(n))
			}
		}
		if sc.Latency != nil {
			label = sc.LatencyLabel
			lat = append(lat, latencySeries(sc.Latency, fmt.Sprintf("%s (n=%d, p99 %s ms)", s.Name, sc.Latency.Count, formatValue(sc.Latency.P99)), color, false))
			if base != nil {
				if bs := base.Server(s.Name); bs != nil {
					if bsc := bs.Scenario(name); bsc != nil && bsc.Latency != nil {
						lat = append(lat, latencySeries(bsc.Latency, "baseline "+s.Name, color, true))
					}
				}
			}
		}
		for k, run := range sc.Runs {
			if len(run.Series) == 0 {
				continue
			}
			cs := chartSeries{name: fmt.Sprintf("%s run %d", s.Name, k+1), color: palette[(i*3+k)%len(palette)]}
			for _, smp := range run.Series {
				cs.xs = append(cs.xs, smp.T)
				cs.ys = append(cs.ys, smp.Rate)
			}
			thr = append(thr, cs)
		}
	}
	if len(lat) > 0 {
		p(`%s`, svgLineChart("latency CDF: "+label, axis{label: "percentile", ticks: ninesTicks, names: ninesNames},
			axis{label: "latency (ms, log scale)", log: true}, lat))
	}
	if len(thr) > 0 {
		p(`%s`, svgLineChart("throughput over time", axis{label: "seconds into the measured phase"}, axis{label: "deliveries per second"}, thr))
	}
}

func writeGoBenchHTML(p func(string, ...any), r *Result, cmp *Comparison) {
	p(`<h2>Go micro-benchmarks</h2><p class="note">Median with a 95%% confidence interval of the median (distribution-free); against the baseline, a Mann-Whitney U test (p) as benchstat does.</p>`)
	p(`<table><tr><th>package</th><th>benchmark</th><th>unit</th><th>median</th><th>± 95%% CI</th><th>n</th><th>baseline</th><th>change</th><th>verdict</th></tr>`)
	deltas := map[string]BenchDelta{}
	if cmp != nil {
		for _, d := range cmp.Bench {
			deltas[d.Pkg+"\x00"+d.Name+"\x00"+d.Unit] = d
		}
	}
	for _, g := range r.GoBench {
		for _, m := range g.Metrics {
			d, ok := deltas[g.Pkg+"\x00"+g.Name+"\x00"+m.Unit]
			baseText, change, verdict := "-", "", ""
			if ok {
				baseText = benchText(d.Base)
				change = changeText(d.Base != nil, d.Change)
				verdict = string(d.Verdict) + " " + d.Reason
			}
			p(`<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td class="num">%s</td><td>%s</td><td class="num">%d</td><td class="num">%s</td><td class="num">%s</td><td>%s</td></tr>`,
				d.Verdict, esc(g.Pkg), esc(g.Name), esc(m.Unit), formatValue(m.Median), esc(ciText(m)), len(m.Values),
				esc(baseText), esc(change), esc(verdict))
		}
	}
	p(`</table>`)
}
