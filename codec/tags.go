package codec

import "bytes"

// NextTag splits the first tag off a raw tag section (as in Message.Tags).
// It returns the key, the still-escaped value (nil when the tag has no
// value) and the remaining section. ok is false when tags is empty.
func NextTag(tags []byte) (key, value, rest []byte, ok bool) {
	for len(tags) > 0 && tags[0] == ';' {
		tags = tags[1:]
	}
	if len(tags) == 0 {
		return nil, nil, nil, false
	}
	end := bytes.IndexByte(tags, ';')
	if end < 0 {
		end = len(tags)
		rest = nil
	} else {
		rest = tags[end+1:]
	}
	tag := tags[:end]
	if eq := bytes.IndexByte(tag, '='); eq >= 0 {
		return tag[:eq], tag[eq+1:], rest, true
	}
	return tag, nil, rest, true
}

// Tag returns the escaped value of the tag named key. When a key appears
// more than once the last occurrence wins, as IRCv3 message-tags requires.
func (m *Message) Tag(key string) (value []byte, ok bool) {
	rest := m.Tags
	for {
		k, v, r, more := NextTag(rest)
		if !more {
			return value, ok
		}
		if string(k) == key {
			value, ok = v, true
		}
		rest = r
	}
}

// ClientTagsLen returns the bytes of client-only ('+'-prefixed) tags in the
// section, separators included, for the MaxClientTagsLen check.
func ClientTagsLen(tags []byte) int {
	n := 0
	rest := tags
	for {
		k, v, r, ok := NextTag(rest)
		if !ok {
			return n
		}
		if len(k) > 0 && k[0] == '+' {
			n += len(k) + 1
			if v != nil {
				n += len(v) + 1
			}
		}
		rest = r
	}
}

// ValidTagKey reports whether key is a syntactically valid tag key:
// optional '+', optional vendor ending in '/', then letters, digits and
// hyphens; vendor may also contain dots.
func ValidTagKey(key []byte) bool {
	if len(key) > 0 && key[0] == '+' {
		key = key[1:]
	}
	if len(key) == 0 {
		return false
	}
	name := key
	if i := bytes.LastIndexByte(key, '/'); i >= 0 {
		vendor := key[:i]
		name = key[i+1:]
		if len(vendor) == 0 {
			return false
		}
		for _, c := range vendor {
			if !isAlnum(c) && c != '-' && c != '.' {
				return false
			}
		}
	}
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// UnescapeTag appends the unescaped form of an escaped tag value to dst.
// Unknown escapes drop the backslash; a trailing lone backslash is dropped.
func UnescapeTag(dst, value []byte) []byte {
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i == len(value) {
			break
		}
		switch value[i] {
		case ':':
			dst = append(dst, ';')
		case 's':
			dst = append(dst, ' ')
		case 'r':
			dst = append(dst, '\r')
		case 'n':
			dst = append(dst, '\n')
		default:
			dst = append(dst, value[i])
		}
	}
	return dst
}

// AppendEscapedTag appends value escaped for use as a tag value.
func AppendEscapedTag(dst, value []byte) []byte {
	for _, c := range value {
		switch c {
		case ';':
			dst = append(dst, '\\', ':')
		case ' ':
			dst = append(dst, '\\', 's')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
