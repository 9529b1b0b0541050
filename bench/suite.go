package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// SuiteConfig says what a suite runs.
type SuiteConfig struct {
	Scenarios []Scenario
	Runs      int           // repetitions of each scenario; at least 1 (the suite default is 3)
	Pause     time.Duration // between runs, so the machine settles
	Log       *slog.Logger
}

// RunSuite runs every scenario cfg.Runs times against every server, starting a fresh
// instance of the server for each run and interleaving the servers run by run, so slow
// drift of the machine affects them alike. A scenario that is skipped is not repeated; a
// run that fails is recorded and the suite goes on. The error reports failed runs.
func RunSuite(ctx context.Context, cfg SuiteConfig, servers []Server) ([]ServerResult, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	runs := max(1, cfg.Runs)
	out := make([]ServerResult, len(servers))
	for i, s := range servers {
		out[i].Name = s.Name()
	}
	var failed []string
	for _, sc := range cfg.Scenarios {
		acc := make([]scenarioAcc, len(servers))
		for r := 0; r < runs; r++ {
			for i, srv := range servers {
				a := &acc[i]
				if a.skipped != "" {
					continue
				}
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				res, version, err := runOnce(ctx, sc, srv, log)
				if version != "" {
					out[i].Version = version
				}
				if why, ok := IsSkip(err); ok {
					a.skipped = why
					log.Info("scenario skipped", "server", srv.Name(), "scenario", sc.Name(), "reason", why)
					continue
				}
				if err != nil && !errors.Is(err, ErrIncomplete) {
					a.errs = append(a.errs, fmt.Sprintf("run %d: %v", r+1, err))
					failed = append(failed, fmt.Sprintf("%s/%s run %d: %v", srv.Name(), sc.Name(), r+1, err))
					log.Error("scenario run failed", "server", srv.Name(), "scenario", sc.Name(), "run", r+1, "err", err)
					continue
				}
				if err != nil {
					a.errs = append(a.errs, fmt.Sprintf("run %d: %v", r+1, err))
				}
				a.add(res)
				log.Info("scenario run", "server", srv.Name(), "scenario", sc.Name(), "run", r+1, "of", runs,
					"figures", headline(sc, res))
				if cfg.Pause > 0 {
					select {
					case <-time.After(cfg.Pause):
					case <-ctx.Done():
					}
				}
			}
		}
		for i := range servers {
			out[i].Scenarios = append(out[i].Scenarios, acc[i].result(sc))
		}
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("bench: %d run(s) failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return out, nil
}

// runOnce starts a server instance, runs sc against it once and stops it.
func runOnce(ctx context.Context, sc Scenario, srv Server, log *slog.Logger) (*RunResult, string, error) {
	inst, err := srv.Start(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", srv.Name(), err)
	}
	defer func() {
		if err := inst.Stop(); err != nil {
			log.Warn("stop server", "server", srv.Name(), "err", err)
		}
	}()
	res, err := sc.Run(ctx, Target{Addr: inst.Addr, Transports: inst.Transports, PID: inst.PID, Log: log})
	if res != nil && len(res.Phases) > 0 {
		// The last phase is the measured one in every scenario.
		if ph := res.Phases[len(res.Phases)-1]; ph.OtherCPUMs >= 0 && ph.WallMs > 0 {
			res.Figures[otherCPUSpec.Name] = 100 * ph.OtherCPUMs / (ph.WallMs * float64(runtime.NumCPU()))
		}
	}
	if err != nil && inst.LogPath != "" && !errors.Is(err, ErrIncomplete) {
		if _, skip := IsSkip(err); !skip {
			err = fmt.Errorf("%w (server output: %s)", err, tail(inst.LogPath))
		}
	}
	return res, inst.Version, err
}

// otherCPUSpec is added to every scenario: how busy the rest of the machine kept its
// CPUs during the measured phase. It explains noisy runs and is never judged.
var otherCPUSpec = FigureSpec{Name: "machine_other_cpu_pct", Unit: "%", Better: LowerIsBetter, Info: true}

// NoisyRuns lists scenarios whose median machine_other_cpu_pct exceeds limit (percent of
// all CPUs), as "server/scenario: N%".
func NoisyRuns(r *Result, limit float64) []string {
	var out []string
	for _, s := range r.Servers {
		for _, sc := range s.Scenarios {
			if f := sc.Figure(otherCPUSpec.Name); f != nil && f.Median > limit {
				out = append(out, fmt.Sprintf("%s/%s: %.0f%%", s.Name, sc.Name, f.Median))
			}
		}
	}
	return out
}

type scenarioAcc struct {
	runs    []RunResult
	hist    *hdrhistogram.Histogram
	skipped string
	errs    []string
}

func (a *scenarioAcc) add(r *RunResult) {
	if r == nil {
		return
	}
	if r.latency != nil {
		if a.hist == nil {
			a.hist = newHist()
		}
		a.hist.Merge(r.latency)
	}
	a.runs = append(a.runs, *r)
}

func (a *scenarioAcc) result(sc Scenario) ScenarioResult {
	return ScenarioResult{
		Name: sc.Name(), Params: sc.Params(), Skipped: a.skipped, Errors: a.errs,
		Figures: aggregate(append(sc.Figures(), otherCPUSpec), a.runs), LatencyLabel: sc.LatencyLabel(),
		Latency: summarize(a.hist), Runs: a.runs,
	}
}

// headline formats a run's figures in spec order for a progress line.
func headline(sc Scenario, r *RunResult) string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for _, f := range sc.Figures() {
		if v, ok := r.Figures[f.Name]; ok {
			fmt.Fprintf(&b, "%s=%s ", f.Name, formatValue(v))
		}
	}
	return strings.TrimSpace(b.String())
}

// CollectMeta describes this machine and the checkout in dir.
func CollectMeta(dir string) Meta {
	m := Meta{Date: time.Now().UTC().Truncate(time.Second), GoVersion: runtime.Version(), NumCPU: runtime.NumCPU()}
	m.Host, _ = os.Hostname()
	if out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Commit += "-dirty"
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
