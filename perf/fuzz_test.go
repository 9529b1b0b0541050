package perf

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParseExpr: the alert expression parser never panics, and whatever it
// accepts renders to a canonical form that parses back to the same thing.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{
		"p99(cmd.PRIVMSG)", "p99.9(kv.commit)", "per_minute(laird_errors_total)",
		`per_minute(laird_errors_total{numeric="433"})`, "max(laird_shard_queue_depth)",
		`laird_connections{transport="tls",x="y"}`, "sum(", `x{a="}`, "p100()", "((", `x{a="b",}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseExpr(s)
		if err != nil {
			return
		}
		again, err := parseExpr(e.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", e.String(), s, err)
		}
		if again.String() != e.String() {
			t.Fatalf("round trip %q -> %q", e.String(), again.String())
		}
		e.eval(&Snapshot{Counters: []SeriesStat{{Name: e.name, Value: 1}}})
	})
}

// FuzzDecodeStatus: a status document from a remote server (the `laird
// report` input) never crashes decoding, reporting or rendering.
func FuzzDecodeStatus(f *testing.F) {
	seed, _ := json.Marshal(reportSnapshot())
	f.Add(seed)
	f.Add([]byte(`{"latencies":[{"name":"cmd.X","family":"laird_command_duration_seconds","count":1,"p99_us":-5}],"recorders":[{"kind":"shard","busy":1e309}]}`))
	f.Add([]byte(`{"latencies":null,"alerts":[{}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeStatus(bytes.NewReader(data))
		if err != nil {
			return
		}
		r := BuildReport(s, 3)
		_ = r.String()
		if _, err := json.Marshal(r); err != nil {
			// NaN/Inf cannot come out of JSON decoding, so encoding must work.
			t.Fatalf("report does not encode: %v", err)
		}
		_ = LatencyLines(s, 5)
	})
}
