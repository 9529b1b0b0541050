//go:build !linux

package main

import (
	"bufio"
	"errors"
	"io"
	"os"
)

// Elsewhere laird does not drive the terminal: passwd reads standard input
// as it would a pipe.
func isTerminal(*os.File) bool { return false }

func readHidden(*os.File, *bufio.Reader, io.Writer, string) (string, error) {
	return "", errors.New("no terminal support on this system")
}
