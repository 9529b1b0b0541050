//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The data directory's file system fills up under a running server, with
// the reserve check off so that Pebble itself meets ENOSPC (a tmpfs; needs
// root). The real binary runs it: a store that failed this way is only
// recovered by a restart of the process.
func TestDataDirFillsUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if testing.Short() {
		t.Skip("builds the real binary")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m,mode=0755"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	bin := buildBinary(t)
	conf := filepath.Join(t.TempDir(), "laird.toml")
	err := os.WriteFile(conf, []byte(`
[store]
disk_reserve_mb = -1
[accounts]
bcrypt_cost = 4
[limits]
max_list = 4000
[log]
level = "warn"
[guard.flood]
exempt = ["127.0.0.0/8"]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(mnt, "data")

	bs := startBinary(t, bin, conf, data)
	ts := &testServer{t: t, addr: bs.addr}
	setupStored(ts)
	f := ts.registerAccount("filler", "sesame44")
	f.send("JOIN #big")
	f.expect(` 366 filler #big `)
	f.send("CS REGISTER #big")
	f.expect(`#big is now registered`)
	filler := fillUp(t, mnt)

	// Pebble's WAL has room preallocated: grow #big's ban list (each
	// change rewrites the whole record) until a write fails. Changes
	// acknowledged meanwhile must survive.
	acked := 0
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("1000 changes on a full file system all succeeded")
		}
		var masks []string
		for j := 0; j < 4; j++ {
			masks = append(masks, fmt.Sprintf("*!*@%s%04d-%d.example", strings.Repeat("x", 80), i, j))
		}
		f.send("MODE #big +bbbb %s", strings.Join(masks, " "))
		m := f.expect(`MODE #big \+bbbb|FAIL MODE (\S+)`)
		if m[1] != "" {
			if m[1] != "TEMPORARILY_UNAVAILABLE" {
				t.Fatalf("full disk: %s", m[0])
			}
			break
		}
		acked += 4
	}
	found := func(re string) {
		rx := regexp.MustCompile(re)
		deadline := time.Now().Add(expectTimeout)
		for time.Now().Before(deadline) {
			if rx.MatchString(bs.output()) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no log line matching /%s/:\n%s", re, bs.output())
	}
	checkRefusesWrites(t, ts, found, `no space left on device`)
	bs.kill()

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	bs = startBinary(t, bin, conf, data)
	ts = &testServer{t: t, addr: bs.addr}
	checkIntact(t, ts)
	c := ts.connect("checker")
	c.send("JOIN #big")
	c.expect(` 366 checker #big `)
	c.send("MODE #big b")
	c.expect(` 368 checker #big `)
	n := 0
	for _, l := range c.log {
		if strings.Contains(l, " 367 checker #big ") {
			n++
		}
	}
	if n < acked || n > acked+4 {
		t.Fatalf("%d bans on #big after restart, %d acknowledged", n, acked)
	}
	t.Logf("%d ban list entries acknowledged on the full file system, all present after restart", acked)
}

// fillUp writes a file until the file system is full and returns its path.
func fillUp(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// A data directory on a read-only file system: the server starts anyway,
// serves what is stored, and refuses changes clearly (needs root).
func TestDataDirReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m,mode=0755"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	remount := func(readOnly bool) {
		t.Helper()
		flags := uintptr(syscall.MS_REMOUNT)
		if readOnly {
			flags |= syscall.MS_RDONLY
		}
		if err := syscall.Mount("tmpfs", mnt, "tmpfs", flags, ""); err != nil {
			t.Fatalf("remount read-only=%v: %v", readOnly, err)
		}
	}
	dir := filepath.Join(mnt, "data")
	ts, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	setupStored(ts)
	ts.stop()

	remount(true)
	ro, logs := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	logs.find(t, `ERROR data directory is on a read-only file system`)
	checkRefusesWrites(t, ro, func(re string) { logs.find(t, re) }, `opened read-only`)
	ro.stop()
	remount(false)

	again, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	checkIntact(t, again)
}
