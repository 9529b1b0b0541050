package guard

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Cost is the price of one command in thousandths of a point. A point is
// what an ordinary command costs; a class refills Rate points per second.
type Cost int32

// Point is the cost of one ordinary command.
const Point Cost = 1000

// maxCost bounds a single charge so penalty arithmetic cannot overflow.
const maxCost Cost = 1 << 30

// ExcessFloodReason is the text of the ERROR line for a flood disconnect,
// the wording clients and operators recognise.
const ExcessFloodReason = "Excess Flood"

// Verdict is what the caller must do with a charged command.
type Verdict uint8

const (
	// Proceed: run the command now.
	Proceed Verdict = iota
	// Fakelag: the command is paid for but may run only after
	// Decision.Delay; stop processing this connection's input until then.
	Fakelag
	// ExcessFlood: disconnect with ERROR :Excess Flood.
	ExcessFlood
)

func (v Verdict) String() string {
	switch v {
	case Proceed:
		return "proceed"
	case Fakelag:
		return "fakelag"
	case ExcessFlood:
		return "excess-flood"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Decision is the outcome of Budget.Charge.
type Decision struct {
	Verdict Verdict
	Delay   time.Duration // with Fakelag: wait this long before running the command
}

// Budget is one connection's flood-control token bucket. It is a plain
// value meant to be embedded in the connection struct; it is owned by the
// connection's event loop and must only be used from that goroutine (it has
// no locks). The zero Budget charges against the default user class.
//
// The bucket is kept as a penalty clock (GCRA): tat is the moment at which
// everything charged so far will have been refilled. tat-now is the debt;
// the burst is the debt allowed before fakelag, so "tokens left" is
// burst-debt. One int64 of state, no floating point on the hot path.
type Budget struct {
	class *FloodClass
	tat   int64 // ticks; 0 means fresh (no debt)
}

// NewBudget returns a budget charging against c (nil: the default class).
func NewBudget(c *FloodClass) Budget { return Budget{class: c} }

// SetClass moves the connection to another class (for example on OPER),
// keeping its current debt.
func (b *Budget) SetClass(c *FloodClass) { b.class = c }

// Class returns the class the budget charges against.
func (b *Budget) Class() *FloodClass {
	if b.class == nil {
		return defaultUserClass
	}
	return b.class
}

// Charge records a command of the given cost at time now and says whether
// it may run now, must wait (fakelag), or is the end of a flood.
//
// Charge always charges: a Fakelag decision means the command has been paid
// for and must run Delay from now, and must not be charged again. A caller
// that keeps charging commands while the connection is lagged (for example
// every line of a batch it has already read) accumulates debt and gets
// ExcessFlood once the class's disconnect threshold is passed.
//
// now must not go backwards between calls; pass time.Now() (monotonic) or a
// fake clock. Charge does not allocate.
func (b *Budget) Charge(now time.Time, cost Cost) Decision {
	c := b.class
	if c == nil {
		c = defaultUserClass
	}
	if c.exempt {
		return Decision{}
	}
	t := ticks(now)
	tat := b.tat
	if tat < t || tat == 0 {
		tat = t
	}
	if cost > 0 {
		if cost > maxCost {
			cost = maxCost
		}
		tat += int64(cost) * c.nsPerMilli
	}
	b.tat = tat
	debt := tat - t
	if debt <= c.burstNs {
		return Decision{}
	}
	if c.noFakelag || debt > c.disconnectNs {
		return Decision{Verdict: ExcessFlood}
	}
	return Decision{Verdict: Fakelag, Delay: time.Duration(debt - c.burstNs)}
}

// Wait returns how long the connection must still wait before its next
// command may run (zero when it is not lagged). Use it to decide when to
// resume reading a fakelagged connection.
func (b *Budget) Wait(now time.Time) time.Duration {
	c := b.Class()
	if c.exempt || b.tat == 0 {
		return 0
	}
	if d := b.tat - ticks(now) - c.burstNs; d > 0 {
		return time.Duration(d)
	}
	return 0
}

// Debt returns the unrefilled points, for STATS and metrics.
func (b *Budget) Debt(now time.Time) float64 {
	c := b.Class()
	if b.tat == 0 {
		return 0
	}
	d := b.tat - ticks(now)
	if d <= 0 {
		return 0
	}
	return float64(d) / float64(c.nsPerMilli) / float64(Point)
}

// FloodClassConfig configures one connection class's flood control. Zero
// numeric fields take the defaults in DefaultFloodClass, so a class in a
// config file only needs the fields it changes.
type FloodClassConfig struct {
	// Burst is the debt, in points, a connection may run up before it is
	// fakelagged: the fakelag threshold. An idle connection can send this
	// many ordinary commands at once.
	Burst float64 `toml:"burst"`
	// Rate is how many points per second are refilled.
	Rate float64 `toml:"rate"`
	// Disconnect is the debt, in points, beyond which the connection is
	// closed with "Excess Flood": the disconnect threshold. Must be at least
	// Burst.
	Disconnect float64 `toml:"disconnect"`
	// NoFakelag disconnects as soon as the burst is exceeded instead of
	// delaying (the classic behaviour without fakelag).
	NoFakelag bool `toml:"no_fakelag"`
	// Exempt turns flood control off (operators, trusted gateways).
	Exempt bool `toml:"exempt"`
	// DefaultCost is the cost of a command absent from Costs.
	DefaultCost float64 `toml:"default_cost"`
	// Costs overrides DefaultCosts for the commands it names (upper case).
	Costs map[string]CommandCost `toml:"costs"`
}

// CommandCost prices a command: Base, plus PerTarget for every target after
// the first (JOIN #a,#b,#c has three targets).
type CommandCost struct {
	Base      float64 `toml:"base"`
	PerTarget float64 `toml:"per_target"`
}

// FloodClass is a compiled, immutable FloodClassConfig, safe to share
// between all event loops.
type FloodClass struct {
	name         string
	exempt       bool
	noFakelag    bool
	nsPerMilli   int64
	burstNs      int64
	disconnectNs int64
	defCost      Cost
	costs        *costTable
}

var errBadClass = errors.New("invalid flood class")

// NewFloodClass compiles cfg. Zero fields take the defaults.
func NewFloodClass(name string, cfg FloodClassConfig) (*FloodClass, error) {
	def := DefaultFloodClass()
	if cfg.Burst == 0 {
		cfg.Burst = def.Burst
	}
	if cfg.Rate == 0 {
		cfg.Rate = def.Rate
	}
	if cfg.Disconnect == 0 {
		cfg.Disconnect = math.Max(def.Disconnect, cfg.Burst)
	}
	if cfg.DefaultCost == 0 {
		cfg.DefaultCost = def.DefaultCost
	}
	switch {
	case !(cfg.Rate >= 0.001 && cfg.Rate <= 1e6):
		return nil, fmt.Errorf("guard: class %q: %w: rate %v outside [0.001, 1e6] points/s", name, errBadClass, cfg.Rate)
	case !(cfg.Burst > 0 && cfg.Burst <= 1e6):
		return nil, fmt.Errorf("guard: class %q: %w: burst %v outside (0, 1e6]", name, errBadClass, cfg.Burst)
	case !(cfg.Disconnect >= cfg.Burst && cfg.Disconnect <= 1e6):
		return nil, fmt.Errorf("guard: class %q: %w: disconnect %v must be in [burst, 1e6]", name, errBadClass, cfg.Disconnect)
	}
	c := &FloodClass{
		name:         name,
		exempt:       cfg.Exempt,
		noFakelag:    cfg.NoFakelag,
		nsPerMilli:   max(1, int64(1e6/cfg.Rate)),
		burstNs:      int64(cfg.Burst * 1e9 / cfg.Rate),
		disconnectNs: int64(cfg.Disconnect * 1e9 / cfg.Rate),
	}
	var err error
	if c.defCost, err = points(cfg.DefaultCost); err != nil {
		return nil, fmt.Errorf("guard: class %q: default_cost: %w", name, err)
	}
	defCosts := DefaultCosts()
	c.costs = newCostTable(len(defCosts) + len(cfg.Costs))
	for _, m := range []map[string]CommandCost{defCosts, cfg.Costs} {
		for cmd, cc := range m {
			k, ok := packCommand(cmd)
			if !ok {
				return nil, fmt.Errorf("guard: class %q: %w: command name %q", name, errBadClass, cmd)
			}
			var e costEntry
			if e.base, err = points(cc.Base); err != nil {
				return nil, fmt.Errorf("guard: class %q: cost of %s: %w", name, cmd, err)
			}
			if e.perTarget, err = points(cc.PerTarget); err != nil {
				return nil, fmt.Errorf("guard: class %q: per-target cost of %s: %w", name, cmd, err)
			}
			c.costs.put(k, e)
		}
	}
	return c, nil
}

func points(p float64) (Cost, error) {
	if !(p >= 0 && p <= 1e5) {
		return 0, fmt.Errorf("%w: cost %v outside [0, 1e5] points", errBadClass, p)
	}
	return Cost(math.Round(p * float64(Point))), nil
}

// Name returns the class name.
func (c *FloodClass) Name() string { return c.name }

// Exempt reports whether the class is exempt from flood control.
func (c *FloodClass) Exempt() bool { return c.exempt }

// maxTargets bounds the target count used in pricing.
const maxTargets = 1 << 12

// Cost prices a command with the given number of targets (comma-separated
// channels or nicks; values below 1 count as 1). The command name is
// matched ignoring ASCII case. It does not allocate.
func (c *FloodClass) Cost(command []byte, targets int) Cost {
	k, ok := packCommand(command)
	if !ok {
		return c.defCost
	}
	e, ok := c.costs.get(k)
	if !ok {
		return c.defCost
	}
	if targets > maxTargets {
		targets = maxTargets
	}
	if targets <= 1 {
		return e.base
	}
	return min(e.base+e.perTarget*Cost(targets-1), maxCost)
}

// CountTargets counts the comma-separated items of a target parameter
// ("#a,#b,#c" is 3; empty is 0). It does not allocate.
func CountTargets[T Text](param T) int {
	if len(param) == 0 {
		return 0
	}
	n := 1
	for i := 0; i < len(param); i++ {
		if param[i] == ',' {
			n++
		}
	}
	return n
}

var defaultUserClass = mustClass("user", FloodClassConfig{})

func mustClass(name string, cfg FloodClassConfig) *FloodClass {
	c, err := NewFloodClass(name, cfg)
	if err != nil {
		panic(err) // only reachable if the built-in defaults are wrong
	}
	return c
}
