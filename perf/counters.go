package perf

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Process-wide counters and gauges: atomics that any goroutine may update.
// For events counted on a hot path by one owner (messages, bytes), prefer a
// RecorderCounter: a plain add instead of a contended atomic.

type kind uint8

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

// family is one Prometheus metric family.
type family struct {
	name, help string
	kind       kind
	labels     []string
	desc       *prometheus.Desc
	src        scalarSource // the process-wide object, for idempotent registration
}

// scalarSource is a process-wide counter or gauge set read at collection.
type scalarSource interface {
	fam() *family
	// collect calls emit once per series; values is only valid during the call.
	collect(emit func(values []string, v float64))
}

// family returns the family called name, creating it. Caller holds r.mu.
func (r *Registry) family(name, help string, k kind, labels []string) (*family, error) {
	if !validMetricName(name) {
		return nil, fmt.Errorf("%q: %w", name, ErrInvalidName)
	}
	for _, l := range labels {
		if !validLabelName(l) {
			return nil, fmt.Errorf("label %q of %q: %w", l, name, ErrInvalidName)
		}
	}
	if f, ok := r.families[name]; ok {
		if f.kind != k || strings.Join(f.labels, ",") != strings.Join(labels, ",") || (help != "" && help != f.help) {
			return nil, fmt.Errorf("%q: %w", name, ErrConflict)
		}
		return f, nil
	}
	f := &family{name: name, help: help, kind: k, labels: append([]string(nil), labels...)}
	f.desc = prometheus.NewDesc(name, help, f.labels, nil)
	r.families[name] = f
	return f, nil
}

func (r *Registry) addSource(name, help string, k kind, labels []string, mk func(*family) scalarSource) (scalarSource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, existed := r.families[name]
	f, err := r.family(name, help, k, labels)
	if err != nil {
		return nil, err
	}
	if existed {
		if f.src == nil {
			return nil, fmt.Errorf("%q: %w", name, ErrConflict)
		}
		return f.src, nil
	}
	f.src = mk(f)
	r.sources = append(r.sources, f.src)
	return f.src, nil
}

// Counter is a process-wide monotonic counter. Safe for concurrent use.
type Counter struct {
	v atomic.Uint64
	_ [56]byte // own cache line: bumped from many goroutines
	f *family
}

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

func (c *Counter) fam() *family { return c.f }
func (c *Counter) collect(emit func([]string, float64)) {
	emit(nil, float64(c.v.Load()))
}

// Gauge is a process-wide gauge. Safe for concurrent use.
type Gauge struct {
	v atomic.Int64
	_ [56]byte
	f *family
}

// Set sets the value.
func (g *Gauge) Set(v int64) { g.v.Store(v) }

// Add adds delta (negative to decrease).
func (g *Gauge) Add(delta int64) { g.v.Add(delta) }

// Inc adds one.
func (g *Gauge) Inc() { g.v.Add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.v.Add(-1) }

// Value returns the current value.
func (g *Gauge) Value() int64 { return g.v.Load() }

func (g *Gauge) fam() *family { return g.f }
func (g *Gauge) collect(emit func([]string, float64)) {
	emit(nil, float64(g.v.Load()))
}

// NewCounter registers a process-wide counter. Registering the same name
// again returns the same counter.
func (r *Registry) NewCounter(name, help string) (*Counter, error) {
	s, err := r.addSource(name, help, kindCounter, nil, func(f *family) scalarSource { return &Counter{f: f} })
	if err != nil {
		return nil, err
	}
	c, ok := s.(*Counter)
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, ErrConflict)
	}
	return c, nil
}

// NewGauge registers a process-wide gauge.
func (r *Registry) NewGauge(name, help string) (*Gauge, error) {
	s, err := r.addSource(name, help, kindGauge, nil, func(f *family) scalarSource { return &Gauge{f: f} })
	if err != nil {
		return nil, err
	}
	g, ok := s.(*Gauge)
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, ErrConflict)
	}
	return g, nil
}

// maxChildren bounds the series of one labelled family: label values can
// come from clients (command names, ban kinds), and memory must not.
const maxChildren = 512

// overflowValue replaces every label value once a family is full.
const overflowValue = "_other"

type child[T any] struct {
	values []string
	v      T
}

// labelled maps label values to children. Lookups take a mutex: resolve a
// child once and keep the pointer on hot paths.
type labelled[T any] struct {
	f        *family
	mu       sync.Mutex
	children map[string]*child[T]
	order    []*child[T]
}

func (l *labelled[T]) get(values []string) *T {
	n := len(l.f.labels)
	key := strings.Join(values, "\xff")
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.children[key]; ok && len(values) == n {
		return &c.v
	}
	// Arity mismatch is a caller bug; pad or cut rather than crash the server.
	vs := make([]string, n)
	copy(vs, values)
	if len(l.order) >= maxChildren {
		for i := range vs {
			vs[i] = overflowValue
		}
	}
	key = strings.Join(vs, "\xff")
	if c, ok := l.children[key]; ok {
		return &c.v
	}
	if l.children == nil {
		l.children = make(map[string]*child[T])
	}
	c := &child[T]{values: vs}
	l.children[key] = c
	l.order = append(l.order, c)
	return &c.v
}

func (l *labelled[T]) each(fn func(values []string, v *T)) {
	l.mu.Lock()
	order := l.order[:len(l.order):len(l.order)]
	l.mu.Unlock()
	for _, c := range order {
		fn(c.values, &c.v)
	}
}

// CounterVec is a family of process-wide counters with labels.
type CounterVec struct{ l labelled[Counter] }

// With returns the counter for the label values, creating it. The values
// must match the label names in number; resolve once and keep the pointer.
func (v *CounterVec) With(values ...string) *Counter { return v.l.get(values) }

func (v *CounterVec) fam() *family { return v.l.f }
func (v *CounterVec) collect(emit func([]string, float64)) {
	v.l.each(func(vs []string, c *Counter) { emit(vs, float64(c.v.Load())) })
}

// GaugeVec is a family of process-wide gauges with labels.
type GaugeVec struct{ l labelled[Gauge] }

// With returns the gauge for the label values, creating it.
func (v *GaugeVec) With(values ...string) *Gauge { return v.l.get(values) }

func (v *GaugeVec) fam() *family { return v.l.f }
func (v *GaugeVec) collect(emit func([]string, float64)) {
	v.l.each(func(vs []string, g *Gauge) { emit(vs, float64(g.v.Load())) })
}

// NewCounterVec registers a labelled process-wide counter family.
func (r *Registry) NewCounterVec(name, help string, labels ...string) (*CounterVec, error) {
	s, err := r.addSource(name, help, kindCounter, labels, func(f *family) scalarSource {
		return &CounterVec{l: labelled[Counter]{f: f}}
	})
	if err != nil {
		return nil, err
	}
	v, ok := s.(*CounterVec)
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, ErrConflict)
	}
	return v, nil
}

// NewGaugeVec registers a labelled process-wide gauge family.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) (*GaugeVec, error) {
	s, err := r.addSource(name, help, kindGauge, labels, func(f *family) scalarSource {
		return &GaugeVec{l: labelled[Gauge]{f: f}}
	})
	if err != nil {
		return nil, err
	}
	v, ok := s.(*GaugeVec)
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, ErrConflict)
	}
	return v, nil
}

// NumericCounter counts IRC numerics (001..999) by number with one atomic
// per numeric: no map and no lock, so error paths may count freely.
type NumericCounter struct {
	f *family
	n [1000]atomic.Uint64
}

// Inc counts one reply with the given numeric; numbers outside 0..999 are ignored.
func (c *NumericCounter) Inc(numeric int) {
	if uint(numeric) < uint(len(c.n)) {
		c.n[numeric].Add(1)
	}
}

// Value returns the count for numeric.
func (c *NumericCounter) Value(numeric int) uint64 {
	if uint(numeric) < uint(len(c.n)) {
		return c.n[numeric].Load()
	}
	return 0
}

func (c *NumericCounter) fam() *family { return c.f }
func (c *NumericCounter) collect(emit func([]string, float64)) {
	var vs [1]string
	for i := range c.n {
		if v := c.n[i].Load(); v != 0 {
			vs[0] = numericLabel(i)
			emit(vs[:], float64(v))
		}
	}
}

// NewNumericCounter registers a counter family labelled "numeric".
func (r *Registry) NewNumericCounter(name, help string) (*NumericCounter, error) {
	s, err := r.addSource(name, help, kindCounter, []string{"numeric"}, func(f *family) scalarSource {
		return &NumericCounter{f: f}
	})
	if err != nil {
		return nil, err
	}
	c, ok := s.(*NumericCounter)
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, ErrConflict)
	}
	return c, nil
}

type funcSource struct {
	f  *family
	fn func() float64
}

func (s *funcSource) fam() *family { return s.f }
func (s *funcSource) collect(emit func([]string, float64)) {
	emit(nil, s.fn())
}

// NewGaugeFunc registers a gauge whose value fn returns at collection time
// (on the reporter or a scrape goroutine: fn must be safe there, e.g. len of
// a channel).
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) error {
	_, err := r.addSource(name, help, kindGauge, nil, func(f *family) scalarSource { return &funcSource{f: f, fn: fn} })
	return err
}

// NewCounterFunc registers a counter whose value fn returns at collection time.
func (r *Registry) NewCounterFunc(name, help string, fn func() float64) error {
	_, err := r.addSource(name, help, kindCounter, nil, func(f *family) scalarSource { return &funcSource{f: f, fn: fn} })
	return err
}

// The label values of Std's families that exist from the start, at 0, so
// that dashboards and alert rules on them see 0 rather than "no data"
// until the first event. Callers (loop, chat) count with these values.
var (
	StdTransports   = []string{"tcp"}                                                    // laird_connections{transport}
	StdFloodActions = []string{"fakelag", "disconnect", "login-throttle", "login-delay"} // laird_flood_actions_total{action}
	StdBanKinds     = []string{"kline", "dline", "dline.refused"}                        // laird_bans_total{kind}; dline.refused counts refused connections
)

// Std is the standard process-wide set every laird server exports.
type Std struct {
	Connections   *GaugeVec       // laird_connections{transport}: open connections
	Registrations *Counter        // laird_registrations_total: clients that completed registration
	Errors        *NumericCounter // laird_errors_total{numeric}: error numerics sent
	FloodActions  *CounterVec     // laird_flood_actions_total{action}: flood-control actions taken
	Bans          *CounterVec     // laird_bans_total{kind}: bans applied
	SlowConsumers *Counter        // laird_slow_consumer_disconnects_total
}

func (r *Registry) newStd(must func(error)) Std {
	var s Std
	var err error
	s.Connections, err = r.NewGaugeVec("laird_connections", "Open client connections by transport.", "transport")
	must(err)
	s.Registrations, err = r.NewCounter("laird_registrations_total", "Clients that completed registration.")
	must(err)
	s.Errors, err = r.NewNumericCounter("laird_errors_total", "Error numerics sent to clients, by numeric.")
	must(err)
	s.FloodActions, err = r.NewCounterVec("laird_flood_actions_total", "Flood-control actions taken, by action.", "action")
	must(err)
	s.Bans, err = r.NewCounterVec("laird_bans_total", "Bans applied, by kind.", "kind")
	must(err)
	s.SlowConsumers, err = r.NewCounter("laird_slow_consumer_disconnects_total", "Connections cut for exceeding their output limit.")
	must(err)
	for _, v := range StdTransports {
		s.Connections.With(v)
	}
	for _, v := range StdFloodActions {
		s.FloodActions.With(v)
	}
	for _, v := range StdBanKinds {
		s.Bans.With(v)
	}
	return s
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func validLabelName(s string) bool {
	return !strings.HasPrefix(s, "__") && !strings.Contains(s, ":") && validMetricName(s)
}

// numericLabel formats a numeric the way the errors family labels it.
func numericLabel(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}
