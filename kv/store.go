package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Store is the laird key-value store: a Pebble database, the key schema on
// top of it and the one writer goroutine that commits to it.
//
// All methods are safe for concurrent use. Reads run on the caller's
// goroutine and may do disk I/O (event loops must not call them; shards
// may). Writes go through Commit or CommitWait.
type Store struct {
	opts Options
	log  *slog.Logger
	dir  string
	db   *pebble.DB // the main instance
	hdb  *pebble.DB // the history instance: db itself unless Options.SeparateHistory
	fs   vfs.FS     // for free-space checks

	// commitMu is held by the writer while it commits a group to the
	// instances, and by Checkpoint, which must not copy one instance
	// between the two commits of a group.
	commitMu sync.Mutex

	queue      chan *Txn
	writerDone chan struct{}

	// inflight counts calls in progress; Close waits for it to drain after
	// setting closed, so no call ever touches a closed Pebble.
	inflight atomic.Int64
	closed   atomic.Bool

	failure atomic.Pointer[error] // first fatal write failure; writes refused after it
	corrupt atomic.Pointer[error] // first corruption Pebble reported
	seq     atomic.Uint64         // sequence of audit and history keys

	stats  writerStats
	events eventStats

	bg sync.WaitGroup // background work started by Open (resumeRenames)
}

// Open opens (creating if needed) the store in opts.Dir and starts its
// writer. A data directory whose schema version is newer than SchemaVersion
// is refused with a *SchemaError (errors.Is ErrSchemaTooNew). A directory
// that cannot be opened for writing yields an error wrapping ErrUnavailable
// and the cause (for example syscall.EROFS); Options.ReadOnly may still
// open it.
func Open(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	s := &Store{
		opts: opts,
		log:  opts.Logger.With("component", "kv"),
		dir:  opts.Dir,
		fs:   opts.fs,
	}
	if s.fs == nil {
		s.fs = vfs.Default
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("%w: create data directory: %w", ErrUnavailable, err)
		}
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref() // each Pebble holds its own reference
	mainFiles, _ := opts.openFiles()
	db, err := s.openPebble(s.dir, s.pebbleOptions(cache, mainFiles))
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, fmt.Errorf("kv: open %s: %w", opts.Dir, err)
		}
		return nil, fmt.Errorf("%w: open %s: %w", ErrUnavailable, opts.Dir, err)
	}
	s.db, s.hdb = db, db
	found, err := s.checkSchema()
	if err == nil {
		err = s.openHistory(cache)
	}
	if err == nil {
		err = s.upgrade(found)
	}
	if err != nil {
		_ = s.closeDB()
		return nil, err
	}
	// Audit and history keys are (time, seq): seq only has to be unique
	// among entries with the same nanosecond, so a clock-derived start is
	// enough across restarts.
	s.seq.Store(uint64(time.Now().UnixNano()))
	s.queue = make(chan *Txn, opts.QueueSize)
	s.writerDone = make(chan struct{})
	go s.runWriter()
	s.resumeRenames()
	return s, nil
}

func (s *Store) openPebble(dir string, popts *pebble.Options) (db *pebble.DB, err error) {
	defer s.recoverFatal(&err)
	return pebble.Open(dir, popts)
}

// pebbleOptions are the options of the main instance; the history
// instance starts from them too.
func (s *Store) pebbleOptions(cache *pebble.Cache, maxOpenFiles int) *pebble.Options {
	popts := &pebble.Options{
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{s: s, log: s.opts.Logger.With("component", "pebble")},
		EventListener:      s.eventListener(),
		ReadOnly:           s.opts.ReadOnly,
		MaxOpenFiles:       maxOpenFiles,
		FS:                 s.opts.fs, // nil: Pebble's default, with disk-health checks
		Cache:              cache,
	}
	// Preconditions and nick checks mostly look up keys that are absent:
	// bloom filters answer those without reading data blocks. Levels below
	// L0 inherit the policy.
	popts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	if s.opts.ReadOnly {
		popts.FS = readOnlyFS{s.fs}
	}
	return popts
}

// checkSchema reads the schema version, writing it into a new, empty store,
// and refuses a newer one; it returns the version found. It runs before
// the writer starts, so writing directly does not break the one-writer
// rule.
func (s *Store) checkSchema() (found uint32, err error) {
	defer s.recoverFatal(&err)
	v, closer, err := s.db.Get(schemaKey)
	if errors.Is(err, pebble.ErrNotFound) {
		empty, err := s.isEmpty()
		if err != nil {
			return 0, fmt.Errorf("%w: read %s: %w", ErrUnavailable, s.dir, err)
		}
		if !empty {
			return 0, fmt.Errorf("kv: %s holds data but no schema version: not a laird store", s.dir)
		}
		if s.opts.ReadOnly {
			return SchemaVersion, nil
		}
		val := binary.BigEndian.AppendUint32(nil, SchemaVersion)
		if err := s.db.Set(schemaKey, val, pebble.Sync); err != nil {
			return 0, fmt.Errorf("%w: write schema version: %w", ErrUnavailable, err)
		}
		s.log.Info("created store", "dir", s.dir, "schema", SchemaVersion)
		return SchemaVersion, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: read schema version: %w", ErrUnavailable, err)
	}
	defer closer.Close()
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: schema version is %d bytes", ErrCorrupt, len(v))
	}
	found = binary.BigEndian.Uint32(v)
	switch {
	case found > SchemaVersion:
		return 0, &SchemaError{Found: found, Supported: SchemaVersion}
	case found < 1:
		return 0, fmt.Errorf("%w: schema version %d", ErrCorrupt, found)
	}
	return found, nil
}

// upgrade runs the migrations from schema version found, once both
// instances are open and history is where the options say.
func (s *Store) upgrade(found uint32) error {
	if found < SchemaVersion {
		if s.opts.ReadOnly {
			s.log.Warn("store has an older key schema and is opened read-only: not migrated", "dir", s.dir, "schema", found)
			return nil
		}
		if err := s.migrate(found); err != nil {
			return err
		}
	}
	s.log.Info("opened store", "dir", s.dir, "schema", SchemaVersion, "read_only", s.opts.ReadOnly,
		"separate_history", s.hdb != s.db)
	return nil
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, errors.Join(it.Error(), it.Close())
}

// Close stops the writer after it has committed everything queued, syncs,
// and closes Pebble. Calls made after Close starts return ErrClosed; Close
// waits for reads in progress. A second Close returns ErrClosed.
//
// After a fatal storage error Close gives Pebble CloseTimeout and then
// abandons it: the directory then stays locked for this process, and only a
// restart can open it again.
//
// Close must not be called from a done function or a scan callback.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	for s.inflight.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	s.bg.Wait() // it stops at its next call, refused with ErrClosed
	close(s.queue)
	<-s.writerDone
	return s.closeDB()
}

// closeDB closes Pebble. After a fatal error Pebble's background goroutines
// may be gone for good and its Close may never return, so then it gets
// CloseTimeout and is abandoned; the process is expected to restart.
func (s *Store) closeDB() error {
	if s.failure.Load() == nil {
		return s.closePebble()
	}
	res := make(chan error, 1)
	go func() { res <- s.closePebble() }()
	select {
	case err := <-res:
		return err
	case <-time.After(s.opts.CloseTimeout):
		return fmt.Errorf("%w: pebble did not close within %v after a fatal error", ErrUnavailable, s.opts.CloseTimeout)
	}
}

func (s *Store) closePebble() error {
	var errs []error
	if s.hdb != s.db && s.hdb != nil {
		errs = append(errs, closeOne(s.hdb))
	}
	return errors.Join(append(errs, closeOne(s.db))...)
}

func closeOne(db *pebble.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: closing pebble: %v", ErrUnavailable, r)
		}
	}()
	if err := db.Close(); err != nil {
		return fmt.Errorf("kv: close: %w", err)
	}
	return nil
}

// dbFor returns the instance that holds a key's family.
func (s *Store) dbFor(key []byte) *pebble.DB {
	if len(key) > 0 && histFamily(key[0]) {
		return s.hdb
	}
	return s.db
}

// enter registers a call in progress; it fails once Close has begun.
func (s *Store) enter() error {
	s.inflight.Add(1)
	if s.closed.Load() {
		s.inflight.Add(-1)
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.inflight.Add(-1) }

// fail records a fatal write failure (the first one wins) and returns the
// error to hand to callers.
func (s *Store) fail(cause error) error {
	err := fmt.Errorf("%w: %w", ErrUnavailable, cause)
	if s.failure.CompareAndSwap(nil, &err) {
		s.log.Error("storage failed; refusing writes until the store is reopened", "err", cause)
		return err
	}
	return *s.failure.Load()
}

// writable reports why the store cannot take writes, if it cannot.
func (s *Store) writable() error {
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	if f := s.failure.Load(); f != nil {
		return *f
	}
	return nil
}

// checkDisk refuses writes when free space is below the reserve. A failure
// to read the free space does not refuse writes: Pebble will report real
// write errors itself.
func (s *Store) checkDisk() error {
	if s.opts.DiskReserve < 0 {
		return nil
	}
	u, err := s.fs.GetDiskUsage(s.dir)
	if err != nil {
		return nil
	}
	s.events.diskAvail.Store(u.AvailBytes)
	if u.AvailBytes < uint64(s.opts.DiskReserve) {
		return fmt.Errorf("%w: %d bytes free in %s, reserve is %d", ErrDiskFull, u.AvailBytes, s.dir, s.opts.DiskReserve)
	}
	return nil
}

// Healthy returns nil if the store can take writes, else why not:
// ErrClosed, ErrReadOnly, the fatal failure (ErrUnavailable wrapping the
// cause), ErrDiskFull, or ErrCorrupt if Pebble has reported corruption.
func (s *Store) Healthy() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.writable(); err != nil {
		return err
	}
	if err := s.checkDisk(); err != nil {
		return err
	}
	if c := s.corrupt.Load(); c != nil {
		return *c
	}
	return nil
}

// Options returns the options the store runs with, defaults filled in
// (chat advertises some of the limits, e.g. in capability values).
func (s *Store) Options() Options { return s.opts }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) nextSeq() uint64 { return s.seq.Add(1) }

// readOnlyFS lets Options.ReadOnly open a store on a read-only file system:
// Pebble's lock file is opened for writing, which such a file system
// refuses. Nothing can write there, so there is nothing to lock out.
type readOnlyFS struct{ vfs.FS }

func (f readOnlyFS) Lock(name string) (io.Closer, error) {
	c, err := f.FS.Lock(name)
	if errors.Is(err, syscall.EROFS) {
		return io.NopCloser(nil), nil
	}
	return c, err
}

func (f readOnlyFS) Unwrap() vfs.FS { return f.FS }
