package loop

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"laird/chat"
)

// startLoop runs the network side with a real chat server (no store) on a
// free loopback port.
func startLoop(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	return startLoopChat(t, cfg, chat.Config{})
}

// freeLoopback returns a loopback address nothing listens on.
func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveLoops starts the network side with a real chat server (no store) as
// cfg says; stop shuts both down and waits for them. An error is Serve's,
// when it fails to start.
func serveLoops(t *testing.T, cfg Config, ccfg chat.Config) (s *Server, stop func(), err error) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s = New(cfg, log)
	irc, err := chat.New(ccfg, s, log)
	if err != nil {
		t.Fatal(err)
	}
	s.SetChat(irc)
	irc.Start()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	select {
	case <-s.Started():
	case err := <-errc:
		irc.Stop()
		return nil, nil, err
	}
	return s, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-errc
		irc.Stop()
	}, nil
}

func readUntil(t *testing.T, r *bufio.Reader, substr string) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for %q: %v", substr, err)
		}
		if strings.Contains(line, substr) {
			return line
		}
	}
}

func TestServeCountsAndShutdown(t *testing.T) {
	s, addr := startLoop(t, Config{Loops: 2})
	if s.Count() != 2 {
		t.Fatalf("Count = %d, want 2", s.Count())
	}
	if s.Recorder(0) != nil {
		t.Fatal("recorder without monitoring")
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	io.WriteString(conn, "NICK a\r\nUSER a 0 * :a\r\n")
	readUntil(t, r, " 001 a ")
	st := s.Stats()
	if st.Accepted != 1 || st.Open != 1 || st.LinesIn < 2 || st.BytesIn == 0 || st.BytesOut == 0 {
		t.Fatalf("stats after one registration: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	readUntil(t, r, "ERROR :Server shutting down")
}

// TestInputCaps: a line with no end past MaxLine is answered with 417 and
// dropped up to its end; the connection then goes on.
func TestInputCaps(t *testing.T) {
	_, addr := startLoop(t, Config{Loops: 1, RecvQ: 32 << 10})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	io.WriteString(conn, "NICK b\r\nUSER b 0 * :b\r\n")
	readUntil(t, r, " 001 b ")
	io.WriteString(conn, "PRIVMSG b :"+strings.Repeat("x", 9000))
	readUntil(t, r, " 417 b ")
	io.WriteString(conn, "\r\nPING :alive\r\n")
	readUntil(t, r, "PONG")
}

func TestTimeouts(t *testing.T) {
	_, addr := startLoop(t, Config{Loops: 1, RegistrationTimeout: 300 * time.Millisecond, TickInterval: 50 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	readUntil(t, bufio.NewReader(conn), "ERROR :Registration timed out")
}
