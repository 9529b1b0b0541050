package main

import (
	"context"
	"os"
	"testing"
	"time"

	"laird/bench"
)

// TestBenchTransportScenarios runs make bench's transport and handshakes
// scenarios, small, against laird's plain, TLS and WebSocket listeners:
// the load generator registers and fans out over each transport, opens
// TLS handshakes beside a chat load, and every figure comes out.
func TestBenchTransportScenarios(t *testing.T) {
	ts := startTransportServer(t, nil)
	target := bench.Target{Addr: ts.plain, PID: os.Getpid(),
		Transports: map[string]string{bench.TransportTLS: ts.tls, bench.TransportWS: ts.ws}}
	sizes := bench.DefaultSizes()
	sizes.Transport = bench.TransportConfig{
		Connect: bench.ConnectConfig{Clients: 20, Parallel: 4, Room: 5},
		Fanout:  bench.FanoutConfig{Channels: 2, Members: 5, Senders: 1, Messages: 40, Window: 8, Payload: 16, Duration: 20 * time.Second, Parallel: 4},
	}
	sizes.Handshakes = bench.HandshakesConfig{Rate: 20, InFlight: 8,
		Chat: bench.ChatConfig{Clients: 10, Room: 5, Rate: 10, Duration: time.Second, Pacers: 2, Payload: 16, Parallel: 4}}
	for _, name := range []string{"transport", "handshakes"} {
		t.Run(name, func(t *testing.T) {
			sc, err := sizes.Scenario(name)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			res, err := sc.Run(ctx, target)
			if err != nil {
				t.Fatalf("%v; notes %v", err, res)
			}
			for _, spec := range sc.Figures() {
				if _, ok := res.Figures[spec.Name]; !ok {
					t.Errorf("figure %s missing; figures %v", spec.Name, res.Figures)
				}
			}
			f := res.Figures
			switch name {
			case "transport":
				for _, tr := range []string{"tcp", "tls", "ws"} {
					if f[tr+"_registrations_per_s"] <= 0 || f[tr+"_deliveries_per_s"] <= 0 {
						t.Errorf("%s: figures %v", tr, f)
					}
				}
				t.Logf("ratios to plain TCP: registrations/s TLS %.2f WS %.2f; CPU per delivery TLS %.2f WS %.2f",
					f["tls_registrations_ratio"], f["ws_registrations_ratio"], f["tls_fanout_cpu_ratio"], f["ws_fanout_cpu_ratio"])
			case "handshakes":
				if f["completeness"] != 1 || f["handshakes_per_s"] <= 0 || f["handshake_failures"] != 0 {
					t.Errorf("figures %v; notes %v", f, res.Notes)
				}
				t.Logf("chat p99 %.2f ms quiet, %.2f ms with %.0f handshakes/s", f["quiet_p99_ms"], f["handshakes_p99_ms"], f["handshakes_per_s"])
			}
		})
	}
}
