package perf

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report says where time is going: the slowest commands, the pipeline
// stages and the hottest shard. It is built from a Snapshot, so `laird
// report` can build it from a remote server's status.json.
type Report struct {
	Time          time.Time `json:"time"`
	WindowSeconds float64   `json:"window_seconds"`
	// Cumulative is true when no command ran in the window and the
	// ranking uses the totals since start instead.
	Cumulative   bool           `json:"cumulative"`
	Slowest      []ReportLine   `json:"slowest_commands"` // by p99, slowest first
	Pipeline     []LatencyStat  `json:"pipeline"`         // fanout, kv.commit, shard.wait, ...
	HottestShard *RecorderStat  `json:"hottest_shard,omitempty"`
	Recorders    []RecorderStat `json:"recorders"` // busiest first
	Alerts       []AlertStatus  `json:"alerts,omitempty"`
}

// ReportLine is a command with its share of all command time.
type ReportLine struct {
	LatencyStat
	Share float64 `json:"share"` // fraction of the time spent in all commands
}

// BuildReport ranks s. top bounds the number of commands named (<= 0: all).
// A nil s (no collection yet) gives an empty report.
func BuildReport(s *Snapshot, top int) Report {
	if s == nil {
		s = &Snapshot{}
	}
	rep := Report{Time: s.Time, WindowSeconds: s.WindowSeconds, Alerts: s.Alerts}
	var cmds []LatencyStat
	for _, l := range s.Commands() {
		if l.Count > 0 {
			cmds = append(cmds, l)
		}
	}
	if len(cmds) == 0 {
		rep.Cumulative = true
		cmds = s.Commands()
		sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].TotalP99 > cmds[j].TotalP99 })
	}
	var total float64
	for _, l := range cmds {
		total += pick(rep.Cumulative, l.TotalSum, l.SumSeconds)
	}
	for _, l := range cmds {
		if top > 0 && len(rep.Slowest) >= top {
			break
		}
		line := ReportLine{LatencyStat: l}
		if share := pick(rep.Cumulative, l.TotalSum, l.SumSeconds) / total; total > 0 && !math.IsInf(share, 0) && !math.IsNaN(share) {
			line.Share = share // a remote status can hold anything: keep the report encodable
		}
		rep.Slowest = append(rep.Slowest, line)
	}
	for _, l := range s.Latencies {
		if l.Family != FamilyCommand {
			rep.Pipeline = append(rep.Pipeline, l)
		}
	}
	rep.Recorders = append([]RecorderStat(nil), s.Recorders...)
	sort.SliceStable(rep.Recorders, func(i, j int) bool {
		a, b := rep.Recorders[i], rep.Recorders[j]
		if a.Busy != b.Busy {
			return a.Busy > b.Busy
		}
		return a.QueueDepthMax > b.QueueDepthMax
	})
	for i := range rep.Recorders {
		if rep.Recorders[i].Kind == KindShard {
			hot := rep.Recorders[i]
			rep.HottestShard = &hot
			break
		}
	}
	return rep
}

func pick(cond bool, a, b float64) float64 {
	if cond {
		return a
	}
	return b
}

// WriteText writes the report for a terminal.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "laird report at %s, live window %.1f s\n\n", r.Time.Format(time.RFC3339), r.WindowSeconds)
	if r.Cumulative {
		b.WriteString("Slowest commands by p99 (no traffic in the window: totals since start)\n")
	} else {
		b.WriteString("Slowest commands by p99\n")
	}
	if len(r.Slowest) == 0 {
		b.WriteString("  no commands recorded\n")
	}
	for _, l := range r.Slowest {
		if r.Cumulative {
			fmt.Fprintf(&b, "  %-12s n=%-9d p99=%-9s share=%5.1f%%\n", commandName(l.LatencyStat), l.Total, FormatUS(l.TotalP99), 100*l.Share)
			continue
		}
		fmt.Fprintf(&b, "  %-12s %9.1f/s p50=%-9s p99=%-9s p99.9=%-9s max=%-9s share=%5.1f%%\n",
			commandName(l.LatencyStat), l.Rate, FormatUS(l.P50), FormatUS(l.P99), FormatUS(l.P999), FormatUS(l.Max), 100*l.Share)
	}
	if len(r.Pipeline) > 0 {
		b.WriteString("\nPipeline\n")
		for _, l := range r.Pipeline {
			fmt.Fprintf(&b, "  %-12s %9.1f/s p50=%-9s p99=%-9s p99.9=%-9s max=%-9s\n",
				l.Name, l.Rate, FormatUS(l.P50), FormatUS(l.P99), FormatUS(l.P999), FormatUS(l.Max))
		}
	}
	b.WriteString("\n")
	if h := r.HottestShard; h != nil {
		fmt.Fprintf(&b, "Hottest shard: %s, busy %.1f%%, queue %d (max %d in the window)\n", h.Name, 100*h.Busy, h.QueueDepth, h.QueueDepthMax)
	} else {
		b.WriteString("Hottest shard: no shard recorders\n")
	}
	if len(r.Recorders) > 0 {
		b.WriteString("\nLoops and shards, busiest first\n")
		for _, rs := range r.Recorders {
			stale := ""
			if rs.IdleIntervals > 1 {
				stale = fmt.Sprintf("  (no flip for %d intervals)", rs.IdleIntervals)
			}
			fmt.Fprintf(&b, "  %-10s %-6s busy %5.1f%%  queue %d/%d%s\n", rs.Name, rs.Kind, 100*rs.Busy, rs.QueueDepth, rs.QueueDepthMax, stale)
		}
	}
	if len(r.Alerts) > 0 {
		b.WriteString("\nAlerts\n")
		for _, a := range r.Alerts {
			fmt.Fprintf(&b, "  %-9s %s: %s = %g %s %g since %s\n", strings.ToUpper(a.State), a.Rule, a.Metric, a.Value, a.Op, a.Threshold, a.Since.Format(time.RFC3339))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String returns the text form.
func (r Report) String() string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

// LatencyLines renders the command latency table as short ASCII lines, for
// an IRC STATS reply (one numeric per line): a header, then one line per
// command that ran in the window, slowest p99 first, at most limit commands
// (<= 0: all). A nil s (no collection yet) gives the header and a note.
func LatencyLines(s *Snapshot, limit int) []string {
	if s == nil {
		s = &Snapshot{}
	}
	lines := []string{fmt.Sprintf("%-12s %9s %8s %8s %8s %8s  (window %.0fs)", "command", "rate/s", "p50", "p99", "p99.9", "max", s.WindowSeconds)}
	n := 0
	for _, l := range s.Commands() {
		if l.Count == 0 {
			continue
		}
		if limit > 0 && n >= limit {
			break
		}
		n++
		lines = append(lines, fmt.Sprintf("%-12s %9.1f %8s %8s %8s %8s",
			commandName(l), l.Rate, FormatUS(l.P50), FormatUS(l.P99), FormatUS(l.P999), FormatUS(l.Max)))
	}
	if n == 0 {
		lines = append(lines, "no commands in the window")
	}
	return lines
}

func commandName(l LatencyStat) string {
	if c := l.Labels["command"]; c != "" {
		return c
	}
	return l.Name
}

// FormatUS formats microseconds compactly in ASCII: 45us, 1.20ms, 2.50s.
func FormatUS(us int64) string {
	switch {
	case us >= 1_000_000:
		return strconv.FormatFloat(float64(us)/1e6, 'f', 2, 64) + "s"
	case us >= 1000:
		return strconv.FormatFloat(float64(us)/1e3, 'f', 2, 64) + "ms"
	default:
		return strconv.FormatInt(us, 10) + "us"
	}
}
