package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDescriptorExhaustion (issue 15): under an open-files limit of 1,024,
// 1,100 connections made gnet's acceptor meet EMFILE, which it treats as
// fatal: the server exited and dropped everyone. Now the server holds
// connections up to its descriptor budget, refuses every one beyond with
// one ERROR line, counts the refusals in /metrics, raises the
// descriptors-exhausted alert, and keeps answering the clients it holds.
//
// The server is the built binary, started under `ulimit -Sn 512 -Hn 1024`
// (Go's runtime raises the soft limit to the hard one, which the server
// logs). The clients are raw non-blocking sockets read through one epoll
// in this goroutine: no goroutine per connection, so -race's goroutine
// limit does not apply, from many 127.x source addresses.
//
// LAIRD_SCALE_TEST=1 runs it at this process's hard limit (about 20,000
// here) instead: a few minutes, not part of make test.
func TestDescriptorExhaustion(t *testing.T) {
	limit := 1024
	if os.Getenv("LAIRD_SCALE_TEST") != "" {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Fatal(err)
		}
		limit = int(rl.Max)
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	metrics := freeAddr(t)
	addr := freeAddr(t)
	out := &syncBuffer{}
	cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf(`ulimit -Sn %d && ulimit -Hn %d && exec "$0" "$@"`, limit/2, limit),
		bin, "-listen", addr, "-data", filepath.Join(dir, "data"), "-metrics", metrics)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	alive := func(when string) {
		t.Helper()
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s: laird exited (%v):\n%s", when, err, tail(out))
		default:
		}
	}
	waitListening(t, addr, out)
	if want := fmt.Sprintf("soft_limit=%d hard_limit=%d", limit, limit); !strings.Contains(out.String(), want) {
		t.Fatalf("the server does not log %q:\n%s", want, tail(out))
	}
	m := regexp.MustCompile(`max_connections=(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no budget logged:\n%s", tail(out))
	}
	budget, _ := strconv.Atoi(m[1])
	rssBefore := rssKB(t, cmd.Process.Pid)

	dst := netip4(t, addr)
	cl := newRawClients(t)
	defer cl.closeAll()
	// Hold as many registered clients as the server takes.
	start := time.Now()
	for refused := false; !refused; {
		batch := cl.dialBatch(t, dst, 128, "NICK n%d\r\nUSER u 0 * :u\r\n")
		res := cl.await(t, batch, 60*time.Second, func(line string) int {
			switch {
			case strings.Contains(line, " 001 "):
				return held
			case strings.HasPrefix(line, "ERROR"):
				return refusedLine
			}
			return 0
		})
		for _, fd := range batch {
			if res[fd] != held {
				refused = true
				cl.close(fd)
			}
		}
		alive("registering")
	}
	n := len(cl.conns)
	t.Logf("held %d registered clients (budget %d) under a limit of %d in %v", n, budget, limit, time.Since(start).Round(time.Millisecond))
	rssHeld := rssKB(t, cmd.Process.Pid)

	// 10% more: each is refused with one ERROR line and closed.
	extra := max(n/10, 16)
	refusedOK := 0
	for done := 0; done < extra; {
		k := min(64, extra-done)
		batch := cl.dialBatch(t, dst, k, "")
		res := cl.await(t, batch, 30*time.Second, func(line string) int {
			if strings.HasPrefix(line, "ERROR") && strings.Contains(line, "Server is full") {
				return refusedLine
			}
			return 0
		})
		for _, fd := range batch {
			if res[fd] == refusedLine && cl.conns[fd].eof {
				refusedOK++
			}
			cl.close(fd)
		}
		done += k
	}
	if refusedOK != extra {
		t.Fatalf("%d of %d extra connections refused with an ERROR line and closed", refusedOK, extra)
	}
	alive("refusing")

	// Everyone held still answers.
	fds := cl.all()
	for _, fd := range fds {
		cl.write(t, fd, "PING :still\r\n")
	}
	res := cl.await(t, fds, 60*time.Second, func(line string) int {
		if strings.Contains(line, "PONG") && strings.HasSuffix(line, "still") {
			return held
		}
		return 0
	})
	for _, fd := range fds {
		if res[fd] != held {
			t.Fatalf("a held client did not answer PING (%d of %d did)", count(res, held), len(fds))
		}
	}
	alive("pinging")

	if n < budget-8 || n > budget {
		t.Fatalf("held %d connections, budget %d", n, budget)
	}
	body := scrape(t, metrics)
	m = regexp.MustCompile(`(?m)^laird_connections_refused_total\{reason="descriptors"\} (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no refusal counter in /metrics")
	}
	if got, _ := strconv.Atoi(m[1]); got < extra {
		t.Fatalf("/metrics counts %d refusals, at least %d made", got, extra)
	}
	// The alert fired (the log has it; by now it may have resolved).
	deadline := time.Now().Add(10 * time.Second)
	for !regexp.MustCompile(`msg="alert firing" .*rule=descriptors-exhausted`).MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the descriptors-exhausted alert did not fire:\n%s", tail(out))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("refused %d extra connections cleanly; all %d held clients answered PING", extra, n)
	t.Logf("server RSS: %d KiB before, %d KiB holding %d clients: %.2f KiB per client",
		rssBefore, rssHeld, n, float64(rssHeld-rssBefore)/float64(n))
}

func tail(b *syncBuffer) string {
	s := b.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

func (sb *syncBuffer) String() string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.b.String()
}

func waitListening(t *testing.T, addr string, out *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("laird did not start:\n%s", tail(out))
}

func netip4(t *testing.T, addr string) *syscall.SockaddrInet4 {
	t.Helper()
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	return sa
}

// rssKB reads a process's resident set size.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func count(res map[int]int, v int) int {
	n := 0
	for _, r := range res {
		if r == v {
			n++
		}
	}
	return n
}

// Outcomes of await's predicate.
const (
	held        = 1
	refusedLine = 2
)

// rawClients are many IRC client sockets read through one epoll, from
// the test's goroutine. Source addresses rotate over 127.0.0.0/8 (a new
// /24 every 40 connections), so per-address and per-network limits and
// ephemeral ports never run short.
type rawClients struct {
	ep    int
	next  int // connections dialled so far, for source addresses and nicks
	conns map[int]*epollConn
	buf   []byte
}

type epollConn struct {
	partial []byte // an incomplete last line
	eof     bool
}

func newRawClients(t *testing.T) *rawClients {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	return &rawClients{ep: ep, conns: make(map[int]*epollConn), buf: make([]byte, 64<<10)}
}

func (cl *rawClients) source() [4]byte {
	g := cl.next / 40
	cl.next++
	return [4]byte{127, byte(1 + g/256), byte(g % 256), 1}
}

// dialBatch connects k sockets and sends each the greeting (with %d
// replaced by a unique number), if any.
func (cl *rawClients) dialBatch(t *testing.T, dst *syscall.SockaddrInet4, k int, greeting string) []int {
	t.Helper()
	fds := make([]int, 0, k)
	for range k {
		id := cl.next
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socket (after %d): %v", len(cl.conns), err)
		}
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: cl.source()}); err != nil {
			t.Fatalf("bind: %v", err)
		}
		// A blocking connect: on loopback it completes as soon as the
		// server's backlog takes it.
		if err := syscall.Connect(fd, dst); err != nil {
			t.Fatalf("connect (after %d): %v", len(cl.conns), err)
		}
		if err := syscall.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
		if err := syscall.EpollCtl(cl.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			t.Fatal(err)
		}
		cl.conns[fd] = &epollConn{}
		if greeting != "" {
			cl.write(t, fd, strings.ReplaceAll(greeting, "%d", strconv.Itoa(id)))
		}
		fds = append(fds, fd)
	}
	return fds
}

func (cl *rawClients) write(t *testing.T, fd int, s string) {
	t.Helper()
	for b := []byte(s); len(b) > 0; {
		n, err := syscall.Write(fd, b)
		if errors.Is(err, syscall.EAGAIN) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		b = b[n:]
	}
}

// await reads the fds until pred gives each of them a non-zero outcome
// (or, for a refusal, the connection closed too), and returns the
// outcomes.
func (cl *rawClients) await(t *testing.T, fds []int, timeout time.Duration, pred func(line string) int) map[int]int {
	t.Helper()
	res := make(map[int]int, len(fds))
	want := make(map[int]bool, len(fds))
	for _, fd := range fds {
		want[fd] = true
	}
	// Settled: held, or closed by the server (after its ERROR, if any).
	settled := func(fd int) bool { return res[fd] == held || cl.conns[fd].eof }
	pending := len(fds)
	deadline := time.Now().Add(timeout)
	events := make([]syscall.EpollEvent, 256)
	for pending > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections unsettled after %v", pending, len(fds), timeout)
		}
		n, err := syscall.EpollWait(cl.ep, events, 200)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			c := cl.conns[fd]
			if c == nil {
				continue
			}
			before := want[fd] && settled(fd)
			cl.drain(fd, c, func(line string) {
				if res[fd] == 0 {
					res[fd] = pred(line)
				}
			})
			if want[fd] && !before && settled(fd) {
				pending--
			}
		}
	}
	return res
}

// drain reads what fd has, passing complete lines to each.
func (cl *rawClients) drain(fd int, c *epollConn, each func(string)) {
	for {
		n, err := syscall.Read(fd, cl.buf)
		if n > 0 {
			data := append(c.partial, cl.buf[:n]...)
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				each(strings.TrimRight(string(data[:i]), "\r"))
				data = data[i+1:]
			}
			c.partial = append(c.partial[:0], data...)
			continue
		}
		if n == 0 && err == nil {
			c.eof = true
			_ = syscall.EpollCtl(cl.ep, syscall.EPOLL_CTL_DEL, fd, nil)
		}
		if err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) {
			c.eof = true
			_ = syscall.EpollCtl(cl.ep, syscall.EPOLL_CTL_DEL, fd, nil)
		}
		return
	}
}

func (cl *rawClients) all() []int {
	fds := make([]int, 0, len(cl.conns))
	for fd := range cl.conns {
		fds = append(fds, fd)
	}
	return fds
}

func (cl *rawClients) close(fd int) {
	if _, ok := cl.conns[fd]; ok {
		delete(cl.conns, fd)
		syscall.Close(fd)
	}
}

func (cl *rawClients) closeAll() {
	for fd := range cl.conns {
		syscall.Close(fd)
	}
	cl.conns = nil
	syscall.Close(cl.ep)
}
