package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"laird/kv"
)

// TestCrashSafety runs the real binary, registers accounts, changes a
// registered channel, accepts invitations to one, sends channel messages
// (durable history, the default) and offline messages from several
// clients, kill -9s the server at a random moment, restarts it on the same
// directory, several rounds. Then it opens the store and checks that
// everything the server acknowledged is there and nothing is half-written.
//
// make test runs 4 rounds; LAIRD_CRASH_DURATION (e.g. "5m", make crash)
// keeps killing and restarting for that long instead.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "laird.toml")
	err := os.WriteFile(conf, []byte(`
[store]
disk_reserve_mb = -1
offline_max_messages = 100000000
[accounts]
bcrypt_cost = 4
nick_protection = false
[log]
level = "warn"
# The clients here are fast on purpose: no fakelag, and no D-line for
# 127.0.0.1 that would outlive a round (bans are durable too).
[guard.flood]
exempt = ["127.0.0.0/8"]
[guard.detect.conn_storm]
threshold = 32768
[guard.quotas.registrations]
limit = 0
[guard.quotas.invites]
limit = 0
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}

	acks := &crashAcks{accounts: map[string]string{}, channels: map[string]*chanAcks{}}
	rounds, until := crashRounds(t)
	round := 0
	for ; round < rounds || time.Now().Before(until); round++ {
		srv := startBinary(t, bin, conf, data)
		// What earlier rounds acknowledged is usable after the restart.
		if name, pw, ok := acks.anyAccount(); ok {
			if err := loginCheck(srv.addr, name, pw); err != nil {
				t.Fatalf("round %d: login as %s after restart: %v\n%s", round, name, err, srv.output())
			}
		}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch w {
				case 0:
					channelWorker(srv.addr, round, acks)
				case 4:
					inviteWorker(srv.addr, round, &acks.invites)
				case 5, 6:
					historyWorker(srv.addr, round, w, &acks.history)
				case 7:
					offlineWorker(srv.addr, round, &acks.offline)
				default:
					accountWorker(srv.addr, round, w, acks)
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		srv.kill()
		wg.Wait()
	}

	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := kv.Open(kv.Options{Dir: data, DiskReserve: -1, Logger: quiet})
	if err != nil {
		t.Fatalf("open the store after the last kill: %v", err)
	}
	defer st.Close()
	n := verifyStore(t, st, acks)
	accepted := verifyInvites(t, st, &acks.invites)
	changes := 0
	for _, a := range acks.channels {
		changes += a.topicAcked + 1 + a.limitAcked
	}
	msgs := verifyHistory(t, st, &acks.history, time.Time{})
	offline := verifyOffline(t, st, &acks.offline)
	t.Logf("%d rounds: %d acknowledged accounts (%d stored), %d acknowledged channels with %d topic and mode changes, %d invitations accepted, %d acknowledged channel messages, %d offline messages",
		round, len(acks.accounts), n, len(acks.channels), changes, accepted, msgs, offline)
	if len(acks.accounts) < round || accepted == 0 || msgs < round || offline == 0 {
		t.Fatalf("only %d registrations, %d acceptances, %d channel and %d offline messages acknowledged: the test did not exercise the server",
			len(acks.accounts), accepted, msgs, offline)
	}
}

// crashRounds returns how many rounds a crash test runs, or until when
// (LAIRD_CRASH_DURATION).
func crashRounds(t *testing.T) (int, time.Time) {
	t.Helper()
	v := os.Getenv("LAIRD_CRASH_DURATION")
	if v == "" {
		return 4, time.Time{}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("LAIRD_CRASH_DURATION: %v", err)
	}
	return 1, time.Now().Add(d)
}

// crashAcks is what the server acknowledged, across rounds.
type crashAcks struct {
	mu       sync.Mutex
	accounts map[string]string // name -> password
	channels map[string]*chanAcks
	invites  inviteAcks
	history  historyAcks
	offline  offlineAcks
}

type chanAcks struct {
	founder     string
	topicAcked  int // highest topic index acknowledged, -1 none
	topicSent   int
	limitAcked  int
	accessAcked string // account given op, "" none
}

func (a *crashAcks) account(name, pw string) {
	a.mu.Lock()
	a.accounts[name] = pw
	a.mu.Unlock()
}

func (a *crashAcks) anyAccount() (string, string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for n, pw := range a.accounts {
		return n, pw, true
	}
	return "", "", false
}

func (a *crashAcks) update(ch string, fn func(*chanAcks)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.channels[ch] == nil {
		a.channels[ch] = &chanAcks{topicAcked: -1, topicSent: -1}
	}
	fn(a.channels[ch])
}

// rawConn is a minimal client for goroutines: errors are values, since
// the server dies under it.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(addr string) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReader(c)}, nil
}

func (rc *rawConn) send(format string, args ...any) error {
	rc.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err := fmt.Fprintf(rc.c, format+"\r\n", args...)
	return err
}

var errRefused = errors.New("refused")

// wait reads until a line matches want (returned) or fail (errRefused).
func (rc *rawConn) wait(want, fail string) (string, error) {
	w, f := regexp.MustCompile(want), regexp.MustCompile(fail)
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		switch {
		case w.MatchString(line):
			return line, nil
		case fail != "" && f.MatchString(line):
			return line, fmt.Errorf("%w: %s", errRefused, strings.TrimSpace(line))
		}
	}
}

func (rc *rawConn) register(nick string) error {
	if err := rc.send("NICK %s\r\nUSER %s 0 * :crash test", nick, nick); err != nil {
		return err
	}
	_, err := rc.wait(` 001 `, ` 433 `)
	return err
}

// accountWorker registers accounts one connection each until the server
// dies.
func accountWorker(addr string, round, w int, acks *crashAcks) {
	for k := 0; k < 500; k++ {
		name := fmt.Sprintf("r%dw%dk%d", round, w, k)
		pw := "pw-" + name
		rc, err := dialRaw(addr)
		if err != nil {
			return
		}
		if err := rc.register(name); err != nil {
			rc.c.Close()
			return
		}
		if k%2 == 0 {
			err = rc.send("REGISTER * * %s", pw)
			if err == nil {
				_, err = rc.wait(`REGISTER SUCCESS `+name+` `, `FAIL REGISTER`)
			}
		} else {
			err = rc.send("PRIVMSG NickServ :REGISTER %s", pw)
			if err == nil {
				_, err = rc.wait(`NOTICE `+name+` :Account `+name+` registered`, `NOTICE `+name+` :(Registration failed|Nick)`)
			}
		}
		rc.c.Close()
		if err != nil {
			return
		}
		acks.account(name, pw)
	}
}

// channelWorker registers a channel, gives an account op on it and changes
// its topic and limit until the server dies.
func channelWorker(addr string, round int, acks *crashAcks) {
	name := fmt.Sprintf("founder%d", round)
	ch := fmt.Sprintf("#crash%d", round)
	rc, err := dialRaw(addr)
	if err != nil {
		return
	}
	defer rc.c.Close()
	if rc.register(name) != nil || rc.send("REGISTER * * pw-%s", name) != nil {
		return
	}
	if _, err := rc.wait(`REGISTER SUCCESS`, `FAIL`); err != nil {
		return
	}
	acks.account(name, "pw-"+name)
	if rc.send("JOIN %s", ch) != nil || rc.send("CS REGISTER %s", ch) != nil {
		return
	}
	if _, err := rc.wait(`is now registered to`, `NOTICE `+name+` :`); err != nil {
		return
	}
	acks.update(ch, func(a *chanAcks) { a.founder = name })
	if other, _, ok := acks.anyAccount(); ok && other != name {
		if rc.send("CS ACCESS %s ADD %s op", ch, other) != nil {
			return
		}
		if _, err := rc.wait(`now has op access`, `NOTICE `+name+` :`); err != nil {
			return
		}
		acks.update(ch, func(a *chanAcks) { a.accessAcked = other })
	}
	for i := 0; i < 10000; i++ {
		acks.update(ch, func(a *chanAcks) { a.topicSent = i })
		if rc.send("TOPIC %s :t%d", ch, i) != nil {
			return
		}
		if _, err := rc.wait(fmt.Sprintf(`TOPIC %s :t%d\r`, ch, i), `FAIL`); err != nil {
			return
		}
		acks.update(ch, func(a *chanAcks) { a.topicAcked = i })
		if rc.send("MODE %s +l %d", ch, i+1) != nil {
			return
		}
		if _, err := rc.wait(fmt.Sprintf(`MODE %s \+l :?%d\r`, ch, i+1), `FAIL`); err != nil {
			return
		}
		acks.update(ch, func(a *chanAcks) { a.limitAcked = i + 1 })
	}
}

// loginCheck logs in with SASL PLAIN.
func loginCheck(addr, name, pw string) error {
	rc, err := dialRaw(addr)
	if err != nil {
		return err
	}
	defer rc.c.Close()
	if err := rc.send("CAP REQ :sasl\r\nAUTHENTICATE PLAIN"); err != nil {
		return err
	}
	if _, err := rc.wait(`^AUTHENTICATE \+`, ` 90[4-7] `); err != nil {
		return err
	}
	if err := rc.send("AUTHENTICATE %s", b64("\x00"+name+"\x00"+pw)); err != nil {
		return err
	}
	_, err = rc.wait(` 903 `, ` 90[4-7] `)
	return err
}

// verifyStore checks the acknowledged changes and the store's integrity;
// it returns the number of accounts stored.
func verifyStore(t *testing.T, st *kv.Store, acks *crashAcks) int {
	t.Helper()
	registered := map[string]bool{}
	entries, err := st.Audit(kv.AuditQuery{Action: "account.register", Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		registered[e.Target] = true
	}
	// No half-written account: each has its nick and its audit entry.
	n := 0
	err = st.ScanAccounts(func(a kv.Account) bool {
		n++
		if owner, err := st.NickOwner(a.Name); err != nil || owner != a.Name {
			t.Errorf("account %s without its nick reservation (owner %q, %v)", a.Name, owner, err)
		}
		if !registered[a.Name] {
			t.Errorf("account %s without its audit entry", a.Name)
		}
		if a.PassHash == "" || a.Scram == "" {
			t.Errorf("account %s without credentials", a.Name)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every acknowledged account is there, with a working password.
	for name := range acks.accounts {
		if _, err := st.Account(name); err != nil {
			t.Errorf("acknowledged account %s lost: %v", name, err)
		}
	}
	// Channels: each registered one has its founder's access entry; the
	// acknowledged state is there (or a later one that was sent).
	err = st.ScanChannels(func(c kv.Channel) bool {
		if a, err := st.AccessOf(c.Name, c.Founder); err != nil || a.Level != kv.LevelFounder {
			t.Errorf("channel %s without its founder entry (%+v, %v)", c.Name, a, err)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range acks.channels {
		c, err := st.Channel(name)
		if err != nil {
			t.Errorf("acknowledged channel %s lost: %v", name, err)
			continue
		}
		if a.accessAcked != "" {
			if ac, err := st.AccessOf(name, a.accessAcked); err != nil || ac.Level != kv.LevelOp {
				t.Errorf("%s: acknowledged op access of %s lost (%+v, %v)", name, a.accessAcked, ac, err)
			}
		}
		if a.topicAcked >= 0 {
			var i int
			if _, err := fmt.Sscanf(c.Topic, "t%d", &i); err != nil || i < a.topicAcked || i > a.topicSent {
				t.Errorf("%s: topic %q; acknowledged t%d, sent up to t%d", name, c.Topic, a.topicAcked, a.topicSent)
			}
		}
		if c.Limit < a.limitAcked {
			t.Errorf("%s: limit %d, acknowledged %d", name, c.Limit, a.limitAcked)
		}
	}
	return n
}

// buildBinary builds laird into a temporary directory.
// buildBinary builds the laird binary once per test process (binary_test.go).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin, err := theBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// binServer is a laird process.
type binServer struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (sb *syncBuffer) Write(p []byte) (int, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.b.Len() < 1<<20 {
		sb.b.Write(p)
	}
	return len(p), nil
}

func (bs *binServer) output() string {
	bs.out.mu.Lock()
	defer bs.out.mu.Unlock()
	return bs.out.b.String()
}

// startBinary runs laird on data and waits until it accepts connections.
func startBinary(t *testing.T, bin, conf, data string) *binServer {
	t.Helper()
	bs := &binServer{t: t, addr: freeAddr(t), out: &syncBuffer{}}
	bs.cmd = exec.Command(bin, "-config", conf, "-listen", bs.addr, "-data", data, "-metrics", "off")
	bs.cmd.Stdout, bs.cmd.Stderr = bs.out, bs.out
	if err := bs.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.kill)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", bs.addr, time.Second); err == nil {
			c.Close()
			return bs
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("laird did not start:\n%s", bs.output())
	return nil
}

// kill sends SIGKILL and reaps the process.
func (bs *binServer) kill() {
	if bs.cmd.ProcessState != nil {
		return
	}
	_ = bs.cmd.Process.Kill()
	_ = bs.cmd.Wait()
}
