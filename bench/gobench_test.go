package bench

import (
	"strings"
	"testing"
)

const goBenchOutput = `goos: linux
goarch: amd64
pkg: laird/codec
cpu: AMD EPYC
BenchmarkParse-2         	 5000000	       250.0 ns/op	      0 B/op	       0 allocs/op
BenchmarkParse-2         	 5000000	       260.0 ns/op	      0 B/op	       0 allocs/op
BenchmarkParse-2         	 5000000	       255.0 ns/op	      0 B/op	       0 allocs/op
BenchmarkEncode/short-2  	 1000000	      1000 ns/op	  120.50 MB/s	     16 B/op	       1 allocs/op
BenchmarkLogs
    bench_test.go:10: some log line
BenchmarkLogs-2          	     100	     12345 ns/op
PASS
ok  	laird/codec	5.1s
pkg: laird/perf
BenchmarkParse-2         	 1000	       9.5 ns/op
BenchmarkBroken-2  notanumber 1 ns/op
`

func TestParseGoBench(t *testing.T) {
	res, err := ParseGoBench(strings.NewReader(goBenchOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("got %d benchmarks: %+v", len(res), res)
	}
	p := res[0]
	if p.Pkg != "laird/codec" || p.Name != "BenchmarkParse" {
		t.Errorf("first = %s %s", p.Pkg, p.Name)
	}
	ns := p.Metric("ns/op")
	if ns == nil || len(ns.Values) != 3 || ns.Median != 255 || ns.Min != 250 || ns.Max != 260 || ns.Better != LowerIsBetter {
		t.Errorf("ns/op = %+v", ns)
	}
	if mb := res[1].Metric("MB/s"); res[1].Name != "BenchmarkEncode/short" || mb == nil || mb.Median != 120.5 || mb.Better != HigherIsBetter {
		t.Errorf("encode = %+v", res[1])
	}
	if res[2].Name != "BenchmarkLogs" || res[2].Metric("ns/op").Median != 12345 {
		t.Errorf("logging benchmark = %+v", res[2])
	}
	if res[3].Pkg != "laird/perf" || res[3].Name != "BenchmarkParse" {
		t.Errorf("same name in another package = %+v", res[3])
	}
}

func TestTrimProcs(t *testing.T) {
	for in, want := range map[string]string{"BenchmarkX-2": "BenchmarkX", "BenchmarkX": "BenchmarkX",
		"BenchmarkX/a-b-16": "BenchmarkX/a-b", "BenchmarkX-": "BenchmarkX-", "BenchmarkX/size-big": "BenchmarkX/size-big"} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseGoBench(f *testing.F) {
	f.Add(goBenchOutput)
	f.Add("BenchmarkA-1 1 1 ns/op 1")
	f.Fuzz(func(t *testing.T, s string) {
		res, err := ParseGoBench(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, g := range res {
			for _, m := range g.Metrics {
				if len(m.Values) == 0 || m.Min > m.Median || m.Median > m.Max {
					t.Fatalf("inconsistent metric %+v", m)
				}
			}
		}
	})
}
