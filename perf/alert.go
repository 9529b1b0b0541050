package perf

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AlertRule is one threshold rule, as loaded from the config file:
//
//	[[alerts.rule]]
//	name = "privmsg-slow"
//	metric = "p99(cmd.PRIVMSG)"   # see alertexpr.go for the expressions
//	threshold = 0.005             # seconds for latencies
//	for = "30s"
//
// The rule fires once the condition has held for For, and resolves once it
// has been false for For (hysteresis: a flapping metric does not flap the
// alert).
type AlertRule struct {
	Name      string        `toml:"name" json:"name"`
	Metric    string        `toml:"metric" json:"metric"`
	Op        string        `toml:"op" json:"op,omitempty"` // ">" (default), ">=", "<", "<="
	Threshold float64       `toml:"threshold" json:"threshold"`
	For       time.Duration `toml:"for" json:"for"`
}

// AlertConfig is the alerting section of the config file.
type AlertConfig struct {
	Rules   []AlertRule   `toml:"rule"`
	Webhook WebhookConfig `toml:"webhook"`
}

// AlertOptions are the wiring an Alerter needs besides its config.
type AlertOptions struct {
	// OnChange receives every firing and resolution, on the reporter
	// goroutine: it must not block (the server hands it to its operator
	// notice path).
	OnChange func(AlertEvent)
	Logger   *slog.Logger
	Client   *http.Client // for the webhook; default a plain client (timeouts come from WebhookConfig)
	// Source names this server in every event (the webhook's "source"),
	// e.g. the IRC server name.
	Source string
	// Previous is the alerter this one replaces on a reload; see NewAlerter.
	Previous *Alerter
}

// Alert states.
const (
	StatePending   = "pending"   // condition holds, not yet for long enough
	StateFiring    = "firing"    // fired
	StateResolving = "resolving" // firing, condition false, not yet for long enough
	StateResolved  = "resolved"  // only in events
)

// AlertEvent is a firing or a resolution; it is also the webhook's JSON body.
type AlertEvent struct {
	Source    string    `json:"source,omitempty"`
	Rule      string    `json:"rule"`
	Metric    string    `json:"metric"`
	Op        string    `json:"op"`
	Threshold float64   `json:"threshold"`
	Value     float64   `json:"value"`
	State     string    `json:"state"` // StateFiring or StateResolved
	Since     time.Time `json:"since"` // when the condition started (firing) or stopped (resolved) holding
	At        time.Time `json:"at"`
}

// AlertStatus is a rule that is not idle: pending, firing or resolving.
type AlertStatus struct {
	Rule      string    `json:"rule"`
	Metric    string    `json:"metric"`
	Op        string    `json:"op"`
	Threshold float64   `json:"threshold"`
	Value     float64   `json:"value"`
	State     string    `json:"state"`
	Since     time.Time `json:"since"` // pending: condition start; firing: fire time
}

// ErrBadRule is wrapped by NewAlerter's validation errors.
var ErrBadRule = errors.New("perf: bad alert rule")

type ruleState struct {
	rule    AlertRule
	e       expr
	firing  bool
	since   time.Time // start of the run of evaluations heading to a transition
	firedAt time.Time
	value   float64
}

// Alerter evaluates rules on every snapshot. Evaluate is called by the
// reporter (Registry.Collect); the other methods may be called from any
// goroutine.
type Alerter struct {
	log      *slog.Logger
	onChange func(AlertEvent)
	hook     *webhook
	reg      *Registry
	source   string

	mu    sync.Mutex
	rules []*ruleState

	handedOff atomic.Bool // the webhook sender now belongs to a successor
}

// NewAlerter validates cfg and returns an Alerter. With a non-nil reg, rule
// metrics are checked against its registrations and the alerter is attached:
// Collect evaluates it, the snapshot lists its active alerts and
// laird_alert_firing exports its states. It replaces any alerter attached
// before; Close the old one.
//
// With opts.Previous (a reload), a rule defined exactly as before keeps its
// state, so a firing alert neither fires again nor goes quiet; a firing
// rule that was removed or changed is delivered as resolved. An unchanged
// webhook keeps its sender and queue.
func NewAlerter(reg *Registry, cfg AlertConfig, opts AlertOptions) (*Alerter, error) {
	a := &Alerter{log: opts.Logger, onChange: opts.OnChange, reg: reg, source: opts.Source}
	if a.log == nil {
		a.log = slog.Default()
	}
	rules, err := compileRules(reg, cfg)
	if err != nil {
		return nil, err
	}
	a.rules = rules
	var orphans []AlertEvent
	if prev := opts.Previous; prev != nil {
		orphans = a.carry(prev)
		if prev.hook != nil && prev.hook.sameConfig(cfg.Webhook) {
			a.hook = prev.hook
			prev.handedOff.Store(true)
		}
	}
	if cfg.Webhook.URL != "" && a.hook == nil {
		h, err := newWebhook(cfg.Webhook, opts.Client, a.log)
		if err != nil {
			return nil, err
		}
		a.hook = h
	}
	if reg != nil {
		reg.alerter.Store(a)
	}
	for _, ev := range orphans {
		a.deliver(ev)
	}
	return a, nil
}

// CheckAlerts reports the error NewAlerter would return for cfg, without
// attaching anything or starting a webhook sender.
func (r *Registry) CheckAlerts(cfg AlertConfig) error {
	if _, err := compileRules(r, cfg); err != nil {
		return err
	}
	if cfg.Webhook.URL != "" {
		return checkWebhookURL(cfg.Webhook.URL)
	}
	return nil
}

func compileRules(reg *Registry, cfg AlertConfig) ([]*ruleState, error) {
	var rules []*ruleState
	seen := map[string]bool{}
	for i, r := range cfg.Rules {
		if r.Name == "" || seen[r.Name] {
			return nil, fmt.Errorf("%w: rule %d: empty or duplicate name %q", ErrBadRule, i, r.Name)
		}
		seen[r.Name] = true
		if r.Op == "" {
			r.Op = ">"
		}
		if r.Op != ">" && r.Op != ">=" && r.Op != "<" && r.Op != "<=" {
			return nil, fmt.Errorf("%w: rule %q: op %q", ErrBadRule, r.Name, r.Op)
		}
		if r.For < 0 {
			return nil, fmt.Errorf("%w: rule %q: negative for", ErrBadRule, r.Name)
		}
		e, err := parseExpr(r.Metric)
		if err != nil {
			return nil, fmt.Errorf("%w: rule %q: %w", ErrBadRule, r.Name, err)
		}
		if reg != nil {
			if err := reg.checkExpr(e); err != nil {
				return nil, fmt.Errorf("%w: rule %q: %w", ErrBadRule, r.Name, err)
			}
		}
		rules = append(rules, &ruleState{rule: r, e: e})
	}
	return rules, nil
}

// carry copies prev's state into a's rules of the same definition and
// returns resolutions for prev's firing rules that have no such twin.
func (a *Alerter) carry(prev *Alerter) []AlertEvent {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	now := time.Now()
	var orphans []AlertEvent
	for _, old := range prev.rules {
		kept := false
		for _, st := range a.rules {
			if st.rule == old.rule {
				st.firing, st.since, st.firedAt, st.value = old.firing, old.since, old.firedAt, old.value
				kept = true
			}
		}
		if !kept && old.firing {
			orphans = append(orphans, AlertEvent{Source: a.source, Rule: old.rule.Name, Metric: old.rule.Metric,
				Op: old.rule.Op, Threshold: old.rule.Threshold, Value: old.value, State: StateResolved, Since: now, At: now})
		}
	}
	return orphans
}

// Close detaches the alerter from its registry and stops the webhook
// sender, abandoning undelivered events.
func (a *Alerter) Close() {
	if a.reg != nil {
		a.reg.alerter.CompareAndSwap(a, nil)
	}
	if a.hook != nil && !a.handedOff.Load() {
		a.hook.close()
	}
}

// Evaluate runs every rule on s, using s.Time as the clock, delivers the
// transitions and returns the active alerts.
func (a *Alerter) Evaluate(s *Snapshot) []AlertStatus {
	now := s.Time
	var events []AlertEvent
	a.mu.Lock()
	for _, st := range a.rules {
		v, ok := st.e.eval(s)
		st.value = v
		cond := ok && compare(v, st.rule.Op, st.rule.Threshold)
		if cond == st.firing { // nothing heading to a transition
			st.since = time.Time{}
			continue
		}
		if st.since.IsZero() {
			st.since = now
		}
		if now.Sub(st.since) < st.rule.For {
			continue
		}
		st.firing = cond
		ev := AlertEvent{Source: a.source, Rule: st.rule.Name, Metric: st.rule.Metric, Op: st.rule.Op,
			Threshold: st.rule.Threshold, Value: v, State: StateResolved, Since: st.since, At: now}
		if cond {
			ev.State = StateFiring
			st.firedAt = now
		}
		st.since = time.Time{}
		events = append(events, ev)
	}
	active := a.activeLocked()
	a.mu.Unlock()
	for _, ev := range events {
		a.deliver(ev)
	}
	return active
}

// Active returns the rules that are pending, firing or resolving.
func (a *Alerter) Active() []AlertStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.activeLocked()
}

func (a *Alerter) activeLocked() []AlertStatus {
	var out []AlertStatus
	for _, st := range a.rules {
		s := AlertStatus{Rule: st.rule.Name, Metric: st.rule.Metric, Op: st.rule.Op,
			Threshold: st.rule.Threshold, Value: st.value}
		switch {
		case st.firing && !st.since.IsZero():
			s.State, s.Since = StateResolving, st.firedAt
		case st.firing:
			s.State, s.Since = StateFiring, st.firedAt
		case !st.since.IsZero():
			s.State, s.Since = StatePending, st.since
		default:
			continue
		}
		out = append(out, s)
	}
	return out
}

// visit reports each rule's firing state for laird_alert_firing.
func (a *Alerter) visit(fn func(rule string, firing bool)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.rules {
		fn(st.rule.Name, st.firing)
	}
}

func (a *Alerter) deliver(ev AlertEvent) {
	attrs := []any{"rule", ev.Rule, "metric", ev.Metric, "value", ev.Value, "op", ev.Op, "threshold", ev.Threshold, "since", ev.Since}
	if ev.State == StateFiring {
		a.log.Warn("alert firing", attrs...)
	} else {
		a.log.Info("alert resolved", attrs...)
	}
	if a.onChange != nil {
		a.onChange(ev)
	}
	if a.hook != nil {
		a.hook.enqueue(ev)
	}
}

func compare(v float64, op string, t float64) bool {
	switch op {
	case ">=":
		return v >= t
	case "<":
		return v < t
	case "<=":
		return v <= t
	default:
		return v > t
	}
}

// ErrUnknownMetric: an alert rule names a series nobody registered.
var ErrUnknownMetric = errors.New("perf: unknown metric")

// checkExpr verifies that e names registered series of the right kind.
func (r *Registry) checkExpr(e expr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.fn == fnQuantile {
		if _, ok := r.byName[e.name]; !ok {
			return fmt.Errorf("latency %q: %w", e.name, ErrUnknownMetric)
		}
		return nil
	}
	f, ok := r.families[e.name]
	if !ok {
		for _, s := range r.stats {
			if strings.HasPrefix(e.name, s.prefix+"_") {
				return nil // reported by a callback: known only at collection
			}
		}
		return fmt.Errorf("%q: %w", e.name, ErrUnknownMetric)
	}
	if f.kind == kindHistogram {
		return fmt.Errorf("%q is a latency family: use a quantile of a short name, e.g. p99(cmd.PRIVMSG): %w", e.name, ErrBadExpr)
	}
	if (e.fn == fnPerSecond || e.fn == fnPerMinute) && f.kind != kindCounter {
		return fmt.Errorf("%q is not a counter: %w", e.name, ErrBadExpr)
	}
	for _, m := range e.match {
		found := false
		for _, l := range f.labels {
			found = found || l == m.Name
		}
		if !found {
			return fmt.Errorf("%q has no label %q: %w", e.name, m.Name, ErrBadExpr)
		}
	}
	return nil
}
