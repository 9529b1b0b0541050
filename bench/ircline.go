package bench

import (
	"bytes"
	"errors"
)

// maxParams is the parameter limit of RFC 1459 (14 middle parameters plus a trailing one).
const maxParams = 15

// Errors returned by ParseLine.
var (
	ErrEmptyLine = errors.New("bench: empty IRC line")
	ErrNoCommand = errors.New("bench: IRC line without a command")
)

// Line is one IRC line split into its parts. Every field is a view into the buffer given
// to ParseLine and stays valid only until that buffer is reused (for a Client, until its
// reader returns from the handler).
type Line struct {
	Tags    []byte // message tags without the leading '@'; nil when absent
	Source  []byte // prefix without the leading ':'; nil when absent
	Command []byte
	params  [maxParams][]byte
	nparams int
}

// ParseLine splits raw (with or without its CR LF) into l. It never allocates; parameters
// past the fifteenth are folded into the last one, as servers do.
func ParseLine(raw []byte, l *Line) error {
	*l = Line{}
	for len(raw) > 0 && (raw[len(raw)-1] == '\n' || raw[len(raw)-1] == '\r') {
		raw = raw[:len(raw)-1]
	}
	raw = skipSpaces(raw)
	if len(raw) == 0 {
		return ErrEmptyLine
	}
	if raw[0] == '@' {
		var tags []byte
		tags, raw = splitWord(raw[1:])
		l.Tags = tags
		raw = skipSpaces(raw)
	}
	if len(raw) > 0 && raw[0] == ':' {
		l.Source, raw = splitWord(raw[1:])
		raw = skipSpaces(raw)
	}
	l.Command, raw = splitWord(raw)
	if len(l.Command) == 0 {
		return ErrNoCommand
	}
	for {
		raw = skipSpaces(raw)
		if len(raw) == 0 {
			return nil
		}
		if raw[0] == ':' || l.nparams == maxParams-1 {
			if raw[0] == ':' {
				raw = raw[1:]
			}
			l.params[l.nparams] = raw
			l.nparams++
			return nil
		}
		l.params[l.nparams], raw = splitWord(raw)
		l.nparams++
	}
}

// NParams is the number of parameters.
func (l *Line) NParams() int { return l.nparams }

// Param returns parameter i, or nil when there is none.
func (l *Line) Param(i int) []byte {
	if i < 0 || i >= l.nparams {
		return nil
	}
	return l.params[i]
}

// Last returns the last parameter (usually the trailing text), or nil.
func (l *Line) Last() []byte {
	if l.nparams == 0 {
		return nil
	}
	return l.params[l.nparams-1]
}

// Is reports whether the command equals cmd, ignoring ASCII case.
func (l *Line) Is(cmd string) bool {
	if len(l.Command) != len(cmd) {
		return false
	}
	for i := 0; i < len(cmd); i++ {
		if upper(l.Command[i]) != upper(cmd[i]) {
			return false
		}
	}
	return true
}

// Tag returns the raw (still escaped) value of the tag key and whether it is present.
// A tag without a value is present with an empty value.
func (l *Line) Tag(key string) ([]byte, bool) {
	tags := l.Tags
	for len(tags) > 0 {
		var item []byte
		if i := bytes.IndexByte(tags, ';'); i >= 0 {
			item, tags = tags[:i], tags[i+1:]
		} else {
			item, tags = tags, nil
		}
		k, v := item, []byte{}
		if i := bytes.IndexByte(item, '='); i >= 0 {
			k, v = item[:i], item[i+1:]
		}
		if string(k) == key {
			return v, true
		}
	}
	return nil, false
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func skipSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

func splitWord(b []byte) (word, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}
