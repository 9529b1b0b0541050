package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

// cli runs the command line in-process and returns the exit status and
// what it wrote.
func cli(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandLine(t *testing.T) {
	code, out, errs := cli("-h")
	if code != 0 || errs != "" {
		t.Fatalf("laird -h: status %d, stderr %q", code, errs)
	}
	for _, c := range commands() {
		if !strings.Contains(out, "\n  "+c.name) {
			t.Errorf("laird -h does not list %s:\n%s", c.name, out)
		}
	}
	if !strings.Contains(out, "-config") || !strings.Contains(out, "SIGHUP reloads") {
		t.Errorf("laird -h lacks the server flags or signals:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"bakcup", "/tmp/x"}, 2, `unknown command "bakcup"`},
		{[]string{"-metrics", "off", "mkcert", "DIR"}, 2, `unexpected argument "mkcert"`},
		{[]string{"-nosuchflag"}, 2, "flag provided but not defined: -nosuchflag"},
		{[]string{"backup"}, 2, "give one directory"},
		{[]string{"backup", "a", "b"}, 2, "give one directory"},
		{[]string{"mkcert"}, 2, "mkcert: missing argument"},
		{[]string{"mkcert", "a", "b"}, 2, `mkcert: unexpected argument "b"`},
		{[]string{"passwd", "extra"}, 2, `passwd: unexpected argument "extra"`},
		{[]string{"report", "-nosuch"}, 2, "flag provided but not defined: -nosuch"},
		{[]string{"check", "-config", "/nonexistent/laird.toml"}, 1, "no such file"},
	} {
		code, out, errs := cli(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.err) {
			t.Errorf("laird %s: status %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code, errs, tc.code, tc.err)
		}
		if tc.code == 2 && !strings.Contains(errs, "Usage") {
			t.Errorf("laird %s: no usage on stderr: %q", strings.Join(tc.args, " "), errs)
		}
		if out != "" {
			t.Errorf("laird %s wrote %q to stdout", strings.Join(tc.args, " "), out)
		}
	}
	for _, args := range [][]string{{"report", "-h"}, {"backup", "-h"}, {"mkcert", "-h"}, {"passwd", "-h"}, {"check", "-h"}, {"help"}} {
		if code, out, _ := cli(args...); code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("laird %s: status %d, stdout %q", strings.Join(args, " "), code, out)
		}
	}
	if code, out, _ := cli("version"); code != 0 || strings.TrimSpace(out) != version {
		t.Errorf("laird version: %d %q", code, out)
	}
	if code, out, _ := cli("-version"); code != 0 || strings.TrimSpace(out) != version {
		t.Errorf("laird -version: %d %q", code, out)
	}

	good := filepath.Join(t.TempDir(), "good.toml")
	if err := os.WriteFile(good, []byte("[server]\nname = \"irc.example\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli("check", "-config", good); code != 0 || out != good+": ok\n" {
		t.Errorf("laird check of a good file: %d %q %q", code, out, errs)
	}
	if code, _, errs := cli("check", "-config", "../../laird.example.toml"); code != 0 {
		t.Errorf("laird check of the example: %d %q", code, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[guard.detect.conn_storm]\naction = \"explode\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli("check", "-config", bad); code != 1 || !strings.Contains(errs, `unknown action "explode"`) || !strings.Contains(errs, bad) {
		t.Errorf("laird check of a bad file: %d %q", code, errs)
	}
}

// TestBinaryExitStatus: the real process exits with the statuses run
// returns (0 for -h, 2 for a wrong command line), without starting a server.
func TestBinaryExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for args, want := range map[string]int{"-h": 0, "bogus": 2, "-listen 127.0.0.1:1 stray": 2} {
		cmd := exec.Command(bin, strings.Fields(args)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("laird %s: exit %d, want %d; stderr %q", args, got, want, errb.String())
		}
	}
}

func TestMkcert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	code, out, errs := cli("mkcert", dir)
	if code != 0 || !strings.Contains(out, "cert.pem") {
		t.Fatalf("mkcert: %d %q %q", code, out, errs)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if st, err := os.Stat(keyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v, mode %v", err, st.Mode())
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _ := os.ReadFile(certPath)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(cert.NotAfter); left < 360*24*time.Hour || left > 366*24*time.Hour {
		t.Errorf("valid for %v", left)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("not valid for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool}); err == nil {
		t.Error("valid for example.com")
	}
	// A real handshake, the client trusting cert.pem alone.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "hello\n")
			c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS handshake with the mkcert certificate: %v", err)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "hello\n" {
		t.Fatalf("read %q over TLS", got)
	}
	// Never overwrites.
	if code, _, errs := cli("mkcert", dir); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("mkcert over existing files: %d %q", code, errs)
	}
	if again, _ := os.ReadFile(certPath); !bytes.Equal(again, certPEM) {
		t.Fatal("cert.pem was overwritten")
	}
}

// openPTY returns a pseudo-terminal pair: what a user types goes into
// master, the program reads the terminal end.
func openPTY(t *testing.T) (master, term *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestPasswdOnTerminal: on a terminal laird passwd prompts twice, the
// password never appears on the screen, and the terminal echoes again
// afterwards.
func TestPasswdOnTerminal(t *testing.T) {
	master, term := openPTY(t)
	chunks := make(chan string, 16)
	go func() {
		b := make([]byte, 256)
		for {
			n, err := master.Read(b)
			if n > 0 {
				chunks <- string(b[:n])
			}
			if err != nil {
				close(chunks)
				return
			}
		}
	}()
	// shown is everything the terminal displayed; waitFor consumes it up
	// to the end of the text it waited for.
	var shown string
	seen := 0
	waitFor := func(text string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			if i := strings.Index(shown[seen:], text); i >= 0 {
				seen += i + len(text)
				return
			}
			select {
			case c := <-chunks:
				shown += c
			case <-deadline:
				t.Fatalf("the terminal never showed %q; it showed %q", text, shown)
			}
		}
	}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- passwdCommand(nil, stdio{in: term, out: &out, err: term}) }()
	waitFor("Password: ")
	master.WriteString("s3cret-pw\n")
	waitFor("Repeat the password: ")
	master.WriteString("s3cret-pw\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out.String())
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret-pw")) != nil {
		t.Fatalf("hash %q does not verify", hash)
	}
	tio, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Fatal("echo was not restored")
	}
	// Echo is back: typing now shows.
	master.WriteString("visible\n")
	waitFor("visible")
	if strings.Contains(shown, "s3cret") {
		t.Fatalf("the password was echoed: %q", shown)
	}

	// "visible" is still unread: typeahead is discarded at the prompt,
	// not taken for the password.
	out.Reset()
	go func() { done <- passwdCommand(nil, stdio{in: term, out: &out, err: term}) }()
	waitFor("Password: ")
	master.WriteString("same-pw\n")
	waitFor("Repeat the password: ")
	master.WriteString("same-pw\n")
	if err := <-done; err != nil {
		t.Fatalf("typeahead before the prompt: %v", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out.String())), []byte("same-pw")) != nil {
		t.Fatal("typeahead became part of the password")
	}

	go func() { done <- passwdCommand(nil, stdio{in: term, out: &out, err: term}) }()
	waitFor("Password: ")
	master.WriteString("one\n")
	waitFor("Repeat the password: ")
	master.WriteString("two\n")
	if err := <-done; err == nil || !strings.Contains(err.Error(), "differ") {
		t.Fatalf("different passwords: %v", err)
	}
}

func TestBackupRefusesNonEmptyDir(t *testing.T) {
	ts, base := startMetricsServer(t)
	c := ts.dial("c")
	c.register("c")
	maddr := strings.TrimPrefix(base, "http://")
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "precious"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	std := stdio{out: &out, err: &errb}
	err := backup([]string{"-metrics", maddr, "-token", metricsToken, full}, std)
	if err == nil || !strings.Contains(err.Error(), full+" exists and is not empty") {
		t.Fatalf("backup into a non-empty directory: %v", err)
	}
	// The server refuses it the same way (another client, a race).
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/backup?dir="+url.QueryEscape(full), nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "exists and is not empty") {
		t.Fatalf("server: %s %q", resp.Status, body)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "precious")); string(b) != "x" {
		t.Fatal("the directory's file was touched")
	}
	// An existing empty directory is fine.
	empty := t.TempDir()
	if err := backup([]string{"-metrics", maddr, "-token", metricsToken, empty}, std); err != nil {
		t.Fatalf("backup into an empty directory: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) == 0 {
		t.Fatal("nothing written")
	}
}
