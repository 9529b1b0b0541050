package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// readHidden prints prompt and reads one line from the terminal f (through
// r) with echo off. The terminal's settings are restored afterwards, also
// when the user interrupts.
func readHidden(f *os.File, r *bufio.Reader, prompt io.Writer, text string) (string, error) {
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ECHONL | unix.ICANON // the Enter key still moves to the next line
	// TCSETSF also discards what was typed before the prompt: typeahead
	// must not become the password.
	if err := unix.IoctlSetTermios(fd, unix.TCSETSF, &quiet); err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	restore := func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, saved) }
	defer restore()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sig:
			restore()
			fmt.Fprintln(prompt)
			os.Exit(130)
		case <-done:
		}
	}()
	fmt.Fprint(prompt, text)
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
