package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder names the process holding the lock on the data directory's
// LOCK file (Pebble's), from /proc/locks; 0 when it cannot tell.
func lockHolder(dir string) int {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "LOCK"), &st); err != nil {
		return 0
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (or POSIX); the
	// device is major:minor in hex.
	want := fmt.Sprintf(":%d", st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasSuffix(fields[5], want) {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil {
			return pid
		}
	}
	return 0
}
