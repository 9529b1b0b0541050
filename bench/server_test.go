package bench

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeServerEnv makes the test binary act as a laird binary: started with laird's flags,
// it serves the fake IRC server on -listen until SIGTERM.
const fakeServerEnv = "LAIRD_BENCH_FAKE_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServerEnv) == "1" {
		os.Exit(fakeServerMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeServerMain(args []string) int {
	fs := flag.NewFlagSet("fake-laird", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	data := fs.String("data", "", "")
	fs.String("metrics", "", "")
	conf := fs.String("config", "", "")
	exitNow := fs.Bool("exit-now", false, "exit at once, as a server with a bad config does")
	if err := fs.Parse(args); err != nil || *listen == "" || *data == "" {
		return 2
	}
	if b, err := os.ReadFile(*conf); err != nil || !strings.Contains(string(b), "[guard.flood]") {
		os.Stderr.WriteString("fake laird: no benchmark configuration\n")
		return 1
	}
	if *exitNow {
		os.Stderr.WriteString("fake laird: bad configuration\n")
		return 1
	}
	s, err := listenFake(*listen, true, 0)
	if err != nil {
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	s.close()
	return 0
}

func TestLairdStartRunStop(t *testing.T) {
	t.Setenv(fakeServerEnv, "1")
	srv := &Laird{Bin: os.Args[0]}
	inst, err := srv.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inst.PID <= 0 || !strings.HasPrefix(inst.Addr, "127.0.0.1:") {
		t.Fatalf("instance %+v", inst)
	}
	sizes := smallSizes()
	sc, _ := sizes.Scenario("connect")
	res, err := sc.Run(context.Background(), Target{Addr: inst.Addr, PID: inst.PID})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Figures["server_cpu_us_per_registration"]; !ok {
		t.Error("no CPU figure though the server's PID is known")
	}
	if res.Phases[0].RSSBefore <= 0 {
		t.Error("no RSS reading of the server")
	}
	logDir := inst.LogPath[:strings.LastIndexByte(inst.LogPath, '/')]
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(inst.PID, 0); err == nil {
		t.Error("server still alive after Stop")
	}
	if _, err := os.Stat(logDir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind: %v", logDir, err)
	}
}

func TestLairdThatExitsIsReported(t *testing.T) {
	t.Setenv(fakeServerEnv, "1")
	srv := &Laird{Bin: os.Args[0], Args: []string{"-exit-now"}}
	start := time.Now()
	_, err := srv.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bad configuration") {
		t.Fatalf("err = %v, want the server's output in the error", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("waited for the listen timeout instead of noticing the exit")
	}
}

func TestInspIRCdPeer(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/inspircd"); err != nil {
		t.Skip("inspircd not installed (apt-get install -y inspircd)")
	}
	if testing.Short() {
		t.Skip("starts InspIRCd")
	}
	inst, err := (&InspIRCd{}).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	if !strings.Contains(inst.Version, "InspIRCd") {
		t.Errorf("version %q", inst.Version)
	}
	sizes := smallSizes()
	sizes.Fanout.Parallel = 40 // InspIRCd completes registrations on a 1 s tick
	sc, _ := sizes.Scenario("fanout")
	res, err := sc.Run(context.Background(), Target{Addr: inst.Addr, PID: inst.PID})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Figures["server_cpu_us_per_delivery"]; res.Figures["completeness"] != 1 || !ok {
		t.Errorf("figures %v", res.Figures)
	}
	hs, _ := sizes.Scenario("history")
	if _, err := hs.Run(context.Background(), Target{Addr: inst.Addr, PID: inst.PID}); err == nil {
		t.Error("history ran against InspIRCd 3, which has no CHATHISTORY")
	} else if _, ok := IsSkip(err); !ok {
		t.Errorf("history: %v, want skipped", err)
	}
}

func TestPinSelfReportsBadCPUList(t *testing.T) {
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset")
	}
	if err := PinProcess(os.Getpid(), "not-a-cpu"); err == nil {
		t.Error("taskset accepted a bad CPU list")
	}
}
