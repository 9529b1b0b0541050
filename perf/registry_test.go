package perf

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestRegistrationRules(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	a, err := reg.Command("PRIVMSG")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := reg.Command("PRIVMSG"); err != nil || b != a {
		t.Errorf("re-registration: %v %v, want the same id", b, err)
	}
	if id, ok := reg.LatencyByName("cmd.PRIVMSG"); !ok || id != a {
		t.Errorf("LatencyByName: %v %v", id, ok)
	}
	if id, ok := reg.LatencyByName("fanout"); !ok || id != Fanout {
		t.Errorf("built-in fanout id %v", id)
	}
	if _, err := reg.Latency("cmd.PRIVMSG", FamilyFanout, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("same name, other family: %v", err)
	}
	if _, err := reg.Latency("x", FamilyCommand, "", Label{"cmd", "X"}); !errors.Is(err, ErrConflict) {
		t.Errorf("family with other labels: %v", err)
	}
	if _, err := reg.Latency("y", "bad-name", "h"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("invalid family: %v", err)
	}
	if _, err := reg.Latency("z", "laird_z_seconds", "h", Label{"__x", "v"}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("reserved label: %v", err)
	}
	if _, err := reg.NewCounter("laird_connections", "h"); !errors.Is(err, ErrConflict) {
		t.Errorf("counter over a gauge vec: %v", err)
	}
	c1, _ := reg.NewCounter("laird_things_total", "h")
	c2, err := reg.NewCounter("laird_things_total", "h")
	if err != nil || c1 != c2 {
		t.Errorf("counter re-registration: %v", err)
	}
	if _, err := reg.NewGauge("laird_things_total", "h"); !errors.Is(err, ErrConflict) {
		t.Errorf("gauge over a counter: %v", err)
	}
	if err := reg.NewStatsFunc("bad prefix", nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("stats prefix: %v", err)
	}
	cid, err := reg.RecorderCounter("laird_custom_total", "h")
	if err != nil || int(cid) != 5 {
		t.Errorf("recorder counter id %v %v, want 5 after the built-ins", cid, err)
	}

	reg.NewRecorder(KindLoop, "loop0")
	if dup := reg.NewRecorder(KindLoop, "loop0"); dup.Name() != "loop0-2" || dup.Kind() != KindLoop {
		t.Errorf("duplicate recorder named %q", dup.Name())
	}
	if _, err := reg.Command("JOIN"); !errors.Is(err, ErrFrozen) {
		t.Errorf("latency after NewRecorder: %v, want ErrFrozen", err)
	}
	if _, err := reg.RecorderCounter("laird_more_total", "h"); !errors.Is(err, ErrFrozen) {
		t.Errorf("recorder counter after NewRecorder: %v", err)
	}
	if _, err := reg.RecorderGauge("laird_more", "h"); !errors.Is(err, ErrFrozen) {
		t.Errorf("recorder gauge after NewRecorder: %v", err)
	}
	if _, err := reg.Command("PRIVMSG"); err != nil {
		t.Errorf("looking up an existing series after freeze: %v", err)
	}
	if _, err := reg.NewCounterVec("laird_late_total", "h", "kind"); err != nil {
		t.Errorf("process-wide counters may come later: %v", err)
	}
}

func TestLabelledChildrenBounded(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	v, err := reg.NewCounterVec("laird_x_total", "h", "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if first, again := v.With("1", "2"), v.With("1", "2"); first != again {
		t.Error("same labels, different counters")
	}
	v.With("only-one").Inc()        // padded
	v.With("p", "q", "extra").Inc() // cut
	if v.With("only-one", "") != v.With("only-one") {
		t.Error("padding not consistent")
	}
	for i := 0; i < 2*maxChildren; i++ {
		v.With(fmt.Sprint(i), "x").Inc()
	}
	var n int
	var other float64
	v.collect(func(vs []string, val float64) {
		n++
		if vs[0] == overflowValue {
			other = val
		}
	})
	if n != maxChildren+1 {
		t.Errorf("%d children, want %d + overflow", n, maxChildren)
	}
	if other == 0 {
		t.Error("overflow child counted nothing")
	}
}

func TestNumericCounter(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	e := reg.Std.Errors
	e.Inc(433)
	e.Inc(-1)
	e.Inc(1000)
	if e.Value(433) != 1 || e.Value(1000) != 0 {
		t.Errorf("values %d %d", e.Value(433), e.Value(1000))
	}
	var got []string
	e.collect(func(vs []string, v float64) { got = append(got, fmt.Sprintf("%s=%v", vs[0], v)) })
	if len(got) != 1 || got[0] != "433=1" {
		t.Errorf("exported %v", got)
	}
}

func TestProcessCountersConcurrent(t *testing.T) {
	reg, _ := newTestRegistry(t, 10)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				reg.Std.Registrations.Inc()
				reg.Std.Connections.With("tcp").Add(1)
				reg.Std.Connections.With("tcp").Dec()
				reg.Std.FloodActions.With(fmt.Sprint(i % 3)).Inc()
			}
		}()
	}
	wg.Wait()
	if reg.Std.Registrations.Value() != 4000 || reg.Std.Connections.With("tcp").Value() != 0 {
		t.Errorf("registrations %d connections %d", reg.Std.Registrations.Value(), reg.Std.Connections.With("tcp").Value())
	}
}
