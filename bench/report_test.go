package bench

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func reportFixture() *Result {
	r := synthetic(1, []float64{1, 1.1, 0.9})
	r.Meta = CollectMeta(".")
	r.Meta.Pinning = "not pinned"
	sc := &r.Servers[0].Scenarios[0]
	h := newHist()
	for i := int64(1); i <= 1000; i++ {
		_ = h.RecordValue(i * 10_000)
	}
	sc.Latency = summarize(h)
	sc.LatencyLabel = "send to delivery"
	sc.Runs[0].Series = []Sample{{T: 0.1, Rate: 1000}, {T: 0.2, Rate: 1200}}
	peer := synthetic(2, []float64{1, 1, 1}).Servers[0]
	peer.Name = "inspircd"
	r.Servers = append(r.Servers, peer)
	r.Servers = append(r.Servers, ServerResult{Name: "skipper", Scenarios: []ScenarioResult{{Name: "history", Skipped: "no <chathistory> & co"}}})
	m := BenchMetric{Unit: "ns/op", Better: LowerIsBetter, Values: []float64{1, 2, 3, 4, 5, 6}}
	m.summarize()
	r.GoBench = []GoBench{{Pkg: "laird/codec", Name: "BenchmarkParse", Metrics: []BenchMetric{m}}}
	return r
}

func TestWriteHTMLIsSelfContained(t *testing.T) {
	r := reportFixture()
	base := synthetic(1.5, []float64{1, 1, 1})
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r, base, Compare(base, r, DefaultRules())); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"<svg", "latency CDF", "throughput over time", "server CPU per delivery",
		"Side by side", "Against the baseline", "improved", "BenchmarkParse", "no &lt;chathistory&gt; &amp; co"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// No scripts and no external assets: the only URL is the SVG namespace.
	if strings.Contains(out, "<script") || regexp.MustCompile(`(src|href)=`).MatchString(out) {
		t.Error("report loads something")
	}
	for _, u := range regexp.MustCompile(`https?://[^"' <]+`).FindAllString(out, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("external reference %s", u)
		}
	}
	if strings.Contains(out, "NaN") {
		t.Error("report prints NaN")
	}
}

func TestWriteTextAndSideBySide(t *testing.T) {
	r := reportFixture()
	var buf bytes.Buffer
	WriteText(&buf, r)
	WriteSideBySide(&buf, r)
	out := buf.String()
	for _, want := range []string{"server_cpu_us_per_delivery", "[", "laird/inspircd", "0.50x", "skipped: no <chathistory>", "± "} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestSVGChartHandlesEmptyAndFlatData(t *testing.T) {
	if s := svgLineChart("t", axis{}, axis{log: true}, nil); !strings.Contains(s, "no data") {
		t.Error("empty chart does not say so")
	}
	flat := svgLineChart("t", axis{}, axis{}, []chartSeries{{name: "a", color: "#000", xs: []float64{1, 1}, ys: []float64{5, 5}}})
	if strings.Contains(flat, "NaN") || strings.Contains(flat, "Inf") {
		t.Errorf("flat chart has NaN/Inf: %s", flat)
	}
}
