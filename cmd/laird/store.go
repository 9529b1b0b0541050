package main

import (
	"errors"
	"log/slog"
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
	if err == nil || !errors.Is(err, syscall.EROFS) || opts.ReadOnly {
		return st, err
	}
	log.Error("data directory is on a read-only file system: serving what is stored, refusing changes",
		"dir", opts.Dir, "err", err)
	opts.ReadOnly = true
	return kv.Open(opts)
}
