package kv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// With Options.SeparateHistory the history families (see histFamily) live
// in a Pebble instance of their own, in Dir/history, with its own memtable
// size, compression and compaction concurrency, so that flushing and
// compacting history (the bulk of the writes) does not hold up the rest,
// and its settings can be tuned alone. Callers see no difference: every key
// goes to the instance of its family, reads and writes alike.
//
// A transaction that writes to both instances is still all or nothing
// across a crash. The writer commits a group to the main instance first,
// and when some transaction of the group touches both, that commit also
// stores the group's whole history batch under the intent key P; then it
// commits the history batch. The next group deletes P in its main commit,
// which is synced before any later history commit. So a crash leaves at
// most the last group's intent, and Open applies it again to the history
// instance (which either has it already or has nothing of it; applying the
// same batch twice gives the same state) before anything else is written.
// If the history commit fails after the main one (a storage failure), the
// transactions that wrote history hear ErrUnavailable, and those of them
// that wrote to both instances are completed by the next Open from the
// intent: as with any failing disk, their outcome is known after the
// restart. A group holding such a transaction writes its history batch
// twice (once in the intent); groups of history alone, the common case,
// do not.
//
// Switching SeparateHistory on or off moves the history families to where
// the option says, at Open, in bounded batches: each copies a chunk of keys
// (synced), then deletes them from where they were (synced). Copying again
// after a crash writes the same values, so a move interrupted by a crash is
// simply finished by the next Open.

// historyDirName is the history instance's directory inside Options.Dir.
const historyDirName = "history"

// intentKey holds the history batch of the last group that wrote to both
// instances, until the next group's main commit deletes it.
var intentKey = []byte{tagIntent}

// moveChunkBytes bounds one batch of a move between instances. (A
// variable for tests.)
var moveChunkBytes = 4 << 20

// openFiles splits Options.MaxOpenFiles between the two instances.
func (o Options) openFiles() (main, hist int) {
	if !o.SeparateHistory || o.MaxOpenFiles <= 0 {
		return o.MaxOpenFiles, o.MaxOpenFiles
	}
	return o.MaxOpenFiles - o.MaxOpenFiles/2, o.MaxOpenFiles / 2
}

// historyOptions are the history instance's Pebble options.
func (s *Store) historyOptions(cache *pebble.Cache) *pebble.Options {
	_, files := s.opts.openFiles()
	popts := s.pebbleOptions(cache, files)
	popts.Levels[0].FilterPolicy = bloom.FilterPolicy(10) // msgid lookups
	if s.opts.HistoryMemTableSize > 0 {
		popts.MemTableSize = uint64(s.opts.HistoryMemTableSize)
	}
	if n := s.opts.HistoryCompactionConcurrency; n > 0 {
		popts.CompactionConcurrencyRange = func() (int, int) { return 1, n }
	}
	if c := s.opts.HistoryCompression.settings(); c != nil {
		popts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return *c })
	}
	return popts
}

// openHistory opens the history instance if the options or the data
// directory call for one, replays a pending intent, and moves history to
// where Options.SeparateHistory says. It runs in Open, before the writer
// starts.
func (s *Store) openHistory(cache *pebble.Cache) (err error) {
	dir := filepath.Join(s.dir, historyDirName)
	_, statErr := s.fs.Stat(dir)
	exists := statErr == nil
	if !exists && !errors.Is(statErr, os.ErrNotExist) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, dir, statErr)
	}
	if s.opts.ReadOnly {
		// No moves: read history where it is.
		if exists {
			if s.hdb, err = s.openPebble(dir, s.historyOptions(cache)); err != nil {
				return fmt.Errorf("%w: open %s: %w", ErrUnavailable, dir, err)
			}
		}
		return nil
	}
	if !exists && !s.opts.SeparateHistory {
		return s.dropIntent()
	}
	hdb, err := s.openPebble(dir, s.historyOptions(cache))
	if err != nil {
		return fmt.Errorf("%w: open %s: %w", ErrUnavailable, dir, err)
	}
	s.hdb = hdb
	if err := s.replayIntent(); err != nil {
		return err
	}
	if s.opts.SeparateHistory {
		return s.moveHistory(s.db, s.hdb, "main instance", "history instance")
	}
	if err := s.moveHistory(s.hdb, s.db, "history instance", "main instance"); err != nil {
		return err
	}
	s.hdb = s.db
	if err := closeOne(hdb); err != nil {
		return err
	}
	if err := s.fs.RemoveAll(dir); err != nil {
		return fmt.Errorf("%w: remove %s: %w", ErrUnavailable, dir, err)
	}
	s.log.Info("history moved back into the main instance", "removed", dir)
	return nil
}

// replayIntent applies the history batch of a group that a crash may have
// cut between its two commits, then deletes it.
func (s *Store) replayIntent() (err error) {
	defer s.recoverFatal(&err)
	v, closer, err := s.db.Get(intentKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: read intent: %w", ErrUnavailable, err)
	}
	repr := bytes.Clone(v)
	_ = closer.Close()
	b := s.hdb.NewBatch()
	defer b.Close()
	if err := b.SetRepr(repr); err != nil {
		return fmt.Errorf("%w: intent: %w", ErrCorrupt, err)
	}
	if err := s.hdb.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("%w: apply intent: %w", ErrUnavailable, err)
	}
	if err := s.db.Delete(intentKey, pebble.Sync); err != nil {
		return fmt.Errorf("%w: delete intent: %w", ErrUnavailable, err)
	}
	s.log.Info("completed a group cut short by a crash between the main and the history commit", "history_ops", b.Count())
	return nil
}

// dropIntent deletes an intent found without a history instance to apply
// it to (the directory was removed by hand): there is nothing to do with it.
func (s *Store) dropIntent() (err error) {
	defer s.recoverFatal(&err)
	if _, closer, err := s.db.Get(intentKey); err == nil {
		_ = closer.Close()
		s.log.Error("history instance missing; dropping its pending intent", "dir", filepath.Join(s.dir, historyDirName))
		return s.db.Delete(intentKey, pebble.Sync)
	}
	return nil
}

// histTags are the families that live in the history instance.
var histTags = func() []byte {
	var tags []byte
	for c := 0; c < 256; c++ {
		if histFamily(byte(c)) {
			tags = append(tags, byte(c))
		}
	}
	return tags
}()

// moveHistory moves every history family from one instance to the other in
// bounded batches.
func (s *Store) moveHistory(from, to *pebble.DB, fromName, toName string) (err error) {
	defer s.recoverFatal(&err)
	keys, chunks := 0, 0
	for _, tag := range histTags {
		for {
			n, err := moveChunk(from, to, tag)
			if err != nil {
				return fmt.Errorf("%w: move history from the %s: %w", ErrUnavailable, fromName, err)
			}
			if n == 0 {
				break
			}
			keys += n
			chunks++
		}
	}
	if keys > 0 {
		s.log.Info("moved history between instances", "from", fromName, "to", toName, "keys", keys, "batches", chunks)
	}
	return nil
}

// moveChunk copies up to moveChunkBytes of one family's keys (synced),
// then deletes them at the source (synced), and returns how many.
func moveChunk(from, to *pebble.DB, tag byte) (int, error) {
	it, err := from.NewIter(&pebble.IterOptions{LowerBound: []byte{tag}, UpperBound: []byte{tag + 1}})
	if err != nil {
		return 0, err
	}
	b := to.NewBatch()
	defer b.Close()
	var first, last []byte
	n := 0
	for ok := it.First(); ok && len(b.Repr()) < moveChunkBytes; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, errors.Join(err, it.Close())
		}
		if err := b.Set(it.Key(), v, nil); err != nil {
			return 0, errors.Join(err, it.Close())
		}
		if first == nil {
			first = bytes.Clone(it.Key())
		}
		last = bytes.Clone(it.Key())
		n++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil || n == 0 {
		return 0, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, err
	}
	return n, from.DeleteRange(first, append(last, 0), pebble.Sync)
}
