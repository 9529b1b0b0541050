package perf

import (
	"testing"
	"time"
)

func TestHistoryPoints(t *testing.T) {
	clk := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	reg := NewRegistry(Options{Logger: quietLogger(), Now: clk.Now, Window: 2,
		HistoryStep: 3 * time.Second, HistoryLength: 15 * time.Second})
	privmsg, _ := reg.Command("PRIVMSG")
	loop := reg.NewRecorder(KindLoop, "loop0")
	conns := reg.Std.Connections.With("tcp")
	for i := 1; i <= 31; i++ { // points at collections 1, 4, ..., 31
		loop.Add(MessagesIn, 10)
		loop.Add(Deliveries, 30)
		loop.Record(privmsg, time.Duration(i)*time.Millisecond)
		conns.Set(int64(i))
		step(reg, clk, loop)
	}
	h := reg.History()
	if h.StepSeconds != 3 || len(h.Points) != 5 {
		t.Fatalf("step %v, %d points; want 3 s and 15 s / 3 s = 5", h.StepSeconds, len(h.Points))
	}
	for i, p := range h.Points {
		if i > 0 && p.Time.Sub(h.Points[i-1].Time) != 3*time.Second {
			t.Errorf("points %d and %d are %v apart", i-1, i, p.Time.Sub(h.Points[i-1].Time))
		}
	}
	last := h.Points[len(h.Points)-1]
	if !last.Time.Equal(clk.Now()) {
		t.Errorf("the newest point is from %v, the last collection %v", last.Time, clk.Now())
	}
	// 10 lines and 30 deliveries per 1 s interval; 31 connections; the
	// window's (2 intervals) p99 is that of 30 ms and 31 ms.
	if last.MessagesIn != 10 || last.Deliveries != 30 || last.Connections != 31 {
		t.Errorf("newest point %+v", last)
	}
	if last.CommandP99 < 30_900 || last.CommandP99 > 31_100 {
		t.Errorf("command p99 %d us, want about 31 ms", last.CommandP99)
	}
}
