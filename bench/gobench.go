package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// GoBench is one Go benchmark repeated -count times: every metric it reported (ns/op,
// B/op, allocs/op, MB/s, custom units) with benchstat-style statistics.
type GoBench struct {
	Pkg     string        `json:"pkg"`
	Name    string        `json:"name"` // without the -GOMAXPROCS suffix
	Metrics []BenchMetric `json:"metrics"`
}

// BenchMetric is one unit of one benchmark over its repetitions. CILow and CIHigh bound a
// 95 % confidence interval of the median (CIOK false: too few runs, the range is min-max).
type BenchMetric struct {
	Unit   string    `json:"unit"`
	Better Better    `json:"better"`
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	CILow  float64   `json:"ci_low"`
	CIHigh float64   `json:"ci_high"`
	CIOK   bool      `json:"ci_ok"`
}

// GoBenchConfig says which Go benchmarks to run.
type GoBenchConfig struct {
	Dir      string   // module root to run `go test` in
	Packages []string // e.g. ./codec/... ./perf/...
	Bench    string   // -bench regexp; default "."
	// Count is -count; default 6, the fewest runs that give a 95 % interval of the median
	// (and with which a 5 % two-sided Mann-Whitney test can succeed against 6 others).
	Count     int
	Benchtime string // -benchtime; default "" (go's own 1s)
	Pin       string // taskset CPU list for the benchmark process, "" for none
	Timeout   time.Duration
}

// RunGoBench runs `go test -run ^$ -bench` over cfg.Packages and parses the output. It
// returns the raw output too, so that a parse surprise can be diagnosed.
func RunGoBench(ctx context.Context, cfg GoBenchConfig) ([]GoBench, string, error) {
	if len(cfg.Packages) == 0 {
		return nil, "", nil
	}
	bench := cfg.Bench
	if bench == "" {
		bench = "."
	}
	count := cfg.Count
	if count <= 0 {
		count = 6
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := []string{"test", "-run", "^$", "-bench", bench, "-benchmem", "-count", strconv.Itoa(count)}
	if cfg.Benchtime != "" {
		args = append(args, "-benchtime", cfg.Benchtime)
	}
	args = append(args, cfg.Packages...)
	argv := append([]string{"go"}, args...)
	if cfg.Pin != "" {
		argv = append([]string{"taskset", "-c", cfg.Pin}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = cfg.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	res, err := ParseGoBench(bytes.NewReader(out.Bytes()))
	if err != nil {
		return nil, out.String(), err
	}
	if runErr != nil {
		return res, out.String(), fmt.Errorf("go %s: %w", strings.Join(args, " "), runErr)
	}
	return res, out.String(), nil
}

// ParseGoBench reads `go test -bench` output (the format benchstat reads): "pkg:" lines
// name the package of the benchmark lines that follow; each "BenchmarkX-N iters value unit
// ..." line adds one value per unit. Other lines are ignored.
func ParseGoBench(r io.Reader) ([]GoBench, error) {
	var out []GoBench
	index := map[string]int{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a name alone (the benchmark logged), or a torn line
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := trimProcs(f[0])
		key := pkg + "\x00" + name
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, GoBench{Pkg: pkg, Name: name})
		}
		for j := 2; j+1 < len(f); j += 2 {
			v, err := strconv.ParseFloat(f[j], 64)
			if err != nil {
				continue
			}
			out[i].add(f[j+1], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse go test output: %w", err)
	}
	for i := range out {
		for j := range out[i].Metrics {
			out[i].Metrics[j].summarize()
		}
	}
	return out, nil
}

func (g *GoBench) add(unit string, v float64) {
	for i := range g.Metrics {
		if g.Metrics[i].Unit == unit {
			g.Metrics[i].Values = append(g.Metrics[i].Values, v)
			return
		}
	}
	g.Metrics = append(g.Metrics, BenchMetric{Unit: unit, Better: unitBetter(unit), Values: []float64{v}})
}

func (m *BenchMetric) summarize() {
	m.Median = Median(m.Values)
	m.Min, m.Max = minMax(m.Values)
	m.CILow, m.CIHigh, m.CIOK = MedianCI(m.Values, 0.95)
}

// Metric returns the metric with unit, or nil.
func (g *GoBench) Metric(unit string) *BenchMetric {
	for i := range g.Metrics {
		if g.Metrics[i].Unit == unit {
			return &g.Metrics[i]
		}
	}
	return nil
}

// unitBetter: rates ("MB/s", "msgs/s") are better higher, costs (ns/op, B/op) lower.
func unitBetter(unit string) Better {
	if strings.HasSuffix(unit, "/s") {
		return HigherIsBetter
	}
	return LowerIsBetter
}

// trimProcs removes the "-N" GOMAXPROCS suffix go test appends to benchmark names.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}
