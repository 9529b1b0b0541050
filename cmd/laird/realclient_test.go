package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireTools skips the test when a real client is not installed, except
// in CI, where .ci/run installs them and a missing one is a failure.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (CI must install it: see .ci/run)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last state:\n%s", what, last)
}

// iiClient drives the ii client through its FIFO and reads its out files.
type iiClient struct {
	t   *testing.T
	dir string
	cmd *exec.Cmd
}

func startII(t *testing.T, addr, nick string) *iiClient {
	host, port, _ := strings.Cut(addr, ":")
	dir := t.TempDir()
	cmd := exec.Command("ii", "-s", host, "-p", port, "-n", nick, "-i", dir, "-f", "ii test user")
	if err := cmd.Start(); err != nil {
		t.Fatalf("ii: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ii := &iiClient{t: t, dir: filepath.Join(dir, host), cmd: cmd}
	eventually(t, 10*time.Second, "ii to register", func() (bool, string) {
		out := ii.read("out")
		return strings.Contains(out, "Welcome to the"), out
	})
	return ii
}

func (ii *iiClient) read(rel string) string {
	b, _ := os.ReadFile(filepath.Join(ii.dir, rel))
	return string(b)
}

// write sends one line through the FIFO at rel ("in" or "#chan/in").
func (ii *iiClient) write(rel, line string) {
	ii.t.Helper()
	f, err := os.OpenFile(filepath.Join(ii.dir, rel), os.O_WRONLY, 0)
	if err != nil {
		ii.t.Fatalf("ii fifo %s: %v", rel, err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		ii.t.Fatalf("ii fifo %s: %v", rel, err)
	}
}

// irssiClient runs irssi inside a private tmux server.
type irssiClient struct {
	t      *testing.T
	socket string
}

func startIrssi(t *testing.T, addr, nick string) *irssiClient {
	host, port, _ := strings.Cut(addr, ":")
	home := t.TempDir()
	// The tmux server's socket is per machine: name it after the whole
	// temporary directory (TestRealClients123/001), not its last element,
	// which every test run shares.
	ir := &irssiClient{t: t, socket: "laird-test-" + filepath.Base(filepath.Dir(home)) + "-" + filepath.Base(home)}
	cmd := exec.Command("tmux", "-L", ir.socket, "new-session", "-d", "-x", "200", "-y", "50",
		"irssi", "--home="+home, "-c", host, "-p", port, "-n", nick)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux irssi: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", ir.socket, "kill-server").Run() })
	eventually(t, 15*time.Second, "irssi to register", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "Welcome to the"), s
	})
	return ir
}

func (ir *irssiClient) keys(line string) {
	ir.t.Helper()
	if out, err := exec.Command("tmux", "-L", ir.socket, "send-keys", line, "Enter").CombinedOutput(); err != nil {
		ir.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// screen returns the visible pane plus its scrollback.
func (ir *irssiClient) screen() string {
	out, _ := exec.Command("tmux", "-L", ir.socket, "capture-pane", "-p", "-S", "-500").Output()
	return string(out)
}

// TestRealClients drives ii and irssi against laird: both join a channel,
// exchange messages, irssi changes nick, ii parts and quits; each client's
// own buffer must show the other's actions.
func TestRealClients(t *testing.T) {
	requireTools(t, "ii", "irssi", "tmux")
	ts := startTestServer(t, nil)
	ii := startII(t, ts.addr, "iibot")
	ir := startIrssi(t, ts.addr, "irsuser")

	ii.write("in", "/j #e2e")
	eventually(t, 10*time.Second, "ii to join", func() (bool, string) {
		out := ii.read("#e2e/out")
		return strings.Contains(out, "iibot(iibot@127.0.0.1) has joined #e2e"), out
	})
	ir.keys("/join #e2e")
	// irssi throttles its own commands after a burst, so allow it time.
	eventually(t, 20*time.Second, "ii to see irssi join", func() (bool, string) {
		out := ii.read("#e2e/out")
		return strings.Contains(out, "irsuser(") && strings.Contains(out, "has joined #e2e"), out
	})
	eventually(t, 10*time.Second, "irssi to list both members", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "@iibot") && strings.Contains(s, "Total of 2 nicks"), s
	})

	ii.write("#e2e/in", "hello from ii")
	eventually(t, 10*time.Second, "irssi to show ii's message", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "iibot> hello from ii"), s
	})
	ir.keys("hello from irssi")
	eventually(t, 10*time.Second, "ii to show irssi's message", func() (bool, string) {
		out := ii.read("#e2e/out")
		return strings.Contains(out, "<irsuser> hello from irssi"), out
	})

	ir.keys("/nick irs2")
	eventually(t, 10*time.Second, "irssi to show its new nick", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "You're now known as irs2"), s
	})
	ir.keys("after the rename")
	eventually(t, 10*time.Second, "ii to see the renamed user speak", func() (bool, string) {
		out := ii.read("#e2e/out")
		return strings.Contains(out, "<irs2> after the rename"), out
	})

	ii.write("#e2e/in", "/l gotta go")
	eventually(t, 10*time.Second, "irssi to show ii parting", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "iibot") && strings.Contains(s, "has left #e2e") && strings.Contains(s, "gotta go"), s
	})
	ii.write("in", "/j #e2e")
	eventually(t, 10*time.Second, "irssi to show ii rejoining", func() (bool, string) {
		s := ir.screen()
		return strings.Count(s, "has joined #e2e") >= 2, s
	})
	ii.write("in", "/q bye all")
	eventually(t, 10*time.Second, "irssi to show ii quitting", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "has quit") && strings.Contains(s, "bye all"), s
	})
	if err := ii.cmd.Wait(); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Errorf("ii: %v", err)
	}
}
