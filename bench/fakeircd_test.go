package bench

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeIRCd is a minimal IRC server for tests: registration (with CAP and 433), PING,
// JOIN, channel PRIVMSG, QUIT and, when history is on, CHATHISTORY LATEST/BEFORE with
// batches. delay is slept before every channel message is fanned out, to make a
// deliberately slowed server.
type fakeIRCd struct {
	ln      net.Listener
	history bool
	delay   time.Duration

	mu    sync.Mutex
	nicks map[string]*fakeConn
	chans map[string]*fakeChan
	msgID int
	wg    sync.WaitGroup
}

type fakeConn struct {
	nc   net.Conn
	wmu  sync.Mutex
	nick string
	user bool
	capn bool // CAP negotiation in progress
	reg  bool
	caps map[string]bool
}

type fakeChan struct {
	members []*fakeConn
	log     []fakeMsg
}

type fakeMsg struct {
	id   int
	from string
	text string
}

func startFake(t testing.TB, history bool, delay time.Duration) *fakeIRCd {
	t.Helper()
	s, err := listenFake("127.0.0.1:0", history, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

func listenFake(addr string, history bool, delay time.Duration) (*fakeIRCd, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &fakeIRCd{ln: ln, history: history, delay: delay, nicks: map[string]*fakeConn{}, chans: map[string]*fakeChan{}}
	s.wg.Go(s.serve)
	return s, nil
}

func (s *fakeIRCd) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.nicks {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeIRCd) addr() string { return s.ln.Addr().String() }

func (s *fakeIRCd) serve() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() { s.handle(&fakeConn{nc: nc, caps: map[string]bool{}}) })
	}
}

func (c *fakeConn) send(lines ...string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.nc.Write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
}

func (s *fakeIRCd) handle(c *fakeConn) {
	defer s.drop(c)
	sc := bufio.NewScanner(c.nc)
	for sc.Scan() {
		f := strings.SplitN(strings.TrimRight(sc.Text(), "\r"), " :", 2)
		args := strings.Fields(f[0])
		if len(f) == 2 {
			args = append(args, f[1])
		}
		if len(args) == 0 {
			continue
		}
		if !s.command(c, strings.ToUpper(args[0]), args[1:]) {
			return
		}
	}
}

func (s *fakeIRCd) command(c *fakeConn, cmd string, args []string) bool {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch cmd {
	case "CAP":
		switch arg(0) {
		case "LS":
			c.capn = true
			offer := ""
			if s.history {
				offer = "batch draft/chathistory message-tags server-time"
			}
			c.send(":fake CAP * LS :" + offer)
		case "REQ":
			for _, k := range strings.Fields(arg(1)) {
				c.caps[k] = true
			}
			c.send(":fake CAP * ACK :" + arg(1))
		case "END":
			c.capn = false
			s.maybeWelcome(c)
		}
	case "NICK":
		s.mu.Lock()
		if _, taken := s.nicks[arg(0)]; taken {
			s.mu.Unlock()
			c.send(":fake 433 * " + arg(0) + " :Nickname is already in use")
			return true
		}
		s.nicks[arg(0)] = c
		c.nick = arg(0)
		s.mu.Unlock()
		s.maybeWelcome(c)
	case "USER":
		c.user = true
		s.maybeWelcome(c)
	case "PING":
		c.send(":fake PONG fake :" + arg(0))
	case "JOIN":
		s.mu.Lock()
		ch := s.chans[arg(0)]
		if ch == nil {
			ch = &fakeChan{}
			s.chans[arg(0)] = ch
		}
		ch.members = append(ch.members, c)
		members := append([]*fakeConn(nil), ch.members...)
		s.mu.Unlock()
		for _, m := range members {
			m.send(":" + c.nick + " JOIN " + arg(0))
		}
		c.send(":fake 366 " + c.nick + " " + arg(0) + " :End of /NAMES list.")
	case "PRIVMSG":
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		s.mu.Lock()
		ch := s.chans[arg(0)]
		if ch == nil {
			s.mu.Unlock()
			return true
		}
		s.msgID++
		ch.log = append(ch.log, fakeMsg{id: s.msgID, from: c.nick, text: arg(1)})
		members := append([]*fakeConn(nil), ch.members...)
		s.mu.Unlock()
		line := ":" + c.nick + " PRIVMSG " + arg(0) + " :" + arg(1)
		for _, m := range members {
			if m != c {
				m.send(line)
			}
		}
	case "CHATHISTORY":
		s.chathistory(c, arg(0), arg(1), arg(2), arg(3))
	case "QUIT":
		c.send("ERROR :Closing link")
		return false
	}
	return true
}

func (s *fakeIRCd) maybeWelcome(c *fakeConn) {
	if c.reg || c.capn || !c.user || c.nick == "" {
		return
	}
	c.reg = true
	isupport := "CHANTYPES=#"
	if s.history {
		isupport += " CHATHISTORY=50"
	}
	c.send(":fake 001 "+c.nick+" :Welcome", ":fake 005 "+c.nick+" "+isupport+" :are supported", ":fake 422 "+c.nick+" :No MOTD")
}

func (s *fakeIRCd) chathistory(c *fakeConn, sub, target, ref, limit string) {
	n, _ := strconv.Atoi(limit)
	s.mu.Lock()
	var msgs []fakeMsg
	if ch := s.chans[target]; ch != nil {
		end := len(ch.log)
		if sub == "BEFORE" {
			id, _ := strconv.Atoi(strings.TrimPrefix(ref, "msgid="))
			for end > 0 && ch.log[end-1].id >= id {
				end--
			}
		}
		msgs = append(msgs, ch.log[max(0, end-n):end]...)
	}
	s.msgID++
	batch := "b" + strconv.Itoa(s.msgID)
	s.mu.Unlock()
	lines := []string{":fake BATCH +" + batch + " chathistory " + target}
	for _, m := range msgs {
		lines = append(lines, fmt.Sprintf("@batch=%s;msgid=%d :%s PRIVMSG %s :%s", batch, m.id, m.from, target, m.text))
	}
	c.send(append(lines, ":fake BATCH -"+batch)...)
}

func (s *fakeIRCd) drop(c *fakeConn) {
	c.nc.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nicks[c.nick] == c {
		delete(s.nicks, c.nick)
	}
	for _, ch := range s.chans {
		for i, m := range ch.members {
			if m == c {
				ch.members = append(ch.members[:i], ch.members[i+1:]...)
				break
			}
		}
	}
}
