package kv

import (
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
)

// Checkpoint writes a consistent copy of the store into dir, which must not
// exist yet, while the store keeps serving (Pebble hard-links immutable
// files where it can and copies the rest). The copy holds at least every
// transaction acknowledged before the call. Restoring is opening a store on
// that directory (Options.Dir), e.g. after moving it into place.
//
// Checkpoint syncs the WAL first, so lazily committed history is included.
// With SeparateHistory the history instance goes to dir/history, where
// Open finds it.
// It is refused after a fatal storage failure, when Pebble's state can no
// longer be trusted.
func (s *Store) Checkpoint(dir string) (err error) {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if f := s.failure.Load(); f != nil {
		return *f
	}
	defer s.recoverFatal(&err)
	// No group may be between its main and history commits while the
	// instances are copied one after the other.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("kv: checkpoint to %s: %w", dir, err)
	}
	if s.hdb != s.db {
		hdir := filepath.Join(dir, historyDirName)
		if err := s.hdb.Checkpoint(hdir, pebble.WithFlushedWAL()); err != nil {
			return fmt.Errorf("kv: checkpoint history to %s: %w", hdir, err)
		}
	}
	return nil
}
