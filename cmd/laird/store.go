package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"laird/kv"
)

// openStore opens the data directory. One on a read-only file system is
// opened read-only rather than refused: the server then serves what is
// stored (accounts log in, registered channels come back) and answers
// every change with a clear TEMPORARILY_UNAVAILABLE, and the operator
// finds the reason in the log.
func openStore(opts kv.Options, log *slog.Logger) (*kv.Store, error) {
	st, err := kv.Open(opts)
	if errors.Is(err, syscall.EAGAIN) || (err != nil && strings.Contains(err.Error(), "lock held by current process")) {
		// Pebble's lock on the directory is held: another server (or a
		// backup restore) uses it. (Pebble says so itself when the holder
		// is this very process.)
		pid := lockHolder(opts.Dir)
		if pid == 0 && !errors.Is(err, syscall.EAGAIN) {
			pid = os.Getpid()
		}
		if pid > 0 {
			return nil, fmt.Errorf("data directory %s is in use by process %d (another laird?): %w", opts.Dir, pid, err)
		}
		return nil, fmt.Errorf("data directory %s is in use by another process: %w", opts.Dir, err)
	}
	if err == nil || !errors.Is(err, syscall.EROFS) || opts.ReadOnly {
		return st, err
	}
	log.Error("data directory is on a read-only file system: serving what is stored, refusing changes",
		"dir", opts.Dir, "err", err)
	opts.ReadOnly = true
	return kv.Open(opts)
}
