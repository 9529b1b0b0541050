package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// passwdCommand is `laird passwd`: it prints the bcrypt hash of a password
// for the password_hash of an [[oper]] block. On a terminal it prompts
// twice with echo off; otherwise it reads one line of standard input, so
// scripts can pipe a password in. The password itself is never printed.
func passwdCommand(args []string, std stdio) error {
	if err := noArgs("passwd", args, std); err != nil {
		return err
	}
	var pw string
	if f, ok := std.in.(*os.File); ok && isTerminal(f) {
		r := bufio.NewReader(f)
		first, err := readHidden(f, r, std.err, "Password: ")
		if err != nil {
			return fmt.Errorf("passwd: %w", err)
		}
		again, err := readHidden(f, r, std.err, "Repeat the password: ")
		if err != nil {
			return fmt.Errorf("passwd: %w", err)
		}
		if first != again {
			return errors.New("passwd: the passwords differ")
		}
		pw = first
	} else {
		line, err := bufio.NewReader(std.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("passwd: read: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	return printHash(pw, std.out)
}

func printHash(pw string, out io.Writer) error {
	if pw == "" {
		return errors.New("passwd: empty password (type it at the prompt, or write it on standard input)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	_, err = fmt.Fprintln(out, string(hash))
	return err
}
