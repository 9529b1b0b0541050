package guard

import (
	"unicode/utf8"
	"unsafe"
)

// Text is the input type of the validation helpers: the string or []byte
// views the codec hands to command handlers.
type Text interface{ ~string | ~[]byte }

// Field names the piece of client input a rule applies to.
type Field uint8

const (
	FieldMessage  Field = iota + 1 // PRIVMSG/NOTICE text
	FieldRealname                  // USER realname
	FieldAway                      // AWAY message
	FieldTopic                     // TOPIC text
	FieldKick                      // KICK reason
	FieldReason                    // PART/QUIT reason
	FieldTags                      // client tag data
	numFields
)

var fieldNames = [numFields]string{"", "message", "realname", "away message", "topic", "kick reason", "reason", "tag data"}

func (f Field) String() string {
	if f < numFields {
		return fieldNames[f]
	}
	return "field?"
}

// Rule names the validation rule an input broke.
type Rule uint8

const (
	RuleEmpty   Rule = iota + 1 // empty where text is required (412 ERR_NOTEXTTOSEND for messages)
	RuleTooLong                 // longer than the configured limit (417 / FAIL ... INPUT_TOO_LONG)
	RuleControl                 // contains NUL, CR or LF
	RuleUTF8                    // not valid UTF-8 while UTF8ONLY is set (FAIL ... INVALID_UTF8)
	numRules
)

var ruleNames = [numRules]string{"", "empty", "too long", "forbidden control character", "invalid UTF-8"}

func (r Rule) String() string {
	if r < numRules {
		return ruleNames[r]
	}
	return "rule?"
}

// TextError is the error of the validation helpers: which field broke which
// rule. It is a one-byte value, so returning it as an error does not
// allocate; compare with ==, errors.Is or errors.As.
type TextError uint8

// NewTextError returns the error for field f breaking rule r.
func NewTextError(f Field, r Rule) TextError { return TextError(uint8(f)<<4 | uint8(r)) }

// Field returns the offending field.
func (e TextError) Field() Field { return Field(e >> 4) }

// Rule returns the broken rule.
func (e TextError) Rule() Rule { return Rule(e & 0xf) }

func (e TextError) Error() string { return "guard: " + e.Field().String() + ": " + e.Rule().String() }

// Limits bounds client-supplied text. Lengths are in bytes, as ISUPPORT
// TOPICLEN and friends are; 0 means no limit beyond the line length.
type Limits struct {
	// UTF8Only rejects text that is not valid UTF-8 (ISUPPORT UTF8ONLY).
	UTF8Only    bool `toml:"utf8only"`
	MessageLen  int  `toml:"message_len"`
	RealnameLen int  `toml:"realname_len"`
	AwayLen     int  `toml:"away_len"`     // AWAYLEN
	TopicLen    int  `toml:"topic_len"`    // TOPICLEN
	KickLen     int  `toml:"kick_len"`     // KICKLEN
	ReasonLen   int  `toml:"reason_len"`   // PART and QUIT reasons
	TagDataLen  int  `toml:"tag_data_len"` // bytes of client tag data (IRCv3: 4094)
	// Counts the chat package enforces and advertises; kept here so that
	// all abuse limits live in one config section.
	MaxTargets  int `toml:"max_targets"`  // TARGMAX for PRIVMSG/NOTICE/TAGMSG
	MaxChannels int `toml:"max_channels"` // CHANLIMIT
	MaxList     int `toml:"max_list"`     // MAXLIST: entries per b/e/I list
}

// DefaultLimits follows ergo's defaults, which fit a 512-byte line with a
// full prefix: 390 bytes of topic, away and kick text, realname 150, and
// IRCv3's 4094 bytes of client tag data. UTF8ONLY is on because WebSocket
// clients cannot receive other text.
func DefaultLimits() Limits {
	return Limits{
		UTF8Only: true, RealnameLen: 150, AwayLen: 390, TopicLen: 390,
		KickLen: 390, ReasonLen: 390, TagDataLen: 4094,
		MaxTargets: 4, MaxChannels: 100, MaxList: 100,
	}
}

func (l *Limits) maxLen(f Field) int {
	switch f {
	case FieldMessage:
		return l.MessageLen
	case FieldRealname:
		return l.RealnameLen
	case FieldAway:
		return l.AwayLen
	case FieldTopic:
		return l.TopicLen
	case FieldKick:
		return l.KickLen
	case FieldReason:
		return l.ReasonLen
	case FieldTags:
		return l.TagDataLen
	}
	return 0
}

// Check validates s as field f: control characters, UTF-8 (for text
// fields, when UTF8Only), length, and non-emptiness for messages and
// realnames (an empty topic, away, kick or part reason has a meaning). For
// FieldTags pass the raw tag section without the '@'; tag values are
// escaped, so only the length and framing bytes are checked. It returns nil
// or a TextError and does not allocate.
func Check[T Text](l *Limits, f Field, s T) error {
	if len(s) == 0 {
		if f == FieldMessage || f == FieldRealname {
			return NewTextError(f, RuleEmpty)
		}
		return nil
	}
	if n := l.maxLen(f); n > 0 && len(s) > n {
		return NewTextError(f, RuleTooLong)
	}
	if r := scanText(asString(s)); r != 0 {
		if r == RuleUTF8 && (!l.UTF8Only || f == FieldTags) {
			return nil
		}
		return NewTextError(f, r)
	}
	return nil
}

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// scanText returns RuleControl if s holds NUL, CR or LF, else RuleUTF8 if
// it is not valid UTF-8, else 0. It reads eight bytes per step: chat text
// is mostly printable ASCII, and one word test clears eight such bytes.
func scanText(s string) Rule {
	var seen uint64 // OR of all bytes: high bits set means non-ASCII
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		seen |= w
		// Nonzero iff some byte is below 0x20 (exact as a yes/no answer).
		// Formatting codes (bold, colour...) are below 0x20 too, so look
		// closer only then.
		if (w-lows*0x20)&^w&highs != 0 && hasForbidden(s[i:i+8]) {
			return RuleControl
		}
	}
	for ; i < len(s); i++ {
		seen |= uint64(s[i])
	}
	if hasForbidden(s[len(s)&^7:]) {
		return RuleControl
	}
	if seen&highs != 0 && !utf8.ValidString(s) {
		return RuleUTF8
	}
	return 0
}

func hasForbidden(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && (c == 0 || c == '\r' || c == '\n') {
			return true
		}
	}
	return false
}

// asString views s as a string without copying. A []byte header starts
// with the same (data, len) words as a string header, so this is the
// "equivalent memory layout" conversion unsafe.Pointer permits. Callers in
// this package only read the result during the call and never keep it.
func asString[T Text](s T) string { return *(*string)(unsafe.Pointer(&s)) }

// ValidUTF8 reports whether s is valid UTF-8 (exactly unicode/utf8's
// rules). Generic so []byte views need no conversion; it does not allocate.
func ValidUTF8[T Text](s T) bool { return utf8.ValidString(asString(s)) }
