package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"laird/chat"
)

// notifySocket is a fake service manager: it collects what laird sends to
// NOTIFY_SOCKET.
type notifySocket struct {
	path string
	msgs chan string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	// Unix socket paths are short (108 bytes): t.TempDir can be too long.
	dir, err := os.MkdirTemp("", "laird-notify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ns := &notifySocket{path: filepath.Join(dir, "notify"), msgs: make(chan string, 64)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(ns.msgs)
				return
			}
			ns.msgs <- string(buf[:n])
		}
	}()
	return ns
}

// expect waits for a message containing every one of want.
func (ns *notifySocket) expect(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-ns.msgs:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %q", want)
			}
			all := true
			for _, w := range want {
				all = all && strings.Contains(m, w)
			}
			if all {
				return m
			}
		case <-deadline:
			t.Fatalf("no notification with %q", want)
		}
	}
}

// startLaird runs the binary with the given flags and environment and waits
// until it accepts IRC connections on addr.
func startLaird(t *testing.T, bin, addr string, env []string, args ...string) *binServer {
	t.Helper()
	bs := &binServer{t: t, addr: addr, out: &syncBuffer{}}
	bs.cmd = exec.Command(bin, append([]string{"-listen", addr}, args...)...)
	bs.cmd.Env = append(os.Environ(), env...)
	bs.cmd.Stdout, bs.cmd.Stderr = bs.out, bs.out
	if err := bs.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.kill)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return bs
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("laird did not start:\n%s", bs.output())
	return nil
}

// waitOutput waits until the server's output matches re, counting only
// matches after the first skip ones.
func (bs *binServer) waitOutput(re string, skip int) string {
	bs.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := rx.FindAllString(bs.output(), -1); len(m) > skip {
			return m[skip]
		}
		time.Sleep(20 * time.Millisecond)
	}
	bs.t.Fatalf("no log line matching %s; output:\n%s", re, bs.output())
	return ""
}

// fakelags reads laird_flood_actions_total{action="fakelag"} from /metrics.
func fakelags(t *testing.T, metrics string) int {
	t.Helper()
	_, body := httpGet(t, "http://"+metrics+"/metrics", "")
	m := regexp.MustCompile(`(?m)^laird_flood_actions_total\{action="fakelag"\} (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no fakelag counter in /metrics:\n%s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// pings sends n PINGs at once and waits for every PONG.
func pings(c *ircClient, n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		c.send("PING :p%d", i)
	}
	c.expectWithin(fmt.Sprintf(`PONG \S+ :?p%d$`, n-1), 10*time.Second)
}

// TestReloadOnSIGHUP is the operator's reload on a live server: SIGHUP
// applies a changed oper block, MOTD, flood limit and log format to clients
// connected before it; an invalid file is refused and the old configuration
// keeps running; options that need a restart are named; the service manager
// hears READY, RELOADING and STOPPING; nobody is disconnected.
func TestReloadOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "laird.toml")
	hashA, hashB := operHash(t, "pw-a"), operHash(t, "pw-b")
	write := func(motd, oper, hash string, burst float64, extra string) {
		t.Helper()
		text := fmt.Sprintf(`%s
[server]
motd = [%q]
[store]
disk_reserve_mb = -1
[metrics]
interval = "100ms"
[guard.flood]
exempt = []
[guard.flood.classes.user]
burst = %g
rate = 5.0
disconnect = 1000.0
[[oper]]
name = %q
password_hash = %q
`, extra, motd, burst, oper, hash)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("before", "alice", hashA, 100, "")
	ns := newNotifySocket(t)
	addr, metrics := freeAddr(t), freeAddr(t)
	srv := startLaird(t, bin, addr, []string{"NOTIFY_SOCKET=" + ns.path},
		"-config", conf, "-data", filepath.Join(dir, "data"), "-metrics", metrics)
	ns.expect(t, "READY=1", "STATUS=serving IRC on "+addr)

	c := dialWith(t, addr, "c", nil)
	c.register("c")
	c.send("MOTD")
	c.expect(` 372 c :- before$`)
	c.send("OPER alice pw-a")
	c.expect(` 381 c `)
	c.send("MODE c -o")
	c.expect(`MODE c -o`)
	f := dialWith(t, addr, "f", nil) // a plain user, for the flood class
	f.register("f")
	pings(f, 10)
	if n := fakelags(t, metrics); n != 0 {
		t.Fatalf("%d fakelags under a burst of 100", n)
	}

	write("after", "bob", hashB, 2, "")
	hup := func() {
		t.Helper()
		if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	hup()
	ns.expect(t, "RELOADING=1", "MONOTONIC_USEC=")
	ns.expect(t, "READY=1")
	line := srv.waitOutput(`msg="configuration reloaded".*`, 0)
	if !strings.Contains(line, "file="+conf) || !strings.Contains(line, "by=SIGHUP") ||
		!strings.Contains(line, "server.motd") || !strings.Contains(line, "oper") ||
		!strings.Contains(line, "guard.flood.classes") || !strings.Contains(line, "restart_needed=[]") {
		t.Fatalf("reload log line %q", line)
	}
	c.send("MOTD")
	c.expect(` 372 c :- after$`)
	c.send("OPER alice pw-a")
	c.expect(` 491 c `)
	c.send("OPER bob pw-b")
	c.expect(` 381 c `)
	pings(f, 10)
	if n := fakelags(t, metrics); n == 0 {
		t.Fatal("no fakelag under the reloaded burst of 2: the connected client kept its old flood class")
	}

	// A broken file changes nothing.
	if err := os.WriteFile(conf, []byte("[server\nmotd = [\"broken\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup()
	ns.expect(t, "STATUS=configuration reload refused")
	srv.waitOutput(`level=ERROR msg="configuration reload refused; the running configuration is unchanged" file=`+regexp.QuoteMeta(conf), 0)
	c.send("MOTD")
	c.expect(` 372 c :- after$`)
	c.send("MODE c -o")
	c.expect(`MODE c -o`)
	c.send("OPER bob pw-b")
	c.expect(` 381 c `)

	// A valid file that also changes what needs a restart: the rest
	// applies, the log (now JSON) names what waits for the restart.
	write("again", "bob", hashB, 2, "")
	text, _ := os.ReadFile(conf)
	text = []byte(strings.Replace(string(text), "[server]\n", "[server]\nname = \"other.name\"\n", 1) + "[log]\nformat = \"json\"\n")
	if err := os.WriteFile(conf, text, 0o600); err != nil {
		t.Fatal(err)
	}
	hup()
	line = srv.waitOutput(`\{[^\n]*"msg":"configuration reloaded"[^\n]*\}`, 0)
	if !strings.Contains(line, `"restart_needed":["server.name"]`) || !strings.Contains(line, `"applied":["server.motd","log.format"]`) {
		t.Fatalf("JSON reload line %q", line)
	}
	c.send("MOTD")
	c.expect(`^:laird\.local 372 c :- again$`) // the name waits for a restart

	// Nobody was disconnected.
	for _, cl := range []*ircClient{c, f} {
		cl.sync()
		for _, l := range cl.log {
			if strings.HasPrefix(l, "ERROR") {
				t.Fatalf("%s got %q", cl.name, l)
			}
		}
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ns.expect(t, "STOPPING=1")
	if err := srv.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, srv.output())
	}
}

// TestRehashNamesFileAndRestartOptions: REHASH from IRC applies the file
// (here a new metrics token) and its 382 reply names the file and the
// options that need a restart; the command-line overrides stay applied.
func TestRehashNamesFileAndRestartOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "laird.toml")
	maddr := freeAddr(t)
	write := func(token, extra string) {
		text := fmt.Sprintf("%s\n[metrics]\ntoken = %q\ninterval = \"100ms\"\n[[oper]]\nname = \"admin\"\npassword_hash = %q\n",
			extra, token, operHash(t, "pw"))
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("old-token", "")
	ts := startTestServer(t, func(c *Config) {
		flags := func(f *Config) {
			f.Server.Listen, f.Server.DataDir, f.Metrics.Listen = c.Server.Listen, c.Server.DataDir, maddr
			f.Store.DiskReserveMB = -1
		}
		loaded, err := loadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		loaded.flags = flags
		flags(&loaded)
		*c = loaded
	})
	if code, _ := httpGet(t, "http://"+maddr+"/metrics", "old-token"); code != 200 {
		t.Fatalf("/metrics with the token: %d", code)
	}
	c := ts.dial("c")
	c.register("c")
	c.send("OPER admin pw")
	c.expect(` 381 c `)

	write("new-token", "[limits]\nnick_len = 20\n[guard.connections]\nprefix_v4 = 24\n")
	c.send("REHASH")
	reply := c.expect(` 382 c (\S+) :(.*)$`)
	if reply[1] != path {
		t.Errorf("382 names %q, want %q", reply[1], path)
	}
	if want := "Rehashing; a restart is needed to apply: guard.connections.prefix_v4, limits.nick_len"; reply[2] != want {
		t.Errorf("382 says %q, want %q", reply[2], want)
	}
	c.expect(`NOTICE \* :\*\*\* Notice -- c is rehashing the server configuration from ` + regexp.QuoteMeta(path))
	if code, _ := httpGet(t, "http://"+maddr+"/metrics", "old-token"); code != 401 {
		t.Errorf("/metrics with the old token after the reload: %d", code)
	}
	if code, _ := httpGet(t, "http://"+maddr+"/metrics", "new-token"); code != 200 {
		t.Errorf("/metrics with the new token: %d", code)
	}
	// The restart-only options kept their running values.
	if got := ts.in.config().Limits.NickLen; got != 0 {
		t.Errorf("nick_len is %d after the reload, want the running 0 (default)", got)
	}
	// The pending restart is reported again by the next reload.
	c.send("REHASH")
	c.expect(` 382 c \S+ :Rehashing; a restart is needed to apply: guard.connections.prefix_v4, limits.nick_len$`)

	// An alert rule naming a series that does not exist refuses the
	// whole reload.
	write("newer-token", "[[alerts.rule]]\nname = \"x\"\nmetric = \"p99(cmd.NOSUCH)\"\nthreshold = 1.0\n")
	c.send("REHASH")
	c.expect(`FAIL REHASH CANNOT_REHASH :Rehash failed, the running configuration is unchanged: .*cmd\.NOSUCH`)
	if code, _ := httpGet(t, "http://"+maddr+"/metrics", "new-token"); code != 200 {
		t.Errorf("a refused reload changed the token: %d", code)
	}
}

// TestReloadAccountsAndAlerts: account settings and alert rules are live.
func TestReloadAccountsAndAlerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "laird.toml")
	maddr := freeAddr(t)
	write := func(minLen int, rule string) {
		text := fmt.Sprintf("[accounts]\npassword_min_len = %d\nbcrypt_cost = 4\n%s", minLen, rule)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(5, "")
	ts := startTestServer(t, func(c *Config) {
		listen, data := c.Server.Listen, c.Server.DataDir
		flags := func(f *Config) {
			f.Server.Listen, f.Server.DataDir, f.Metrics.Listen = listen, data, maddr
			f.Store.DiskReserveMB = -1
			f.Metrics.Interval = duration{100 * time.Millisecond}
		}
		loaded, err := loadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		loaded.flags = flags
		flags(&loaded)
		*c = loaded
	})
	c := ts.dial("c")
	c.register("c")
	write(12, "[[alerts.rule]]\nname = \"any-ping\"\nmetric = \"p100(cmd.PING)\"\nthreshold = 0.0\n")
	rep, err := ts.in.reload("test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rep.Applied, "accounts.password_min_len") || !slices.Contains(rep.Applied, "alerts.rule") || len(rep.Restart) != 0 {
		t.Fatalf("reload report %+v", rep)
	}
	c.send("PRIVMSG NickServ :REGISTER shortpass")
	c.expect(`at least 12 characters`)
	for i := 0; i < 5; i++ {
		c.send("PING :x%d", i)
	}
	eventually(t, 5*time.Second, "the reloaded alert rule firing", func() (bool, string) {
		_, body := httpGet(t, "http://"+maddr+"/metrics", "")
		return strings.Contains(body, `laird_alert_firing{rule="any-ping"} 1`), body
	})
}

func TestOptionKeysAndReloadability(t *testing.T) {
	cfg := defaultConfig()
	keys := optionKeys(&cfg)
	for _, want := range []string{"server.listen", "server.motd", "limits.nick_len", "store.history_retention",
		"metrics.token", "alerts.rule", "alerts.webhook.url", "log.level", "oper", "accounts.nick_grace",
		"guard.flood.classes", "guard.flood.exempt", "guard.connections.prefix_v4", "guard.detect.conn_storm.window",
		"guard.limits.realname_len"} {
		if !slices.Contains(keys, want) {
			t.Errorf("option %q missing from %v", want, keys)
		}
	}
	for key, want := range map[string]bool{
		"server.listen": false, "server.name": false, "limits.nick_len": false, "metrics.listen": false,
		"store.lazy_history": false, "guard.connections.prefix_v4": false, "guard.logins.per_address": true,
		"server.motd": true, "server.password": true, "oper": true, "metrics.token": true, "log.format": true,
		"guard.flood.classes": true, "guard.connections.max_per_ip": true, "guard.detect.auth_fail_ip.threshold": true,
		"alerts.webhook.url": true, "accounts.bcrypt_cost": true, "store.audit_retention": true,
		"accounts.multiclient": false, "accounts.max_sessions": false,
	} {
		if got := reloadable(key); got != want {
			t.Errorf("reloadable(%q) = %v, want %v", key, got, want)
		}
	}
	// Every option is one or the other, and every listed prefix names
	// options that exist.
	for _, list := range [][]string{reloadableKeys, restartKeys} {
		for _, prefix := range list {
			if !slices.ContainsFunc(keys, func(k string) bool { return under(k, prefix) }) {
				t.Errorf("%q names no option", prefix)
			}
		}
	}
	other := defaultConfig()
	other.Guard.Flood.Exempt = []string{} // empty is the same as absent
	other.Server.MOTD = []string{"hi"}
	other.Opers = []chat.Oper{{Name: "x"}}
	if got := changedOptions(&cfg, &other); !slices.Equal(got, []string{"server.motd", "oper"}) {
		t.Errorf("changedOptions = %v", got)
	}
	keepOption(&other, &cfg, "server.motd")
	if len(other.Server.MOTD) != 0 {
		t.Error("keepOption did not put the value back")
	}
}

// TestReloadWithoutConfigFile: a server started without -config has
// nothing to reload; SIGHUP's reload says so and changes nothing (REHASH's
// refusal is in TestOperatorsManualIRCCommands).
func TestReloadWithoutConfigFile(t *testing.T) {
	ts := startTestServer(t, nil)
	before := ts.in.config()
	if _, err := ts.in.reload("SIGHUP"); !errors.Is(err, errNoConfigFile) {
		t.Fatalf("reload without a file: %v", err)
	}
	if ts.in.config() != before {
		t.Fatal("the configuration was replaced")
	}
}
