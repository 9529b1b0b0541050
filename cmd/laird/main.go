// Command laird runs the laird IRC server, and a few tools for operating
// it; `laird -h` lists them (cli.go).
//
// Flags override the configuration file; see laird.example.toml.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"laird/chat"
	"laird/guard"
	"laird/kv"
	"laird/loop"
	"laird/perf"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "laird-0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// instance is a running server: event loops, chat shards and (later) the
// store and metrics listener, wired together.
type instance struct {
	conf     atomic.Pointer[Config] // the running configuration; reload replaces it
	log      *slog.Logger
	logs     *logSwitch   // nil when the caller made the logger
	guard    *guard.Guard // the live one; only reload (under reloadMu) replaces it
	reloadMu sync.Mutex
	net      *loop.Server
	irc      *chat.Server
	store    *kv.Store
	mon      *monitor
	serveErr chan error

	stopOnce sync.Once
	stopErr  error
	quit     chan struct{} // closed at shutdown: stops housekeeping
	wg       sync.WaitGroup

	lastRetention time.Time
}

// housekeeping expires bans and guard state every half minute, off the
// event loops.
func (in *instance) config() *Config { return in.conf.Load() }

func (in *instance) housekeeping() {
	defer in.wg.Done()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-in.quit:
			return
		case now := <-t.C:
			in.irc.PruneBans(now)
			in.expireInvites(now)
			if now.Sub(in.lastRetention) >= time.Hour {
				in.lastRetention = now
				in.retention(now)
			}
		}
	}
}

// start brings a server up and returns once it accepts connections. A
// logger made by newLogger can be reconfigured by reloads.
func start(cfg Config, log *slog.Logger) (*instance, error) {
	if err := validateConfig(&cfg, nil); err != nil {
		if cfg.path != "" {
			return nil, fmt.Errorf("config %s: %w", cfg.path, err)
		}
		return nil, err
	}
	mon, err := newMonitor(cfg, log)
	if err != nil {
		return nil, err
	}
	var perfReg *perf.Registry
	if mon != nil {
		perfReg = mon.reg
	}
	// The open-files budget: Go's runtime raised the soft limit to the
	// hard one at start; connections get what the reserve leaves.
	listeners, err := cfg.loopListeners()
	if err != nil {
		return nil, err
	}
	fds, err := loop.MeasureFDBudget(cfg.Server.Loops, len(listeners))
	if err != nil {
		return nil, err
	}
	log.Info("open files", "soft_limit", fds.Soft, "hard_limit", fds.Hard, "reserve", fds.Reserve,
		"store_files", fds.StoreFiles, "max_connections", fds.MaxConns)
	store, err := openStore(kv.Options{
		Dir:          cfg.Server.DataDir,
		Logger:       log,
		DiskReserve:  cfg.Store.DiskReserveMB << 20,
		LazyHistory:  cfg.Store.LazyHistory,
		OnCommit:     mon.kvHook(),
		MaxOpenFiles: fds.StoreFiles,

		MaxInvitesPerAccount:  cfg.Channels.MaxInvitesPerAccount,
		MaxInvitesPerChannel:  cfg.Channels.MaxInvitesPerChannel,
		MetadataMaxKeys:       cfg.Metadata.MaxKeys,
		MetadataMaxValueBytes: cfg.Metadata.MaxValueBytes,
		OfflineMaxMessages:    cfg.Store.OfflineMaxMessages,
		OfflineMaxAge:         cfg.Store.OfflineMaxAge.Duration,

		SeparateHistory:     cfg.Store.SeparateHistory,
		HistoryMemTableSize: cfg.Store.HistoryMemTableMB << 20,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	net := loop.New(loop.Config{
		Listeners:           listeners,
		Loops:               cfg.Server.Loops,
		SendQ:               cfg.Limits.SendQ,
		RecvQ:               cfg.Limits.RecvQ,
		RegistrationTimeout: cfg.Limits.RegistrationTimeout.Duration,
		TLSHandshakeTimeout: cfg.Limits.TLSHandshakeTimeout.Duration,
		MaxHandshakes:       cfg.Limits.MaxTLSHandshakes,
		PingInterval:        cfg.Limits.PingInterval.Duration,
		PingTimeout:         cfg.Limits.PingTimeout.Duration,
		Perf:                perfReg,
		FDs:                 fds,
	}, log)
	chatCfg := cfg.chatConfig(version)
	chatCfg.SendQ = net.Config().SendQ // shards enforce the same SendQ on fan-out
	irc, err := chat.New(chatCfg, net, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	irc.SetStore(store)
	g, err := guard.New(cfg.guardConfig())
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("guard: %w", err)
	}
	irc.SetGuard(g)
	if err := irc.LoadBans(time.Now()); err != nil {
		store.Close()
		return nil, err
	}
	if mon != nil {
		irc.SetPerf(mon.reg, mon.cmdIDs)
	}
	net.SetChat(irc)
	in := &instance{log: log, logs: switchOf(log), guard: g, net: net, irc: irc, store: store, mon: mon,
		serveErr: make(chan error, 1), quit: make(chan struct{})}
	in.conf.Store(&cfg)
	if cfg.path != "" {
		irc.SetRehash(func(by string) (chat.RehashResult, error) {
			rep, err := in.reload(by)
			return rep.RehashResult, err
		})
	}
	irc.Start()
	if err := mon.start(cfg, log, irc, store); err != nil {
		irc.Stop()
		store.Close()
		return nil, err
	}
	in.wg.Add(1)
	go in.housekeeping()
	go func() { in.serveErr <- net.Serve() }()
	select {
	case <-net.Started():
	case err := <-in.serveErr:
		irc.Stop()
		store.Close()
		if err == nil {
			err = errors.New("event loops stopped before starting")
		}
		return nil, err
	}
	for _, l := range listeners {
		log.Info("listening", "address", l.Address, "transport", l.Transport())
	}
	log.Info("serving", "data", cfg.Server.DataDir, "version", version)
	return in, nil
}

// stop shuts the server down gracefully: clients get ERROR, output is
// flushed, the shards drain.
func (in *instance) stop(ctx context.Context) error {
	in.stopOnce.Do(func() { in.stopErr = in.shutdown(ctx) })
	return in.stopErr
}

func (in *instance) shutdown(ctx context.Context) error {
	close(in.quit)
	in.wg.Wait()
	err := in.net.Shutdown(ctx)
	select {
	case serr := <-in.serveErr:
		if err == nil {
			err = serr
		}
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	in.irc.Stop()
	in.mon.stop(ctx)
	if cerr := in.store.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("store: %w", cerr)
	}
	return err
}

// serve runs the server until SIGINT or SIGTERM; SIGHUP reloads the
// configuration. It tells a service manager (notify.go) when it is ready,
// reloading and stopping.
func serve(cfg Config, log *slog.Logger) error {
	sig := make(chan os.Signal, 4)
	// Before start: a signal arriving while the store opens waits for us
	// instead of killing the process (SIGHUP's default action).
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	sd := newNotifier()
	setProcs(log)
	in, err := start(cfg, log)
	if err != nil {
		return err
	}
	if err := in.waitForStop(sig, sd); err != nil {
		in.irc.Stop()
		in.store.Close()
		return err
	}
	_ = sd.send("STOPPING=1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.stop(ctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// waitForStop serves signals until SIGINT or SIGTERM (nil) or until the
// event loops stop by themselves (an error).
func (in *instance) waitForStop(sig <-chan os.Signal, sd *notifier) error {
	ready := func() {
		if err := sd.send("READY=1", "STATUS=serving IRC on "+in.listenAddresses()); err != nil {
			in.log.Warn("service manager notification", "err", err)
		}
	}
	ready()
	for {
		select {
		case s := <-sig:
			if s != syscall.SIGHUP {
				in.log.Info("shutting down", "signal", s.String())
				return nil
			}
			_ = sd.send(reloadingMessage()...)
			if _, err := in.reload("SIGHUP"); err != nil {
				_ = sd.send("STATUS=configuration reload refused: " + err.Error())
			}
			ready()
		case err := <-in.serveErr:
			if err == nil {
				err = errors.New("event loops stopped unexpectedly")
			}
			return err
		}
	}
}

// retention drops history and audit entries older than configured.
func (in *instance) retention(now time.Time) {
	cfg := in.config()
	if d := cfg.Store.HistoryRetention.Duration; d > 0 {
		if n, err := in.store.PruneHistory(now.Add(-d)); err != nil {
			in.log.Warn("history retention", "err", err)
		} else if n > 0 {
			in.log.Info("history retention", "deleted", n)
		}
	}
	if n, err := in.store.ExpireOffline(now); err != nil {
		in.log.Warn("offline message expiry", "err", err)
	} else if n > 0 {
		in.log.Info("offline messages no longer unread (store.offline_max_age)", "expired", n)
	}
	if d := cfg.Store.AuditRetention.Duration; d > 0 {
		if n, err := in.store.PruneAudit(now.Add(-d)); err != nil {
			in.log.Warn("audit retention", "err", err)
		} else if n > 0 {
			in.log.Info("audit retention", "deleted", n)
		}
	}
}

// listenAddresses names the listeners, for the service manager's status.
func (in *instance) listenAddresses() string {
	var names []string
	for _, l := range in.config().listeners() {
		names = append(names, l.Address)
	}
	return strings.Join(names, " ")
}
