package guard

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
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 {
			if c == 0 || c == '\r' || c == '\n' {
				return NewTextError(f, RuleControl)
			}
		} else if c >= 0x80 {
			ascii = false
		}
	}
	if l.UTF8Only && !ascii && f != FieldTags && !ValidUTF8(s) {
		return NewTextError(f, RuleUTF8)
	}
	return nil
}

// ValidUTF8 reports whether s is valid UTF-8 (the same acceptance as
// unicode/utf8: no overlong forms, surrogates or values past U+10FFFF).
// Generic so []byte views need no conversion; it does not allocate.
func ValidUTF8[T Text](s T) bool {
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		if c < 0x80 {
			i++
			continue
		}
		var size int
		lo, hi := byte(0x80), byte(0xbf) // bounds of the second byte
		switch {
		case c >= 0xc2 && c <= 0xdf:
			size = 2
		case c == 0xe0:
			size, lo = 3, 0xa0
		case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
			size = 3
		case c == 0xed:
			size, hi = 3, 0x9f // excludes surrogates
		case c == 0xf0:
			size, lo = 4, 0x90
		case c >= 0xf1 && c <= 0xf3:
			size = 4
		case c == 0xf4:
			size, hi = 4, 0x8f // caps at U+10FFFF
		default:
			return false
		}
		if i+size > n {
			return false
		}
		if b := s[i+1]; b < lo || b > hi {
			return false
		}
		for j := 2; j < size; j++ {
			if b := s[i+j]; b < 0x80 || b > 0xbf {
				return false
			}
		}
		i += size
	}
	return true
}
