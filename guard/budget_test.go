package guard

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// t0 is the fake clock's origin; tests add offsets to it and never sleep.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func testClass(t testing.TB, cfg FloodClassConfig) *FloodClass {
	t.Helper()
	c, err := NewFloodClass("test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBudgetBurstThenFakelagThenFlood(t *testing.T) {
	// 5 points of burst, 1 point/s, disconnect past 10 points of debt.
	b := NewBudget(testClass(t, FloodClassConfig{Burst: 5, Rate: 1, Disconnect: 10}))
	for i := range 5 {
		if d := b.Charge(t0, Point); d.Verdict != Proceed {
			t.Fatalf("command %d within burst: got %v", i+1, d.Verdict)
		}
	}
	// Sixth at the same instant: debt 6, one point over the burst: wait 1s.
	d := b.Charge(t0, Point)
	if d.Verdict != Fakelag || d.Delay != time.Second {
		t.Fatalf("6th: got %+v, want fakelag 1s", d)
	}
	if w := b.Wait(t0); w != time.Second {
		t.Fatalf("Wait = %v, want 1s", w)
	}
	// A caller that keeps charging while lagged: 7..10 lag more and more.
	for i := 7; i <= 10; i++ {
		d = b.Charge(t0, Point)
		if d.Verdict != Fakelag || d.Delay != time.Duration(i-5)*time.Second {
			t.Fatalf("command %d: got %+v", i, d)
		}
	}
	// Debt 11 > 10: excess flood.
	if d = b.Charge(t0, Point); d.Verdict != ExcessFlood {
		t.Fatalf("11th: got %+v, want excess flood", d)
	}
}

func TestBudgetRefill(t *testing.T) {
	b := NewBudget(testClass(t, FloodClassConfig{Burst: 4, Rate: 2, Disconnect: 100}))
	for range 4 {
		b.Charge(t0, Point)
	}
	if d := b.Charge(t0, Point); d.Verdict != Fakelag || d.Delay != 500*time.Millisecond {
		t.Fatalf("over burst: %+v", d)
	}
	// The caller honours the delay, then sends at exactly the rate: each
	// command after its predecessor's delay proceeds... with the next one
	// lagging 500ms again, so the steady state is Rate commands/s.
	now := at(500 * time.Millisecond)
	if d := b.Charge(now, Point); d.Verdict != Fakelag || d.Delay != 500*time.Millisecond {
		t.Fatalf("at rate: %+v", d)
	}
	// Idle long enough to refill everything: full burst again.
	now = at(time.Minute)
	if got := b.Debt(now); got != 0 {
		t.Fatalf("debt after idling = %v", got)
	}
	for i := range 4 {
		if d := b.Charge(now, Point); d.Verdict != Proceed {
			t.Fatalf("refilled burst, command %d: %+v", i, d)
		}
	}
	if got := b.Debt(now); got != 4 {
		t.Fatalf("debt = %v, want 4", got)
	}
}

func TestBudgetNoFakelagDisconnectsAtBurst(t *testing.T) {
	b := NewBudget(testClass(t, FloodClassConfig{Burst: 2, Rate: 1, NoFakelag: true}))
	b.Charge(t0, Point)
	b.Charge(t0, Point)
	if d := b.Charge(t0, Point); d.Verdict != ExcessFlood {
		t.Fatalf("got %+v, want excess flood", d)
	}
}

func TestBudgetExemptAndClassSwitch(t *testing.T) {
	user := testClass(t, FloodClassConfig{Burst: 1, Rate: 1, Disconnect: 2})
	b := NewBudget(user)
	b.Charge(t0, Point)
	b.Charge(t0, Point)
	b.SetClass(testClass(t, FloodClassConfig{Exempt: true}))
	for range 1000 {
		if d := b.Charge(t0, 100*Point); d.Verdict != Proceed {
			t.Fatalf("exempt class: %+v", d)
		}
	}
	if b.Wait(t0) != 0 {
		t.Fatal("exempt class must never wait")
	}
	// Back to the user class, the earlier debt (2 points) still counts.
	b.SetClass(user)
	if d := b.Charge(t0, Point); d.Verdict != ExcessFlood {
		t.Fatalf("debt kept across class switch: %+v", d)
	}
}

func TestZeroBudgetUsesDefaultClass(t *testing.T) {
	var b Budget
	def := DefaultFloodClass()
	for i := range int(def.Burst) {
		if d := b.Charge(t0, Point); d.Verdict != Proceed {
			t.Fatalf("command %d: %+v", i, d)
		}
	}
	if d := b.Charge(t0, Point); d.Verdict != Fakelag {
		t.Fatalf("past default burst: %+v", d)
	}
	if b.Class().Name() != "user" {
		t.Fatalf("class %q", b.Class().Name())
	}
}

func TestBudgetLargeCostClamped(t *testing.T) {
	b := NewBudget(testClass(t, FloodClassConfig{Burst: 5, Rate: 0.001, Disconnect: 10}))
	if d := b.Charge(t0, Cost(1<<31-1)); d.Verdict != ExcessFlood {
		t.Fatalf("huge cost: %+v", d)
	}
	if d := b.Charge(t0, -5); d.Verdict != ExcessFlood {
		t.Fatalf("negative cost must not pay debt back: %+v", d)
	}
}

func TestCost(t *testing.T) {
	c := testClass(t, FloodClassConfig{Costs: map[string]CommandCost{"who": {Base: 4}, "FOO": {Base: 0.25, PerTarget: 2}}})
	cases := []struct {
		cmd     string
		targets int
		want    Cost
	}{
		{"PING", 1, Point},
		{"privmsg", 1, Point},
		{"PRIVMSG", 3, 3 * Point},
		{"JOIN", 1, Point},
		{"JOIN", 50, Point + 49*Point/2},
		{"JOIN", 0, Point},
		{"WHO", 1, 4 * Point}, // overridden (config key in lower case)
		{"Foo", 3, 250 + 4*Point},
		{"QUIT", 1, 0},
		{"NOSUCHCOMMAND", 7, Point},
		{"AVERYLONGCOMMANDNAMEBEYONDTHIRTYTWOBYTES", 1, Point},
		{"JOIN", 1 << 30, Point + (maxTargets-1)*Point/2},
	}
	for _, tc := range cases {
		if got := c.Cost([]byte(tc.cmd), tc.targets); got != tc.want {
			t.Errorf("Cost(%s, %d) = %d, want %d", tc.cmd, tc.targets, got, tc.want)
		}
	}
	if join, ping := c.Cost([]byte("JOIN"), 50), c.Cost([]byte("PING"), 1); join <= ping {
		t.Fatalf("JOIN of 50 (%d) must cost more than PING (%d)", join, ping)
	}
}

func TestCountTargets(t *testing.T) {
	for in, want := range map[string]int{"": 0, "#a": 1, "#a,#b,#c": 3, ",": 2} {
		if got := CountTargets(in); got != want {
			t.Errorf("CountTargets(%q) = %d, want %d", in, got, want)
		}
		if got := CountTargets([]byte(in)); got != want {
			t.Errorf("CountTargets([]byte %q) = %d, want %d", in, got, want)
		}
	}
}

func TestFloodClassValidation(t *testing.T) {
	bad := []FloodClassConfig{
		{Rate: -1},
		{Rate: 1e7},
		{Burst: -3},
		{Burst: 10, Disconnect: 5},
		{DefaultCost: -1},
		{Costs: map[string]CommandCost{"JOIN": {Base: -1}}},
		{Costs: map[string]CommandCost{"": {Base: 1}}},
		{Costs: map[string]CommandCost{"JOIN": {PerTarget: 1e9}}},
	}
	for i, cfg := range bad {
		if _, err := NewFloodClass("bad", cfg); !errors.Is(err, errBadClass) {
			t.Errorf("case %d (%+v): err = %v, want errBadClass", i, cfg, err)
		}
	}
	// Disconnect defaults to at least the burst.
	c := testClass(t, FloodClassConfig{Burst: 500})
	if c.disconnectNs < c.burstNs {
		t.Fatal("default disconnect below burst")
	}
}

func TestFloodClasses(t *testing.T) {
	cfg := DefaultFloodConfig()
	cfg.Exempt = []string{"192.0.2.0/24"}
	f, err := NewFlood(cfg)
	if err != nil {
		t.Fatal(err)
	}
	user := f.For(netip.MustParseAddr("198.51.100.1"), false)
	if user.Name() != "user" || user.Exempt() {
		t.Fatalf("plain client: class %q exempt=%v", user.Name(), user.Exempt())
	}
	if !f.For(netip.MustParseAddr("192.0.2.7"), false).Exempt() {
		t.Fatal("exempt net not exempt")
	}
	if !f.For(netip.MustParseAddr("::ffff:192.0.2.7"), false).Exempt() {
		t.Fatal("mapped exempt address not exempt")
	}
	if !f.For(netip.MustParseAddr("198.51.100.1"), true).Exempt() {
		t.Fatal("operators must be exempt by default")
	}
	if _, ok := f.Class("USER"); !ok {
		t.Fatal("class lookup is case-insensitive")
	}
	if _, err := NewFlood(FloodConfig{Exempt: []string{"nope"}}); !errors.Is(err, ErrBadMask) {
		t.Fatalf("bad exempt: %v", err)
	}
}

func TestChargeAndCostDoNotAllocate(t *testing.T) {
	c := testClass(t, FloodClassConfig{})
	b := NewBudget(c)
	cmd := []byte("privmsg")
	now := t0
	n := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Second)
		b.Charge(now, c.Cost(cmd, 2))
	})
	if n != 0 {
		t.Fatalf("%v allocs per Charge+Cost", n)
	}
}

func BenchmarkBudgetCharge(b *testing.B) {
	c := mustClass("bench", FloodClassConfig{})
	bu := NewBudget(c)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		// 10 ms apart: 0.02 points refilled per 1-point command, so the
		// bench exercises proceed, fakelag and (reset) flood verdicts.
		now = now.Add(10 * time.Millisecond)
		if bu.Charge(now, Point).Verdict == ExcessFlood {
			bu = NewBudget(c)
		}
	}
}

// BenchmarkBudgetChargeMonotonic uses times carrying a monotonic reading,
// as time.Now() returns in production; the refill matches the charge, so
// every call proceeds.
func BenchmarkBudgetChargeMonotonic(b *testing.B) {
	bu := NewBudget(mustClass("bench", FloodClassConfig{Rate: 1e6}))
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if bu.Charge(now, Point).Verdict != Proceed {
			b.Fatal("refused")
		}
	}
}

func BenchmarkCost(b *testing.B) {
	c := mustClass("bench", FloodClassConfig{})
	cmd := []byte("PRIVMSG")
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Cost(cmd, 3)
	}
}

// BenchmarkGuardPerCommand is the whole per-command guard cost on the hot
// path: price the command, charge the budget, validate the text.
func BenchmarkGuardPerCommand(b *testing.B) {
	c := mustClass("bench", FloodClassConfig{Rate: 1e6})
	bu := NewBudget(c)
	lim := DefaultLimits()
	cmd, target, text := []byte("PRIVMSG"), []byte("#laird"), []byte("hello, world: a typical line of chat, about sixty bytes long")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		d := bu.Charge(now, c.Cost(cmd, CountTargets(target)))
		if d.Verdict != Proceed || Check(&lim, FieldMessage, text) != nil {
			b.Fatal("unexpected refusal")
		}
	}
}

func TestCostTable(t *testing.T) {
	names := map[string]bool{}
	tab := newCostTable(300)
	for i := range 300 {
		// Names differing only in their last byte or across the 8-byte
		// boundary must not collide.
		name := fmt.Sprintf("CMD%012d", i)
		if len(name) > maxCommandLen {
			t.Fatal(name)
		}
		k, ok := packCommand(name)
		if !ok {
			t.Fatal(name)
		}
		tab.put(k, costEntry{base: Cost(i)})
		names[name] = true
	}
	for i := range 300 {
		k, _ := packCommand(strings.ToLower(fmt.Sprintf("CMD%012d", i)))
		if e, ok := tab.get(k); !ok || e.base != Cost(i) {
			t.Fatalf("entry %d: %+v %v", i, e, ok)
		}
	}
	k, _ := packCommand("CMD000000000300")
	if _, ok := tab.get(k); ok {
		t.Fatal("absent name found")
	}
	for _, bad := range []string{"", "A\x00", "SEVENTEENCHARSXXX"} {
		if _, ok := packCommand(bad); ok {
			t.Errorf("packCommand(%q) accepted", bad)
		}
	}
	if _, err := NewFloodClass("x", FloodClassConfig{Costs: map[string]CommandCost{"SEVENTEENCHARSXXX": {Base: 1}}}); err == nil {
		t.Error("overlong configured command accepted")
	}
}
