package bench

import (
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	stat := "1234 (my) serv er) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 8 0 100 1000 200 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	ticks, err := parseStatCPU([]byte(stat))
	if err != nil || ticks != 325 {
		t.Errorf("ticks = %d, %v; want 325", ticks, err)
	}
	if st := statState([]byte(stat)); st != 'S' {
		t.Errorf("state %q", st)
	}
	if st := statState([]byte("9 (x) Z 1 2")); st != 'Z' {
		t.Errorf("zombie state %q", st)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a b"} {
		if _, err := parseStatCPU([]byte(bad)); !errors.Is(err, ErrNoProc) {
			t.Errorf("%q: err %v, want ErrNoProc", bad, err)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	rss, err := parseStatusRSS([]byte("Name:\tx\nVmPeak:\t 100 kB\nVmRSS:\t    2048 kB\nThreads: 3\n"))
	if err != nil || rss != 2048*1024 {
		t.Errorf("rss = %d, %v", rss, err)
	}
	if rss, err := parseStatusRSS([]byte("Name:\tzombie\nState:\tZ\n")); err != nil || rss != 0 {
		t.Errorf("zombie rss = %d, %v", rss, err)
	}
	if _, err := parseStatusRSS([]byte("VmRSS: lots kB\n")); !errors.Is(err, ErrNoProc) {
		t.Errorf("bad VmRSS: %v", err)
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 {
		t.Errorf("RSS of a running test = %d", s.RSS)
	}
	// Burn some CPU and see it counted.
	x := 0
	for i := 0; i < 200_000_000; i++ {
		x += i ^ (x >> 3)
	}
	s2, err := ReadProc(0)
	if err != nil {
		t.Fatal(err)
	}
	if s2.CPU <= s.CPU {
		t.Errorf("CPU did not grow: %v -> %v (x=%d)", s.CPU, s2.CPU, x)
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("1 (a) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0"))
	f.Add([]byte("1 ((() R"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStatCPU(b)
		_, _ = parseStatusRSS(b)
		_, _ = parseProcStat(b)
		_ = statState(b)
	})
}

func TestParseProcStat(t *testing.T) {
	busy, err := parseProcStat([]byte("cpu  100 5 50 9999 7 3 2 1 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	// user+nice+system+irq+softirq+steal = 100+5+50+3+2+1 ticks of 10 ms.
	if err != nil || busy != 161*10*time.Millisecond {
		t.Errorf("busy = %v, %v", busy, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3\n", "cpu a b c d e f g h\n"} {
		if _, err := parseProcStat([]byte(bad)); !errors.Is(err, ErrNoProc) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := machineBusy(); err != nil {
		t.Errorf("this machine's /proc/stat: %v", err)
	}
}

func TestReadProcOfExitedChild(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	// Until Wait the child is a zombie: its readings must be refused, not read as 0 CPU.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := ReadProc(pid)
		if errors.Is(err, ErrProcessGone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ReadProc of an exited child: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if _, err := ReadProc(pid); err == nil {
		t.Error("ReadProc of a reaped child succeeded")
	}
}
