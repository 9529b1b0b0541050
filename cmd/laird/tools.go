package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"laird/perf"
)

// toolFlags are the options `laird report` and `laird backup` share: where
// the running server's metrics listener is and its token, from the config
// file unless given.
func toolFlags(name string, args []string, std stdio, synopsis string) (cfg Config, fs *flag.FlagSet, err error) {
	fs = flag.NewFlagSet("laird "+name, flag.ContinueOnError)
	configPath := fs.String("config", "", "the server's configuration file")
	metrics := fs.String("metrics", "", "the server's metrics address (default from the config, 127.0.0.1:9100)")
	token := fs.String("token", "", "bearer token (default from the config)")
	if err := parseFlags(fs, args, std, synopsis); err != nil {
		return cfg, fs, err
	}
	if cfg, err = loadConfig(*configPath); err != nil {
		return cfg, fs, err
	}
	if *metrics != "" {
		cfg.Metrics.Listen = *metrics
	}
	if *token != "" {
		cfg.Metrics.Token = *token
	}
	if cfg.Metrics.Listen == "" || cfg.Metrics.Listen == "off" {
		return cfg, fs, errors.New("the metrics listener is off; give -metrics ADDR")
	}
	return cfg, fs, nil
}

// report prints where a running server spends its time: the slowest
// commands by p99 and the hottest shard.
func report(args []string, std stdio) error {
	cfg, fs, err := toolFlags("report", args, std, "laird report [-config FILE] [-metrics ADDR] [-token T]")
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("report: unexpected argument %q", fs.Arg(0))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := perf.FetchStatus(ctx, nil, "http://"+cfg.Metrics.Listen+"/debug/status.json", cfg.Metrics.Token)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return perf.BuildReport(snap, 10).WriteText(std.out)
}

// backup asks a running server for an online checkpoint of its store into
// DIR (restore: start laird with -data DIR). DIR must not exist or be
// empty: a backup is a whole store, never merged into another.
func backup(args []string, std stdio) error {
	cfg, fs, err := toolFlags("backup", args, std, "laird backup [-config FILE] [-metrics ADDR] [-token T] DIR")
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"backup: give one directory to write the backup into"}
	}
	dir, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	// The server checks too; checking here first spares a round trip and
	// names the problem without an HTTP status around it.
	if err := backupTarget(dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+cfg.Metrics.Listen+"/admin/backup?dir="+url.QueryEscape(dir), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Metrics.Token)
	client := &http.Client{Timeout: 10 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("backup: server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = fmt.Fprintf(std.out, "backup written to %s (restore: laird -data %s)\n", dir, dir)
	return err
}

// errBackupExists: the backup directory already holds something.
var errBackupExists = errors.New("exists and is not empty; a backup goes into a new or empty directory")

// backupTarget checks that dir can receive a backup: it does not exist
// (the checkpoint creates it) or is an empty directory, which it removes
// for the checkpoint to create again.
func backupTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%s %w", dir, errBackupExists)
	}
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}
