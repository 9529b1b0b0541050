// Package perf measures laird: per-owner HDR latency histograms recorded
// without locks, counters and gauges, Prometheus exposure, a live status
// page, threshold alerts and reports. It imports no other laird package.
//
// # Ownership
//
// A Registry holds definitions, recorders and the reporter's state.
//
//   - A Recorder belongs to exactly one goroutine (its owner): an event loop,
//     a chat shard, the kv writer. Only the owner calls Record, RecordSince,
//     Add, Inc, SetGauge, AddBusy, Prepare and Flip. They take no lock, do no
//     atomic read-modify-write and do not allocate (Record allocates a
//     series' histogram at its first use in each half of the double buffer;
//     Prepare does that up front).
//   - The reporter is the single goroutine running Registry.Run (or calling
//     Collect). It never touches a buffer the owner writes: it offers an
//     empty buffer, the owner's next Flip swaps it in and publishes the
//     full one (two atomic pointers; see Recorder). Flip costs one atomic
//     load when nothing was offered: call it after every batch and from a
//     timer, at least once per interval. Data reaches the reporter at the
//     first collection after the owner's Flip, so it lags by up to one
//     interval; an owner that stops flipping shows as IdleIntervals > 1.
//   - Latency series (Latency, Command) and recorder counters/gauges
//     (RecorderCounter, RecorderGauge) size every recorder's arrays: register
//     them all before the first NewRecorder, after which they return
//     ErrFrozen. Process-wide counters, gauges, funcs and stats callbacks may
//     be registered at any time; their methods are safe from any goroutine.
//     Resolve labelled children (CounterVec.With) once and keep the pointer.
//   - Callbacks (NewGaugeFunc, NewCounterFunc, NewStatsFunc) run on the
//     reporter and scrape goroutines with the registry locked: they must be
//     safe there and must not call back into the Registry.
//   - A Snapshot is immutable once published; Registry.Snapshot is safe from
//     any goroutine. Alerter.Evaluate runs on the reporter; AlertOptions.OnChange
//     is called there too and must not block.
//
// # Data flow
//
// Each Collect drains the published buffers into one interval (sparse
// hdr.PackedHistogram per series), merges it into cumulative histograms that
// are never reset (what /metrics exports as Prometheus histograms, with
// DefaultBuckets from 5 us to 10 s) and keeps the last Options.Window
// intervals for the live quantiles, rates and busy fractions of the Snapshot.
// Values are microseconds from 1 us to 60 s at 3 significant digits. Every
// Options.HistoryStep a collection also leaves a point of the headline
// figures in a bounded ring (history.go), which the status page charts.
//
// # Costs (2-core AMD EPYC, go test -bench)
//
// Record 6.7 ns, Record plus two counter adds 8.1 ns, idle Flip 1.7 ns, all
// 0 allocs; the reporter spends ~23 us per (recorder, active series) per
// interval. Memory: each recorder holds two dense histograms (~136 KiB each
// at 3 digits, ~20 KiB at 2) per series it records; the reporter's sparse
// histograms are a few KiB per series.
//
// # Wiring (for cmd/laird)
//
//	reg := perf.NewRegistry(perf.Options{Interval: time.Second})
//	for _, c := range commandNames { ids[c], _ = reg.Command(c) }   // before recorders
//	loopRec := reg.NewRecorder(perf.KindLoop, "loop0")               // one per loop
//	shardRec := reg.NewRecorder(perf.KindShard, "shard3")            // one per shard
//	kvRec := reg.NewRecorder(perf.KindKV, "kv")                      // kv writer, via a hook
//	reg.NewStatsFunc("laird_kv", kvStats)                            // Pebble metrics
//	reg.NewGaugeFunc("laird_shard3_inbox", "...", func() float64 { return float64(len(inbox)) })
//	alerts, err := perf.NewAlerter(reg, cfg.Alerts, perf.AlertOptions{OnChange: notifyOpers})
//	go reg.Run(ctx)
//	h, err := perf.NewHTTPHandler(reg, perf.HTTPOptions{Token: cfg.MetricsToken})
//	go http.Serve(listener127_0_0_1_9100, h)
//
//	// on the loop, per command:      loopRec.Record(ids["PRIVMSG"], time.Since(parsedAt))
//	// on the shard, per drained cmd: shardRec.Record(perf.ShardWait, now.Sub(enqueuedAt))
//	// at the end of every batch:     rec.AddBusy(work); rec.SetGauge(perf.QueueDepth, n); rec.Flip()
//	// STATS L:                       for _, l := range perf.LatencyLines(reg.Snapshot(), 20) { reply(249, l) }
//	// laird report:                  s, _ := perf.FetchStatus(ctx, nil, url, token); perf.BuildReport(s, 10).WriteText(os.Stdout)
package perf
