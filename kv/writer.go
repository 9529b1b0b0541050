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
	s     *Store
	group []*Txn

	// unsynced: a NoSync (lazy history) commit to the history instance
	// has not been synced yet, since unsyncedSince.
	unsynced      bool
	unsyncedSince time.Time

	// intentPending: the last group left an intent (see histdb.go) that
	// the next main commit must delete, synced, before the next history
	// commit.
	intentPending bool
}

// Which instances a transaction wrote to.
const (
	touchMain = 1 << iota
	touchHist
)

// commit commits w.group and delivers every outcome.
func (w *groupWriter) commit() {
	errAll, errHist := w.build()
	for _, t := range w.group {
		switch {
		case t.result != nil:
		case errAll != nil:
			t.result = errAll
		case t.touch&touchHist != 0 && errHist != nil:
			t.result = errHist
		}
	}
	w.s.stats.recordGroup(len(w.group))
	for _, t := range w.group {
		w.s.stats.recordResult(t.result)
		done := t.done
		t.done = nil
		done(t.result)
	}
	if w.unsynced && time.Since(w.unsyncedSince) >= w.s.opts.LazySyncInterval {
		// Busy with lazy groups: the timer may not get a turn, and the
		// loss window must stay within one interval.
		w.syncLazy()
	}
}

// build checks each transaction's preconditions and applies it to the
// group's views, then commits them: the main instance first, then the
// history instance (one batch each; one in all without SeparateHistory).
// Transactions that fail on their own get their result set here. errAll is
// the outcome of all the others (if build stops early, the ones not reached
// yet included); errHist, of those that wrote history, when only the
// history commit failed.
func (w *groupWriter) build() (errAll, errHist error) {
	s := w.s
	if err := s.writable(); err != nil {
		for _, t := range w.group {
			t.result = err
		}
		return nil, nil
	}
	defer s.recoverWriter(&errAll)
	diskErr := s.checkDisk()
	b := s.db.NewIndexedBatch()
	defer b.Close()
	vw := &views{main: b, hist: b}
	split := s.hdb != s.db
	if split {
		vw.hist = s.hdb.NewIndexedBatch()
		defer vw.hist.Close()
	}
	syncMain, syncHist, cross := false, false, false
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
		m0, h0 := b.Count(), vw.hist.Count()
		if err := applyOps(vw, t); err != nil {
			// The batch now holds part of t: nothing of this group may be
			// committed.
			return fmt.Errorf("%w: applying transaction: %w", ErrUnavailable, err), nil
		}
		if !split {
			if b.Count() != m0 {
				t.touch = touchMain | touchHist
			}
			syncMain = syncMain || t.durable
			continue
		}
		if b.Count() != m0 {
			t.touch |= touchMain
			syncMain = true // everything but lazy history is durable
		}
		if vw.hist.Count() != h0 {
			t.touch |= touchHist
			syncHist = syncHist || t.durable
		}
		cross = cross || t.touch == touchMain|touchHist
	}
	if split {
		if w.intentPending {
			if err := b.Delete(intentKey, nil); err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err), nil
			}
			syncMain = true
		}
		if cross {
			if err := b.Set(intentKey, vw.hist.Repr(), nil); err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err), nil
			}
		}
	}
	t0 := time.Now()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := w.commitBatch(b, syncMain, !split); err != nil {
		return err, nil
	}
	if split {
		w.intentPending = cross
		if err := w.commitBatch(vw.hist, syncHist, true); err != nil {
			return nil, err
		}
	}
	if (syncMain && !b.Empty()) || (split && syncHist && !vw.hist.Empty()) {
		s.stats.syncs.Add(1)
	}
	if s.opts.OnCommit != nil && !(b.Empty() && vw.hist.Empty()) {
		s.opts.OnCommit(time.Since(t0))
	}
	return nil, nil
}

// commitBatch commits one instance's batch of the group and keeps track of
// what lazy history is not synced yet; histWAL says whether the batch goes
// to the WAL that history is in.
func (w *groupWriter) commitBatch(b *pebble.Batch, sync, histWAL bool) error {
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
		return w.s.fail(fmt.Errorf("commit: %w", err))
	}
	w.s.stats.recordCommit(size, time.Since(t0))
	// A synced commit also syncs every lazy one before it in its WAL.
	switch {
	case !histWAL:
	case sync:
		w.unsynced = false
	case !w.unsynced:
		w.unsynced, w.unsyncedSince = true, time.Now()
	}
	return nil
}

// syncLazy syncs the history WAL if lazily committed history is not yet
// synced.
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
	if err := w.s.hdb.LogData(nil, pebble.Sync); err != nil {
		return w.s.fail(fmt.Errorf("sync WAL: %w", err))
	}
	return nil
}
