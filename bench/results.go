package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ResultVersion is the version of the result file format.
const ResultVersion = 1

// Result is one benchmark session: what ran where, and what every server measured. It is
// what bench/results/<date>-<commit>.json and bench/baseline.json hold.
type Result struct {
	Version int            `json:"version"`
	Meta    Meta           `json:"meta"`
	Servers []ServerResult `json:"servers"`
	GoBench []GoBench      `json:"gobench,omitempty"`
}

// Meta describes the machine and the build a Result was measured on.
type Meta struct {
	Date      time.Time `json:"date"`
	Commit    string    `json:"commit"`
	GoVersion string    `json:"go_version"`
	Host      string    `json:"host"`
	CPU       string    `json:"cpu"`
	NumCPU    int       `json:"num_cpu"`
	Kernel    string    `json:"kernel"`
	// Pinning states where the server and the generator ran, e.g. "server on CPU 0,
	// generator on CPU 1 (taskset)" or "not pinned".
	Pinning string `json:"pinning"`
	Runs    int    `json:"runs"`
	Command string `json:"command"`
}

// ServerResult is every scenario measured against one server.
type ServerResult struct {
	Name      string           `json:"name"`
	Version   string           `json:"version,omitempty"`
	Scenarios []ScenarioResult `json:"scenarios"`
}

// ScenarioResult is one scenario repeated: per-figure medians with min-max, the latency
// distribution of all runs merged, and each run's raw figures, phases and series.
type ScenarioResult struct {
	Name         string         `json:"name"`
	Params       map[string]any `json:"params,omitempty"`
	Skipped      string         `json:"skipped,omitempty"`
	Errors       []string       `json:"errors,omitempty"`
	Figures      []Figure       `json:"figures,omitempty"`
	LatencyLabel string         `json:"latency_label,omitempty"`
	Latency      *Latency       `json:"latency,omitempty"`
	Runs         []RunResult    `json:"runs,omitempty"`
}

// Figure is one figure over all runs.
type Figure struct {
	FigureSpec
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

// Spread is the observed min-max range.
func (f Figure) Spread() float64 { return f.Max - f.Min }

// Scenario returns the named scenario's result, or nil.
func (s *ServerResult) Scenario(name string) *ScenarioResult {
	for i := range s.Scenarios {
		if s.Scenarios[i].Name == name {
			return &s.Scenarios[i]
		}
	}
	return nil
}

// Figure returns the named figure, or nil.
func (s *ScenarioResult) Figure(name string) *Figure {
	for i := range s.Figures {
		if s.Figures[i].Name == name {
			return &s.Figures[i]
		}
	}
	return nil
}

// Server returns the result of the server called name, or nil.
func (r *Result) Server(name string) *ServerResult {
	for i := range r.Servers {
		if r.Servers[i].Name == name {
			return &r.Servers[i]
		}
	}
	return nil
}

// aggregate computes each spec's median and min-max over the runs that reported it.
func aggregate(specs []FigureSpec, runs []RunResult) []Figure {
	var out []Figure
	for _, spec := range specs {
		var vals []float64
		for _, r := range runs {
			if v, ok := r.Figures[spec.Name]; ok {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		lo, hi := minMax(vals)
		out = append(out, Figure{FigureSpec: spec, Median: Median(vals), Min: lo, Max: hi, Values: vals})
	}
	return out
}

// Save writes r as indented JSON to path, creating its directory.
func (r *Result) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save result: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("save result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save result: %w", err)
	}
	return nil
}

// LoadResult reads a result file.
func LoadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("load result %s: %w", path, err)
	}
	if r.Version != ResultVersion {
		return nil, fmt.Errorf("load result %s: format version %d, want %d", path, r.Version, ResultVersion)
	}
	return &r, nil
}

// ResultName returns "<date>-<commit>", the base name of a result's files.
func ResultName(m Meta) string {
	commit := m.Commit
	if commit == "" {
		commit = "nocommit"
	}
	return m.Date.Format("20060102-150405") + "-" + commit
}

// sortedKeys returns a map's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
