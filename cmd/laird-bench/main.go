package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"laird/bench"
)

// Exit codes.
const (
	exitOK         = 0
	exitRegression = 1
	exitError      = 2
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitError)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "suite":
		code = cmdSuite(ctx, args, false)
	case "baseline":
		code = cmdSuite(ctx, args, true)
	case "compare":
		code = cmdCompare(ctx, args)
	case "run":
		code = cmdRun(ctx, args)
	case "check":
		code = cmdCheck(args)
	case "report":
		code = cmdReport(args)
	case "-h", "-help", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "laird-bench: unknown command %q\n", cmd)
		usage()
		code = exitError
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: laird-bench <command> [flags]

commands:
  suite     run the benchmark suite against laird, write results, compare with the baseline
  baseline  run the suite (or -from FILE) and write bench/baseline.json
  compare   run the suite against laird and peer servers (InspIRCd) side by side
  run       run scenarios against a server by address (-attach ADDR [-pid PID]); print only
  check     compare a result file with the baseline
  report    rewrite the HTML report of a result file

Run "laird-bench <command> -h" for the flags of a command.
`)
}

// options are the flags shared by the commands that run scenarios.
type options struct {
	repo         string
	lairdBin     string
	lairdArgs    string
	lairdConfig  string
	attach       string
	pid          int
	label        string
	scenarios    string
	runs         int
	pause        time.Duration
	pin          bool
	serverCPUs   string
	genCPUs      string
	outDir       string
	baseline     string
	threshold    float64
	alpha        float64
	gobench      string
	gobenchCount int
	gobenchBench string
	gobenchTime  string
	gobenchGate  bool
	verbose      bool
	sizes        bench.Sizes
	log          *slog.Logger
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.repo, "repo", "", "laird checkout (default: the nearest directory above the working directory with a go.mod)")
	fs.StringVar(&o.lairdBin, "laird", "bin/laird", "laird binary, relative to -repo unless absolute")
	fs.StringVar(&o.lairdArgs, "laird-args", "", "extra laird arguments after -listen ADDR -data DIR -metrics off -config FILE (space separated)")
	fs.StringVar(&o.lairdConfig, "laird-config", "", "laird configuration file for the runs (default: generated, flood control off for the loopback generator; see bench.LairdBenchConfig)")
	fs.StringVar(&o.attach, "attach", "", "measure the server already listening at this address instead of starting laird")
	fs.IntVar(&o.pid, "pid", 0, "PID of the -attach server, for its CPU and RSS (0: unknown)")
	fs.StringVar(&o.label, "name", "", "name of the -attach server in the results (default laird for suite, the address for run)")
	fs.StringVar(&o.scenarios, "scenarios", strings.Join(bench.ScenarioNames(), ","), "scenarios to run, comma separated")
	fs.IntVar(&o.runs, "runs", 3, "runs of each scenario")
	fs.DurationVar(&o.pause, "pause", time.Second, "pause between runs")
	fs.BoolVar(&o.pin, "pin", runtime.NumCPU() >= 2, "pin the server and the load generator to separate CPUs with taskset")
	fs.StringVar(&o.serverCPUs, "server-cpus", "0", "taskset CPU list of the server when -pin")
	fs.StringVar(&o.genCPUs, "generator-cpus", "1", "taskset CPU list of the load generator when -pin")
	fs.StringVar(&o.outDir, "out", "", "directory for result files (default <repo>/bench/results)")
	fs.StringVar(&o.baseline, "baseline", "", "baseline file (default <repo>/bench/baseline.json)")
	fs.Float64Var(&o.threshold, "threshold", bench.DefaultRules().Threshold, "default relative change that may count as a regression")
	fs.Float64Var(&o.alpha, "alpha", bench.DefaultRules().Alpha, "significance level for Go benchmark changes")
	fs.StringVar(&o.gobench, "gobench", "", "Go packages whose benchmarks run with the suite, comma separated (e.g. ./codec/...,./perf/...)")
	fs.IntVar(&o.gobenchCount, "gobench-count", 6, "go test -count for -gobench (6 is the fewest that gives a 95% interval of the median)")
	fs.StringVar(&o.gobenchBench, "gobench-bench", ".", "go test -bench regexp for -gobench")
	fs.StringVar(&o.gobenchTime, "gobench-benchtime", "300ms", "go test -benchtime for -gobench")
	fs.BoolVar(&o.gobenchGate, "gobench-gate", false, "fail on a Go benchmark regression too (by default they are only reported)")
	fs.BoolVar(&o.verbose, "v", false, "debug logging")
	o.sizes = bench.DefaultSizes()
	o.sizes.RegisterFlags(fs)
}

// finish resolves defaults after parsing.
func (o *options) finish() error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	o.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if o.repo == "" {
		o.repo = findRepo()
	}
	if !filepath.IsAbs(o.lairdBin) {
		o.lairdBin = filepath.Join(o.repo, o.lairdBin)
	}
	if o.outDir == "" {
		o.outDir = filepath.Join(o.repo, "bench", "results")
	}
	if o.baseline == "" {
		o.baseline = filepath.Join(o.repo, "bench", "baseline.json")
	}
	if o.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	return nil
}

func (o *options) rules() bench.Rules {
	return bench.Rules{Threshold: o.threshold, Alpha: o.alpha, GateGoBench: o.gobenchGate}
}

// findRepo walks up from the working directory to the first directory with a go.mod.
func findRepo() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

func (o *options) scenarioList() ([]bench.Scenario, error) {
	var out []bench.Scenario
	for _, name := range strings.Split(o.scenarios, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		sc, err := o.sizes.Scenario(name)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, errors.New("no scenarios selected")
	}
	return out, nil
}

// pinning pins the generator and returns the server's CPU list ("" for none) and the
// sentence that goes into the results.
func (o *options) pinning() (serverCPUs, statement string) {
	if !o.pin {
		return "", "not pinned"
	}
	if err := bench.PinSelf(o.genCPUs); err != nil {
		o.log.Warn("pinning failed; running unpinned", "err", err)
		return "", "not pinned (" + err.Error() + ")"
	}
	return o.serverCPUs, fmt.Sprintf("server on CPU %s, load generator on CPU %s (taskset)", o.serverCPUs, o.genCPUs)
}

// lairdServer is the server under test: the -attach one or a fresh laird per run.
func (o *options) lairdServer(serverCPUs, defaultLabel string) (bench.Server, error) {
	if o.attach != "" {
		if serverCPUs != "" && o.pid > 0 {
			if err := bench.PinProcess(o.pid, serverCPUs); err != nil {
				return nil, err
			}
		}
		label := o.label
		if label == "" {
			label = defaultLabel
		}
		return &bench.Attached{Label: label, Addr: o.attach, PID: o.pid}, nil
	}
	if _, err := os.Stat(o.lairdBin); err != nil {
		return nil, fmt.Errorf("laird binary: %w (build it with `go build -o bin/laird ./cmd/laird`, or pass -laird or -attach)", err)
	}
	return &bench.Laird{Bin: o.lairdBin, Args: strings.Fields(o.lairdArgs), Pin: serverCPUs, ConfigFile: o.lairdConfig}, nil
}

// runAll runs the scenarios against servers and then the Go benchmarks, and assembles
// the result. A non-nil error means some run failed; the result is still complete.
func (o *options) runAll(ctx context.Context, servers []bench.Server, pinStatement, serverCPUs string) (*bench.Result, error) {
	scs, err := o.scenarioList()
	if err != nil {
		return nil, err
	}
	meta := bench.CollectMeta(o.repo)
	meta.Pinning, meta.Runs, meta.Command = pinStatement, o.runs, strings.Join(os.Args, " ")
	o.log.Info("laird-bench", "commit", meta.Commit, "pinning", pinStatement, "runs", o.runs, "scenarios", o.scenarios)
	srvs, runErr := bench.RunSuite(ctx, bench.SuiteConfig{Scenarios: scs, Runs: o.runs, Pause: o.pause, Log: o.log}, servers)
	res := &bench.Result{Version: bench.ResultVersion, Meta: meta, Servers: srvs}
	if o.gobench != "" && ctx.Err() == nil {
		pkgs := strings.FieldsFunc(o.gobench, func(r rune) bool { return r == ',' || r == ' ' })
		o.log.Info("go benchmarks", "packages", pkgs, "count", o.gobenchCount)
		gb, out, err := bench.RunGoBench(ctx, bench.GoBenchConfig{Dir: o.repo, Packages: pkgs, Bench: o.gobenchBench,
			Count: o.gobenchCount, Benchtime: o.gobenchTime, Pin: serverCPUs})
		res.GoBench = gb
		if err != nil {
			o.log.Error("go benchmarks failed", "err", err, "output", problemLines(out, 40))
			runErr = errors.Join(runErr, err)
		}
	}
	return res, runErr
}

// problemLines keeps the lines of `go test -bench` output that are not benchmark results
// or the usual headers: build errors, test failures, panics.
func problemLines(out string, n int) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case t == "", t == "PASS", strings.HasPrefix(t, "Benchmark"), strings.HasPrefix(t, "ok "),
			strings.HasPrefix(t, "goos:"), strings.HasPrefix(t, "goarch:"), strings.HasPrefix(t, "pkg:"),
			strings.HasPrefix(t, "cpu:"), strings.HasPrefix(t, "?"):
			continue
		}
		keep = append(keep, l)
		if len(keep) == n {
			break
		}
	}
	return strings.Join(keep, "\n")
}

// save writes the result JSON and HTML report under outDir with the given suffix.
func (o *options) save(res, base *bench.Result, cmp *bench.Comparison, suffix string) (string, string, error) {
	name := bench.ResultName(res.Meta) + suffix
	jsonPath := filepath.Join(o.outDir, name+".json")
	if err := res.Save(jsonPath); err != nil {
		return "", "", err
	}
	htmlPath := filepath.Join(o.outDir, name+".html")
	f, err := os.Create(htmlPath)
	if err != nil {
		return jsonPath, "", fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	if err := bench.WriteHTML(f, res, base, cmp); err != nil {
		return jsonPath, "", fmt.Errorf("report: %w", err)
	}
	return jsonPath, htmlPath, f.Close()
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "laird-bench: %v\n", err)
	return exitError
}
