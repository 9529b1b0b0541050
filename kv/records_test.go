package kv

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"
)

// codecCase is one record type's encoder and decoder, with the key parts
// that the decoder takes back in fixed to those of the sample.
type codecCase struct {
	name   string
	sample any
	encode func(v any) []byte
	decode func(b []byte) (any, error)
}

// invalidZero names the records whose zero value is invalid (a status 0).
var invalidZero = map[string]bool{"invitation": true}

func codecCases() []codecCase {
	t1 := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC)
	old := time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC) // outside UnixNano range
	acct := Account{
		Name: "alice", Version: 7, DisplayName: "Alice", PassHash: "$2a$10$abcdefghijklmnopqrstuv", Scram: "SCRAM-SHA-256$4096:c2FsdA==$a:b",
		Email: "alice@example.org", Created: t1, Verified: true, VerifyCode: "", CertFPs: []string{"ab:cd", "ef"},
		Suspended: true, SuspendReason: "spam ünïcode", SuspendedBy: "oper", SuspendedAt: old,
		AlwaysOn: ToggleOn, Settings: map[string]string{"auto-away": "on", "enforce": ""},
		LastLogin: t1.Add(time.Second), FailedLogins: 3,
	}
	ch := Channel{
		Name: "#laird", DisplayName: "#Laird", Founder: "alice", Created: t1, Topic: "welcome", TopicSetBy: "alice!a@h",
		TopicSetAt: t1.Add(time.Hour), Modes: "nt", Key: "sekrit", Limit: -5,
		Bans:    []ListEntry{{Mask: "*!*@bad", SetBy: "alice", SetAt: t1}, {Mask: "x!*@*"}},
		Excepts: nil,
		Invex:   []ListEntry{{Mask: "$a:bob", SetBy: "op", SetAt: old}},
	}
	return []codecCase{
		{"account", acct,
			func(v any) []byte { a := v.(Account); return a.appendValue(nil) },
			func(b []byte) (any, error) { return decodeAccount("alice", b) }},
		{"nick", NickRecord{Nick: "al", Account: "alice", Since: t1},
			func(v any) []byte { n := v.(NickRecord); return n.appendValue(nil) },
			func(b []byte) (any, error) { return decodeNick("al", b) }},
		{"channel", ch,
			func(v any) []byte { c := v.(Channel); return c.appendValue(nil) },
			func(b []byte) (any, error) { return decodeChannel("#laird", b) }},
		{"access", Access{Channel: "#laird", Account: "bob", Level: LevelOp, SetBy: "alice", SetAt: t1},
			func(v any) []byte { a := v.(Access); return a.appendValue(nil) },
			func(b []byte) (any, error) { return decodeAccess("#laird", "bob", b) }},
		{"ban", Ban{Kind: DLine, Mask: "192.0.2.0/24", Reason: "abuse", SetBy: "oper", SetAt: t1, Expires: t1.Add(24 * time.Hour)},
			func(v any) []byte { b := v.(Ban); return b.appendValue(nil) },
			func(b []byte) (any, error) { return decodeBan(DLine, "192.0.2.0/24", b) }},
		{"audit", AuditEntry{Time: t1, Seq: 42, Actor: "oper", Action: "kline.add", Target: "*@bad", Reason: "r", IP: "2001:db8::1"},
			func(v any) []byte { a := v.(AuditEntry); return a.appendValue(nil) },
			func(b []byte) (any, error) { return decodeAudit(t1, 42, b) }},
		{"history", HistoryMessage{Time: t1, Seq: 7, MsgID: "m1", Target: "#laird", To: "#Laird", Source: "bob!b@h",
			Account: "bob", Command: "PRIVMSG", Text: "hello \x01ACTION waves\x01", Tags: "+draft/react=x",
			Edited: &Edit{At: t1.Add(time.Minute), MsgID: "e1"}},
			func(v any) []byte { m := v.(HistoryMessage); return m.appendValue(nil) },
			func(b []byte) (any, error) { return decodeHistory("#laird", t1, 7, b) }},
		{"history-event", HistoryMessage{Time: t1, Seq: 8, MsgID: "m2", Target: "#laird", To: "#Laird", Source: "op!o@h",
			Command: "KICK", Params: []string{"bob"}, Text: "bye"},
			func(v any) []byte { m := v.(HistoryMessage); return m.appendValue(nil) },
			func(b []byte) (any, error) { return decodeHistory("#laird", t1, 8, b) }},
		{"history-tombstone", HistoryMessage{Time: t1, Seq: 9, MsgID: "m3", Target: "a:x a:y", To: "y", Source: "x!x@h",
			Command: "RENAME", Params: []string{"#new"}, Redacted: &Redaction{At: old, By: "op!o@h", Account: "op", Reason: "spam", MsgID: "r1"}},
			func(v any) []byte { m := v.(HistoryMessage); return m.appendValue(nil) },
			func(b []byte) (any, error) { return decodeHistory("a:x a:y", t1, 9, b) }},
		{"conversation", convEntry{Peer: Peer{Party: "a:alice", Name: "Alice"}, Latest: t1, Seq: 5},
			func(v any) []byte { c := v.(convEntry); return c.appendValue(nil) },
			func(b []byte) (any, error) { return decodeConv(b) }},
		{"unread", Unread{Account: "carol", Target: "a:alice a:carol", Peer: Peer{Party: "a:alice", Name: "Alice"},
			Count: 3, Oldest: t1, Latest: t1.Add(time.Hour), oldestSeq: 9},
			func(v any) []byte { u := v.(Unread); return u.appendValue(nil) },
			func(b []byte) (any, error) { return decodeUnread("carol", "a:alice a:carol", b) }},
		{"marker", t1,
			func(v any) []byte { return appendMarker(nil, v.(time.Time)) },
			func(b []byte) (any, error) { return decodeMarker(b) }},
		{"invitation", Invitation{Channel: "#c", Account: "alice", ChannelName: "#C", Inviter: "bob", InviterNick: "Bob",
			Created: t1, Expires: t1.Add(time.Hour), Status: InviteRevoked, Changed: t1.Add(time.Minute), ChangedBy: "op",
			sweepAt: old},
			func(v any) []byte { i := v.(Invitation); return i.appendValue(nil) },
			func(b []byte) (any, error) { return decodeInvite("#c", "alice", b) }},
		{"metadata", MetadataEntry{Key: "avatar", Value: "https://example.org/a.png", Visibility: "*"},
			func(v any) []byte { m := v.(MetadataEntry); return m.appendValue(nil) },
			func(b []byte) (any, error) { return decodeMetadata("avatar", b) }},
		{"always-on", AlwaysOnChannel{Channel: "#c", Name: "#C", Modes: "ov", Joined: t1},
			func(v any) []byte { c := v.(AlwaysOnChannel); return c.appendValue(nil) },
			func(b []byte) (any, error) { return decodeAlwaysOn("#c", b) }},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, c := range codecCases() {
		t.Run(c.name, func(t *testing.T) {
			enc := c.encode(c.sample)
			got, err := c.decode(enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, c.sample) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c.sample)
			}
			// The zero record round-trips too (zero times included).
			zero := reflect.Zero(reflect.TypeOf(c.sample)).Interface()
			zgot, err := c.decode(c.encode(zero))
			if invalidZero[c.name] {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("invalid zero record decoded: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode zero: %v", err)
			}
			// Key parts come back from the decoder's arguments, so compare
			// the re-encodings instead.
			if a, b := c.encode(zgot), c.encode(zero); string(a) != string(b) {
				t.Fatalf("zero record changed: %x vs %x", a, b)
			}
		})
	}
}

func TestRecordDecodeStrict(t *testing.T) {
	for _, c := range codecCases() {
		t.Run(c.name, func(t *testing.T) {
			enc := c.encode(c.sample)
			for n := 0; n < len(enc); n++ {
				if _, err := c.decode(enc[:n]); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("truncated to %d of %d bytes: err = %v, want ErrCorrupt", n, len(enc), err)
				}
			}
			if _, err := c.decode(append(enc[:len(enc):len(enc)], 0)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("trailing byte: err = %v, want ErrCorrupt", err)
			}
			bad := append([]byte{99}, enc[1:]...)
			if _, err := c.decode(bad); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unknown version: err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestDecodeHugeLengths(t *testing.T) {
	// A string length or list count far beyond the input must fail before
	// allocating.
	huge := []byte{accountV1, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := decodeAccount("a", huge); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("huge string: %v", err)
	}
	e := encoder{}
	e.byte(channelV1)
	for range 8 {
		e.str("")
	}
	e.varint(0)
	e.uvarint(1 << 40) // list count
	if _, err := decodeChannel("#c", e.b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("huge list: %v", err)
	}
	// A bool must be 0 or 1.
	d := newDecoder([]byte{2})
	if d.bool(); d.err == nil {
		t.Fatal("bool 2 accepted")
	}
	d = newDecoder([]byte{0x80, 0x80})
	if d.uvarint(); d.err == nil {
		t.Fatal("truncated varint accepted")
	}
	d = newDecoder([]byte{0, 0x80, 0x94, 0xeb, 0xdc, 0x03}) // nsec = 1e9
	if d.time(); d.err == nil {
		t.Fatal("nanoseconds >= 1e9 accepted")
	}
}

// fuzzRecord checks, for any input, that decoding does not panic and that
// whatever decodes re-encodes to something that decodes to the same record.
func fuzzRecord(f *testing.F, name string) {
	var c codecCase
	for _, cc := range codecCases() {
		if cc.name == name {
			c = cc
		}
	}
	if c.encode == nil {
		f.Fatalf("no codec case %q", name)
	}
	f.Add(c.encode(c.sample))
	f.Add(c.encode(reflect.Zero(reflect.TypeOf(c.sample)).Interface()))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := c.decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		enc := c.encode(v)
		v2, err := c.decode(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("not stable:\n%+v\n%+v", v, v2)
		}
	})
}

func FuzzDecodeAccount(f *testing.F) { fuzzRecord(f, "account") }
func FuzzDecodeNick(f *testing.F)    { fuzzRecord(f, "nick") }
func FuzzDecodeChannel(f *testing.F) { fuzzRecord(f, "channel") }
func FuzzDecodeAccess(f *testing.F)  { fuzzRecord(f, "access") }
func FuzzDecodeBan(f *testing.F)     { fuzzRecord(f, "ban") }
func FuzzDecodeAudit(f *testing.F)   { fuzzRecord(f, "audit") }
func FuzzDecodeHistory(f *testing.F) {
	for _, name := range []string{"history-event", "history-tombstone"} {
		c := codecCase{}
		for _, cc := range codecCases() {
			if cc.name == name {
				c = cc
			}
		}
		f.Add(c.encode(c.sample))
	}
	f.Add(historyV1Value("id", "#To", "n!u@h", "acct", "NOTICE", "text", "+t=1"))
	fuzzRecord(f, "history")
}

// historyV1Value encodes a history entry as the first schema did.
func historyV1Value(msgid, to, source, account, command, text, tags string) []byte {
	e := encoder{}
	e.byte(historyV1)
	for _, s := range []string{msgid, to, source, account, command, text, tags} {
		e.str(s)
	}
	return e.b
}

// Entries written by the first schema still decode, and their kind is
// known to filters.
func TestHistoryV1Decodes(t *testing.T) {
	tm := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	v := historyV1Value("id", "#To", "n!u@h", "acct", "NOTICE", "text", "+t=1")
	m, err := decodeHistory("#to", tm, 3, v)
	want := HistoryMessage{Time: tm, Seq: 3, MsgID: "id", Target: "#to", To: "#To", Source: "n!u@h",
		Account: "acct", Command: "NOTICE", Text: "text", Tags: "+t=1"}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("v1 decode = %+v, %v", m, err)
	}
	if msgIDOf(v) != "id" || !histMatches(HistNotice, v) || histMatches(HistPrivmsg|HistRedacted, v) {
		t.Fatal("v1 msgid or kind wrong")
	}
	if _, err := decodeHistory("#to", tm, 3, v[:len(v)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated v1: %v", err)
	}
}

// A version 2 entry's kind and flags are read without decoding, and a
// non-canonical encoding (a known command stored as "other", unknown
// flags) is refused so that decoding is one-to-one.
func TestHistoryKindHeader(t *testing.T) {
	m := HistoryMessage{Command: "TOPIC", Text: "t"}
	v := m.appendValue(nil)
	if !histMatches(HistTopic, v) || histMatches(HistMessages, v) || !histMatches(0, v) {
		t.Fatal("TOPIC kind")
	}
	m.Redacted = &Redaction{}
	v = m.appendValue(nil)
	if histMatches(HistAll&^HistRedacted, v) || !histMatches(HistRedacted, v) {
		t.Fatal("tombstone kind")
	}
	e := encoder{}
	e.byte(historyV2)
	e.byte(kindOther)
	e.byte(0)
	for range 4 {
		e.str("")
	}
	e.str("PRIVMSG")
	e.uvarint(0)
	e.str("")
	e.str("")
	if _, err := decodeHistory("#a", time.Time{}, 0, e.b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("PRIVMSG stored as other: %v", err)
	}
	bad := append([]byte(nil), v...)
	bad[2] |= 0x80
	if _, err := decodeHistory("#a", time.Time{}, 0, bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown flag: %v", err)
	}
}

func FuzzDecodeConversation(f *testing.F) { fuzzRecord(f, "conversation") }
func FuzzDecodeUnread(f *testing.F)       { fuzzRecord(f, "unread") }
func FuzzDecodeMarker(f *testing.F)       { fuzzRecord(f, "marker") }
func FuzzDecodeInvitation(f *testing.F)   { fuzzRecord(f, "invitation") }
func FuzzDecodeMetadata(f *testing.F)     { fuzzRecord(f, "metadata") }
func FuzzDecodeAlwaysOn(f *testing.F)     { fuzzRecord(f, "always-on") }

// FuzzDecodeCount checks the counters' decoder: no panic, and what decodes
// re-encodes to the same bytes.
func FuzzDecodeCount(f *testing.F) {
	for _, seed := range [][]byte{{}, {0}, {1}, {0x80, 0x01}, {0xff, 0xff, 0xff, 0xff, 0x0f}, {1, 2}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := decodeCount(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if enc := binary.AppendUvarint(nil, uint64(n)); string(enc) != string(data) {
			t.Fatalf("count %d from %x re-encodes to %x", n, data, enc)
		}
	})
}

// FuzzVarint checks the decoder's varints against encoding/binary.
func FuzzVarint(f *testing.F) {
	for _, seed := range [][]byte{{}, {0}, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, {0x80, 0x00}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, n := binary.Uvarint(data)
		d := newDecoder(data)
		got := d.uvarint()
		if (n > 0) != (d.err == nil) || (n > 0 && (got != want || len(d.s) != len(data)-n)) {
			t.Fatalf("uvarint(%x) = %d, %v; binary.Uvarint = %d, %d", data, got, d.err, want, n)
		}
		wantS, n := binary.Varint(data)
		d = newDecoder(data)
		gotS := d.varint()
		if (n > 0) != (d.err == nil) || (n > 0 && gotS != wantS) {
			t.Fatalf("varint(%x) = %d, %v; binary.Varint = %d, %d", data, gotS, d.err, wantS, n)
		}
	})
}
