package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. Linux fixes it at 100 for user
// space on every architecture it exports /proc from, whatever the kernel's own HZ.
const userHZ = 100

// Errors of ReadProc.
var (
	ErrNoProc = errors.New("bench: unreadable /proc entry")
	// ErrProcessGone means the process has exited (a zombie not yet reaped reports no
	// CPU time, so its readings must not be used).
	ErrProcessGone = errors.New("bench: process has exited")
)

// ProcSample is one reading of a process's CPU time and resident memory.
type ProcSample struct {
	At  time.Time
	CPU time.Duration // utime + stime, in 10 ms ticks
	RSS int64         // VmRSS in bytes
}

// ReadProc reads /proc/PID/stat and /proc/PID/status. pid 0 means this process.
func ReadProc(pid int) (ProcSample, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s := ProcSample{At: time.Now()}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	ticks, err := parseStatCPU(stat)
	if err != nil {
		return s, fmt.Errorf("pid %d: %w", pid, err)
	}
	if st := statState(stat); st == 'Z' || st == 'X' {
		return s, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	s.CPU = time.Duration(ticks) * (time.Second / userHZ)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	if s.RSS, err = parseStatusRSS(status); err != nil {
		return s, fmt.Errorf("pid %d: %w", pid, err)
	}
	return s, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15) from the contents of /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are counted from
// the last ')'.
func parseStatCPU(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without ')'", ErrNoProc)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state), so field n is fields[n-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields", ErrNoProc, len(fields)+2)
	}
	ut, err1 := strconv.ParseUint(string(fields[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: utime/stime not numbers", ErrNoProc)
	}
	return ut + st, nil
}

// statState returns the state letter (field 3) of /proc/PID/stat, or 0.
func statState(b []byte) byte {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) == 0 || len(f[0]) != 1 {
		return 0
	}
	return f[0][0]
}

// parseStatusRSS returns VmRSS in bytes from /proc/PID/status. A process without memory
// (a zombie) has no VmRSS line and counts as 0.
func parseStatusRSS(b []byte) (int64, error) {
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("%w: empty VmRSS", ErrNoProc)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("%w: VmRSS %q", ErrNoProc, f[0])
		}
		return kb * 1024, nil
	}
	return 0, nil
}

// Phase is what one phase of a scenario cost: wall time, server CPU and RSS, the load
// generator's own CPU (so a reader can tell when the generator was the bottleneck), and
// the CPU the rest of the machine used meanwhile (so a reader can tell a noisy run).
type Phase struct {
	Name         string  `json:"name"`
	WallMs       float64 `json:"wall_ms"`
	ServerCPUMs  float64 `json:"server_cpu_ms"`
	RSSBefore    int64   `json:"server_rss_before"`
	RSSAfter     int64   `json:"server_rss_after"`
	GenCPUMs     float64 `json:"generator_cpu_ms"`
	ServerStatOK bool    `json:"server_stat_ok"`
	// OtherCPUMs is the machine's busy CPU time (all cores, /proc/stat) minus the server's
	// and the generator's; -1 when /proc/stat was unreadable.
	OtherCPUMs float64 `json:"other_cpu_ms"`
}

// machineBusy returns the busy time of all CPUs from /proc/stat (user, nice, system, irq,
// softirq, steal; not idle or iowait).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat.
func parseProcStat(b []byte) (time.Duration, error) {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, fmt.Errorf("%w: /proc/stat without a cpu line", ErrNoProc)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, err := strconv.ParseUint(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc/stat field %d", ErrNoProc, i)
		}
		busy += v
	}
	return time.Duration(busy) * (time.Second / userHZ), nil
}

// meter takes ProcSamples of the server and the generator around each phase. pid 0 means
// the server's process is unknown: only wall time and generator CPU are measured.
type meter struct {
	pid    int
	phases []Phase
}

type phaseStart struct {
	name      string
	srv, self ProcSample
	srvOK     bool
	busy      time.Duration
	busyErr   error
}

func (m *meter) begin(name string) phaseStart {
	p := phaseStart{name: name}
	p.busy, p.busyErr = machineBusy()
	p.self, _ = ReadProc(0)
	if m.pid > 0 {
		var err error
		p.srv, err = ReadProc(m.pid)
		p.srvOK = err == nil
	}
	p.self.At = time.Now()
	return p
}

func (m *meter) end(p phaseStart) Phase {
	at := time.Now()
	self, _ := ReadProc(0)
	busy, busyErr := machineBusy()
	ph := Phase{Name: p.name, WallMs: float64(at.Sub(p.self.At)) / 1e6,
		GenCPUMs: float64(self.CPU-p.self.CPU) / 1e6, OtherCPUMs: -1}
	if p.srvOK {
		if srv, err := ReadProc(m.pid); err == nil && srv.CPU >= p.srv.CPU {
			ph.ServerStatOK = true
			ph.ServerCPUMs = float64(srv.CPU-p.srv.CPU) / 1e6
			ph.RSSBefore, ph.RSSAfter = p.srv.RSS, srv.RSS
		}
	}
	if p.busyErr == nil && busyErr == nil {
		// The server's share is subtracted only when it was measured; when the server is this
		// process (tests) or unknown, what remains is an upper bound.
		ph.OtherCPUMs = max(0, float64(busy-p.busy)/1e6-ph.GenCPUMs-ph.ServerCPUMs)
	}
	m.phases = append(m.phases, ph)
	return ph
}
