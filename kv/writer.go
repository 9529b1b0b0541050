package kv

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Commit hands t to the writer and returns at once; it never blocks. If it
// returns an error (ErrBusy when the queue is full, ErrClosed, ErrReadOnly,
// ErrUnavailable after a storage failure, or t's building error), done is
// never called and t may be retried. Otherwise done is called exactly once
// with the outcome: nil once t is durable (or applied, for lazy history),
// a *ConditionError if a precondition failed, or a storage error; in every
// case but nil nothing of t was written.
//
// done runs on the writer goroutine, which commits for everyone: it must
// return quickly and must not block (post the result to the caller's own
// queue or loop), and must not call CommitWait or Close. It may call Commit.
func (s *Store) Commit(t *Txn, done func(error)) error {
	switch {
	case t == nil || done == nil:
		return fmt.Errorf("%w: nil transaction or done function", ErrInvalid)
	case t.s != s:
		return fmt.Errorf("%w: transaction of another store", ErrInvalid)
	case t.used:
		return fmt.Errorf("%w: transaction already committed", ErrInvalid)
	case t.err != nil:
		return t.err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.writable(); err != nil {
		return err
	}
	t.used, t.done = true, done
	select {
	case s.queue <- t:
		return nil
	default:
		t.used, t.done = false, nil
		s.stats.busy.Add(1)
		return ErrBusy
	}
}

// CommitWait commits t and waits until it is durable or has failed. It
// returns ErrBusy at once if the queue is full. For goroutines that may
// block (shards waiting is not one of them: use Commit and resume on done).
func (s *Store) CommitWait(t *Txn) error {
	res := make(chan error, 1)
	if err := s.Commit(t, func(err error) { res <- err }); err != nil {
		return err
	}
	return <-res
}

// runWriter is the writer goroutine: it takes whatever is queued, commits it
// as one group, tells every caller, and repeats until Close closes the
// queue, after which it has drained it.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	w := groupWriter{s: s, group: make([]*Txn, 0, s.opts.MaxGroup)}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	var carry *Txn // received but did not fit the previous group
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case t, ok := <-s.queue:
				if !ok {
					w.syncLazy()
					return
				}
				first = t
			case <-timer.C:
				armed = false
				w.syncLazy()
				continue
			}
		}
		w.group = append(w.group[:0], first)
		size := len(first.buf)
	drain:
		for len(w.group) < s.opts.MaxGroup && size < s.opts.MaxGroupBytes {
			select {
			case t, ok := <-s.queue:
				if !ok {
					break drain
				}
				if size+len(t.buf) > s.opts.MaxGroupBytes {
					carry = t
					break drain
				}
				w.group = append(w.group, t)
				size += len(t.buf)
			default:
				break drain
			}
		}
		w.commit()
		clear(w.group)
		if w.unsynced && !armed {
			timer.Reset(s.opts.LazySyncInterval)
			armed = true
		}
	}
}

// groupWriter is the writer goroutine's state.
type groupWriter struct {
	s        *Store
	group    []*Txn
	unsynced bool // a NoSync (lazy history) commit has not been synced yet
}

// commit commits w.group as one batch and delivers every outcome.
func (w *groupWriter) commit() {
	err := w.build()
	for _, t := range w.group {
		if t.result == nil {
			t.result = err
		}
	}
	w.s.stats.recordGroup(len(w.group))
	for _, t := range w.group {
		w.s.stats.recordResult(t.result)
		done := t.done
		t.done = nil
		done(t.result)
	}
}

// build checks each transaction's preconditions and applies it to one
// indexed batch, then commits the batch. Transactions that fail on their own
// get their result set here; the returned error is the outcome of all the
// others (if build stops early, the ones not reached yet included).
func (w *groupWriter) build() (err error) {
	s := w.s
	if err := s.writable(); err != nil {
		for _, t := range w.group {
			t.result = err
		}
		return nil
	}
	defer s.recoverWriter(&err)
	diskErr := s.checkDisk()
	b := s.db.NewIndexedBatch()
	defer b.Close()
	vw := &views{main: b, hist: b}
	sync := false
	for _, t := range w.group {
		if diskErr != nil && t.puts > 0 {
			t.result = diskErr
			continue
		}
		if err := checkConds(vw, t); err != nil {
			if !decision(err) {
				err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			t.result = err
			continue
		}
		if err := applyOps(vw, t); err != nil {
			// The batch now holds part of t: nothing of this group may be
			// committed.
			return fmt.Errorf("%w: applying transaction: %w", ErrUnavailable, err)
		}
		sync = sync || t.durable
	}
	if b.Empty() {
		return nil
	}
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	size := len(b.Repr())
	t0 := time.Now()
	if err := b.Commit(opts); err != nil {
		return s.fail(fmt.Errorf("commit: %w", err))
	}
	d := time.Since(t0)
	s.stats.recordCommit(size, sync, d)
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(d)
	}
	// A synced commit also syncs every lazy one before it in the WAL.
	w.unsynced = !sync
	return nil
}

// syncLazy syncs the WAL if lazily committed history is not yet synced.
func (w *groupWriter) syncLazy() {
	if !w.unsynced || w.s.writable() != nil {
		return
	}
	w.unsynced = false
	if err := w.syncWAL(); err != nil {
		w.s.log.Error("syncing lazily committed history failed", "err", err)
		return
	}
	w.s.stats.lazySyncs.Add(1)
}

func (w *groupWriter) syncWAL() (err error) {
	defer w.s.recoverWriter(&err)
	if err := w.s.db.LogData(nil, pebble.Sync); err != nil {
		return w.s.fail(fmt.Errorf("sync WAL: %w", err))
	}
	return nil
}
