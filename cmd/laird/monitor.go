package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"laird/chat"
	"laird/kv"
	"laird/loop"
	"laird/perf"
)

// monitor is the perf side of an instance: the registry and its reporter,
// the kv recorder, the alerter and the metrics HTTP listener.
type monitor struct {
	reg       *perf.Registry
	cmdIDs    []perf.MetricID
	kvRec     *perf.Recorder
	alertOpts perf.AlertOptions
	alerter   atomic.Pointer[perf.Alerter]
	http      *http.Server
	mux       atomic.Pointer[http.Handler] // swapped when a reload changes the token
	store     *kv.Store
	log       *slog.Logger
	cancel    context.CancelFunc
	done      chan struct{}
}

// newMonitor registers every latency series; recorders may be created from
// m.reg afterwards (the registry freezes at the first one).
func newMonitor(cfg Config, log *slog.Logger) (*monitor, error) {
	if !cfg.Metrics.Enabled {
		return nil, nil
	}
	reg := perf.NewRegistry(perf.Options{
		Interval:          cfg.Metrics.Interval.Duration,
		SignificantDigits: 2,
		Logger:            log.With("component", "perf"),
	})
	ids, err := chat.RegisterMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &monitor{reg: reg, cmdIDs: ids}, nil
}

// kvHook returns the kv writer's commit hook; the recorder it feeds is
// owned by the writer goroutine, the only caller of the hook.
func (m *monitor) kvHook() func(time.Duration) {
	if m == nil {
		return nil
	}
	m.kvRec = m.reg.NewRecorder(perf.KindKV, "kv")
	m.kvRec.Prepare(perf.KVCommit)
	return func(d time.Duration) {
		m.kvRec.Record(perf.KVCommit, d)
		m.kvRec.Flip()
	}
}

// start runs the reporter, the alerts and the HTTP listener.
func (m *monitor) start(cfg Config, log *slog.Logger, irc *chat.Server, store *kv.Store) error {
	if m == nil {
		return nil
	}
	if err := m.reg.NewStatsFunc("laird_kv", func() []perf.Stat { return kvStats(store) }); err != nil {
		return err
	}
	if err := m.reg.NewGaugeFunc("laird_users", "Registered clients.", func() float64 { return float64(irc.Stats().Users) }); err != nil {
		return err
	}
	if err := m.reg.NewGaugeFunc("laird_channels", "Channels.", func() float64 { return float64(irc.Stats().Channels) }); err != nil {
		return err
	}
	m.alertOpts = perf.AlertOptions{
		Logger: log.With("component", "alerts"),
		Source: cfg.Server.Name,
		OnChange: func(ev perf.AlertEvent) {
			irc.ServerNotice(fmt.Sprintf("alert %s %s: %s = %.6g (threshold %s %.6g)", ev.Rule, ev.State, ev.Metric, ev.Value, ev.Op, ev.Threshold))
		},
	}
	alerter, err := perf.NewAlerter(m.reg, withBuiltinAlerts(cfg.Alerts), m.alertOpts)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	m.alerter.Store(alerter)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		m.reg.Run(ctx)
	}()
	if cfg.Metrics.Listen == "" || cfg.Metrics.Listen == "off" {
		return nil
	}
	m.store, m.log = store, log
	h, err := m.handler(cfg.Metrics.Token)
	if err != nil {
		return err
	}
	m.mux.Store(&h)
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	ln = newLimitListener(ln, loop.MetricsConns)
	m.http = &http.Server{ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*m.mux.Load()).ServeHTTP(w, r) })}
	go func() {
		if err := m.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String(), "token", cfg.Metrics.Token != "")
	return nil
}

// handler returns the endpoints of the metrics listener for a token.
func (m *monitor) handler(token string) (http.Handler, error) {
	h, err := perf.NewHTTPHandler(m.reg, perf.HTTPOptions{Token: token, Logger: m.log.With("component", "metrics")})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("/admin/backup", adminBackup(token, m.store, m.log))
	mux.Handle("/debug/pprof/", adminOnly(token, http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/profile", adminOnly(token, http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/trace", adminOnly(token, http.HandlerFunc(pprof.Trace)))
	return mux, nil
}

// reloadAlerts replaces the alert rules; rules defined as before keep
// their state. cfg was checked with CheckAlerts.
func (m *monitor) reloadAlerts(cfg perf.AlertConfig) {
	prev := m.alerter.Load()
	opts := m.alertOpts
	opts.Previous = prev
	a, err := perf.NewAlerter(m.reg, withBuiltinAlerts(cfg), opts)
	if err != nil {
		m.alertOpts.Logger.Error("alert rules not reloaded", "err", err)
		return
	}
	m.alerter.Store(a)
	if prev != nil {
		prev.Close()
	}
}

func (m *monitor) stop(ctx context.Context) {
	if m == nil {
		return
	}
	if m.http != nil {
		_ = m.http.Shutdown(ctx)
	}
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	if a := m.alerter.Load(); a != nil {
		a.Close()
	}
}

// kvStats exposes the store's writer and health numbers.
func kvStats(store *kv.Store) []perf.Stat {
	st, err := store.Stats()
	if err != nil {
		return nil
	}
	healthy := 1.0
	if store.Healthy() != nil {
		healthy = 0
	}
	return []perf.Stat{
		{Name: "commits_total", Help: "Transactions committed.", Counter: true, Value: float64(st.Commits)},
		{Name: "conflicts_total", Help: "Transactions refused by a precondition.", Counter: true, Value: float64(st.Conflicts)},
		{Name: "failures_total", Help: "Transactions failed for another reason.", Counter: true, Value: float64(st.Failures)},
		{Name: "busy_total", Help: "Commits refused because the writer queue was full.", Counter: true, Value: float64(st.Busy)},
		{Name: "groups_total", Help: "Group commits.", Counter: true, Value: float64(st.Groups)},
		{Name: "batch_bytes_total", Help: "Bytes committed.", Counter: true, Value: float64(st.BatchBytes)},
		{Name: "queue_length", Help: "Transactions waiting for the writer.", Value: float64(st.QueueLen)},
		{Name: "disk_available_bytes", Help: "Free bytes in the data directory at the last check.", Value: float64(st.DiskAvailable)},
		{Name: "healthy", Help: "1 while the store accepts writes.", Value: healthy},
	}
}
