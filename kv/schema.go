package kv

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
)

// SchemaVersion is the version of the key schema and record encodings this
// code reads and writes. It is stored under the schema key; see doc.go for
// the rules on changing it.
const SchemaVersion uint32 = 2

// Key family tags: the first byte of every key. The table in doc.go is the
// reference; keep both in step.
const (
	tagSchema          = 'S' // "S" -> schema version (4 bytes big-endian)
	tagAccount         = 'a' // "a" account -> Account
	tagSuspended       = 's' // "s" account -> "" (index of suspended accounts)
	tagNick            = 'n' // "n" nick -> NickRecord
	tagAccountNick     = 'N' // "N" account 0x00 nick -> "" (nicks of an account)
	tagChannel         = 'c' // "c" channel -> Channel
	tagAccess          = 'x' // "x" channel 0x00 account -> Access
	tagAccountAccess   = 'X' // "X" account 0x00 channel -> "" (access of an account)
	tagBan             = 'b' // "b" kind mask -> Ban
	tagAudit           = 'l' // "l" time seq -> AuditEntry
	tagHistory         = 'h' // "h" target 0x00 time seq -> HistoryMessage
	tagMsgID           = 'H' // "H" target 0x00 msgid -> time seq
	tagMeta            = 'm' // "m" name -> caller's bytes
	tagConv            = 'p' // "p" party 0x00 conversation -> convEntry
	tagUnread          = 'U' // "U" account 0x00 conversation -> Unread
	tagUnreadCount     = 'u' // "u" account -> uvarint: unread total
	tagOffline         = 'o' // "o" time seq account 0x00 conversation -> "" (offline expiry queue)
	tagMarker          = 'r' // "r" account 0x00 target -> read marker time
	tagCert            = 'f' // "f" fingerprint -> account name
	tagInvite          = 'i' // "i" channel 0x00 account -> Invitation
	tagAccountInvite   = 'I' // "I" account 0x00 channel -> "" (invitations of an account)
	tagInviteDue       = 'e' // "e" time channel 0x00 account -> "" (invitation sweep queue)
	tagInviteCount     = 'k' // "k" 'a' account | 'c' channel -> uvarint: pending invitations
	tagMetadata        = 'M' // "M" 'a' account | 'c' channel, 0x00 key -> MetadataEntry
	tagAlwaysOn        = 'j' // "j" account 0x00 channel -> AlwaysOnChannel
	tagChannelAlwaysOn = 'J' // "J" channel 0x00 account -> "" (always-on members of a channel)
	tagRename          = 'R' // "R" old 0x00 time seq -> new: history still to move after a rename
	tagIntent          = 'P' // "P" -> the history batch of the last group that wrote to both instances
)

var schemaKey = []byte{tagSchema}

// histFamily reports whether keys of a family belong to history: the
// entries, their indexes and what is kept per conversation. (With
// Options.SeparateHistory they live in their own Pebble instance.)
func histFamily(tag byte) bool {
	switch tag {
	case tagHistory, tagMsgID, tagConv, tagUnread, tagUnreadCount, tagOffline, tagRename:
		return true
	}
	return false
}

// maxNameLen bounds every name that goes into a key. IRC names are far
// shorter; the bound keeps a hostile or buggy caller from making huge keys.
const maxNameLen = 512

// timeSeqLen is the length of the time+sequence suffix of audit and history
// keys.
const timeSeqLen = 16

// checkName validates a name that becomes part of a key: it must be
// non-empty, at most maxNameLen bytes, and contain no NUL (NUL separates key
// components).
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	case len(s) > maxNameLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, what, maxNameLen)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s contains a NUL byte", ErrInvalid, what)
	}
	return nil
}

// key1 builds tag+name.
func key1(dst []byte, tag byte, name string) []byte {
	dst = append(dst, tag)
	return append(dst, name...)
}

// key2 builds tag+a+0x00+b.
func key2(dst []byte, tag byte, a, b string) []byte {
	dst = append(dst, tag)
	dst = append(dst, a...)
	dst = append(dst, 0)
	return append(dst, b...)
}

// prefix2 builds tag+a+0x00, the prefix of every key2(tag, a, *).
func prefix2(dst []byte, tag byte, a string) []byte {
	dst = append(dst, tag)
	dst = append(dst, a...)
	return append(dst, 0)
}

// prefixEnd returns the smallest key greater than every key that starts with
// prefix (nil if there is none), for use as an exclusive upper bound.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// The range of times that fit a key: UnixNano is defined only for these.
var (
	minKeyTime = time.Unix(0, math.MinInt64)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

func checkKeyTime(what string, t time.Time) error {
	if t.Before(minKeyTime) || t.After(maxKeyTime) {
		return fmt.Errorf("%w: %s %v out of range", ErrInvalid, what, t)
	}
	return nil
}

// timeOrder maps a time to a uint64 whose big-endian bytes sort like the
// time (the sign bit flipped so that times before 1970 sort first).
func timeOrder(t time.Time) uint64 { return uint64(t.UnixNano()) ^ (1 << 63) }

func orderTime(v uint64) time.Time { return time.Unix(0, int64(v^(1<<63))).UTC() }

// appendTimeSeq appends the 16-byte time+sequence suffix.
func appendTimeSeq(dst []byte, t time.Time, seq uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, timeOrder(t))
	return binary.BigEndian.AppendUint64(dst, seq)
}

// parseTimeSeq decodes a 16-byte time+sequence suffix.
func parseTimeSeq(b []byte) (t time.Time, seq uint64, ok bool) {
	if len(b) != timeSeqLen {
		return time.Time{}, 0, false
	}
	return orderTime(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint64(b[8:]), true
}

// splitKey2 splits the part of a key2 after its tag at the first NUL.
func splitKey2(rest []byte) (a, b []byte, ok bool) {
	for i, c := range rest {
		if c == 0 {
			return rest[:i], rest[i+1:], true
		}
	}
	return nil, nil, false
}
