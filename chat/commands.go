package chat

import (
	"sort"
	"sync"
	"time"

	"laird/codec"
)

// command is one row of the command table. The generic checks (451 before
// registration, 461 for too few parameters, 481 for operator-only
// commands) run once in Handle, before any handler.
type command struct {
	handle    func(o *op, m *codec.Message)
	minParams int
	preReg    bool // usable before registration
	oper      bool // needs operator privileges
	// route names the shard the command will be sent to, so that commands
	// for the shard a client is already waiting on can be queued behind
	// it, and so that the loop holds the command back while that shard is
	// full. nil (or a negative result) means "not routable": the command
	// waits until the client has nothing in flight.
	route func(s *Server, c *Client, m *codec.Message) int
	// idle marks commands that do not reset the WHOIS idle time.
	idle bool
	help string
	// index is the command's position in commandOrder (its metric).
	index int
}

// commands is the command table by name, and commandOrder its names
// sorted, which fixes each command's index (and so its metric id) the same
// way in every Registry. Both are built by this one init (the table's
// handlers refer back to it, which a variable initialiser may not), so
// nothing depends on the order in which files' initialisers run.
var (
	commands     map[string]*command
	commandOrder []string
)

func init() { commands, commandOrder = buildCommands() }

func buildCommands() (map[string]*command, []string) {
	table := commandTable()
	order := make([]string, 0, len(table))
	for name := range table {
		order = append(order, name)
	}
	sort.Strings(order)
	for i, name := range order {
		table[name].index = i
	}
	return table, order
}

// commandIndex returns the metric index of a command name.
func commandIndex(name string) int {
	if cmd := commands[name]; cmd != nil {
		return cmd.index
	}
	return -1
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
// false when the command cannot start yet (earlier commands are in flight
// elsewhere, or its shard is full); the caller keeps the line and offers it
// again after Conn.Resume.
func (s *Server) Handle(c *Client, m *codec.Message, now time.Time) bool {
	cmd := lookupCommand(m.Command)
	route := -1
	if cmd != nil && cmd.route != nil {
		route = cmd.route(s, c, m)
	}
	if !c.mayStart(cmd, route) {
		return false
	}
	if c.quitting {
		return true
	}
	if !s.charge(c, m, now) {
		return c.quitting // cut for flooding: the line is consumed
	}
	if (cmd == nil || !cmd.idle) && now.UnixNano()-c.lastActive >= int64(time.Second) {
		c.lastActive = now.UnixNano()
		c.user().activeAt.Store(now.Unix())
	}
	o := c.newOp(cmd, now)
	if c.Has(CapLabeledResponse) {
		if v, ok := m.Tag("label"); ok && len(v) > 0 && len(v) <= 64 {
			o.setLabel(v)
		}
	}
	if c.ml != nil {
		s.multilineAllows(o, cmd, m)
	}
	switch {
	case cmd == nil:
		o.numeric(codec.ERR_UNKNOWNCOMMAND, string(m.Command), "Unknown command")
	case !cmd.preReg && !c.Registered():
		o.numeric(codec.ERR_NOTREGISTERED, "You have not registered")
	case m.NParams() < cmd.minParams:
		o.numeric(codec.ERR_NEEDMOREPARAMS, upper(m.Command), "Not enough parameters")
	case cmd.oper && c.Identity().Modes&UModeOper == 0:
		o.numeric(codec.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
	default:
		cmd.handle(o, m)
	}
	o.advance()
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

// send writes r to c outside any command (notices, errors about input
// that is not a command) and recycles r. Loop only.
func (c *Client) send(r *replies) {
	if !r.empty() {
		c.conn.Write(r.buf)
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
	if len(folded) == len("nickserv") && services[string(folded)] != nil {
		return -1 // a service runs on the loop, not on the nick's shard
	}
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
