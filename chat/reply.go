package chat

import (
	"strconv"
	"sync/atomic"

	"laird/codec"
)

// replies collects lines addressed to one client, encoded once into buf;
// an op's output (op.reply, batch.reply) and labeled-response framing
// (frameLabeled) take it from there. A replies value is used by one
// goroutine at a time.
type replies struct {
	srv    *Server
	nick   string
	buf    []byte
	starts []int
}

func (r *replies) reset(srv *Server, nick string) {
	r.srv, r.nick, r.buf, r.starts = srv, nick, r.buf[:0], r.starts[:0]
}

func (r *replies) begin() { r.starts = append(r.starts, len(r.buf)) }

// numeric appends ":server NUM nick params..." with the last parameter
// always written as trailing.
func (r *replies) numeric(num string, params ...string) {
	if std := r.srv.std; std != nil && len(num) == 3 && (num[0] == '4' || num[0] == '5') {
		std.Errors.Inc(int(num[0]-'0')*100 + int(num[1]-'0')*10 + int(num[2]-'0'))
	}
	r.begin()
	r.buf = append(r.buf, ':')
	r.buf = append(r.buf, r.srv.name...)
	r.buf = append(r.buf, ' ')
	r.buf = append(r.buf, num...)
	r.buf = append(r.buf, ' ')
	r.buf = append(r.buf, r.nick...)
	for i, p := range params {
		r.buf = codec.AppendParamString(r.buf, p, i == len(params)-1, true)
	}
	r.buf = append(r.buf, '\r', '\n')
}

// cmd appends ":source COMMAND params..." ; the last parameter is written
// as trailing when trailing is true or when it needs to be.
func (r *replies) cmd(source, command string, trailing bool, params ...string) {
	r.begin()
	r.buf = appendCmd(r.buf, source, command, trailing, params...)
}

// line appends one complete encoded line (CRLF included).
func (r *replies) line(l []byte) {
	r.begin()
	r.buf = append(r.buf, l...)
}

// fail appends an IRCv3 standard-replies FAIL line.
func (r *replies) fail(command, code, context, description string) {
	r.standard("FAIL", command, code, context, description)
}

// failWith appends a FAIL whose context is several parameters (a target
// and a msgid, say).
func (r *replies) failWith(command, code, description string, context ...string) {
	params := append([]string{command, code}, context...)
	r.cmd(r.srv.name, "FAIL", true, append(params, description)...)
}

func (r *replies) standard(kind, command, code, context, description string) {
	if context == "" {
		r.cmd(r.srv.name, kind, true, command, code, description)
		return
	}
	r.cmd(r.srv.name, kind, true, command, code, context, description)
}

func (r *replies) empty() bool { return len(r.starts) == 0 }

// appendWithTag appends line with one more tag key=value.
func appendWithTag(dst, line []byte, key string, value []byte) []byte {
	dst = append(dst, '@')
	dst = append(dst, key...)
	dst = append(dst, '=')
	dst = codec.AppendEscapedTag(dst, value)
	if len(line) > 0 && line[0] == '@' {
		dst = append(dst, ';')
		return append(dst, line[1:]...)
	}
	dst = append(dst, ' ')
	return append(dst, line...)
}

func appendCmd(dst []byte, source, command string, trailing bool, params ...string) []byte {
	if source != "" {
		dst = append(dst, ':')
		dst = append(dst, source...)
		dst = append(dst, ' ')
	}
	dst = append(dst, command...)
	for i, p := range params {
		dst = codec.AppendParamString(dst, p, i == len(params)-1, trailing)
	}
	return append(dst, '\r', '\n')
}

var batchSeq atomic.Uint64

// batchID returns a short identifier unique for this server's lifetime.
func (s *Server) batchID() string {
	return strconv.FormatUint(batchSeq.Add(1), 36)
}
