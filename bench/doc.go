// Package bench is laird's benchmark: a load generator of real IRC clients, the load
// scenarios of `make bench`, result files, noise-aware comparison with a baseline, Go
// micro-benchmark statistics and the HTML report.
//
// It measures any IRC server by address (and, for CPU and memory, by PID through /proc),
// so the same run can measure laird and a peer such as InspIRCd; for that reason it imports
// no other package of laird and parses IRC lines itself (ircline.go).
//
// # Load generator
//
// A Client is one TCP connection. Register dials, negotiates capabilities, registers
// (renaming on 433), and returns after the MOTD; Start then runs exactly one reader
// goroutine per client, which answers PING itself and hands every other line to the
// client's current Handler. Handlers run on that reader goroutine and must not block: the
// line they get is a view into the reader's buffer, valid only during the call. Any
// goroutine may Send; writes are serialised per client.
//
// Latency is measured from a timestamp carried in the message text (payload.go), taken
// from one monotonic clock shared by senders and receivers in this process. Receivers
// record into a striped HDR recorder (hist.go), so thousands of reader goroutines rarely
// share a lock. Open-loop scenarios also carry how late each send was against the schedule:
// the latency figures measure the server (socket write to socket read), the open_loop ones
// add the lateness, so a generator held back by a server that stopped reading shows up
// rather than hiding (no coordinated omission).
//
// # Bounds
//
// Every scenario is bounded in message count and in time by its configuration; every wait
// on the server has a deadline; every connection a scenario opens is closed (without
// TIME_WAIT) before Run returns. Only loopback addresses are targeted in this project.
//
// # Measurement
//
// Around every phase (connect, join, the measured load, quit) a meter reads the server's
// utime+stime from /proc/PID/stat (10 ms ticks) and VmRSS from /proc/PID/status, the
// generator's own CPU, so a reader can tell when the generator was the bottleneck, and the
// busy time of the whole machine from /proc/stat, so the CPU other processes took during a
// measured phase is reported with every scenario (machine_other_cpu_pct) and a noisy run
// is called noisy. Figures that need the server's PID are left out, not zeroed, when it is
// unknown.
//
// # Servers
//
// Laird starts the binary on a fresh temporary data directory with a generated
// configuration (LairdBenchConfig) that exempts the loopback generator from flood control,
// as the generated InspIRCd configuration turns flood limits off; InspIRCd runs as the
// unprivileged user irc, ngircd drops to it itself. Each runs behind prlimit (open files)
// and, when pinned, taskset; both exec, so the PID measured is the server's.
//
// # Transports
//
// A Client reaches the server over plain TCP, TLS or the IRCv3 WebSocket transport
// (transport.go: Transport, and wsConn, which turns text frames into lines both ways).
// Laird runs under the benchmark with a TLS and a WebSocket listener besides the plain
// one (listeners.go, a certificate generated per run), which Instance.Transports and
// Target.Transports name. The transport scenario runs the connect and fanout scenarios
// over each transport against one instance and reports registrations/s and server CPU
// per delivery of TLS and WebSocket as ratios to plain TCP in the same run; both are
// measured at saturation, so a transport that also costs the generator more gets
// smaller batches per flush, and part of its ratio is that. The handshakes scenario
// measures chat latency (paceChat, shared with the chat scenario) without, then with,
// a steady rate of full TLS handshakes arriving at the TLS listener. Servers without
// those listeners (the peers, attached ones) skip both.
//
// # Suite, results and regressions
//
// RunSuite repeats each scenario against a fresh server instance per run (Laird, InspIRCd,
// NgIRCd) or an Attached one, interleaving servers run by run. Runs aggregate into
// medians with min-max ranges (results.go); Compare judges them against a baseline with
// the rules documented on Rules; WriteHTML renders a self-contained report.
package bench
