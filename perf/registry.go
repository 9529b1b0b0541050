package perf

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by registration. Callers test them with errors.Is.
var (
	// ErrFrozen: latency series and recorder counters/gauges size every
	// recorder's arrays, so they must all be registered before the first
	// NewRecorder.
	ErrFrozen = errors.New("perf: registry frozen: register metrics before creating recorders")
	// ErrConflict: the name is already registered with a different shape
	// (another kind, help text or label set).
	ErrConflict = errors.New("perf: metric name conflicts with an earlier registration")
	// ErrInvalidName: not a valid Prometheus metric or label name.
	ErrInvalidName = errors.New("perf: invalid metric or label name")
)

// MetricID names a latency series of one Registry. Recording with it is an
// array index.
type MetricID uint16

// CounterID names a per-recorder counter of one Registry.
type CounterID uint16

// GaugeID names a per-recorder gauge of one Registry.
type GaugeID uint16

// Built-in latency series, registered by NewRegistry in this order.
const (
	Fanout    MetricID = iota // "fanout": message arrival to write into a recipient's buffer
	KVCommit                  // "kv.commit": one group commit of the kv writer
	ShardWait                 // "shard.wait": time a command waited in a shard's queue
)

// Built-in per-recorder counters, registered by NewRegistry in this order.
const (
	MessagesIn  CounterID = iota // laird_messages_in_total: lines parsed
	MessagesOut                  // laird_messages_out_total: lines written
	BytesIn                      // laird_bytes_in_total
	BytesOut                     // laird_bytes_out_total
	Deliveries                   // laird_deliveries_total: fan-out writes to recipients
)

// Built-in per-recorder gauges.
const (
	QueueDepth GaugeID = iota // laird_shard_queue_depth{kind,recorder}
)

// Prometheus family names of the built-in series.
const (
	FamilyCommand   = "laird_command_duration_seconds"
	FamilyFanout    = "laird_fanout_delivery_seconds"
	FamilyKVCommit  = "laird_kv_commit_seconds"
	FamilyShardWait = "laird_shard_queue_wait_seconds"
)

// Recorder kinds used by reports ("hottest shard" looks at KindShard).
const (
	KindLoop  = "loop"
	KindShard = "shard"
	KindKV    = "kv"
)

// Options configures a Registry. The zero value is usable.
type Options struct {
	// Interval between collections by Run. Default 1s.
	Interval time.Duration
	// Window is the number of intervals the live quantiles and rates cover.
	// Default 10 (10 s at the default interval).
	Window int
	// SignificantDigits of the HDR histograms, 1..5. Default 3 (0.1%).
	// Each recorder holds two dense histograms per latency series it has
	// recorded into: about 136 KiB each at 3 digits, 20 KiB at 2.
	SignificantDigits int
	// Buckets are the upper bounds of the exported Prometheus histograms.
	// Default DefaultBuckets.
	Buckets []time.Duration
	// Logger receives warnings and alert transitions. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the reporter side (tests use a fake). Default time.Now.
	Now func() time.Time
	// HistoryStep and HistoryLength shape the history behind the status
	// page's charts: a point every step (at least Interval), for length.
	// Defaults 5s and 15m.
	HistoryStep   time.Duration
	HistoryLength time.Duration
}

// DefaultBuckets are fine enough for sub-millisecond quantiles.
var DefaultBuckets = []time.Duration{
	5 * time.Microsecond, 10 * time.Microsecond, 25 * time.Microsecond,
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second,
}

// Label is one name=value pair of a series.
type Label struct{ Name, Value string }

type latencyDef struct {
	name   string // short name: cmd.PRIVMSG
	fam    *family
	values []string // label values, in fam.labels order
	labels []Label
}

// Registry holds the definitions of every metric, the recorders, the
// process-wide counters and the reporter's aggregated state. Registration
// methods may be called from any goroutine; see doc.go for the rules.
type Registry struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	bounds  []int64 // Prometheus bucket bounds in microseconds

	// Std is the standard process-wide set; safe to use from any goroutine.
	Std Std

	mu          sync.Mutex // guards everything below
	frozen      bool
	latencies   []latencyDef
	byName      map[string]MetricID
	families    map[string]*family
	recCounters []*family
	recGauges   []*family
	recorders   []*Recorder
	sources     []scalarSource
	stats       []*statsSource
	agg         aggregator
	busyFam     *family // laird_recorder_busy_seconds_total{kind,recorder}
	alertFam    *family // laird_alert_firing{rule}
	droppedFam  *family // laird_perf_dropped_records_total

	collectMu sync.Mutex // serialises Collect
	snap      atomic.Pointer[Snapshot]
	hist      *history
	alerter   atomic.Pointer[Alerter]
}

// NewRegistry returns a registry with the built-in series of laird registered.
func NewRegistry(opts Options) *Registry {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Window <= 0 {
		opts.Window = 10
	}
	if opts.SignificantDigits < 1 || opts.SignificantDigits > 5 {
		opts.SignificantDigits = 3
	}
	if len(opts.Buckets) == 0 {
		opts.Buckets = DefaultBuckets
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HistoryStep <= 0 {
		opts.HistoryStep = 5 * time.Second
	}
	opts.HistoryStep = max(opts.HistoryStep, opts.Interval)
	if opts.HistoryLength <= 0 {
		opts.HistoryLength = 15 * time.Minute
	}
	r := &Registry{
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Now,
		byName:   make(map[string]MetricID),
		families: make(map[string]*family),
		hist:     newHistory(opts.HistoryStep, opts.HistoryLength),
	}
	r.started = r.now()
	for _, b := range opts.Buckets {
		r.bounds = append(r.bounds, int64(b/time.Microsecond))
	}
	r.agg.init(opts.Window, opts.SignificantDigits, r.started)
	r.registerBuiltins()
	return r
}

// registerBuiltins cannot fail: the names are constants checked by the tests.
func (r *Registry) registerBuiltins() {
	must := func(err error) {
		if err != nil {
			r.log.Error("perf: built-in registration failed", "err", err)
		}
	}
	_, err := r.Latency("fanout", FamilyFanout, "Time from a message's arrival to its write into a recipient's buffer.")
	must(err)
	_, err = r.Latency("kv.commit", FamilyKVCommit, "Duration of one kv group commit, sync included.")
	must(err)
	_, err = r.Latency("shard.wait", FamilyShardWait, "Time a command waited in a shard's queue.")
	must(err)
	for _, c := range []struct{ name, help string }{
		{"laird_messages_in_total", "IRC lines received and parsed."},
		{"laird_messages_out_total", "IRC lines written to clients."},
		{"laird_bytes_in_total", "Bytes read from clients."},
		{"laird_bytes_out_total", "Bytes written to clients."},
		{"laird_deliveries_total", "Fan-out deliveries into recipients' buffers."},
	} {
		_, err = r.RecorderCounter(c.name, c.help)
		must(err)
	}
	_, err = r.RecorderGauge("laird_shard_queue_depth", "Commands queued at the owner at its last flip.")
	must(err)
	r.Std = r.newStd(must)
	r.mu.Lock()
	var err1, err2, err3 error
	r.busyFam, err1 = r.family("laird_recorder_busy_seconds_total", "Time each owner goroutine spent working.", kindCounter, []string{"kind", "recorder"})
	r.alertFam, err2 = r.family("laird_alert_firing", "1 while the alert rule fires.", kindGauge, []string{"rule"})
	r.droppedFam, err3 = r.family("laird_perf_dropped_records_total", "Records with an id unknown to their recorder.", kindCounter, nil)
	r.mu.Unlock()
	must(errors.Join(err1, err2, err3))
}

// Latency registers a latency series and returns its id. name is the short
// name used by the status page, reports and alert rules ("cmd.PRIVMSG");
// fam is the Prometheus histogram family it is exported in. Registering the
// same name again with the same shape returns the same id.
func (r *Registry) Latency(name, fam, help string, labels ...Label) (MetricID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.byName[name]; ok {
		d := r.latencies[id]
		if d.fam.name != fam || !sameLabels(d.labels, labels) {
			return 0, fmt.Errorf("latency %q: %w", name, ErrConflict)
		}
		return id, nil
	}
	if r.frozen {
		return 0, fmt.Errorf("latency %q: %w", name, ErrFrozen)
	}
	if name == "" {
		return 0, fmt.Errorf("latency with empty name: %w", ErrInvalidName)
	}
	names := make([]string, len(labels))
	values := make([]string, len(labels))
	for i, l := range labels {
		names[i], values[i] = l.Name, l.Value
	}
	f, err := r.family(fam, help, kindHistogram, names)
	if err != nil {
		return 0, fmt.Errorf("latency %q: %w", name, err)
	}
	id := MetricID(len(r.latencies))
	r.latencies = append(r.latencies, latencyDef{name: name, fam: f, values: values, labels: append([]Label(nil), labels...)})
	r.byName[name] = id
	return id, nil
}

// Command registers the latency of an IRC command: short name "cmd.<cmd>",
// exported as laird_command_duration_seconds{command="<cmd>"}.
func (r *Registry) Command(cmd string) (MetricID, error) {
	return r.Latency("cmd."+cmd, FamilyCommand,
		"Time from a command's parse to its last reply written.", Label{"command", cmd})
}

// LatencyByName returns the id of a registered latency series.
func (r *Registry) LatencyByName(name string) (MetricID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.byName[name]
	return id, ok
}

// RecorderCounter registers a counter every recorder carries. Owners add to
// it without atomics; it is exported as the sum over recorders.
func (r *Registry) RecorderCounter(name, help string) (CounterID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, f := range r.recCounters {
		if f.name == name {
			return CounterID(i), nil
		}
	}
	if r.frozen {
		return 0, fmt.Errorf("recorder counter %q: %w", name, ErrFrozen)
	}
	f, err := r.family(name, help, kindCounter, nil)
	if err != nil {
		return 0, fmt.Errorf("recorder counter %q: %w", name, err)
	}
	r.recCounters = append(r.recCounters, f)
	return CounterID(len(r.recCounters) - 1), nil
}

// RecorderGauge registers a gauge every recorder carries, exported per
// recorder with the labels kind and recorder.
func (r *Registry) RecorderGauge(name, help string) (GaugeID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, f := range r.recGauges {
		if f.name == name {
			return GaugeID(i), nil
		}
	}
	if r.frozen {
		return 0, fmt.Errorf("recorder gauge %q: %w", name, ErrFrozen)
	}
	f, err := r.family(name, help, kindGauge, []string{"kind", "recorder"})
	if err != nil {
		return 0, fmt.Errorf("recorder gauge %q: %w", name, err)
	}
	r.recGauges = append(r.recGauges, f)
	return GaugeID(len(r.recGauges) - 1), nil
}

// NewRecorder creates the recorder of one owner goroutine. kind is one of
// KindLoop, KindShard, KindKV (or another word); name is unique, e.g.
// "shard3" (a duplicate gets a -2, -3... suffix). After the first call the registry is frozen for latency series
// and recorder counters/gauges.
func (r *Registry) NewRecorder(kind, name string) *Recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen = true
	// Names label exported series: a duplicate would make scrapes fail.
	for n, unique := 2, name; ; n++ {
		taken := false
		for _, o := range r.recorders {
			taken = taken || o.name == unique
		}
		if !taken {
			if unique != name {
				r.log.Warn("perf: duplicate recorder name renamed", "name", name, "as", unique)
			}
			name = unique
			break
		}
		unique = fmt.Sprintf("%s-%d", name, n)
	}
	rec := newRecorder(kind, name, len(r.latencies), len(r.recCounters), len(r.recGauges), r.opts.SignificantDigits)
	r.recorders = append(r.recorders, rec)
	return rec
}

// Interval is the collection interval Run uses.
func (r *Registry) Interval() time.Duration { return r.opts.Interval }

func sameLabels(a, b []Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
