package codec

// Default name limits, advertised in ISUPPORT; the server may configure
// smaller ones.
const (
	DefaultNickLen    = 30
	DefaultChannelLen = 64
	DefaultUserLen    = 16
	DefaultTopicLen   = 390
	DefaultAwayLen    = 390
	DefaultKickLen    = 390
)

// ChanTypes are the channel prefixes laird serves (ISUPPORT CHANTYPES).
const ChanTypes = "#&"

// IsChannelName reports whether s starts with a channel prefix; it says
// nothing about validity.
func IsChannelName(s []byte) bool {
	return len(s) > 0 && (s[0] == '#' || s[0] == '&')
}

// ValidNick reports whether s is a usable nickname of at most max bytes.
// It follows RFC 2812's letters, digits and specials (`[]\^_{|}` and '`'),
// with '-' allowed after the first character, which excludes every byte
// the Modern IRC documents forbid (space, comma, '*', '?', '!', '@', '.',
// ':' and leading '$', '#', '&' or digit).
func ValidNick(s []byte, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case c == '[' || c == ']' || c == '\\' || c == '`' || c == '_' || c == '^' || c == '{' || c == '|' || c == '}':
		case i > 0 && ('0' <= c && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ValidChannel reports whether s is a channel name of at most max bytes: a
// CHANTYPES prefix followed by anything but space, comma, BEL, NUL, CR, LF
// and ':' (colon would be ambiguous in some replies). Non-ASCII UTF-8 is
// allowed.
func ValidChannel(s []byte, max int) bool {
	if len(s) < 2 || len(s) > max || !IsChannelName(s) {
		return false
	}
	for _, c := range s[1:] {
		switch c {
		case ' ', ',', 0x07, 0, '\r', '\n', ':':
			return false
		}
	}
	return true
}

// ValidUser reports whether s can be a username: 1 to max bytes with no
// space, '@', NUL, CR, LF, and not starting with ':'.
func ValidUser(s []byte, max int) bool {
	if len(s) == 0 || len(s) > max || s[0] == ':' {
		return false
	}
	for _, c := range s {
		switch c {
		case ' ', '@', 0, '\r', '\n', '!':
			return false
		}
	}
	return true
}
