package chat

import (
	"sync"
	"time"

	"laird/codec"
)

// command is one row of the command table. The generic checks (451 before
// registration, 461 for too few parameters, 481 for operator-only
// commands) run once in Handle, before any handler.
type command struct {
	handle    func(s *Server, c *Client, m *codec.Message)
	minParams int
	preReg    bool // usable before registration
	oper      bool // needs operator privileges
	// route names the shard the command will be sent to, so that commands
	// for the shard a client is already waiting on can be queued behind
	// it. nil (or a negative result) means "not routable": the command
	// waits until the client has nothing in flight.
	route func(s *Server, c *Client, m *codec.Message) int
	// idle marks commands that do not reset the WHOIS idle time.
	idle bool
	help string
	// index is the command's position in commandOrder (its metric).
	index int
}

var commands map[string]*command

func init() {
	commands = make(map[string]*command)
	for name, cmd := range commandTable() {
		commands[name] = cmd
	}
}

// lookupCommand finds the row for a command name in any case without
// allocating.
func lookupCommand(name []byte) *command {
	var up [24]byte
	if len(name) > len(up) {
		return nil
	}
	for i, ch := range name {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		up[i] = ch
	}
	return commands[string(up[:len(name)])]
}

// Handle processes one parsed line from c; it runs on c's loop. It returns
// false when the command cannot run yet because the client is waiting for
// earlier commands on another shard; the caller keeps the line and calls
// again after Conn.Resume.
func (s *Server) Handle(c *Client, m *codec.Message, now time.Time) bool {
	cmd := lookupCommand(m.Command)
	if c.inflight > 0 {
		if cmd == nil || cmd.route == nil || c.inflight >= s.cfg.PipelineMax {
			return false
		}
		if id := cmd.route(s, c, m); id < 0 || id != c.inflightTo {
			return false
		}
	}
	if c.quitting {
		return true
	}
	if !s.charge(c, m, now) {
		return c.quitting // cut for flooding: the line is consumed
	}
	if (cmd == nil || !cmd.idle) && now.Sub(c.lastActive) >= time.Second {
		c.lastActive = now
		c.activeAt.Store(now.Unix())
	}
	c.outLabel = c.outLabel[:0]
	if c.Has(CapLabeledResponse) {
		if v, ok := m.Tag("label"); ok && len(v) > 0 && len(v) <= 64 {
			c.outLabel = codec.UnescapeTag(c.outLabel, v)
		}
	}
	switch {
	case cmd == nil:
		r := c.replies()
		r.numeric(codec.ERR_UNKNOWNCOMMAND, string(m.Command), "Unknown command")
		c.sendReplies(r)
	case !cmd.preReg && !c.Registered():
		r := c.replies()
		r.numeric(codec.ERR_NOTREGISTERED, "You have not registered")
		c.sendReplies(r)
	case m.NParams() < cmd.minParams:
		r := c.replies()
		r.numeric(codec.ERR_NEEDMOREPARAMS, upper(m.Command), "Not enough parameters")
		c.sendReplies(r)
	case cmd.oper && c.Identity().Modes&UModeOper == 0:
		r := c.replies()
		r.numeric(codec.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
		c.sendReplies(r)
	default:
		opsBefore := c.opsStarted
		c.inHandler = true
		cmd.handle(s, c, m)
		c.inHandler = false
		s.recordCommand(c, cmd, now, opsBefore)
	}
	if len(c.outLabel) > 0 && c.inflight == 0 && !c.quitting {
		// A labeled command that produced no reply gets an ACK.
		c.sendReplies(c.replies())
	}
	return true
}

func upper(b []byte) string {
	out := make([]byte, len(b))
	for i, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		out[i] = ch
	}
	return string(out)
}

var repliesPool = sync.Pool{New: func() any { return new(replies) }}

// replies returns an empty reply collector addressed to c.
func (c *Client) replies() *replies {
	r := repliesPool.Get().(*replies)
	r.reset(c.srv, c.Nick())
	return r
}

func putReplies(r *replies) {
	if cap(r.buf) > 64<<10 {
		r.buf = nil
	}
	repliesPool.Put(r)
}

// takeLabel returns the label of the command being handled and clears it,
// so that exactly one response carries it.
func (c *Client) takeLabel() []byte {
	if len(c.outLabel) == 0 {
		return nil
	}
	l := append([]byte(nil), c.outLabel...)
	c.outLabel = c.outLabel[:0]
	return l
}

// sendReplies writes r to c (label rules applied) and recycles r. Loop only.
func (c *Client) sendReplies(r *replies) {
	label := c.outLabel
	if len(label) == 0 {
		if !r.empty() {
			c.conn.Write(r.buf)
		}
	} else {
		buf := r.appendTo(nil, label, c.Has(CapBatch))
		c.outLabel = c.outLabel[:0]
		c.conn.Write(buf)
	}
	putReplies(r)
}

// routeFirstTarget routes by the first parameter: a channel or nick.
func routeFirstTarget(s *Server, c *Client, m *codec.Message) int {
	t := m.Param(0)
	if len(t) == 0 || containsComma(t) {
		return -1
	}
	var buf [256]byte
	if len(t) > len(buf) {
		return -1
	}
	folded := s.cm.AppendFold(buf[:0], t)
	return s.shardOf(string(folded))
}

func containsComma(b []byte) bool {
	for _, ch := range b {
		if ch == ',' {
			return true
		}
	}
	return false
}
