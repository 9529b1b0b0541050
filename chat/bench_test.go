package chat

// Benchmarks of the fan-out hot paths (issue 3, "Sharding and fan-out"):
// the real Server and its shard goroutines run on the fake event loops of
// harness_test.go, and every recipient is a fakeConn that only counts its
// lines. A benchmark stops its timer only once every expected line was
// written, so the figures are the server's whole work per operation:
// parse, shard hop, encoding, grouping by loop and the loop tasks' writes
// (fakeConn.Write itself costs a line count, an atomic add and an
// uncontended mutex per delivery; see BenchmarkFakeConnWrite).

import (
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// The defaults of a two-core deployment: GOMAXPROCS shards and loops.
	benchShards = 2
	benchLoops  = 2
	// benchTimeout bounds every wait, so a lost delivery fails the
	// benchmark instead of hanging it.
	benchTimeout = 30 * time.Second
)

// benchText is a typical chat line's text (60 bytes).
const benchText = "the quick brown fox jumps over the lazy dog, twice a day: ok"

// benchWorld is a testWorld with bulk setup: many clients connect, register
// and join in parallel (one loop task per loop, not one round trip per
// client), then the world is brought to rest.
type benchWorld struct {
	*testWorld
	seq int // numbers nicks across connectMany calls
}

// benchPerf turns monitoring on in the worlds newBenchWorld builds; the
// monitoring-overhead benchmark sets it (benchmarks run one at a time).
var benchPerf bool

func newBenchWorld(tb testing.TB) *benchWorld {
	if benchPerf {
		return &benchWorld{testWorld: newTestWorldPerf(tb, benchShards, benchLoops)}
	}
	return &benchWorld{testWorld: newTestWorld(tb, benchShards, benchLoops)}
}

// connectMany connects n clients, output counted only. Each one sends
// caps(i) as CAP REQ (when not empty), registers, then sends after(i);
// connectMany returns once the world is idle and checks that every client
// registered.
func (w *benchWorld) connectMany(n int, caps, after func(i int) []string) []*fakeConn {
	w.tb.Helper()
	conns := make([]*fakeConn, n)
	perLoop := make([][]int, w.loops.Count())
	for i := range conns {
		fc := &fakeConn{loop: w.next % w.loops.Count(), srv: w.srv}
		w.next++
		conns[i] = fc
		perLoop[fc.loop] = append(perLoop[fc.loop], i)
		nick := "b" + strconv.Itoa(w.seq)
		w.seq++
		var req []string
		if caps != nil {
			req = caps(i)
		}
		if len(req) > 0 {
			fc.input = append(fc.input, []byte("CAP REQ :"+strings.Join(req, " ")))
		}
		fc.input = append(fc.input, []byte("NICK "+nick), []byte("USER "+nick+" 0 * :"+nick))
		if len(req) > 0 {
			fc.input = append(fc.input, []byte("CAP END"))
		}
		if after != nil {
			for _, l := range after(i) {
				fc.input = append(fc.input, []byte(l))
			}
		}
	}
	ip := netip.MustParseAddr("127.0.0.1")
	for id, idx := range perLoop {
		w.onLoop(id, func() {
			for _, i := range idx {
				fc := conns[i]
				fc.client = w.srv.Connect(fc, fc.loop, ip, time.Now())
				fc.process()
			}
		})
	}
	w.quiesce(conns)
	for id, idx := range perLoop {
		unregistered := 0
		w.onLoop(id, func() {
			for _, i := range idx {
				if !conns[i].client.Registered() {
					unregistered++
				}
			}
		})
		if unregistered > 0 {
			w.tb.Fatalf("%d clients on loop %d did not register", unregistered, id)
		}
	}
	return conns
}

// quiesce waits until conns have no input left and nothing in flight, the
// shard and loop queues are drained, and their output stopped growing.
func (w *benchWorld) quiesce(conns []*fakeConn) {
	w.tb.Helper()
	deadline := time.Now().Add(benchTimeout)
	last := int64(-1)
	for {
		w.settle()
		busy := false
		for id := range w.loops.queues {
			w.onLoop(id, func() {
				for _, fc := range conns {
					c := fc.client
					if fc.loop == id && c != nil && !fc.closed.Load() &&
						(c.busy() || len(fc.input) > 0) {
						busy = true
					}
				}
			})
		}
		total := sumLines(conns)
		if !busy && total == last {
			return
		}
		last = total
		if time.Now().After(deadline) {
			w.tb.Fatalf("world still busy after %v", benchTimeout)
		}
	}
}

// members returns the clients of channel name in the shard's member order.
func (w *benchWorld) members(name string) []*Client {
	folded := w.srv.cm.Fold(name)
	var out []*Client
	done := make(chan struct{})
	w.srv.post(w.srv.shardOf(folded), func(sh *shard, _ *batch) {
		if ch := sh.channels[folded]; ch != nil {
			for _, mb := range ch.members {
				out = append(out, mb.u.sessionList()...)
			}
		}
		close(done)
	})
	<-done
	return out
}

// setOnWrite installs fc's write hook on its loop, the only goroutine that
// calls it.
func (w *benchWorld) setOnWrite(fc *fakeConn, fn func(int)) {
	w.onLoop(fc.loop, func() { fc.onWrite = fn })
}

func sumLines(conns []*fakeConn) int64 {
	var n int64
	for _, fc := range conns {
		n += fc.lines.Load()
	}
	return n
}

// waitLines waits until conns together wrote want lines. It spins (yielding)
// rather than sleeps: the timer is usually running and a sleep's
// granularity would dwarf the operation.
func waitLines(tb testing.TB, conns []*fakeConn, want int64) {
	tb.Helper()
	deadline := time.Now().Add(benchTimeout)
	for i := 0; ; i++ {
		got := sumLines(conns)
		if got >= want {
			return
		}
		if i%1024 == 1023 && time.Now().After(deadline) {
			tb.Fatalf("%d of %d lines delivered after %v", got, want, benchTimeout)
		}
		runtime.Gosched()
	}
}

// tally counts the lines a group of connections writes (through their
// write hooks) and wakes a waiter once a target is reached, so that a wait
// per operation blocks instead of competing with the server for the CPU.
type tally struct {
	n, want atomic.Int64
	wake    chan struct{}
	tick    *time.Ticker // bounds waits without allocating a timer each
}

func (w *benchWorld) newTally(conns []*fakeConn) *tally {
	t := &tally{wake: make(chan struct{}, 1), tick: time.NewTicker(time.Second)}
	w.tb.Cleanup(t.tick.Stop)
	for _, fc := range conns {
		w.setOnWrite(fc, t.add)
	}
	return t
}

func (t *tally) add(n int) {
	if t.n.Add(int64(n)) >= t.want.Load() {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// wait blocks until the group wrote want lines in all.
func (t *tally) wait(tb testing.TB, want int64) {
	if t.n.Load() >= want {
		return
	}
	tb.Helper()
	t.want.Store(want)
	deadline := time.Now().Add(benchTimeout)
	for t.n.Load() < want {
		select {
		case <-t.wake:
		case now := <-t.tick.C:
			if now.After(deadline) {
				tb.Fatalf("%d of %d lines delivered after %v", t.n.Load(), want, benchTimeout)
			}
		}
	}
}

// pipe feeds one client the way a network read does: the lines of the
// operations that arrived while its loop was busy are handed over in one
// task and processed until the client parks (the server pipelines up to
// Config.PipelineMax same-shard commands); Resume takes up the rest. The
// sender keeps at most window operations unacknowledged, counted on a
// sentinel connection that receives perOp lines per operation.
type pipe struct {
	fc     *fakeConn
	op     [][]byte     // the lines of one operation
	queued atomic.Int64 // operations handed over but not yet fed
	buf    [][]byte     // backing array of fc.input, reused: loop-owned
	feed   func()       // runs on fc's loop; built once so sending allocates nothing
	loops  *fakeLoops

	acked  *tally // the sentinel's lines
	perOp  int64
	window int64
}

func (w *benchWorld) newPipe(fc, sentinel *fakeConn, perOp int64, window int, op ...string) *pipe {
	p := &pipe{
		fc: fc, loops: w.loops, buf: make([][]byte, 0, 4*window*len(op)),
		acked: w.newTally([]*fakeConn{sentinel}), perOp: perOp, window: int64(window),
	}
	for _, l := range op {
		p.op = append(p.op, []byte(l))
	}
	p.feed = func() {
		n := p.queued.Swap(0)
		if len(fc.input) == 0 {
			fc.input = p.buf[:0]
		} else if cap(fc.input)-len(fc.input) < int(n)*len(p.op) {
			fc.input = p.buf[:copy(p.buf[:cap(p.buf)], fc.input)]
		}
		for ; n > 0; n-- {
			fc.input = append(fc.input, p.op...)
		}
		fc.process()
	}
	return p
}

// send hands one operation to the client's loop, then waits while the
// client is more than window operations ahead of the sentinel. sent counts
// the operations sent so far, this one included.
func (p *pipe) send(tb testing.TB, sent int64) {
	if p.queued.Add(1) == 1 {
		_ = p.loops.Run(p.fc.loop, p.feed)
	}
	if sent > p.window {
		p.acked.wait(tb, (sent-p.window)*p.perOp)
	}
}

// meter adds per-delivered-line figures to a benchmark: allocations and
// bytes from the runtime's counters, and the process's CPU time (all
// threads, user and system), which a busy shared machine disturbs less
// than the wall time behind ns/op. It is read only while the timer is
// stopped.
type meter struct {
	mallocs, bytes uint64
	cpu            time.Duration
	ms             runtime.MemStats
}

func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// start begins a timed part: timer runs the benchmark's StartTimer or
// ResetTimer between the two readings, so that neither reading is timed
// and the CPU window holds none of the testing package's own.
func (m *meter) start(b *testing.B, timer func()) {
	runtime.ReadMemStats(&m.ms)
	m.mallocs -= m.ms.Mallocs
	m.bytes -= m.ms.TotalAlloc
	timer()
	m.cpu -= processCPU(b)
}

// stop ends a timed part and stops the timer.
func (m *meter) stop(b *testing.B) {
	m.cpu += processCPU(b)
	b.StopTimer()
	runtime.ReadMemStats(&m.ms)
	m.mallocs += m.ms.Mallocs
	m.bytes += m.ms.TotalAlloc
}

// report adds the per-delivery metrics for the timed part.
func (m *meter) report(b *testing.B, deliveries int64) {
	d := float64(deliveries)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/delivery")
	b.ReportMetric(float64(m.cpu.Nanoseconds())/d, "cpu-ns/delivery")
	b.ReportMetric(float64(m.mallocs)/d, "allocs/delivery")
	b.ReportMetric(float64(m.bytes)/d, "B/delivery")
}

// BenchmarkChannelPrivmsg is one PRIVMSG to a channel: members counts the
// sender, so each message is delivered to members-1 recipients. In the
// caps=mixed variants every other member negotiated server-time,
// message-tags and account-tag (two encodings per message) and the sender
// has echo-message (one more delivered line per message).
func BenchmarkChannelPrivmsg(b *testing.B) {
	for _, bc := range []struct {
		members int
		mixed   bool
	}{{100, false}, {1000, false}, {100, true}, {1000, true}} {
		name := fmt.Sprintf("caps=plain/members=%d", bc.members)
		if bc.mixed {
			name = fmt.Sprintf("caps=mixed/members=%d", bc.members)
		}
		b.Run(name, func(b *testing.B) { benchChannelPrivmsg(b, bc.members, bc.mixed) })
	}
}

// BenchmarkChannelPrivmsgSessions is BenchmarkChannelPrivmsg with 100
// members where every recipient user has one connection, then two
// (multiclient): the cost per delivered line should barely change when
// each user's deliveries go to two sessions (goal: under 1.2x).
func BenchmarkChannelPrivmsgSessions(b *testing.B) {
	for _, sessions := range []int{1, 2} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			r := newPrivmsgRig(b, 100, false)
			if sessions == 2 {
				r.addSessions(b)
			}
			var m meter
			runtime.GC()
			b.ReportAllocs()
			m.start(b, b.ResetTimer)
			r.run(b, b.N)
			m.stop(b)
			m.report(b, int64(b.N)*r.perMessage())
			r.verify(b)
		})
	}
}

// BenchmarkMonitoringOverhead is BenchmarkChannelPrivmsg with 100 members
// with monitoring off and on (per-loop and per-shard recorders, reporter
// running), side by side: command latency, per-delivery fan-out latency and
// shard queue wait are all recorded on the way.
func BenchmarkMonitoringOverhead(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("monitoring=%v", on), func(b *testing.B) {
			benchPerf = on
			defer func() { benchPerf = false }()
			benchChannelPrivmsg(b, 100, false)
		})
	}
}

func benchChannelPrivmsg(b *testing.B, members int, mixed bool) {
	r := newPrivmsgRig(b, members, mixed)
	var m meter
	runtime.GC()
	b.ReportAllocs()
	m.start(b, b.ResetTimer)
	r.run(b, b.N)
	m.stop(b)
	m.report(b, int64(b.N)*r.perMessage())
	r.verify(b)
}

// privmsgRig is a channel of members clients, the last of which speaks.
type privmsgRig struct {
	w          *benchWorld
	conns      []*fakeConn
	sender     *fakeConn
	recipients []*fakeConn
	p          *pipe
	echo       int64 // lines back to the sender per message

	sent, recvBase, sendBase int64
}

func newPrivmsgRig(tb testing.TB, members int, mixed bool) *privmsgRig {
	w := newBenchWorld(tb)
	const channel = "#bench"
	var caps func(int) []string
	if mixed {
		caps = func(i int) []string {
			switch {
			case i == members-1:
				return []string{"echo-message", "server-time", "message-tags"}
			case i%2 == 1:
				return []string{"server-time", "message-tags", "account-tag"}
			}
			return nil
		}
	}
	conns := w.connectMany(members, caps, func(int) []string { return []string{"JOIN " + channel} })
	// The last to join speaks, as a plain member: not the channel operator.
	r := &privmsgRig{w: w, conns: conns, sender: conns[members-1], recipients: conns[:members-1]}
	order := w.members(channel)
	if len(order) != members {
		tb.Fatalf("%s has %d members, want %d", channel, len(order), members)
	}
	byClient := make(map[*Client]*fakeConn, members)
	for _, fc := range conns {
		byClient[fc.client] = fc
	}
	sentinel := byClient[order[len(order)-1]]
	if sentinel == r.sender {
		sentinel = byClient[order[len(order)-2]]
	}
	// Two pipeline depths in flight: the shard always has the next drain's
	// worth queued while the loops write the previous one.
	r.p = w.newPipe(r.sender, sentinel, 1, 64, "PRIVMSG "+channel+" :"+benchText)
	if mixed {
		r.echo = 1
	}
	r.recvBase, r.sendBase = sumLines(r.recipients), r.sender.lines.Load()
	return r
}

// addSessions gives every recipient's user a second session, as a second
// device of one account would be (attach.go), on the other loop.
func (r *privmsgRig) addSessions(tb testing.TB) {
	w := r.w
	var extra []*fakeConn
	ip := netip.MustParseAddr("127.0.0.1")
	for _, fc := range r.recipients {
		u := fc.client.user()
		sib := &fakeConn{loop: (fc.loop + 1) % w.loops.Count(), srv: w.srv}
		w.onLoop(sib.loop, func() {
			sib.client = w.srv.Connect(sib, sib.loop, ip, time.Now())
			sib.client.reg |= regDone
			sib.client.live.Store(true)
			sib.client.u.Store(u)
			u.attach(sib.client, 0)
		})
		extra = append(extra, sib)
	}
	r.recipients = append(r.recipients, extra...)
	r.conns = append(r.conns, extra...)
	r.recvBase = sumLines(r.recipients)
}

// perMessage is the number of lines one message delivers.
func (r *privmsgRig) perMessage() int64 { return int64(len(r.recipients)) + r.echo }

// run sends n messages and returns once all of them were delivered.
func (r *privmsgRig) run(tb testing.TB, n int) {
	for i := 0; i < n; i++ {
		r.sent++
		r.p.send(tb, r.sent)
	}
	waitLines(tb, r.recipients, r.recvBase+r.sent*int64(len(r.recipients)))
	waitLines(tb, []*fakeConn{r.sender}, r.sendBase+r.sent*r.echo)
}

// verify checks, at rest, that every message reached each recipient once
// and that the sender got nothing but its echoes.
func (r *privmsgRig) verify(tb testing.TB) {
	tb.Helper()
	r.w.quiesce(r.conns)
	if got, want := sumLines(r.recipients)-r.recvBase, r.sent*int64(len(r.recipients)); got != want {
		tb.Fatalf("recipients got %d lines, want %d", got, want)
	}
	if got, want := r.sender.lines.Load()-r.sendBase, r.sent*r.echo; got != want {
		tb.Fatalf("sender got %d lines, want %d (echoes only)", got, want)
	}
}

// TestChannelMessageAllocsFlat checks the fan-out's allocation goal: a
// message costs the same allocations whatever the channel's size, so
// none is made per recipient. The margin absorbs the batch pool's
// regrowth after a GC (and sync.Pool's random drops under -race), far
// below one allocation per extra recipient.
func TestChannelMessageAllocsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("sets up a channel of 1,000 clients")
	}
	const messages = 400
	perMessage := func(members int) float64 {
		r := newPrivmsgRig(t, members, false)
		r.run(t, messages/4) // warm the pools and the members' slices
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r.run(t, messages)
		runtime.ReadMemStats(&after)
		r.verify(t)
		return float64(after.Mallocs-before.Mallocs) / messages
	}
	small, large := perMessage(100), perMessage(1000)
	t.Logf("allocations per message: %.2f with 100 members, %.2f with 1,000", small, large)
	if large-small > 900*0.02 {
		t.Errorf("a message to 1,000 members makes %.2f allocations, to 100 members %.2f: %.3f per extra recipient",
			large, small, (large-small)/900)
	}
}

// BenchmarkJoinPart1000 is one client joining and leaving a channel of
// 1,000 members: per op the joiner gets its JOIN, NAMES (1,000 names) and
// its PART, and each member a JOIN and a PART line. The joiner pipelines
// its pairs like PRIVMSG above.
func BenchmarkJoinPart1000(b *testing.B) {
	const members, channel = 1000, "#big"
	w := newBenchWorld(b)
	conns := w.connectMany(members, nil, func(int) []string { return []string{"JOIN " + channel} })
	joiner := w.connectMany(1, nil, nil)[0]
	all := append(conns[:len(conns):len(conns)], joiner)

	// One pair at rest gives the joiner's lines per op (JOIN, 353s, 366,
	// PART) and checks the members' two.
	jBase, mBase := joiner.lines.Load(), sumLines(conns)
	w.send(joiner, "JOIN "+channel, "PART "+channel)
	w.quiesce(all)
	perOp := joiner.lines.Load() - jBase
	if got := sumLines(conns) - mBase; got != 2*members {
		b.Fatalf("members got %d lines for one JOIN+PART, want %d", got, 2*members)
	}
	if perOp < 4 {
		b.Fatalf("joiner got %d lines for JOIN+PART, want JOIN, NAMES and PART", perOp)
	}
	if n := len(w.members(channel)); n != members {
		b.Fatalf("%s has %d members after PART, want %d", channel, n, members)
	}

	p := w.newPipe(joiner, joiner, perOp, 16, "JOIN "+channel, "PART "+channel)
	jBase, mBase = joiner.lines.Load(), sumLines(conns)
	var m meter
	runtime.GC()
	b.ReportAllocs()
	m.start(b, b.ResetTimer)
	for i := 1; i <= b.N; i++ {
		p.send(b, int64(i))
	}
	n := int64(b.N)
	waitLines(b, conns, mBase+n*2*members)
	waitLines(b, []*fakeConn{joiner}, jBase+n*perOp)
	m.stop(b)
	m.report(b, n*(2*members+perOp))

	w.quiesce(all)
	if got, want := sumLines(conns)-mBase, n*2*members; got != want {
		b.Fatalf("members got %d lines, want %d", got, want)
	}
	if got, want := joiner.lines.Load()-jBase, n*perOp; got != want {
		b.Fatalf("joiner got %d lines, want %d", got, want)
	}
}

// BenchmarkQuit50Channels is the disconnect of a client that is in 50
// channels of four other members each, drawn with overlap from 100 other
// clients: each QUIT reaches those 100 once. Per op the quitter is set up
// with the timer stopped; the timer runs from the disconnect until every
// co-member wrote the QUIT line.
func BenchmarkQuit50Channels(b *testing.B) {
	const (
		chans   = 50
		others  = 100
		perChan = 4
		// Quitters set up per timer stop, each with its own 50 channels so
		// that they are not each other's co-members.
		slots = 8
	)
	w := newBenchWorld(b)
	names := make([][]string, slots)
	joins := make([][]string, others)
	co := make(map[int]bool)
	for s := range names {
		for j := 0; j < chans; j++ {
			name := fmt.Sprintf("#q%dc%d", s, j)
			names[s] = append(names[s], name)
			for i := 0; i < perChan; i++ {
				k := (3*j + i) % others
				joins[k] = append(joins[k], name)
				co[k] = true
			}
		}
	}
	fill := w.connectMany(others, nil, func(k int) []string {
		return []string{"JOIN " + strings.Join(joins[k], ",")}
	})
	coMembers := int64(len(co))
	seen := w.newTally(fill)

	var m meter
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for done := 0; done < b.N; {
		k := min(slots, b.N-done)
		before := sumLines(fill)
		qs := w.connectMany(k, nil, func(s int) []string {
			return []string{"JOIN " + strings.Join(names[s], ",")}
		})
		if got, want := sumLines(fill)-before, int64(k*chans*perChan); got != want {
			b.Fatalf("co-members saw %d JOINs, want %d", got, want)
		}
		closers := make([]func(), k)
		for i, q := range qs {
			closers[i] = func() { q.Close("bye") }
		}
		base := sumLines(fill)
		tbase := seen.n.Load()
		m.start(b, b.StartTimer)
		for i, q := range qs {
			_ = w.loops.Run(q.loop, closers[i])
			seen.wait(b, tbase+int64(i+1)*coMembers)
		}
		m.stop(b)
		w.quiesce(fill)
		if got, want := sumLines(fill)-base, int64(k)*coMembers; got != want {
			b.Fatalf("co-members saw %d QUITs, want %d", got, want)
		}
		done += k
	}
	m.report(b, int64(b.N)*coMembers)
}

// BenchmarkFakeConnWrite is the harness's own cost per delivered line, to
// subtract from ns/delivery above when comparing with a real connection.
func BenchmarkFakeConnWrite(b *testing.B) {
	fc := &fakeConn{}
	line := []byte(":b1!b1@127.0.0.1 PRIVMSG #bench :" + benchText + "\r\n")
	b.ReportAllocs()
	for b.Loop() {
		fc.Write(line)
	}
	if fc.lines.Load() != int64(b.N) {
		b.Fatalf("counted %d lines, want %d", fc.lines.Load(), b.N)
	}
}
