package codec

import "bytes"

// AppendMessage appends m encoded as one line, CRLF included, to dst.
// Tags are written as they are in m (already escaped). The last parameter
// gets a ':' prefix when it needs one (empty, starts with ':', or contains a
// space) or when m.Trailing asks for it; a middle parameter that would need
// one cannot be encoded and is written as is, so callers must validate
// middle parameters (nick and channel names never need one).
func AppendMessage(dst []byte, m *Message) []byte {
	if len(m.Tags) > 0 {
		dst = append(dst, '@')
		dst = append(dst, m.Tags...)
		dst = append(dst, ' ')
	}
	if len(m.Source) > 0 {
		dst = append(dst, ':')
		dst = append(dst, m.Source...)
		dst = append(dst, ' ')
	}
	dst = append(dst, m.Command...)
	for i := 0; i < m.nparams; i++ {
		p := m.params[i]
		dst = append(dst, ' ')
		if i == m.nparams-1 && (m.Trailing || NeedsTrailing(p)) {
			dst = append(dst, ':')
		}
		dst = append(dst, p...)
	}
	return append(dst, '\r', '\n')
}

// NeedsTrailing reports whether p can only be sent as a trailing parameter.
func NeedsTrailing(p []byte) bool {
	return len(p) == 0 || p[0] == ':' || bytes.IndexByte(p, ' ') >= 0
}

// AppendParam appends " " and p, as the last parameter when last is true
// (adding ':' when p needs it or always is set).
func AppendParam(dst, p []byte, last, always bool) []byte {
	dst = append(dst, ' ')
	if last && (always || NeedsTrailing(p)) {
		dst = append(dst, ':')
	}
	return append(dst, p...)
}

// AppendParamString is AppendParam for a string.
func AppendParamString(dst []byte, p string, last, always bool) []byte {
	dst = append(dst, ' ')
	if last && (always || len(p) == 0 || p[0] == ':' || containsSpace(p)) {
		dst = append(dst, ':')
	}
	return append(dst, p...)
}

func containsSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return true
		}
	}
	return false
}
