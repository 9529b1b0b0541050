package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// weechatClient runs weechat-headless with its own home directory: it is
// configured by commands at start, driven through its FIFO, and read
// through the logger plugin's files, one per buffer.
type weechatClient struct {
	t    *testing.T
	dir  string
	fifo string
	cmd  *exec.Cmd
}

// startWeechat starts weechat-headless running commands (weechat syntax,
// without the leading slash) after its own setup: logging of every buffer
// to files and the command FIFO.
func startWeechat(t *testing.T, commands ...string) *weechatClient {
	t.Helper()
	dir := t.TempDir()
	setup := []string{
		"set fifo.file.enabled on",
		"set fifo.file.path " + filepath.Join(dir, "fifo"),
		"set logger.file.auto_log on",
		"set logger.file.path " + filepath.Join(dir, "logs"),
		"set logger.file.flush_delay 0", // write at once: the test reads the files
		"set logger.level.irc 9",
		"set irc.look.temporary_servers on",
	}
	run := strings.Join(append(setup, commands...), ";/")
	cmd := exec.Command("weechat-headless", "--dir", dir, "--run-command", "/"+run)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	if err := cmd.Start(); err != nil {
		t.Fatalf("weechat-headless: %v", err)
	}
	w := &weechatClient{t: t, dir: dir, fifo: filepath.Join(dir, "fifo"), cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	eventually(t, 10*time.Second, "weechat's FIFO", func() (bool, string) {
		_, err := os.Stat(w.fifo)
		return err == nil, fmt.Sprint(err)
	})
	return w
}

// command runs one weechat command in the buffer named (for instance
// "irc.laird.#chan"); buffer "" is the core buffer.
func (w *weechatClient) command(buffer, command string) {
	w.t.Helper()
	f, err := os.OpenFile(w.fifo, os.O_WRONLY, 0)
	if err != nil {
		w.t.Fatalf("weechat fifo: %v", err)
	}
	defer f.Close()
	target := "*"
	if buffer != "" {
		target = buffer + " *"
	}
	if _, err := fmt.Fprintf(f, "%s%s\n", target, command); err != nil {
		w.t.Fatalf("weechat fifo: %v", err)
	}
}

// log returns the logger file of a buffer ("irc.laird.#chan"); "" until
// it exists.
func (w *weechatClient) log(buffer string) string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "logs", buffer+".weechatlog"))
	return string(b)
}

// weechatServer returns the commands that add and connect server "laird"
// at addr with nick, logging in with SASL PLAIN when account is set.
func weechatServer(addr, nick, account, password string, extra ...string) []string {
	host, port, _ := strings.Cut(addr, ":")
	cmds := []string{
		"server add laird " + host + "/" + port,
		"set irc.server.laird.tls off",
		"set irc.server.laird.nicks " + nick,
		"set irc.server.laird.username " + nick,
		"set irc.server.laird.realname " + nick,
	}
	if account != "" {
		cmds = append(cmds,
			"set irc.server.laird.sasl_mechanism plain",
			"set irc.server.laird.sasl_username "+account,
			"set irc.server.laird.sasl_password "+password,
			"set irc.server.laird.sasl_fail disconnect")
	}
	cmds = append(cmds, extra...)
	return append(cmds, "connect laird")
}

// TestWeechatTwoSessions: weechat on two connections logged in to one
// account shows the same conversation on both: the second joins the
// first's channel by itself, both show what others say and what either
// of them says.
func TestWeechatTwoSessions(t *testing.T) {
	requireTools(t, "weechat-headless")
	ts := startTestServer(t, fastAccounts)
	ts.registerAccount("wee", "sesame11").quit()
	obs := ts.connect("obs")
	obs.send("JOIN #conv")
	obs.expect(` 366 obs #conv `)

	laptop := startWeechat(t, weechatServer(ts.addr, "wee", "wee", "sesame11", "set irc.server.laird.autojoin #conv")...)
	obs.expect(`^:wee!\S+ JOIN #conv`)
	phone := startWeechat(t, weechatServer(ts.addr, "weephone", "wee", "sesame11")...)
	const buf = "irc.laird.#conv"
	eventually(t, 15*time.Second, "the second weechat to show #conv", func() (bool, string) {
		l := phone.log(buf)
		return strings.Contains(l, "wee"), l
	})

	obs.send("PRIVMSG #conv :hello from obs")
	laptop.command(buf, "first from laptop")
	obs.expectWithin(`^:wee!\S+ PRIVMSG #conv :first from laptop$`, 10*time.Second)
	phone.command(buf, "then from phone")
	obs.expectWithin(`^:wee!\S+ PRIVMSG #conv :then from phone$`, 10*time.Second)
	for name, w := range map[string]*weechatClient{"laptop": laptop, "phone": phone} {
		eventually(t, 10*time.Second, name+" to show the whole conversation", func() (bool, string) {
			l := w.log(buf)
			return strings.Contains(l, "hello from obs") && strings.Contains(l, "first from laptop") &&
				strings.Contains(l, "then from phone"), l
		})
	}
	// The observer saw one user, not two.
	for _, l := range obs.log {
		if strings.Contains(l, "weephone") {
			t.Fatalf("the observer saw the second session as a user: %s", l)
		}
	}
}
