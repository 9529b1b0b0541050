package kv

import (
	"time"
)

// History record encodings. Version 1 (PRIVMSG/NOTICE only, no edits or
// redactions) is still decoded; everything new is written as version 2,
// whose second and third bytes are the entry's kind and flags so that a
// query can skip entries of kinds it does not want without decoding them.
const (
	historyV1 = 1
	historyV2 = 2
)

// HistoryMessage is one entry of a channel's or private conversation's
// history: a message (PRIVMSG, NOTICE, TAGMSG) or, for draft/event-playback,
// an event (JOIN, PART, QUIT, KICK, TOPIC, MODE, NICK, or any other
// command, stored by name).
type HistoryMessage struct {
	Time    time.Time // server-time, kept to the millisecond; zero on append: now
	Seq     uint64    // set by the store; orders entries with equal times
	MsgID   string    // the msgid tag; empty if none (then not findable by msgid)
	Target  string    // casefolded channel, or a private conversation (PrivateTarget): the key
	To      string    // the target as the line names it (display form); "" for NICK and QUIT
	Source  string    // nick!user@host
	Account string    // sender's account, empty if none
	Command string    // PRIVMSG, NOTICE, TAGMSG, JOIN, PART, QUIT, KICK, TOPIC, MODE, NICK...
	// Params are the line's parameters between the target and the
	// trailing text: KICK's victim, MODE's modes and their arguments,
	// NICK's new nick, JOIN's account and realname (extended-join).
	Params []string
	Text   string // trailing text: the message, a reason, a topic
	Tags   string // client-only tags, raw (+draft/react, +draft/reply...)

	// Edited is set once the text has been replaced (draft/message-edit):
	// Text is then the latest text and Time stays the original time.
	Edited *Edit
	// Redacted is set once the entry has been redacted (REDACT): Text,
	// Params and Tags are then empty, the rest stays as a tombstone.
	Redacted *Redaction
}

// Edit records the last edit of a history entry.
type Edit struct {
	At    time.Time
	MsgID string // the edit's own msgid, if it had one
}

// Redaction records who redacted a history entry, when and why.
type Redaction struct {
	At      time.Time
	By      string // nick!user@host of the redacting client
	Account string // its account, if any
	Reason  string
	MsgID   string // the REDACT's own msgid, if it had one
}

// HistoryKinds is a set of history entry kinds, for selecting what a query
// returns. The zero value selects everything.
type HistoryKinds uint16

// History entry kinds. A redacted entry matches HistRedacted only, whatever
// its kind, so a query for messages alone skips tombstones.
const (
	HistPrivmsg HistoryKinds = 1 << iota
	HistNotice
	HistTagmsg
	HistJoin
	HistPart
	HistQuit
	HistKick
	HistTopic
	HistMode
	HistNick
	HistOther // any other command
	HistRedacted

	// HistMessages is what a client without draft/event-playback gets.
	HistMessages = HistPrivmsg | HistNotice
	// HistAll selects every entry, tombstones included.
	HistAll HistoryKinds = 1<<12 - 1
)

// histKindCommands maps the stored kind byte (the bit number plus one) to
// the command. HistOther's command is stored in the record.
var histKindCommands = [...]string{
	1: "PRIVMSG", 2: "NOTICE", 3: "TAGMSG", 4: "JOIN", 5: "PART", 6: "QUIT",
	7: "KICK", 8: "TOPIC", 9: "MODE", 10: "NICK",
}

const kindOther = 11

func kindOfCommand(cmd string) byte {
	for k, c := range histKindCommands {
		if c != "" && c == cmd {
			return byte(k)
		}
	}
	return kindOther
}

// Flags of a version 2 history record.
const (
	histEdited   = 1 << 0
	histRedacted = 1 << 1
)

// matches reports whether an entry of stored kind k with flags f is in ks.
func (ks HistoryKinds) matches(k, f byte) bool {
	if ks == 0 {
		return true
	}
	if f&histRedacted != 0 {
		return ks&HistRedacted != 0
	}
	return k >= 1 && k <= kindOther && ks&(1<<(k-1)) != 0
}

// histHeader returns the kind and flags of an encoded entry without
// decoding it; ok is false if they cannot be had that cheaply (version 1
// records, which are PRIVMSG or NOTICE, need decoding).
func histHeader(v []byte) (kind, flags byte, ok bool) {
	if len(v) >= 3 && v[0] == historyV2 {
		return v[1], v[2], true
	}
	return 0, 0, false
}

func (m *HistoryMessage) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(historyV2)
	kind := kindOfCommand(m.Command)
	e.byte(kind)
	var flags byte
	if m.Edited != nil {
		flags |= histEdited
	}
	if m.Redacted != nil {
		flags |= histRedacted
	}
	e.byte(flags)
	e.str(m.MsgID)
	e.str(m.To)
	e.str(m.Source)
	e.str(m.Account)
	if kind == kindOther {
		e.str(m.Command)
	}
	e.strs(m.Params)
	e.str(m.Text)
	e.str(m.Tags)
	if m.Edited != nil {
		e.time(m.Edited.At)
		e.str(m.Edited.MsgID)
	}
	if r := m.Redacted; r != nil {
		e.time(r.At)
		e.str(r.By)
		e.str(r.Account)
		e.str(r.Reason)
		e.str(r.MsgID)
	}
	return e.b
}

func decodeHistory(target string, t time.Time, seq uint64, v []byte) (HistoryMessage, error) {
	d := newDecoder(v)
	m := HistoryMessage{Target: target, Time: t, Seq: seq}
	switch ver := d.byte(); {
	case d.err != nil:
	case ver == historyV1:
		m.MsgID = d.str()
		m.To = d.str()
		m.Source = d.str()
		m.Account = d.str()
		m.Command = d.str()
		m.Text = d.str()
		m.Tags = d.str()
	case ver == historyV2:
		decodeHistoryV2(&d, &m)
	default:
		d.fail("history record version %d, want %d or %d", ver, historyV1, historyV2)
	}
	return m, d.finish("history message")
}

func decodeHistoryV2(d *decoder, m *HistoryMessage) {
	kind := d.byte()
	flags := d.byte()
	if d.err != nil {
		return
	}
	if kind < 1 || kind > kindOther || flags&^(histEdited|histRedacted) != 0 {
		d.fail("history kind %d flags %#x", kind, flags)
		return
	}
	m.MsgID = d.str()
	m.To = d.str()
	m.Source = d.str()
	m.Account = d.str()
	if kind == kindOther {
		m.Command = d.str()
		if d.err == nil && kindOfCommand(m.Command) != kindOther {
			d.fail("history command %q stored as other", m.Command)
		}
	} else {
		m.Command = histKindCommands[kind]
	}
	m.Params = d.strs()
	m.Text = d.str()
	m.Tags = d.str()
	if flags&histEdited != 0 {
		m.Edited = &Edit{At: d.time(), MsgID: d.str()}
	}
	if flags&histRedacted != 0 {
		r := &Redaction{At: d.time()}
		r.By = d.str()
		r.Account = d.str()
		r.Reason = d.str()
		r.MsgID = d.str()
		m.Redacted = r
	}
}

// msgIDOf returns the msgid of an encoded history entry, "" if none or
// undecodable.
func msgIDOf(v []byte) string {
	d := newDecoder(v)
	switch d.byte() {
	case historyV1:
	case historyV2:
		d.byte()
		d.byte()
	default:
		return ""
	}
	id := d.str()
	if d.err != nil {
		return ""
	}
	return id
}

// histMatches reports whether the encoded entry v is in ks.
func histMatches(ks HistoryKinds, v []byte) bool {
	if ks == 0 {
		return true
	}
	if k, f, ok := histHeader(v); ok {
		return ks.matches(k, f)
	}
	m, err := decodeHistory("", time.Time{}, 0, v)
	if err != nil {
		return true // let the caller's decode report it
	}
	return ks.matches(kindOfCommand(m.Command), 0)
}
