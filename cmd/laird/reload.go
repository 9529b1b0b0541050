package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"laird/chat"
	"laird/perf"
)

// Reloading the configuration file on a running server: SIGHUP and the
// operator command REHASH both call instance.reload.
//
// A reload reads and validates the whole file first; a file that fails is
// refused with the error and nothing changes. Then it compares the file
// with the running configuration option by option (configdiff.go): the
// options in reloadableKeys are applied, the others keep their running
// values and are named as needing a restart, in the log and the 382 reply.
// Applying happens in two phases, so that it is all or nothing: every step
// first prepares (validates, builds new objects beside the running ones),
// then, only if all succeeded, every step makes its part live.

// reloadStep is one part of the server a reload reconfigures. prepare must
// not change the running server; the apply it returns must not fail.
type reloadStep struct {
	name    string
	prepare func(in *instance, cur, next *Config) (apply func(), restart []string, err error)
}

// reloadSteps, in order of application.
var reloadSteps = []reloadStep{
	{"tls certificates", prepareCertificates},
	{"log", prepareLog},
	{"chat and guard", prepareChat},
	{"alerts", prepareAlerts},
	{"metrics token", prepareMetricsToken},
}

// reloadReport is what a reload did.
type reloadReport struct {
	chat.RehashResult
	Applied []string // changed options now in effect
}

// errNoConfigFile: there is nothing to reload.
var errNoConfigFile = errors.New("the server was started without a configuration file (-config)")

// reload applies the configuration file to the running server; by says
// who asked, for the log. Reloads run one at a time.
func (in *instance) reload(by string) (reloadReport, error) {
	in.reloadMu.Lock()
	defer in.reloadMu.Unlock()
	cur := in.config()
	rep := reloadReport{RehashResult: chat.RehashResult{File: cur.path}}
	if cur.path == "" {
		in.log.Warn("configuration reload: nothing to reload", "by", by, "err", errNoConfigFile)
		return rep, errNoConfigFile
	}
	next, file, err := in.readForReload(cur)
	var applies []func()
	for _, step := range reloadSteps {
		if err != nil {
			break
		}
		var apply func()
		var restart []string
		apply, restart, err = step.prepare(in, cur, &next)
		if err != nil {
			err = fmt.Errorf("%s: %w", step.name, err)
		}
		applies = append(applies, apply)
		rep.Restart = append(rep.Restart, restart...)
	}
	if err != nil {
		in.log.Error("configuration reload refused; the running configuration is unchanged",
			"file", cur.path, "by", by, "err", err)
		return rep, err
	}
	for _, apply := range applies {
		apply()
	}
	in.conf.Store(&next)
	rep.Applied = changedOptions(cur, &next)
	// What the file says and the server does not do yet: changed now or by
	// an earlier reload, until a restart.
	rep.Restart = append(rep.Restart, changedOptions(&next, &file)...)
	slices.Sort(rep.Restart)
	rep.Restart = slices.Compact(rep.Restart)
	in.log.Info("configuration reloaded", "file", cur.path, "by", by,
		"applied", rep.Applied, "restart_needed", rep.Restart)
	return rep, nil
}

// readForReload loads the file, applies the command-line flags again and
// validates the result as a start would (file). next is file with the
// running value put back in every option that needs a restart.
func (in *instance) readForReload(cur *Config) (next, file Config, err error) {
	file, err = loadConfig(cur.path)
	if err != nil {
		return next, file, err
	}
	file.flags = cur.flags
	if file.flags != nil {
		file.flags(&file)
	}
	if err := validateConfig(&file, in.perfRegistry()); err != nil {
		return next, file, fmt.Errorf("config %s: %w", cur.path, err)
	}
	next = file
	for _, k := range changedOptions(cur, &file) {
		if !reloadable(k) {
			keepOption(&next, cur, k)
		}
	}
	return next, file, nil
}

func (in *instance) perfRegistry() *perf.Registry {
	if in.mon == nil {
		return nil
	}
	return in.mon.reg
}

func prepareLog(in *instance, cur, next *Config) (func(), []string, error) {
	if _, _, err := parseLog(next.Log); err != nil {
		return nil, nil, err
	}
	return func() {
		if in.logs != nil {
			_ = in.logs.set(next.Log) // validated above
		}
	}, nil, nil
}

// prepareChat builds the guard for next (keeping bans, counts and
// detector state) and hands chat its new live settings.
func prepareChat(in *instance, cur, next *Config) (func(), []string, error) {
	g, kept, err := in.guard.Reconfigure(next.guardConfig())
	if err != nil {
		return nil, nil, err
	}
	var restart []string
	for _, k := range kept {
		restart = append(restart, "guard."+k)
	}
	cc := next.chatConfig(version)
	live := chat.Reloadable{MOTD: cc.MOTD, Opers: cc.Opers, Password: cc.Password, Accounts: cc.Accounts,
		InviteTTL: cc.InviteTTL, STS: cc.STS, Guard: g}
	return func() {
		in.guard = g
		in.irc.Reload(live)
	}, restart, nil
}

func prepareAlerts(in *instance, cur, next *Config) (func(), []string, error) {
	if in.mon == nil || reflect.DeepEqual(cur.Alerts, next.Alerts) {
		return func() {}, nil, nil
	}
	if err := in.mon.reg.CheckAlerts(next.Alerts); err != nil {
		return nil, nil, err
	}
	return func() { in.mon.reloadAlerts(next.Alerts) }, nil, nil
}

func prepareMetricsToken(in *instance, cur, next *Config) (func(), []string, error) {
	if in.mon == nil || in.mon.http == nil || cur.Metrics.Token == next.Metrics.Token {
		return func() {}, nil, nil
	}
	h, err := in.mon.handler(next.Metrics.Token)
	if err != nil {
		return nil, nil, err
	}
	return func() { in.mon.mux.Store(&h) }, nil, nil
}

// prepareCertificates reads the running TLS listeners' certificate and key
// files again (renewed certificates keep their paths): a file that fails
// to load refuses the reload; applied, new handshakes use them and
// connections keep theirs. A changed [[listen]] list itself needs a
// restart (configdiff names it).
func prepareCertificates(in *instance, _, _ *Config) (func(), []string, error) {
	apply, err := in.net.PrepareCertificates()
	return apply, nil, err
}
