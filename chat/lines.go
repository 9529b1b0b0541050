package chat

import (
	"errors"
	"time"
	"unicode/utf8"

	"laird/codec"
)

// HandleLine parses and handles one input line (terminator removed) from
// c. It runs on c's loop and returns false when the line must wait because
// c's earlier commands are in flight; the caller keeps it and offers it
// again after Conn.Resume.
// The line is not retained after HandleLine returns.
func (s *Server) HandleLine(c *Client, line []byte, now time.Time) bool {
	// The parsed form lives in the loop's scratch, not on the heap: handlers
	// reach it through an indirect call, which would make a local escape.
	ls := s.loopState(c.loop)
	if ls.depth == len(ls.msgs) {
		ls.msgs = append(ls.msgs, new(codec.Message))
	}
	m := ls.msgs[ls.depth]
	ls.depth++
	defer func() { ls.depth-- }()
	err := m.Parse(line)
	if err != nil && c.busy() {
		return false // its error reply must follow earlier replies
	}
	switch {
	case err == nil:
	case errors.Is(err, codec.ErrEmpty):
		return true
	case errors.Is(err, codec.ErrLineTooLong), errors.Is(err, codec.ErrTagsTooLong):
		s.InputTooLong(c)
		return true
	default:
		r := c.replies()
		r.fail("*", "INVALID_MESSAGE", "", "Malformed line: "+err.Error())
		c.send(r)
		return true
	}
	if !utf8.Valid(line) {
		if c.busy() {
			return false
		}
		r := c.replies()
		r.fail(upper(m.Command), "INVALID_UTF8", "", "Message rejected, your message contained invalid UTF-8")
		c.send(r)
		return true
	}
	if len(m.Tags) > codec.MaxClientTagsLen {
		if c.busy() {
			return false
		}
		s.InputTooLong(c)
		return true
	}
	return s.Handle(c, m, now)
}

// InputTooLong tells c that a line exceeded the protocol limit (417); the
// line is dropped and the connection stays open.
func (s *Server) InputTooLong(c *Client) {
	r := c.replies()
	r.numeric(codec.ERR_INPUTTOOLONG, "Input line was too long")
	c.send(r)
}
