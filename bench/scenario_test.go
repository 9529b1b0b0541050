package bench

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

func smallSizes() Sizes {
	return Sizes{
		Connect:    ConnectConfig{Clients: 40, Parallel: 8, Room: 5},
		Idle:       IdleConfig{Clients: 40, Room: 5, Hold: 200 * time.Millisecond, Parallel: 16},
		Fanout:     FanoutConfig{Channels: 2, Members: 10, Senders: 1, Messages: 200, Window: 8, Payload: 16, Duration: 10 * time.Second, Parallel: 16},
		Chat:       ChatConfig{Clients: 20, Room: 5, Rate: 20, Duration: 500 * time.Millisecond, Pacers: 2, Payload: 16, Parallel: 16},
		History:    HistoryConfig{Channels: 2, Prefill: 60, Limit: 20, Queriers: 2, WriteRate: 20, Duration: 300 * time.Millisecond, MaxQueries: 200},
		Offline:    OfflineConfig{Conversations: 3, PerConversation: 5, Logins: 2},
		Disconnect: DisconnectConfig{Clients: 40, Room: 5, Parallel: 16, Settle: 5 * time.Second},
		Transport: TransportConfig{
			Connect: ConnectConfig{Clients: 20, Parallel: 8, Room: 5},
			Fanout:  FanoutConfig{Channels: 2, Members: 5, Senders: 1, Messages: 50, Window: 8, Payload: 16, Duration: 10 * time.Second, Parallel: 8},
		},
		Handshakes: HandshakesConfig{Rate: 40, InFlight: 16,
			Chat: ChatConfig{Clients: 10, Room: 5, Rate: 20, Duration: 500 * time.Millisecond, Pacers: 2, Payload: 16, Parallel: 8}},
	}
}

func runScenario(t *testing.T, name string, sizes Sizes, srv *fakeIRCd) *RunResult {
	t.Helper()
	sc, err := sizes.Scenario(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := sc.Run(ctx, Target{Addr: srv.addr(), PID: os.Getpid()})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, spec := range sc.Figures() {
		if _, ok := res.Figures[spec.Name]; !ok {
			t.Errorf("%s: figure %s missing", name, spec.Name)
		}
	}
	return res
}

func TestScenariosAgainstFakeServer(t *testing.T) {
	srv := startFake(t, true, 0)
	sizes := smallSizes()
	for _, name := range ScenarioNames() {
		t.Run(name, func(t *testing.T) {
			if name == "transport" || name == "handshakes" {
				// The fake serves plain TCP only; cmd/laird's TestBenchTransportScenarios
				// runs these against laird's TLS and WebSocket listeners.
				sc, _ := sizes.Scenario(name)
				if _, err := sc.Run(context.Background(), Target{Addr: srv.addr()}); err == nil {
					t.Errorf("%s ran against a server without TLS and WebSocket listeners", name)
				} else if _, ok := IsSkip(err); !ok {
					t.Errorf("%s against a plain-only server: %v, want a SkipError", name, err)
				}
				return
			}
			if name == "offline" {
				// The fake has no accounts; cmd/laird's TestBenchOfflineScenario
				// runs this one against laird.
				sc, _ := sizes.Scenario(name)
				if _, err := sc.Run(context.Background(), Target{Addr: srv.addr()}); err == nil {
					t.Error("offline ran against a server without accounts")
				} else if _, ok := IsSkip(err); !ok {
					t.Errorf("offline against a server without accounts: %v, want a SkipError", err)
				}
				return
			}
			res := runScenario(t, name, sizes, srv)
			if len(res.Phases) < 2 {
				t.Errorf("phases %v: want at least set-up and measurement", res.Phases)
			}
			for _, ph := range res.Phases {
				if !ph.ServerStatOK || ph.OtherCPUMs < 0 {
					t.Errorf("phase %s: no /proc reading of our own pid or of the machine: %+v", ph.Name, ph)
				}
			}
			f := res.Figures
			switch name {
			case "connect":
				if f["registrations_per_s"] <= 0 || f["t001_p50_ms"] <= 0 || f["t001_p99_ms"] < f["t001_p50_ms"] {
					t.Errorf("connect figures %v", f)
				}
			case "idle":
				if f["server_idle_cpu_pct"] < 0 {
					t.Errorf("idle figures %v", f)
				}
			case "fanout", "chat":
				if f["completeness"] != 1 {
					t.Errorf("%s completeness %v, notes %v", name, f["completeness"], res.Notes)
				}
				if f["deliveries_per_s"] <= 0 || len(res.Series) == 0 && name == "fanout" {
					t.Errorf("%s: deliveries_per_s %v, %d samples", name, f["deliveries_per_s"], len(res.Series))
				}
			case "history":
				if f["queries_per_s"] <= 0 || f["messages_per_query"] != 20 {
					t.Errorf("history figures %v, notes %v", f, res.Notes)
				}
			case "disconnect":
				if f["closed_fraction"] != 1 {
					t.Errorf("disconnect figures %v", f)
				}
			}
		})
	}
}

func TestFanoutCountsEveryDelivery(t *testing.T) {
	srv := startFake(t, false, 0)
	sizes := smallSizes()
	sizes.Fanout = FanoutConfig{Channels: 3, Members: 7, Senders: 2, Messages: 50, Window: 4, Duration: 10 * time.Second, Parallel: 8}
	sc, _ := sizes.Scenario("fanout")
	res, err := sc.Run(context.Background(), Target{Addr: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	// 3 channels x 2 senders x 50 messages, each to the 6 other members.
	if got := res.latency.TotalCount(); got != 3*2*50*6 {
		t.Errorf("recorded %d deliveries, want %d", got, 3*2*50*6)
	}
	if _, ok := res.Figures["server_cpu_us_per_delivery"]; ok {
		t.Error("CPU per delivery reported without a server PID")
	}
}

func TestHistorySkippedWithoutSupport(t *testing.T) {
	srv := startFake(t, false, 0)
	sizes := smallSizes()
	sc, _ := sizes.Scenario("history")
	_, err := sc.Run(context.Background(), Target{Addr: srv.addr()})
	reason, ok := IsSkip(err)
	if !ok || reason == "" {
		t.Fatalf("history against a server without CHATHISTORY: err %v, want a SkipError", err)
	}
}

func TestRegisterRenamesOn433(t *testing.T) {
	srv := startFake(t, false, 0)
	ctx := context.Background()
	a, err := Register(ctx, 0, ClientConfig{Addr: srv.addr(), Nick: "dup"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Register(ctx, 1, ClientConfig{Addr: srv.addr(), Nick: "dup"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Nick == "dup" || b.Nick == "" {
		t.Errorf("second client kept nick %q after 433", b.Nick)
	}
	if a.Dial001 <= 0 || a.ISupport["CHANTYPES"] != "#" {
		t.Errorf("Dial001 %v, ISUPPORT %v", a.Dial001, a.ISupport)
	}
}

func TestRegisterFailsOnRefusedConnection(t *testing.T) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Register(context.Background(), 0, ClientConfig{Addr: addr, Nick: "x", Timeout: time.Second})
	if err == nil {
		t.Fatal("Register to a closed port succeeded")
	}
}

// TestSlowedServerIsFlagged runs the fanout scenario against a fast server for a
// baseline and against one that sleeps in its fan-out path, and checks the comparison
// flags the slowed build as a regression (and the fast one against itself as not).
func TestSlowedServerIsFlagged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fanout scenario six times")
	}
	sizes := smallSizes()
	sizes.Fanout = FanoutConfig{Channels: 2, Members: 10, Senders: 1, Messages: 150, Window: 8, Duration: 20 * time.Second, Parallel: 16}
	sc, _ := sizes.Scenario("fanout")
	suite := func(delay time.Duration) *Result {
		srv := startFake(t, false, delay)
		res, err := RunSuite(context.Background(), SuiteConfig{Scenarios: []Scenario{sc}, Runs: 3},
			[]Server{&Attached{Label: "fake", Addr: srv.addr()}})
		if err != nil {
			t.Fatal(err)
		}
		return &Result{Version: ResultVersion, Servers: res}
	}
	base := suite(0)
	slowed := suite(3 * time.Millisecond)
	c := Compare(base, slowed, DefaultRules())
	if !c.Failed() {
		WriteComparison(testWriter{t}, c)
		t.Fatal("a server slowed by 3 ms per fanned-out message was not flagged")
	}
	found := false
	for _, d := range c.Deltas {
		if d.Figure == "deliveries_per_s" && d.Verdict == Regressed {
			found = true
		}
	}
	if !found {
		WriteComparison(testWriter{t}, c)
		t.Error("deliveries_per_s not flagged as regressed")
	}
	if self := Compare(base, base, DefaultRules()); self.Failed() {
		t.Error("a result compared with itself was flagged")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func TestSkipErrorUnwraps(t *testing.T) {
	err := errors.Join(errors.New("x"), &SkipError{Reason: "no cap"})
	if r, ok := IsSkip(err); !ok || r != "no cap" {
		t.Errorf("IsSkip = %q %v", r, ok)
	}
}
