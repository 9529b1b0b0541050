package bench

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Small inline-SVG charts for the HTML report; no scripts, no external assets.

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

type chartSeries struct {
	name   string
	color  string
	dashed bool
	xs, ys []float64
}

type axis struct {
	label string
	log   bool      // log10 scale (values <= 0 are dropped)
	ticks []float64 // fixed ticks (in data units); nil for automatic
	names []string  // labels for fixed ticks
}

// Line charts keep their legend in a column right of the plot, so it never hides a curve.
const (
	chartW, chartH = 880, 300
	padL, padR     = 64, 296
	padT, padB     = 28, 44
)

// svgLineChart draws series as polylines with axes, ticks and a legend.
func svgLineChart(title string, xa, ya axis, series []chartSeries) string {
	tx := func(v float64, a axis) (float64, bool) {
		if a.log {
			if v <= 0 {
				return 0, false
			}
			return math.Log10(v), true
		}
		return v, true
	}
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for i := range s.xs {
			x, okx := tx(s.xs[i], xa)
			y, oky := tx(s.ys[i], ya)
			if !okx || !oky || math.IsNaN(x) || math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title>%s</title><text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`, esc(title), padL, esc(title))
	if math.IsInf(xmin, 0) {
		b.WriteString(`<text x="250" y="150" fill="#888">no data</text></svg>`)
		return b.String()
	}
	if xa.ticks != nil {
		for _, t := range xa.ticks {
			if v, ok := tx(t, xa); ok {
				xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
			}
		}
	}
	if ya.log {
		ymin, ymax = math.Floor(ymin), math.Ceil(ymax)
	} else {
		ymin = math.Min(0, ymin)
		ymax = niceCeil(ymax)
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if ymax == ymin {
		ymax = ymin + 1
	}
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(x float64) float64 { return float64(padL) + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return float64(padT) + ph - (y-ymin)/(ymax-ymin)*ph }
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, padL, padT, pw, ph)
	// Y ticks.
	for _, t := range axisTicks(ymin, ymax, ya.log) {
		y := py(t)
		label := tickLabel(t)
		if ya.log {
			label = tickLabel(math.Pow(10, t))
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>`,
			padL, float64(padL)+pw, y, y, padL-4, y+4, esc(label))
	}
	// X ticks.
	xticks, xnames := xa.ticks, xa.names
	if xticks == nil {
		for _, t := range axisTicks(xmin, xmax, xa.log) {
			xticks = append(xticks, t)
			xnames = append(xnames, tickLabel(t))
		}
	} else {
		var conv []float64
		for _, t := range xticks {
			v, _ := tx(t, xa)
			conv = append(conv, v)
		}
		xticks = conv
	}
	for i, t := range xticks {
		x := px(t)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`,
			x, x, padT, float64(padT)+ph, x, float64(padT)+ph+14, esc(xnames[i]))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12" text-anchor="middle">%s</text>`, float64(padL)+pw/2, chartH-8, esc(xa.label))
	fmt.Fprintf(&b, `<text x="14" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`,
		float64(padT)+ph/2, float64(padT)+ph/2, esc(ya.label))
	for _, s := range series {
		var pts []string
		for k := range s.xs {
			x, okx := tx(s.xs[k], xa)
			y, oky := tx(s.ys[k], ya)
			if !okx || !oky || math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(y)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>`, s.color, dashAttr(s.dashed), strings.Join(pts, " "))
	}
	lx := padL + int(pw) + 12
	for i, s := range series {
		ly := padT + 10 + 15*i
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d" font-size="11">%s</text>`,
			lx, lx+20, ly-4, ly-4, s.color, dashAttr(s.dashed), lx+24, ly, esc(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// axisTicks returns about five round ticks between lo and hi (decades on a log axis).
func axisTicks(lo, hi float64, log bool) []float64 {
	var out []float64
	if log {
		for v := math.Ceil(lo); v <= hi+1e-9; v++ {
			out = append(out, v)
		}
		return out
	}
	step := niceStep((hi - lo) / 5)
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	s := niceStep(v / 5)
	return math.Ceil(v/s) * s
}

type bar struct {
	label         string
	color         string
	median        float64
	lo, hi        float64
	dashed        bool
	haveRange     bool
	annotateRatio string
}

// svgBars draws horizontal bars (median) with min-max whiskers.
func svgBars(title, unit string, bars []bar) string {
	rowH := 24
	h := padT + rowH*len(bars) + 30
	maxV := 0.0
	for _, br := range bars {
		maxV = math.Max(maxV, math.Max(br.median, br.hi))
	}
	if maxV <= 0 {
		maxV = 1
	}
	maxV = niceCeil(maxV)
	labelW := 260
	pw := float64(chartW - labelW - padR - 60)
	px := func(v float64) float64 { return float64(labelW) + v/maxV*pw }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartW, h, chartW, h)
	fmt.Fprintf(&b, `<title>%s</title><text x="8" y="18" font-size="14" font-weight="bold">%s</text>`, esc(title), esc(title))
	for i, br := range bars {
		y := padT + rowH*i
		fill := br.color
		extra := ""
		if br.dashed {
			extra = ` fill-opacity="0.35" stroke="` + br.color + `" stroke-dasharray="4,3"`
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>`, labelW-6, y+14, esc(br.label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"%s/>`, labelW, y+3, px(br.median)-float64(labelW), rowH-8, fill, extra)
		if br.haveRange {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#333"/><line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#333"/><line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#333"/>`,
				px(br.lo), px(br.hi), y+rowH/2, y+rowH/2, px(br.lo), px(br.lo), y+6, y+rowH-6, px(br.hi), px(br.hi), y+6, y+rowH-6)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11">%s %s%s</text>`, math.Max(px(br.median), px(br.hi))+4, y+14,
			esc(formatValue(br.median)), esc(unit), esc(br.annotateRatio))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">bars: median; whiskers: min-max over runs; dashed: baseline</text>`, labelW, h-8)
	b.WriteString(`</svg>`)
	return b.String()
}

// tickLabel prints an axis value compactly: 0.01, 2.5, 1000, 20k, 1.5M.
func tickLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case a < 1e-12:
		return "0"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func dashAttr(dashed bool) string {
	if dashed {
		return ` stroke-dasharray="5,4"`
	}
	return ""
}

func esc(s string) string { return html.EscapeString(s) }
