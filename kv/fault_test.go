package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// faultFS wraps a file system and, once armed, fails what it is told to:
// every write (file data, creations, renames...) or only syncs.
type faultFS struct {
	vfs.FS
	writeErr atomic.Pointer[error]
	syncErr  atomic.Pointer[error]
	only     string // if set, only files whose name contains it fail
}

func (f *faultFS) failWrites(err error) { f.writeErr.Store(&err) }
func (f *faultFS) failSyncs(err error)  { f.syncErr.Store(&err) }

func (f *faultFS) writeFault() error {
	if p := f.writeErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *faultFS) syncFault() error {
	if p := f.syncErr.Load(); p != nil {
		return *p
	}
	return f.writeFault()
}

func (f *faultFS) wrap(name string, file vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	if f.only != "" && !strings.Contains(name, f.only) {
		return file, nil
	}
	return &faultFile{File: file, fs: f}, nil
}

// nameFault is writeFault for operations on a named file.
func (f *faultFS) nameFault(name string) error {
	if f.only != "" && !strings.Contains(name, f.only) {
		return nil
	}
	return f.writeFault()
}

func (f *faultFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := f.nameFault(name); err != nil {
		return nil, err
	}
	file, err := f.FS.Create(name, c)
	return f.wrap(name, file, err)
}

func (f *faultFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, o ...vfs.OpenOption) (vfs.File, error) {
	if err := f.nameFault(name); err != nil {
		return nil, err
	}
	file, err := f.FS.OpenReadWrite(name, c, o...)
	return f.wrap(name, file, err)
}

func (f *faultFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err := f.nameFault(newname); err != nil {
		return nil, err
	}
	file, err := f.FS.ReuseForWrite(oldname, newname, c)
	return f.wrap(newname, file, err)
}

func (f *faultFS) Link(o, n string) error {
	if err := f.nameFault(n); err != nil {
		return err
	}
	return f.FS.Link(o, n)
}

func (f *faultFS) Remove(name string) error {
	if err := f.nameFault(name); err != nil {
		return err
	}
	return f.FS.Remove(name)
}

func (f *faultFS) Rename(o, n string) error {
	if err := f.nameFault(n); err != nil {
		return err
	}
	return f.FS.Rename(o, n)
}

type faultFile struct {
	vfs.File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.writeFault(); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.writeFault(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Preallocate(off, n int64) error {
	if err := f.fs.writeFault(); err != nil {
		return err
	}
	return f.File.Preallocate(off, n)
}

func (f *faultFile) Sync() error {
	if err := f.fs.syncFault(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	if err := f.fs.syncFault(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f *faultFile) SyncTo(n int64) (bool, error) {
	if err := f.fs.syncFault(); err != nil {
		return false, err
	}
	return f.File.SyncTo(n)
}

// TestWALFailureIsAnErrorNotACrash arms the fault file system under a
// running store: the commit in flight fails with ErrUnavailable wrapping the
// cause, later writes are refused at once, reads go on, and after reopening
// every acknowledged transaction is there and the failed one is all there
// or not at all.
func TestWALFailureIsAnErrorNotACrash(t *testing.T) {
	for _, mode := range []string{"write", "sync"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			ffs := &faultFS{FS: vfs.Default}
			s, err := Open(Options{Dir: dir, fs: ffs, Logger: testLogger(t), DiskReserve: -1, CloseTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				mustCommit(t, s, register(s, fmt.Sprint("user", i), i))
			}
			if mode == "write" {
				ffs.failWrites(syscall.EROFS)
			} else {
				ffs.failSyncs(syscall.EIO)
			}
			err = s.CommitWait(register(s, "victim", 99))
			if !errors.Is(err, ErrUnavailable) || !Temporary(err) {
				t.Fatalf("commit on a failing disk = %v, want ErrUnavailable", err)
			}
			want := map[string]syscall.Errno{"write": syscall.EROFS, "sync": syscall.EIO}[mode]
			if !errors.Is(err, want) {
				t.Errorf("error %q does not wrap %v", err, want)
			}
			if err := s.Healthy(); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Healthy = %v", err)
			}
			start := time.Now()
			if err := s.Commit(register(s, "later", 100), func(error) { t.Error("done called") }); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("later Commit = %v", err)
			}
			if time.Since(start) > time.Second {
				t.Fatal("refusal was slow")
			}
			if err := s.Checkpoint(t.TempDir() + "/ck"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Checkpoint after failure = %v", err)
			}
			if a, err := s.Account("user3"); err != nil || a.Name != "user3" {
				t.Fatalf("read after failure: %+v, %v", a, err)
			}
			if st, err := s.Stats(); err != nil || st.Failures < 1 {
				t.Fatalf("stats: %+v, %v", st, err)
			}
			closeErr := make(chan error, 1)
			go func() { closeErr <- s.Close() }()
			select {
			case err := <-closeErr:
				t.Logf("Close after failure: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("Close hung")
			}

			r := openTest(t, Options{Dir: dir})
			for i := range 10 {
				if _, err := r.Account(fmt.Sprint("user", i)); err != nil {
					t.Fatalf("acknowledged user%d lost: %v", i, err)
				}
			}
			_, accErr := r.Account("victim")
			_, nickErr := r.NickOwner("victim")
			if (accErr == nil) != (nickErr == nil) {
				t.Fatalf("failed txn half present: account %v, nick %v", accErr, nickErr)
			}
			if mode == "write" && accErr == nil {
				t.Fatal("txn whose WAL write failed is present")
			}
			mustCommit(t, r, register(r, "after", 200))
		})
	}
}

// TestBackgroundFatalKeepsProcessUp makes the MANIFEST unwritable, so that
// the first memtable flush fails fatally on a Pebble background goroutine:
// the process must stay up, the store must report the failure and refuse
// writes, and everything acknowledged must survive a reopen.
func TestBackgroundFatalKeepsProcessUp(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{FS: vfs.Default, only: "MANIFEST"}
	s, err := Open(Options{Dir: dir, fs: ffs, Logger: testLogger(t), DiskReserve: -1, CloseTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ffs.failWrites(syscall.EIO)
	// Fill memtables until Pebble flushes in the background and fails.
	big := make([]byte, 256<<10)
	acked := 0
	deadline := time.Now().Add(20 * time.Second)
	for s.Healthy() == nil && time.Now().Before(deadline) {
		txn := s.NewTxn()
		txn.PutMeta(fmt.Sprint("big", acked), big)
		if err := s.CommitWait(txn); err != nil {
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("commit: %v", err)
			}
			break
		}
		acked++
	}
	if err := s.Healthy(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Healthy after a failed MANIFEST write = %v (%d commits)", err, acked)
	}
	if err := s.Commit(s.NewTxn(), func(error) {}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Commit after background failure = %v", err)
	}
	if _, err := s.Meta("big0"); err != nil {
		t.Fatalf("read after background failure: %v", err)
	}
	t.Logf("%d commits before the failure; Close: %v", acked, s.Close())

	// The abandoned Pebble still holds the directory's lock in this process,
	// so reopen a copy: what a restarted process would find.
	restart := filepath.Join(t.TempDir(), "restart")
	if err := os.CopyFS(restart, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, Options{Dir: restart})
	for i := range acked {
		if _, err := r.Meta(fmt.Sprint("big", i)); err != nil {
			t.Fatalf("acknowledged big%d lost: %v", i, err)
		}
	}
}
