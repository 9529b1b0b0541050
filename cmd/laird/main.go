// Command laird runs the laird IRC server.
//
//	laird [-config FILE] [-listen ADDR] [-data DIR] [-metrics ADDR|off] [-version]
//
//	laird passwd < password.txt    print a bcrypt hash for an [[oper]] block
//	laird report [-config FILE]    slowest commands and hottest shard of a running server
//	laird backup [-config FILE] DIR  online backup of a running server's store
//
// Flags override the configuration file; see laird.example.toml.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
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
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "laird:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "passwd":
			return passwd(os.Stdin, os.Stdout)
		case "report":
			return report(args[1:], os.Stdout)
		case "backup":
			return backup(args[1:], os.Stdout)
		}
	}
	fs := flag.NewFlagSet("laird", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file (TOML); see laird.example.toml")
	listen := fs.String("listen", "", "IRC listen address (default 127.0.0.1:6667)")
	dataDir := fs.String("data", "", "data directory (default ./data)")
	metrics := fs.String("metrics", "", "metrics HTTP address, or off (default 127.0.0.1:9100)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *dataDir != "" {
		cfg.Server.DataDir = *dataDir
	}
	if *metrics != "" {
		cfg.Metrics.Listen = *metrics
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	return serve(cfg, log)
}

func newLogger(cfg LogConfig) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", cfg.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.Format) {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", cfg.Format)
}

// instance is a running server: event loops, chat shards and (later) the
// store and metrics listener, wired together.
type instance struct {
	cfg      Config
	log      *slog.Logger
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
			if now.Sub(in.lastRetention) >= time.Hour {
				in.lastRetention = now
				in.retention(now)
			}
		}
	}
}

// start brings a server up and returns once it accepts connections.
func start(cfg Config, log *slog.Logger) (*instance, error) {
	mon, err := newMonitor(cfg, log)
	if err != nil {
		return nil, err
	}
	var perfReg *perf.Registry
	if mon != nil {
		perfReg = mon.reg
	}
	store, err := openStore(kv.Options{
		Dir:         cfg.Server.DataDir,
		Logger:      log,
		DiskReserve: cfg.Store.DiskReserveMB << 20,
		LazyHistory: cfg.Store.LazyHistory,
		OnCommit:    mon.kvHook(),
	}, log)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	net := loop.New(loop.Config{
		Listen:              cfg.Server.Listen,
		Loops:               cfg.Server.Loops,
		SendQ:               cfg.Limits.SendQ,
		RecvQ:               cfg.Limits.RecvQ,
		RegistrationTimeout: cfg.Limits.RegistrationTimeout.Duration,
		PingInterval:        cfg.Limits.PingInterval.Duration,
		PingTimeout:         cfg.Limits.PingTimeout.Duration,
		Perf:                perfReg,
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
	if path := cfg.path; path != "" {
		irc.SetRehash(func() (*chat.Reloadable, error) {
			fresh, err := loadConfig(path)
			if err != nil {
				return nil, err
			}
			return &chat.Reloadable{MOTD: fresh.Server.MOTD, Opers: fresh.Opers, Password: fresh.Server.Password}, nil
		})
	}
	irc.Start()
	if err := mon.start(cfg, log, irc, store); err != nil {
		irc.Stop()
		store.Close()
		return nil, err
	}
	in := &instance{cfg: cfg, log: log, net: net, irc: irc, store: store, mon: mon, serveErr: make(chan error, 1), quit: make(chan struct{})}
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
	log.Info("listening", "irc", cfg.Server.Listen, "data", cfg.Server.DataDir, "version", version)
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

func serve(cfg Config, log *slog.Logger) error {
	in, err := start(cfg, log)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case err := <-in.serveErr:
		in.irc.Stop()
		in.store.Close()
		if err != nil {
			return err
		}
		return errors.New("event loops stopped unexpectedly")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.stop(ctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// retention drops history and audit entries older than configured.
func (in *instance) retention(now time.Time) {
	if d := in.cfg.Store.HistoryRetention.Duration; d > 0 {
		if n, err := in.store.PruneHistory(now.Add(-d)); err != nil {
			in.log.Warn("history retention", "err", err)
		} else if n > 0 {
			in.log.Info("history retention", "deleted", n)
		}
	}
	if d := in.cfg.Store.AuditRetention.Duration; d > 0 {
		if n, err := in.store.PruneAudit(now.Add(-d)); err != nil {
			in.log.Warn("audit retention", "err", err)
		} else if n > 0 {
			in.log.Info("audit retention", "deleted", n)
		}
	}
}
