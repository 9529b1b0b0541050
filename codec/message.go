package codec

import (
	"bytes"
	"errors"
)

// Protocol limits from the Modern IRC documents and IRCv3 message-tags.
const (
	// MaxLineBody is the most bytes a line may have without its tags and
	// without the CRLF (512 including CRLF).
	MaxLineBody = 510
	// MaxTagsLen is the most bytes of the tag section, '@' and the
	// separating space included.
	MaxTagsLen = 8191
	// MaxClientTagsLen is the most bytes of client-only tag data a client
	// may send, per IRCv3 message-tags.
	MaxClientTagsLen = 4094
	// MaxLine is the longest frame (tags, body and CRLF) a reader must hold.
	MaxLine = MaxTagsLen + MaxLineBody + 2
	// MaxParams is the most parameters a message has; the fifteenth
	// absorbs the rest of the line, as RFC 2812's grammar says.
	MaxParams = 15
)

// Errors returned by Parse and SplitLine.
var (
	ErrEmpty       = errors.New("codec: empty line")
	ErrNoCommand   = errors.New("codec: missing command")
	ErrLineTooLong = errors.New("codec: line too long")
	ErrTagsTooLong = errors.New("codec: tag section too long")
	ErrControlChar = errors.New("codec: NUL or bare CR in line")
	ErrBadCommand  = errors.New("codec: command has characters other than letters, digits, '_' and '-'")
)

// Message is one parsed IRC line. Its byte slices alias the input passed to
// Parse and are valid until that input is modified or reused. The zero value
// is an empty message ready for Parse.
type Message struct {
	Tags    []byte // raw tag section without the leading '@'; nil when absent
	Source  []byte // prefix without the leading ':'; nil when absent
	Command []byte
	params  [MaxParams][]byte
	nparams int
	// Trailing reports whether the last parameter was written with a ':'
	// prefix. Encoders need not preserve it; it matters only for echo.
	Trailing bool
}

// NParams returns the number of parameters.
func (m *Message) NParams() int { return m.nparams }

// Param returns parameter i, or nil when there is no such parameter.
func (m *Message) Param(i int) []byte {
	if i < 0 || i >= m.nparams {
		return nil
	}
	return m.params[i]
}

// Params returns the parameters as a slice of the message's own array.
func (m *Message) Params() [][]byte { return m.params[:m.nparams] }

// SetParams replaces the parameters; extra ones beyond MaxParams are dropped.
func (m *Message) SetParams(ps ...[]byte) {
	m.nparams = copy(m.params[:], ps)
}

// AddParam appends a parameter; it reports false when the message is full.
func (m *Message) AddParam(p []byte) bool {
	if m.nparams == MaxParams {
		return false
	}
	m.params[m.nparams] = p
	m.nparams++
	return true
}

// Reset clears m for reuse.
func (m *Message) Reset() { *m = Message{} }

// CommandIs reports whether the command equals name, ignoring ASCII case.
// name must be upper case.
func (m *Message) CommandIs(name string) bool {
	if len(m.Command) != len(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := m.Command[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// Parse parses one line into m. The line may end in LF or CRLF or in
// neither. m aliases line afterwards. On error m is left in an unspecified
// state.
func (m *Message) Parse(line []byte) error {
	m.Tags, m.Source, m.Command, m.nparams, m.Trailing = nil, nil, nil, 0, false
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, 0) >= 0 || bytes.IndexByte(line, '\r') >= 0 {
		return ErrControlChar
	}
	line = trimSpaces(line)
	if len(line) == 0 {
		return ErrEmpty
	}
	if line[0] == '@' {
		end := bytes.IndexByte(line, ' ')
		if end < 0 {
			return ErrNoCommand
		}
		if end+1 > MaxTagsLen {
			return ErrTagsTooLong
		}
		m.Tags = line[1:end]
		line = trimSpaces(line[end+1:])
	}
	if len(line) > MaxLineBody {
		return ErrLineTooLong
	}
	if len(line) > 0 && line[0] == ':' {
		end := bytes.IndexByte(line, ' ')
		if end < 0 {
			return ErrNoCommand
		}
		m.Source = line[1:end]
		line = trimSpaces(line[end+1:])
	}
	end := bytes.IndexByte(line, ' ')
	if end < 0 {
		end = len(line)
	}
	m.Command = line[:end]
	if len(m.Command) == 0 {
		return ErrNoCommand
	}
	if !validCommand(m.Command) {
		return ErrBadCommand
	}
	line = line[end:]
	for {
		line = trimSpaces(line)
		if len(line) == 0 {
			return nil
		}
		if line[0] == ':' {
			m.params[m.nparams] = line[1:]
			m.nparams++
			m.Trailing = true
			return nil
		}
		if m.nparams == MaxParams-1 {
			m.params[m.nparams] = line
			m.nparams++
			return nil
		}
		end := bytes.IndexByte(line, ' ')
		if end < 0 {
			end = len(line)
		}
		m.params[m.nparams] = line[:end]
		m.nparams++
		line = line[end:]
	}
}

// validCommand accepts letters, digits, '_' and '-': wider than the
// grammar's letters-or-numeric so that an unknown command such as
// NONEXISTENT_COMMAND reaches the handler and gets 421, but never a byte
// that would change how the line re-parses.
func validCommand(c []byte) bool {
	for _, b := range c {
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// trimSpaces drops leading spaces only: trailing spaces belong to a
// trailing parameter and must survive.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// SplitLine finds the first complete line in buf. It returns the line
// without its terminator and the number of bytes it used, terminator
// included. When buf holds no LF, advance is 0; if buf is then already
// longer than MaxLine the caller is being fed an overlong line and
// ErrLineTooLong is returned.
func SplitLine(buf []byte) (line []byte, advance int, err error) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		if len(buf) > MaxLine {
			return nil, 0, ErrLineTooLong
		}
		return nil, 0, nil
	}
	line = buf[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, i + 1, nil
}
