package chat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"laird/perf"
)

// fakeLoops runs each "event loop" as a goroutine draining a task queue,
// like gnet's Execute, so the chat layer runs with its real concurrency.
type fakeLoops struct {
	mu      sync.Mutex // guards stopped against Run after stop
	stopped bool
	queues  []chan func()
	wg      sync.WaitGroup
	recs    []*perf.Recorder // set before the first Run, or nil
}

func newFakeLoops(n int) *fakeLoops {
	fl := &fakeLoops{}
	for i := 0; i < n; i++ {
		q := make(chan func(), 1<<16)
		fl.queues = append(fl.queues, q)
		fl.wg.Add(1)
		go func() {
			defer fl.wg.Done()
			for fn := range q {
				fn()
				// Like the real loops: publish recorded data at a safe point.
				if fl.recs != nil {
					fl.recs[i].Flip()
				}
			}
		}()
	}
	return fl
}

func (fl *fakeLoops) Count() int { return len(fl.queues) }

func (fl *fakeLoops) Recorder(id int) *perf.Recorder {
	if fl.recs == nil {
		return nil
	}
	return fl.recs[id]
}

func (fl *fakeLoops) Run(id int, fn func()) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.stopped {
		return fmt.Errorf("fake loop %d stopped", id)
	}
	fl.queues[id] <- fn
	return nil
}

// Post delivers p on loop id like a pass: deliver, then release (the fake
// connections write at once, so the "flush" is immediate). Mailboxes are
// unbounded here.
func (fl *fakeLoops) Post(_, id int, p Parcel) bool {
	_ = fl.Run(id, func() {
		p.Deliver()
		p.Release()
	})
	return true
}

func (fl *fakeLoops) WaitRoom(_, _ int) {}

func (fl *fakeLoops) stop() {
	fl.mu.Lock()
	fl.stopped = true
	fl.mu.Unlock()
	for _, q := range fl.queues {
		close(q)
	}
	fl.wg.Wait()
}

// fakeConn is a connection owned by one fake loop. Output is counted and,
// when keep is set, kept as lines.
type fakeConn struct {
	loop    int
	srv     *Server
	client  *Client
	input   [][]byte
	keep    bool
	mu      sync.Mutex // guards out for readers outside the loop
	out     bytes.Buffer
	lines   atomic.Int64
	closed  atomic.Bool
	onWrite func(n int)
	// processing is set while process runs; delayed while a Delay is
	// pending, until resumeAt (loop-owned).
	processing bool
	delayed    bool
	resumeAt   time.Time
}

func (fc *fakeConn) WriteShared(b []byte) { fc.Write(b) }

func (fc *fakeConn) Overflow() { fc.Close("SendQ exceeded") }

func (fc *fakeConn) Write(b []byte) {
	if fc.closed.Load() {
		return
	}
	n := bytes.Count(b, []byte("\r\n"))
	fc.lines.Add(int64(n))
	fc.mu.Lock()
	if fc.keep {
		fc.out.Write(b)
	}
	fc.mu.Unlock()
	if fc.onWrite != nil {
		fc.onWrite(n)
	}
}

func (fc *fakeConn) Close(reason string) {
	if fc.closed.CompareAndSwap(false, true) {
		fc.srv.Disconnect(fc.client, reason)
	}
}

// Resume continues input; like the real loop it is a no-op while input is
// being processed already.
func (fc *fakeConn) Resume() {
	if !fc.processing {
		fc.process()
	}
}

// Delay resumes the connection at until; like the real loop's, one delay
// at a time per connection (a later call moves it).
func (fc *fakeConn) Delay(until time.Time) {
	fc.resumeAt = until
	if fc.delayed {
		return
	}
	fc.delayed = true
	var wake func()
	wake = func() {
		_ = fc.srv.loops.Run(fc.loop, func() {
			if d := time.Until(fc.resumeAt); d > 0 {
				time.AfterFunc(d, wake)
				return
			}
			fc.delayed = false
			fc.Resume()
		})
	}
	time.AfterFunc(time.Until(until), wake)
}

// process offers queued input lines until one must wait. Loop only.
func (fc *fakeConn) process() {
	fc.processing = true
	defer func() { fc.processing = false }()
	for len(fc.input) > 0 && !fc.closed.Load() {
		if !fc.srv.HandleLine(fc.client, fc.input[0], time.Now()) {
			return
		}
		fc.input = fc.input[1:]
	}
}

func (fc *fakeConn) text() string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.out.String()
}

// testWorld is a chat Server on fake loops.
type testWorld struct {
	tb    testing.TB
	srv   *Server
	loops *fakeLoops
	next  int
}

func newTestWorld(tb testing.TB, shards, loops int) *testWorld {
	fl := newFakeLoops(loops)
	srv, err := New(Config{Shards: shards}, fl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	srv.Start()
	w := &testWorld{tb: tb, srv: srv, loops: fl}
	tb.Cleanup(func() {
		srv.Stop()
		fl.stop()
	})
	return w
}

// newTestWorldPerf is newTestWorld with monitoring on: a perf registry
// with every command series, a recorder per fake loop and per shard, and
// its reporter running.
func newTestWorldPerf(tb testing.TB, shards, loops int) *testWorld {
	reg := perf.NewRegistry(perf.Options{SignificantDigits: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ids, err := RegisterMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	fl := newFakeLoops(loops)
	for i := 0; i < loops; i++ {
		fl.recs = append(fl.recs, reg.NewRecorder(perf.KindLoop, fmt.Sprintf("loop%d", i)))
	}
	srv, err := New(Config{Shards: shards}, fl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	srv.SetPerf(reg, ids)
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { reg.Run(ctx); close(done) }()
	w := &testWorld{tb: tb, srv: srv, loops: fl}
	tb.Cleanup(func() {
		srv.Stop()
		fl.stop()
		cancel()
		<-done
	})
	return w
}

// onLoop runs fn on loop id and waits for it.
func (w *testWorld) onLoop(id int, fn func()) {
	done := make(chan struct{})
	_ = w.loops.Run(id, func() { fn(); close(done) })
	<-done
}

// connect registers a client, spreading clients over the loops.
func (w *testWorld) connect(nick string, keep bool) *fakeConn {
	fc := &fakeConn{loop: w.next % w.loops.Count(), srv: w.srv, keep: true}
	w.next++
	w.onLoop(fc.loop, func() {
		fc.client = w.srv.Connect(fc, fc.loop, netip.MustParseAddr("127.0.0.1"), time.Now())
	})
	w.send(fc, "NICK "+nick, "USER "+nick+" 0 * :"+nick)
	w.waitFor(fc, " 001 ")
	w.settle()
	if !keep {
		w.onLoop(fc.loop, func() {
			fc.mu.Lock()
			fc.keep = false
			fc.out.Reset()
			fc.mu.Unlock()
		})
	}
	return fc
}

// send queues lines on fc's loop and processes them.
func (w *testWorld) send(fc *fakeConn, lines ...string) {
	w.onLoop(fc.loop, func() {
		for _, l := range lines {
			fc.input = append(fc.input, []byte(l))
		}
		fc.process()
	})
}

// waitFor waits until fc's output contains substr.
func (w *testWorld) waitFor(fc *fakeConn, substr string) {
	w.tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(fc.text(), substr) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	w.tb.Fatalf("no %q in output:\n%s", substr, fc.text())
}

// idle waits until every client has no work in flight and the shard
// queues are empty.
func (w *testWorld) settle() {
	for i := 0; i < 3; i++ {
		for id := range w.srv.shards {
			done := make(chan struct{})
			w.srv.post(id, func(*shard, *batch) { close(done) })
			<-done
		}
		for id := range w.loops.queues {
			w.onLoop(id, func() {})
		}
	}
}
