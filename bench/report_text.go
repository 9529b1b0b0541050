package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// formatValue prints a figure with about four significant digits.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// WriteText prints every server's figures as medians with their min-max range.
func WriteText(w io.Writer, r *Result) {
	fmt.Fprintf(w, "laird-bench %s  commit %s  %s  %d CPU  %s\n", r.Meta.Date.Format("2006-01-02 15:04:05Z"),
		r.Meta.Commit, r.Meta.CPU, r.Meta.NumCPU, r.Meta.GoVersion)
	fmt.Fprintf(w, "pinning: %s; %d runs per scenario; figures are medians [min-max]\n", r.Meta.Pinning, r.Meta.Runs)
	for _, s := range r.Servers {
		fmt.Fprintf(w, "\n== %s %s\n", s.Name, s.Version)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, sc := range s.Scenarios {
			switch {
			case sc.Skipped != "":
				fmt.Fprintf(tw, "%s\tskipped: %s\n", sc.Name, sc.Skipped)
				continue
			case len(sc.Figures) == 0:
				fmt.Fprintf(tw, "%s\tfailed: %s\n", sc.Name, strings.Join(sc.Errors, "; "))
				continue
			}
			for i, f := range sc.Figures {
				name := ""
				if i == 0 {
					name = sc.Name
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t[%s-%s]\t%s\n", name, f.Name, formatValue(f.Median),
					formatValue(f.Min), formatValue(f.Max), f.Unit)
			}
			for _, e := range sc.Errors {
				fmt.Fprintf(tw, "\tnote: %s\n", e)
			}
		}
		tw.Flush()
	}
	if len(r.GoBench) > 0 {
		fmt.Fprintf(w, "\n== Go micro-benchmarks (median ± 95%% CI of the median; other units: median)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, g := range r.GoBench {
			if len(g.Metrics) == 0 {
				continue
			}
			m := g.Metrics[0]
			fmt.Fprintf(tw, "%s.%s\t%s %s\t%s\tn=%d", shortPkg(g.Pkg), g.Name, formatValue(m.Median), m.Unit, ciText(m), len(m.Values))
			for _, o := range g.Metrics[1:] {
				fmt.Fprintf(tw, "\t%s %s", formatValue(o.Median), o.Unit)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
}

func ciText(m BenchMetric) string {
	if !m.CIOK {
		return "± ? (too few runs for 95%)"
	}
	if m.Median == 0 {
		return "± 0%"
	}
	half := math.Max(m.Median-m.CILow, m.CIHigh-m.Median)
	return fmt.Sprintf("± %.1f%%", 100*half/math.Abs(m.Median))
}

func shortPkg(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// WriteSideBySide prints every figure of every server in columns, with the ratio of the
// first server's median to each other's.
func WriteSideBySide(w io.Writer, r *Result) {
	if len(r.Servers) < 2 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tfigure\tbetter")
	for _, s := range r.Servers {
		fmt.Fprintf(tw, "\t%s", s.Name)
	}
	for _, s := range r.Servers[1:] {
		fmt.Fprintf(tw, "\t%s/%s", r.Servers[0].Name, s.Name)
	}
	fmt.Fprintln(tw)
	for _, row := range sideBySideRows(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s", row.scenario, row.figure, row.better)
		for _, f := range row.figs {
			fmt.Fprintf(tw, "\t%s", figText(f))
		}
		for _, ratio := range row.ratios {
			fmt.Fprintf(tw, "\t%s", ratio)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, s := range r.Servers {
		for _, sc := range s.Scenarios {
			if sc.Skipped != "" {
				fmt.Fprintf(w, "%s %s skipped: %s\n", s.Name, sc.Name, sc.Skipped)
			}
		}
	}
}
