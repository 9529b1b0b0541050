//go:build linux

package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of the given size on a fresh directory and
// unmounts it when the test ends. It skips the test where mounting is not
// allowed (not root, no CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func remount(t *testing.T, dir string, readOnly bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, ""); err != nil {
		t.Fatalf("remount %s (read-only %v): %v", dir, readOnly, err)
	}
}

// fill writes a file of zeros until at most leave bytes remain free (or the
// file system is full, if leave is 0), and returns its path.
func fill(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		free := st.Bavail * uint64(st.Bsize)
		if free <= leave {
			return path
		}
		n := min(uint64(len(chunk)), free-leave)
		if _, err := f.Write(chunk[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

func TestDiskReserveRefusesWrites(t *testing.T) {
	mnt := mountTmpfs(t, 48<<20)
	dir := filepath.Join(mnt, "data")
	s := openTest(t, Options{Dir: dir, DiskReserve: 8 << 20})
	mustCommit(t, s, register(s, "alice", 1))
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy = %v", err)
	}

	filler := fill(t, mnt, 4<<20)
	err := s.CommitWait(register(s, "bob", 2))
	if !errors.Is(err, ErrDiskFull) || !Temporary(err) {
		t.Fatalf("commit below reserve = %v, want ErrDiskFull", err)
	}
	if err := s.Healthy(); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Healthy = %v", err)
	}
	// Deleting is what frees space: still allowed.
	txn := s.NewTxn()
	txn.DeleteNick("alice")
	mustCommit(t, s, txn)
	if _, err := s.Account("alice"); err != nil {
		t.Fatalf("read below reserve: %v", err)
	}
	// Back above the reserve, writes resume: the refusal was not a failure.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, register(s, "bob", 2))
	if err := s.Healthy(); err != nil {
		t.Fatalf("Healthy after freeing space = %v", err)
	}
}

// With the reserve disabled, a truly full file system makes Pebble's WAL
// write fail: the store must turn that into an error, keep the process up,
// and lose nothing acknowledged.
func TestFullDiskWithoutReserve(t *testing.T) {
	mnt := mountTmpfs(t, 32<<20)
	dir := filepath.Join(mnt, "data")
	s, err := Open(Options{Dir: dir, DiskReserve: -1, Logger: testLogger(t), CloseTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for ; acked < 20; acked++ {
		mustCommit(t, s, register(s, fmt.Sprint("user", acked), acked))
	}
	filler := fill(t, mnt, 0)

	big := make([]byte, 256<<10)
	var failure error
	for i := 0; i < 200 && failure == nil; i++ {
		txn := register(s, fmt.Sprint("user", acked), acked)
		txn.PutMeta(fmt.Sprint("big", acked), big)
		if err := s.CommitWait(txn); err != nil {
			failure = err
			break
		}
		acked++
	}
	if !errors.Is(failure, ErrUnavailable) || !errors.Is(failure, syscall.ENOSPC) {
		t.Fatalf("writing to a full disk: %v (after %d acknowledged), want ErrUnavailable wrapping ENOSPC", failure, acked)
	}
	if err := s.Healthy(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Healthy = %v", err)
	}
	if _, err := s.Account("user0"); err != nil {
		t.Fatalf("read after failure: %v", err)
	}
	t.Logf("Close: %v", s.Close())

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, Options{Dir: dir})
	for i := range acked {
		if _, err := r.Account(fmt.Sprint("user", i)); err != nil {
			t.Fatalf("acknowledged user%d lost: %v", i, err)
		}
	}
	_, accErr := r.Account(fmt.Sprint("user", acked))
	_, metaErr := r.Meta(fmt.Sprint("big", acked))
	if (accErr == nil) != (metaErr == nil) {
		t.Fatalf("failed txn half present: %v / %v", accErr, metaErr)
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	mnt := mountTmpfs(t, 32<<20)
	dir := filepath.Join(mnt, "data")
	s, err := Open(Options{Dir: dir, Logger: testLogger(t), DiskReserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, register(s, "alice", 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	remount(t, mnt, true)
	t.Cleanup(func() { remount(t, mnt, false) })

	_, err = Open(Options{Dir: dir, Logger: testLogger(t)})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Open on a read-only file system = %v, want ErrUnavailable wrapping EROFS", err)
	}
	ro, err := Open(Options{Dir: dir, Logger: testLogger(t), ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open: %v", err)
	}
	if _, err := ro.Account("alice"); err != nil {
		t.Fatalf("read-only read: %v", err)
	}
	if err := ro.CommitWait(register(ro, "bob", 2)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only commit = %v", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatalf("read-only Close: %v", err)
	}

	remount(t, mnt, false)
	s = openTest(t, Options{Dir: dir})
	if _, err := s.Account("alice"); err != nil {
		t.Fatalf("data after read-only period: %v", err)
	}
	mustCommit(t, s, register(s, "bob", 2))
}
