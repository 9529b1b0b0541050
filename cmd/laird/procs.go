package main

import (
	"log/slog"
	"os"
	"runtime"
)

// procHeadroom is how many Go processors laird runs beyond its CPUs.
//
// The event loops and shards are one goroutine each per CPU. Background
// work (Pebble's memtable flushes and compactions, bcrypt, TLS handshakes,
// history reads) runs on other goroutines, and Go preempts a goroutine
// only after 10 ms: with as many processors as CPUs, a flush that does not
// yield holds a loop's processor for that long. With spare processors the
// kernel's scheduler, which preempts within a millisecond or two, shares
// the CPUs between loop threads and background threads instead. Measured
// with make bench's chat scenario on one pinned core (1,000 clients at 2
// msg/s): p99.9 8.0-8.7 ms with 3 processors against 21-30 ms with 1, p99
// unchanged. Loops, shards and work pools stay sized by the CPU count.
const procHeadroom = 2

// setProcs gives the Go runtime procHeadroom processors beyond the CPUs
// laird may use, unless GOMAXPROCS is set in the environment. Loops and
// shards default to min(CPUs, GOMAXPROCS) (loop.Config, chat.Config).
func setProcs(log *slog.Logger) {
	cpus := runtime.NumCPU() // the affinity mask's, as the runtime's default
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		log.Info("processors", "cpus", cpus, "gomaxprocs", runtime.GOMAXPROCS(0), "from", "GOMAXPROCS")
		return
	}
	runtime.GOMAXPROCS(cpus + procHeadroom)
	log.Info("processors", "cpus", cpus, "gomaxprocs", runtime.GOMAXPROCS(0))
}
