package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The tests that run the real binary share one build.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func theBinary() (string, error) {
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "laird-bin")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "laird")
		if out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	return binary.path, binary.err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}
