package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrServerExited means a server process ended before it accepted connections.
var ErrServerExited = errors.New("bench: server exited before listening")

// Server is something a suite can start fresh for each run.
type Server interface {
	Name() string
	Start(ctx context.Context) (*Instance, error)
}

// Instance is one running server. Stop ends it (for attached servers it does nothing).
type Instance struct {
	Addr    string
	PID     int
	Version string
	LogPath string // where the server's output went, for diagnosis
	stop    func() error
}

// Stop ends the instance and removes its temporary files.
func (i *Instance) Stop() error {
	if i == nil || i.stop == nil {
		return nil
	}
	return i.stop()
}

// Attached is a server that runs already, at Addr with process PID (0 if unknown). The
// suite cannot restart it, so every run sees the state earlier runs left behind.
type Attached struct {
	Label string
	Addr  string
	PID   int
}

// Name implements Server.
func (a *Attached) Name() string {
	if a.Label != "" {
		return a.Label
	}
	return "attached " + a.Addr
}

// Start implements Server: it only checks that Addr accepts connections.
func (a *Attached) Start(ctx context.Context) (*Instance, error) {
	if err := waitListening(ctx, a.Addr, nil, 5*time.Second); err != nil {
		return nil, err
	}
	return &Instance{Addr: a.Addr, PID: a.PID}, nil
}

// Laird starts bin/laird on a fresh temporary data directory for every run.
type Laird struct {
	Bin   string   // path to the laird binary
	Args  []string // extra arguments after -listen, -data and -metrics
	Pin   string   // CPU list for taskset ("0"); "" for no pinning
	Label string   // name in the results; default "laird" (set it to tell two builds apart)
}

// Name implements Server.
func (l *Laird) Name() string {
	if l.Label != "" {
		return l.Label
	}
	return "laird"
}

// Start implements Server.
func (l *Laird) Start(ctx context.Context) (*Instance, error) {
	dir, err := os.MkdirTemp("", "laird-bench-laird-")
	if err != nil {
		return nil, fmt.Errorf("laird: %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := append([]string{"-listen", addr, "-data", filepath.Join(dir, "data"), "-metrics", "off"}, l.Args...)
	inst, err := startProcess(ctx, processSpec{bin: l.Bin, args: args, dir: dir, addr: addr, pin: l.Pin})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("laird: %w", err)
	}
	return inst, nil
}

// processSpec is how to start one server process.
type processSpec struct {
	bin     string
	args    []string
	dir     string // temporary directory, removed on Stop; output goes to dir/server.log
	addr    string // where it will listen
	pin     string // taskset CPU list, "" for none
	cred    *syscall.Credential
	version string
}

// startProcess runs spec (wrapped in prlimit for a high open-files limit and taskset for
// pinning, both of which exec, so the PID is the server's), waits until it listens and
// returns an Instance whose Stop sends SIGTERM, then SIGKILL after 5 s.
func startProcess(ctx context.Context, spec processSpec) (*Instance, error) {
	argv := append([]string{spec.bin}, spec.args...)
	if spec.pin != "" {
		argv = append([]string{"taskset", "-c", spec.pin}, argv...)
	}
	if p, err := exec.LookPath("prlimit"); err == nil {
		var rl syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Max > 0 {
			n := strconv.FormatUint(min(rl.Max, 1<<20), 10)
			argv = append([]string{p, "--nofile=" + n + ":" + n}, argv...)
		}
	}
	logPath := filepath.Join(spec.dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = spec.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: spec.cred}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", spec.bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		return os.RemoveAll(spec.dir)
	}
	if err := waitListening(ctx, spec.addr, exited, 20*time.Second); err != nil {
		output := tail(logPath) // before stop removes the directory
		_ = stop()
		if errors.Is(err, ErrServerExited) {
			return nil, fmt.Errorf("%w (%v); output: %s", err, waitErr, output)
		}
		return nil, fmt.Errorf("%w; output: %s", err, output)
	}
	return &Instance{Addr: spec.addr, PID: cmd.Process.Pid, Version: spec.version, LogPath: logPath, stop: stop}, nil
}

// waitListening dials addr until it accepts, the process exits, or the timeout passes.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return ErrServerExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, timeout, err)
		}
	}
}

// freeLoopbackAddr returns 127.0.0.1:port for a port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no output)"
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 1500 {
		s = "..." + s[len(s)-1500:]
	}
	return s
}

// PinSelf pins every thread of this process to cpus (a taskset CPU list) and returns the
// error taskset gave, if any. Threads created later inherit the mask.
func PinSelf(cpus string) error {
	out, err := exec.Command("taskset", "-a", "-c", "-p", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset %s: %w: %s", cpus, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// PinProcess pins every thread of process pid to cpus (used for attached servers).
func PinProcess(pid int, cpus string) error {
	out, err := exec.Command("taskset", "-a", "-c", "-p", cpus, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset %s pid %d: %w: %s", cpus, pid, err, strings.TrimSpace(string(out)))
	}
	return nil
}
