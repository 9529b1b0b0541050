package bench

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OfflineConfig sizes the offline scenario: an account with nothing connected receives
// PerConversation messages from each of Conversations senders (stored for it as offline
// messages), then logs in with SASL; measured is the time from SASL success (903) to the
// end of the CHATHISTORY TARGETS answer that lists the conversations. Logins rounds, each
// with fresh messages: after measuring, the client reads every conversation, as a client
// would, which makes them read.
type OfflineConfig struct {
	Conversations   int
	PerConversation int
	Logins          int
}

func (c *OfflineConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Conversations, "offline.conversations", c.Conversations, "offline: senders, one conversation each")
	fs.IntVar(&c.PerConversation, "offline.per-conversation", c.PerConversation, "offline: messages each sender stores before a login")
	fs.IntVar(&c.Logins, "offline.logins", c.Logins, "offline: measured logins")
}

type offlineScenario struct{ cfg OfflineConfig }

func (s *offlineScenario) Name() string { return "offline" }

func (s *offlineScenario) LatencyLabel() string { return "SASL success to end of CHATHISTORY TARGETS" }

func (s *offlineScenario) Params() map[string]any {
	c := s.cfg
	return map[string]any{"conversations": c.Conversations, "per_conversation": c.PerConversation, "logins": c.Logins}
}

func (s *offlineScenario) Figures() []FigureSpec {
	return []FigureSpec{
		{Name: "login_to_targets_p50_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 1},
		{Name: "login_to_targets_max_ms", Unit: "ms", Better: LowerIsBetter, Threshold: 0.5, Floor: 2},
		{Name: "stored_per_s", Unit: "1/s", Better: HigherIsBetter, Threshold: 0.4},
		{Name: "targets_listed", Unit: "", Better: HigherIsBetter, Info: true},
	}
}

// loginCaps: batch shows where the TARGETS answer ends.
var loginCaps = []string{"sasl", "draft/chathistory", "batch", "server-time"}

func (s *offlineScenario) Run(ctx context.Context, t Target) (*RunResult, error) {
	cfg := s.cfg
	if cfg.Conversations <= 0 || cfg.PerConversation <= 0 || cfg.Logins <= 0 {
		return nil, fmt.Errorf("offline: conversations, per-conversation and logins must be positive")
	}
	nm := names{tag: runTag()}
	inbox, password := "bi"+nm.tag, "pw-inbox-"+nm.tag
	m := &meter{pid: t.PID}
	p := m.begin("account")
	err := registerAccount(ctx, t.Addr, inbox, password)
	m.end(p)
	if err != nil {
		return nil, err
	}
	senders, err := connectAll(ctx, t, nm, cfg.Conversations, 8, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("offline: senders: %w", err)
	}
	defer closeAll(senders)

	rec := newRecorder(1)
	var stored, storeMs float64
	listed := 0
	for round := 0; round < cfg.Logins; round++ {
		p = m.begin("store")
		err := storeOffline(ctx, senders, inbox, cfg.PerConversation)
		ph := m.end(p)
		if err != nil {
			return nil, err
		}
		stored += float64(cfg.Conversations * cfg.PerConversation)
		storeMs += ph.WallMs
		p = m.begin("login")
		d, n, err := loginTargets(ctx, t.Addr, nm, round, inbox, password, senders)
		m.end(p)
		if err != nil {
			return nil, err
		}
		rec.Record(0, int64(d))
		listed = n
	}
	h := rec.Merged()
	res := &RunResult{Phases: m.phases, latency: h, Figures: map[string]float64{
		"login_to_targets_p50_ms": ms(h.ValueAtQuantile(50)),
		"login_to_targets_max_ms": ms(h.Max()),
		"stored_per_s":            stored / (storeMs / 1e3),
		"targets_listed":          float64(listed),
	}}
	if listed < cfg.Conversations {
		res.Notes = append(res.Notes, fmt.Sprintf("TARGETS listed %d of %d conversations", listed, cfg.Conversations))
	}
	return res, nil
}

// registerAccount registers nick as an account (draft/account-registration) and
// disconnects, so that the account has nothing connected.
func registerAccount(ctx context.Context, addr, nick, password string) error {
	c, err := Register(ctx, 0, ClientConfig{Addr: addr, Nick: nick, Caps: []string{"draft/account-registration"}})
	if err != nil {
		return fmt.Errorf("offline: %w", err)
	}
	defer c.Close()
	if _, ok := c.Offered["draft/account-registration"]; !ok {
		return &SkipError{Reason: "server does not offer draft/account-registration"}
	}
	done := make(chan string, 1)
	c.SetHandler(func(_ *Client, l *Line) {
		if l.Is("REGISTER") || (l.Is("FAIL") && string(l.Param(0)) == "REGISTER") {
			select {
			case done <- string(l.Param(0)) + " " + string(l.Last()):
			default:
			}
		}
	})
	c.Start()
	if err := c.Send([]byte("REGISTER * * " + password + "\r\n")); err != nil {
		return fmt.Errorf("offline: register: %w", err)
	}
	select {
	case r := <-done:
		if !strings.HasPrefix(r, "SUCCESS") {
			return fmt.Errorf("offline: register %s: %s", nick, r)
		}
	case <-time.After(30 * time.Second):
		return fmt.Errorf("offline: register %s: no answer within 30s", nick)
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := c.Send([]byte("QUIT\r\n")); err != nil {
		return nil
	}
	select { // gone before anyone writes to it
	case <-c.Done():
	case <-time.After(5 * time.Second):
	}
	return nil
}

// errNotStored: the server answered a message to the offline account with an error.
type errNotStored struct{ reply string }

func (e *errNotStored) Error() string { return "message not stored: " + e.reply }

// storeOffline has each sender send n messages to inbox and waits until every one was
// acknowledged as stored (NOTE ... STORED_OFFLINE).
func storeOffline(ctx context.Context, senders []*Client, inbox string, n int) error {
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for _, c := range senders {
		acked := make(chan struct{}, n)
		failed := make(chan string, 1)
		c.SetHandler(func(_ *Client, l *Line) {
			switch {
			case l.Is("NOTE") && string(l.Param(1)) == "STORED_OFFLINE":
				acked <- struct{}{}
			case l.Is("401") || l.Is("FAIL"):
				select {
				case failed <- string(l.Command) + " " + string(l.Last()):
				default:
				}
			}
		})
		wg.Go(func() {
			buf := make([]byte, 0, 128)
			for k := 0; k < n; k++ {
				buf = append(buf[:0], "PRIVMSG "+inbox+" :offline message "+strconv.Itoa(k)+" from "+c.Nick+"\r\n"...)
				if err := c.Send(buf); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
			timeout := time.After(30 * time.Second)
			for k := 0; k < n; k++ {
				select {
				case <-acked:
				case why := <-failed:
					firstErr.CompareAndSwap(nil, error(&errNotStored{why}))
					return
				case <-timeout:
					firstErr.CompareAndSwap(nil, fmt.Errorf("%d of %d messages acknowledged as stored within 30s", k, n))
					return
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		var ns *errNotStored
		if errors.As(err, &ns) && strings.HasPrefix(ns.reply, "401") {
			return &SkipError{Reason: "server does not store messages for an account with nothing connected (401)"}
		}
		return fmt.Errorf("offline: store: %w", err)
	}
	return ctx.Err()
}

// loginTargets connects, logs in to inbox with SASL PLAIN and, at 903, asks for
// CHATHISTORY TARGETS; it returns the time from 903 to the end of the answer and the
// number of targets listed. It then reads every sender's conversation (which makes it
// read) and disconnects.
func loginTargets(ctx context.Context, addr string, nm names, round int, inbox, password string, senders []*Client) (time.Duration, int, error) {
	c, err := Register(ctx, 0, ClientConfig{Addr: addr, Nick: nm.nick(10000 + round), Caps: loginCaps})
	if err != nil {
		return 0, 0, fmt.Errorf("offline: login: %w", err)
	}
	defer c.Close()
	for _, cp := range loginCaps {
		if !c.Caps[cp] {
			return 0, 0, &SkipError{Reason: "server did not grant " + cp}
		}
	}
	type result struct {
		d      time.Duration
		listed int
		err    string
	}
	out := make(chan result, 1)
	var success int64
	batch, listed := "", 0
	reads := make(chan struct{}, len(senders))
	c.SetHandler(func(c *Client, l *Line) {
		switch {
		case l.Is("AUTHENTICATE") && string(l.Param(0)) == "+":
			_ = c.Send([]byte("AUTHENTICATE " + base64.StdEncoding.EncodeToString([]byte("\x00"+inbox+"\x00"+password)) + "\r\n"))
		case l.Is("903"):
			success = now()
			_ = c.Send([]byte("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 1000\r\n"))
		case l.Is("904") || l.Is("905") || l.Is("906"):
			out <- result{err: "SASL: " + string(l.Last())}
		case l.Is("BATCH"):
			ref := string(l.Param(0))
			switch {
			case len(ref) > 1 && ref[0] == '+' && string(l.Param(1)) == "draft/chathistory-targets":
				batch = ref[1:]
			case len(ref) > 1 && ref[0] == '-' && ref[1:] == batch:
				batch = ""
				out <- result{d: time.Duration(now() - success), listed: listed}
			case len(ref) > 1 && ref[0] == '-':
				reads <- struct{}{} // a chathistory batch ended
			}
		case l.Is("CHATHISTORY") && batch != "":
			listed++
		case l.Is("FAIL") && string(l.Param(0)) == "CHATHISTORY":
			out <- result{err: "CHATHISTORY: " + string(l.Last())}
		}
	})
	c.Start()
	if err := c.Send([]byte("AUTHENTICATE PLAIN\r\n")); err != nil {
		return 0, 0, err
	}
	var r result
	select {
	case r = <-out:
	case <-time.After(30 * time.Second):
		return 0, 0, fmt.Errorf("offline: no TARGETS answer within 30s of logging in")
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	if r.err != "" {
		return 0, 0, fmt.Errorf("offline: login: %s", r.err)
	}
	for _, s := range senders {
		if err := c.Send([]byte("CHATHISTORY LATEST " + s.Nick + " * 1\r\n")); err != nil {
			return 0, 0, err
		}
	}
	for range senders {
		select {
		case <-reads:
		case <-time.After(30 * time.Second):
			return 0, 0, fmt.Errorf("offline: reading the conversations took over 30s")
		}
	}
	return r.d, r.listed, nil
}
