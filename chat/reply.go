package chat

import (
	"strconv"
	"sync/atomic"

	"laird/codec"
)

// replies collects the lines that answer one command so that
// labeled-response can tag or wrap them as a whole (IRCv3 labeled-response:
// no line -> ACK, one line -> tagged, several -> a labeled-response BATCH).
// A replies value is used by one goroutine at a time.
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

func (r *replies) standard(kind, command, code, context, description string) {
	if context == "" {
		r.cmd(r.srv.name, kind, true, command, code, description)
		return
	}
	r.cmd(r.srv.name, kind, true, command, code, context, description)
}

func (r *replies) empty() bool { return len(r.starts) == 0 }

// batchRef makes a "label" that refers to an open labeled-response batch:
// lines carrying it are tagged batch=<id> instead of label=, and no ACK is
// due for them. Multi-step commands (JOIN #a,#b) use it so that all their
// replies, from several shards, form one labeled response.
func batchRef(id string) []byte { return append([]byte{0}, id...) }

func isBatchRef(label []byte) bool { return len(label) > 0 && label[0] == 0 }

// appendTo appends the collected lines to dst, applying label rules when
// label is non-empty. batchOK says whether the client has the batch cap.
func (r *replies) appendTo(dst, label []byte, batchOK bool) []byte {
	if len(label) == 0 {
		return append(dst, r.buf...)
	}
	if isBatchRef(label) {
		for i, start := range r.starts {
			end := len(r.buf)
			if i+1 < len(r.starts) {
				end = r.starts[i+1]
			}
			dst = appendWithTag(dst, r.buf[start:end], "batch", label[1:])
		}
		return dst
	}
	switch len(r.starts) {
	case 0:
		dst = append(dst, "@label="...)
		dst = codec.AppendEscapedTag(dst, label)
		dst = append(dst, " :"...)
		dst = append(dst, r.srv.name...)
		return append(dst, " ACK\r\n"...)
	case 1:
		return appendWithTag(dst, r.buf, "label", label)
	}
	if !batchOK {
		// labeled-response requires batch for multi-line responses; a
		// client without it gets the lines untagged, as the spec allows.
		return append(dst, r.buf...)
	}
	id := r.srv.batchID()
	dst = append(dst, "@label="...)
	dst = codec.AppendEscapedTag(dst, label)
	dst = append(dst, " :"...)
	dst = append(dst, r.srv.name...)
	dst = append(dst, " BATCH +"...)
	dst = append(dst, id...)
	dst = append(dst, " labeled-response\r\n"...)
	for i, start := range r.starts {
		end := len(r.buf)
		if i+1 < len(r.starts) {
			end = r.starts[i+1]
		}
		dst = appendWithTag(dst, r.buf[start:end], "batch", []byte(id))
	}
	dst = append(dst, ':')
	dst = append(dst, r.srv.name...)
	dst = append(dst, " BATCH -"...)
	dst = append(dst, id...)
	return append(dst, '\r', '\n')
}

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
