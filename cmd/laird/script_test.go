package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"laird/codec"
)

// TestScripts runs the protocol scripts in testdata/scripts. Each script is
// a conversation between named clients and a fresh server:
//
//	alice register          connect and register with nick alice
//	alice connect           connect without registering
//	alice> LINE             alice sends LINE (\x01 stands for the CTCP byte)
//	alice< PATTERN          alice waits for a line matching PATTERN, where
//	                        '*' matches any run of characters and the rest
//	                        is literal; lines before it are skipped
//	alice<- PATTERN         no line matching PATTERN arrives (after a sync)
//	alice sync              PING/PONG round trip
//	alice closed            the server closes alice's connection
//
// Blank lines and lines starting with '#' are ignored. A new behaviour to
// test is a few lines of text, not a new function.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/scripts/*.irc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".irc"), func(t *testing.T) {
			t.Parallel()
			runScript(t, file)
		})
	}
}

var scriptLine = regexp.MustCompile(`^(\S+?)(>|<-|<| register| connect| sync| closed)(?: (.*))?$`)

func runScript(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts := startTestServer(t, nil)
	clients := map[string]*ircClient{}
	get := func(name string) *ircClient {
		c := clients[name]
		if c == nil {
			c = ts.dial(name)
			clients[name] = c
		}
		return c
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := scriptLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s:%d: cannot parse %q", file, n, line)
		}
		name, op, arg := m[1], m[2], m[3]
		c := get(name)
		c.t = t
		switch op {
		case ">":
			c.send("%s", strings.ReplaceAll(arg, `\x01`, "\x01"))
		case "<":
			c.expectMatch(func(l string) bool { return scriptMatch(arg, l) }, arg)
		case "<-":
			from := len(c.log)
			tok := c.sync()
			c.expectNoneMatch(func(l string) bool { return scriptMatch(arg, l) }, 200*time.Millisecond)
			for _, l := range c.log[from:] {
				// The sync's own PONG carries digits a numeric pattern
				// such as *322* could match.
				if strings.Contains(l, " PONG ") && strings.HasSuffix(l, tok) {
					continue
				}
				if scriptMatch(arg, l) {
					t.Fatalf("%s:%d: %s got %q", file, n, name, l)
				}
			}
		case " register":
			c.register(name)
		case " connect":
		case " sync":
			c.sync()
		case " closed":
			c.expectClosed()
		}
	}
}

// scriptMatch compares a received line with a script pattern after putting
// both in one canonical form (the last parameter always written as
// trailing), so that scripts do not depend on where the server chose to put
// a ':'. A pattern that does not parse as a message is matched raw.
func scriptMatch(pattern, line string) bool {
	if regexp.MustCompile(globRegexp(pattern)).MatchString(line) {
		return true
	}
	return regexp.MustCompile(globRegexp(canonical(pattern))).MatchString(canonical(line))
}

func canonical(line string) string {
	var m codec.Message
	if err := m.Parse([]byte(line)); err != nil || m.NParams() == 0 {
		return line
	}
	m.Trailing = true
	return strings.TrimSuffix(string(codec.AppendMessage(nil, &m)), "\r\n")
}

// globRegexp turns a script pattern into an anchored regular expression.
func globRegexp(p string) string {
	parts := strings.Split(p, "*")
	for i, part := range parts {
		parts[i] = regexp.QuoteMeta(part)
	}
	return "^" + strings.Join(parts, ".*") + "$"
}
