package main

import (
	"context"
	"testing"
	"time"

	"laird/bench"
)

// TestBenchOfflineScenario runs make bench's offline scenario, small,
// against laird: accounts, offline delivery and TARGETS work end to end
// for the load generator, and its figures come out.
func TestBenchOfflineScenario(t *testing.T) {
	ts := startTestServer(t, fastAccounts)
	sizes := bench.DefaultSizes()
	sizes.Offline = bench.OfflineConfig{Conversations: 5, PerConversation: 10, Logins: 2}
	sc, err := sizes.Scenario("offline")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := sc.Run(ctx, bench.Target{Addr: ts.addr})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Figures
	if f["targets_listed"] != 5 || f["login_to_targets_p50_ms"] <= 0 || f["stored_per_s"] <= 0 {
		t.Fatalf("figures %v, notes %v", f, res.Notes)
	}
	t.Logf("login to TARGETS: p50 %.2f ms, max %.2f ms", f["login_to_targets_p50_ms"], f["login_to_targets_max_ms"])
}
