package kv

import (
	"github.com/cockroachdb/pebble/v2"
	"math/bits"
	"sync/atomic"
	"time"
)

// GroupSizeBuckets is the number of buckets of Stats.GroupSizes.
const GroupSizeBuckets = 12

// Stats is a snapshot of the store's counters for monitoring. Counters are
// totals since Open.
type Stats struct {
	// The writer.
	Commits      uint64 // transactions acknowledged with nil
	Conflicts    uint64 // transactions refused by a precondition
	Failures     uint64 // transactions failed for any other reason
	Busy         uint64 // Commit calls refused with ErrBusy
	Groups       uint64 // groups processed (one Pebble batch each, if not empty)
	Batches      uint64 // Pebble batches committed (one per instance written)
	SyncedGroups uint64 // groups committed with Sync (to either instance)
	LazySyncs    uint64 // WAL syncs made for lazily committed history
	BatchBytes   uint64 // bytes of the committed batches
	CommitTime   time.Duration
	MaxGroup     uint64 // largest group seen
	// GroupSizes[i] counts groups of 2^(i-1) < size <= 2^i transactions
	// (GroupSizes[0]: size 1; the last bucket takes everything larger).
	GroupSizes [GroupSizeBuckets]uint64
	QueueLen   int
	QueueCap   int

	// Health.
	DiskAvailable    uint64 // free bytes at the last check
	BackgroundErrors uint64
	WriteStalls      uint64
	DiskSlow         uint64

	// Pebble: sums over the instances (ReadAmp: the larger).
	DiskSpaceUsed    uint64 // all files of the store
	WALBytesWritten  uint64
	WALSize          uint64
	MemTableSize     uint64
	Flushes          int64
	Compactions      int64
	CompactionDebt   uint64
	L0Files          int64
	ReadAmp          int
	BlockCacheHits   int64
	BlockCacheMisses int64
}

// writerStats are written by the writer goroutine (busy: by Commit) and
// read by Stats.
type writerStats struct {
	commits, conflicts, failures, busy atomic.Uint64
	groups, batches, syncs, lazySyncs  atomic.Uint64
	bytes, commitNanos, maxGroup       atomic.Uint64
	sizes                              [GroupSizeBuckets]atomic.Uint64
}

func (w *writerStats) recordGroup(n int) {
	w.groups.Add(1)
	if uint64(n) > w.maxGroup.Load() {
		w.maxGroup.Store(uint64(n))
	}
	i := 0
	if n > 1 {
		i = bits.Len(uint(n - 1))
	}
	w.sizes[min(i, GroupSizeBuckets-1)].Add(1)
}

// recordCommit counts one Pebble batch committed (two per group when
// history has its own instance and the group wrote to both).
func (w *writerStats) recordCommit(size int, d time.Duration) {
	w.batches.Add(1)
	w.bytes.Add(uint64(size))
	w.commitNanos.Add(uint64(d))
}

func (w *writerStats) recordResult(err error) {
	switch {
	case err == nil:
		w.commits.Add(1)
	case decision(err):
		w.conflicts.Add(1)
	default:
		w.failures.Add(1)
	}
}

// Stats returns the current counters. It takes Pebble's metrics, which
// costs a lock and an allocation: call it at scrape time, not per request.
func (s *Store) Stats() (st Stats, err error) {
	w := &s.stats
	st = Stats{
		Commits:          w.commits.Load(),
		Conflicts:        w.conflicts.Load(),
		Failures:         w.failures.Load(),
		Busy:             w.busy.Load(),
		Groups:           w.groups.Load(),
		Batches:          w.batches.Load(),
		SyncedGroups:     w.syncs.Load(),
		LazySyncs:        w.lazySyncs.Load(),
		BatchBytes:       w.bytes.Load(),
		CommitTime:       time.Duration(w.commitNanos.Load()),
		MaxGroup:         w.maxGroup.Load(),
		DiskAvailable:    s.events.diskAvail.Load(),
		BackgroundErrors: s.events.backgroundErrors.Load(),
		WriteStalls:      s.events.writeStalls.Load(),
		DiskSlow:         s.events.diskSlow.Load(),
	}
	for i := range st.GroupSizes {
		st.GroupSizes[i] = w.sizes[i].Load()
	}
	if err := s.enter(); err != nil {
		return st, err
	}
	defer s.leave()
	defer s.recoverFatal(&err)
	st.QueueLen, st.QueueCap = len(s.queue), cap(s.queue)
	// The instances share one block cache: its figures are counted once.
	for i, db := range []*pebble.DB{s.db, s.hdb} {
		if i == 1 && db == s.db {
			break
		}
		m := db.Metrics()
		st.DiskSpaceUsed += m.DiskSpaceUsage()
		st.WALBytesWritten += m.WAL.BytesWritten
		st.WALSize += m.WAL.Size
		st.MemTableSize += m.MemTable.Size
		st.Flushes += m.Flush.Count
		st.Compactions += m.Compact.Count
		st.CompactionDebt += m.Compact.EstimatedDebt
		st.L0Files += m.Levels[0].TablesCount
		st.ReadAmp = max(st.ReadAmp, m.ReadAmp())
		if i == 0 {
			st.BlockCacheHits = m.BlockCache.Hits
			st.BlockCacheMisses = m.BlockCache.Misses
		}
	}
	return st, nil
}
