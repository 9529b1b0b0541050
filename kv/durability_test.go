package kv

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// gateFS holds every WAL sync while it is closed, so a test can see what
// waits for one.
type gateFS struct {
	vfs.FS
	mu     sync.Mutex
	gate   chan struct{} // nil: open
	synced atomic.Int64  // WAL syncs completed
}

func (g *gateFS) hold() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gateFS) release() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

func (g *gateFS) wait() {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
}

func (g *gateFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &gateFile{File: f, g: g}, nil
}

func (g *gateFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.Create(name, c)
	return g.wrap(name, f, err)
}

func (g *gateFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := g.FS.ReuseForWrite(oldname, newname, c)
	return g.wrap(newname, f, err)
}

func (g *gateFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, o ...vfs.OpenOption) (vfs.File, error) {
	f, err := g.FS.OpenReadWrite(name, c, o...)
	return g.wrap(name, f, err)
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f *gateFile) Sync() error {
	f.g.wait()
	defer f.g.synced.Add(1)
	return f.File.Sync()
}

func (f *gateFile) SyncData() error {
	f.g.wait()
	defer f.g.synced.Add(1)
	return f.File.SyncData()
}

func (f *gateFile) SyncTo(n int64) (bool, error) {
	f.g.wait()
	defer f.g.synced.Add(1)
	return f.File.SyncTo(n)
}

// With LazyHistory off, a history append is acknowledged (done called)
// only once the WAL is synced: what the sender's echo waits for. With it
// on, the acknowledgement does not wait for a sync.
func TestHistoryAcknowledgedAfterSync(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		t.Run(fmt.Sprint("lazy=", lazy), func(t *testing.T) {
			g := &gateFS{FS: vfs.Default}
			s := openTest(t, Options{fs: g, LazyHistory: lazy, LazySyncInterval: time.Hour})
			t.Cleanup(g.release)
			g.hold()
			done := make(chan error, 2)
			for _, priv := range []bool{false, true} {
				txn := s.NewTxn()
				if priv {
					txn.AppendPrivate(HistoryMessage{Command: "PRIVMSG", Text: "dm"}, Peer{alice, "alice"}, Peer{bob, "bob"})
				} else {
					txn.AppendHistory(HistoryMessage{Target: "#a", Command: "PRIVMSG", Text: "x"})
				}
				if err := s.Commit(txn, func(err error) { done <- err }); err != nil {
					t.Fatal(err)
				}
			}
			if lazy {
				for range 2 {
					select {
					case err := <-done:
						if err != nil {
							t.Fatal(err)
						}
					case <-time.After(10 * time.Second):
						t.Fatal("a lazy append waited for the WAL sync")
					}
				}
				return
			}
			select {
			case err := <-done:
				t.Fatalf("acknowledged (%v) while the WAL sync is held", err)
			case <-time.After(300 * time.Millisecond):
			}
			before := g.synced.Load()
			g.release()
			for range 2 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			if g.synced.Load() == before {
				t.Fatal("acknowledged without a WAL sync")
			}
		})
	}
}

// With LazyHistory, what is committed lazily is synced within one
// LazySyncInterval even while the writer never runs out of work (the timer
// then may not get its turn).
func TestLazySyncWhileBusy(t *testing.T) {
	s := openTest(t, Options{LazyHistory: true, LazySyncInterval: 20 * time.Millisecond})
	var wg sync.WaitGroup
	stop := time.Now().Add(400 * time.Millisecond)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				txn := s.NewTxn()
				txn.AppendHistory(HistoryMessage{Target: fmt.Sprint("#", g), Command: "PRIVMSG", Text: "x"})
				if err := s.CommitWait(txn); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st, _ := s.Stats()
	// 400ms at one sync per 20ms is 20; the bound is what matters, the
	// margin is for a loaded machine.
	if st.LazySyncs < 5 || st.SyncedGroups != 0 {
		t.Fatalf("%d lazy syncs, %d synced groups in 400ms of lazy appends (%d groups)", st.LazySyncs, st.SyncedGroups, st.Groups)
	}
}

// The crash test of lazy history: a child appends history lazily and
// prints when each append was acknowledged; the parent kills it and checks
// that everything acknowledged more than one LazySyncInterval (plus a
// margin for a loaded machine) before the kill survived.
const lazyInterval = 100 * time.Millisecond

func TestCrashLazyChild(t *testing.T) {
	dir := os.Getenv("KV_CRASH_LAZY_DIR")
	if dir == "" {
		t.Skip("run by TestCrashLazyHistoryWindow")
	}
	s, err := Open(Options{Dir: dir, Logger: quietLogger(), DiskReserve: -1, LazyHistory: true,
		LazySyncInterval: lazyInterval, SeparateHistory: os.Getenv("KV_CRASH_SEPARATE") != ""})
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; i < 1_000_000 && time.Now().Before(deadline); i++ {
				id := g*1_000_000 + i
				txn := s.NewTxn()
				txn.AppendHistory(HistoryMessage{Target: "#lazy", MsgID: strconv.Itoa(id), Command: "PRIVMSG", Text: "x"})
				if err := s.CommitWait(txn); err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Fprintln(w, "ack", id, time.Now().UnixNano())
				w.Flush()
				out.Unlock()
				time.Sleep(time.Millisecond) // a chat's pace, not a benchmark's
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

func TestCrashLazyHistoryWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const margin = time.Second
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for round, separate := range []bool{false, true} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLazyChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KV_CRASH_LAZY_DIR="+dir)
		if separate {
			cmd.Env = append(cmd.Env, "KV_CRASH_SEPARATE=1")
		}
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acks := map[int]time.Time{}
		sc := bufio.NewScanner(stdout)
		var start time.Time
		run := margin + time.Duration(300+rng.IntN(700))*time.Millisecond
		for sc.Scan() {
			line := sc.Text()
			if line == "ready" {
				start = time.Now()
				continue
			}
			var id int
			var at int64
			if _, err := fmt.Sscanf(line, "ack %d %d", &id, &at); err != nil {
				t.Fatalf("child said %q", line)
			}
			acks[id] = time.Unix(0, at)
			if !start.IsZero() && time.Since(start) > run {
				break
			}
		}
		killed := time.Now()
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		for sc.Scan() {
		}
		_ = cmd.Wait()

		s := openTest(t, Options{Dir: dir, SeparateHistory: separate})
		stored := map[string]bool{}
		list, err := s.HistoryLatest("#lazy", HistoryRef{}, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			stored[m.MsgID] = true
		}
		old, lost, lostOld := 0, 0, 0
		var oldestLost time.Duration
		for id, at := range acks {
			if !stored[strconv.Itoa(id)] {
				err = ErrNotFound
			} else {
				err = nil
			}
			if err != nil {
				lost++
				oldestLost = max(oldestLost, killed.Sub(at))
			}
			if at.Before(killed.Add(-lazyInterval - margin)) {
				old++
				if err != nil {
					lostOld++
				}
			}
		}
		t.Logf("round %d (separate history %v): %d acknowledged, %d of them older than interval+margin; lost %d (acknowledged at most %v before the kill), of the old ones %d",
			round, separate, len(acks), old, lost, oldestLost.Round(time.Millisecond), lostOld)
		if old == 0 {
			t.Fatalf("round %d: no acknowledgement older than the window to check", round)
		}
		if lostOld > 0 {
			t.Fatalf("round %d: %d lazily appended messages acknowledged more than %v before the kill were lost", round, lostOld, lazyInterval+margin)
		}
	}
}
