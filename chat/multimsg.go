package chat

import (
	"strings"
	"time"
	"unicode/utf8"
)

// multiMsg is one multiline message to many recipients, encoded once per
// variant into the drain's batch like outMsg: recipients with
// draft/multiline (and batch) get it as a draft/multiline batch, the others
// its non-blank lines one by one, the first with the msgid, every one with
// the time, account and client tags they negotiated.
type multiMsg struct {
	source     string
	command    string // PRIVMSG or NOTICE
	target     string
	lines      []mlLine
	at         time.Time
	msgid      string
	batchID    string // the server's reference for the batch, one for all recipients
	account    string
	bot        bool
	clientTags []byte

	cache [32]struct{ off, end int32 }
	have  uint32
}

// variantMultiline marks recipients that get the batch form.
const variantMultiline = 1 << 4

func (mm *multiMsg) variantOf(c *Client) int {
	set := capSet(c.caps.Load())
	v := 0
	if set.has(CapServerTime) {
		v |= variantTime
	}
	if set.has(CapMessageTags) {
		v |= variantTags
	}
	if set.has(CapAccountTag) && mm.account != "" {
		v |= variantAccount
	}
	if set.has(CapMultiline) && set.has(CapBatch) {
		v |= variantMultiline
	}
	return v
}

// deliver queues the message for c, encoding its variant if needed.
func (mm *multiMsg) deliver(b *batch, c *Client) {
	v := mm.variantOf(c)
	if mm.have&(1<<v) == 0 {
		off := int32(len(b.buf))
		b.buf = mm.appendVariant(b.buf, v, "")
		mm.cache[v].off, mm.cache[v].end = off, int32(len(b.buf))
		mm.have |= 1 << v
	}
	span := mm.cache[v]
	if span.end == span.off || !b.admit(c, span.end-span.off) {
		return
	}
	b.perLoop[c.loop] = append(b.perLoop[c.loop], delivery{c: c, off: span.off, end: span.end, at: mm.at.UnixNano()})
}

// deliverUser queues the message for every session of u but except.
func (mm *multiMsg) deliverUser(b *batch, u *user, except *Client) {
	for _, s := range u.sessionList() {
		if s != except {
			mm.deliver(b, s)
		}
	}
}

// echo queues the sender's own copy as output of its op.
func (mm *multiMsg) echo(b *batch, o *op) {
	off := int32(len(b.buf))
	b.buf = mm.appendVariant(b.buf, mm.variantOf(o.c), "")
	b.replySpan(o, off, int32(len(b.buf)))
}

// appendVariant encodes the message for variant v, inside the batch
// outer ("" for none).
func (mm *multiMsg) appendVariant(dst []byte, v int, outer string) []byte {
	if v&variantMultiline != 0 {
		dst = mm.appendTags(dst, v, outer, true)
		dst = appendCmd(dst, mm.source, "BATCH", false, "+"+mm.batchID, multilineType, mm.target)
		for _, l := range mm.lines {
			dst = append(dst, "@batch="...)
			dst = append(dst, mm.batchID...)
			if l.concat {
				dst = append(dst, ';')
				dst = append(dst, multilineConcat...)
			}
			dst = append(dst, ' ')
			dst = appendCmd(dst, mm.source, mm.command, true, mm.target, l.text)
		}
		if outer != "" {
			dst = append(dst, "@batch="...)
			dst = append(dst, outer...)
			dst = append(dst, ' ')
		}
		return appendCmd(dst, mm.source, "BATCH", false, "-"+mm.batchID)
	}
	first := true
	for _, l := range mm.lines {
		if l.text == "" {
			continue // blank lines are for multiline clients only
		}
		dst = mm.appendTags(dst, v, outer, first)
		first = false
		dst = appendCmd(dst, mm.source, mm.command, true, mm.target, l.text)
	}
	return dst
}

// appendTags writes the tag section (and its space) of a line that carries
// the message's tags; withID adds the msgid.
func (mm *multiMsg) appendTags(dst []byte, v int, outer string, withID bool) []byte {
	m := outMsg{at: mm.at, account: mm.account, bot: mm.bot, clientTags: mm.clientTags}
	if withID {
		m.msgid = mm.msgid
	}
	start := len(dst)
	dst = m.appendTagsIn(dst, v&^variantMultiline, outer)
	if len(dst) > start {
		dst = append(dst, ' ')
	}
	return dst
}

// text is the message as one text: lines joined by "\n", concatenated
// ones directly.
func (mm *multiMsg) text() string {
	var sb strings.Builder
	for i, l := range mm.lines {
		if i > 0 && !l.concat {
			sb.WriteByte('\n')
		}
		sb.WriteString(l.text)
	}
	return sb.String()
}

// asOne is the message as history stores it.
func (mm *multiMsg) asOne() *outMsg {
	return &outMsg{
		source: mm.source, command: mm.command, params: []string{mm.target, mm.text()},
		at: mm.at, msgid: mm.msgid, account: mm.account, bot: mm.bot, clientTags: mm.clientTags,
	}
}

// replayLineLen is the longest line a stored multiline message is cut into
// when it is played back: well under 512 bytes with any source and target.
const replayLineLen = 300

// splitStored turns a stored text back into lines: one per "\n", and a
// line too long for one message cut (between words where it can, never
// inside a UTF-8 sequence) into concatenated pieces.
func splitStored(text string) []mlLine {
	var out []mlLine
	for _, line := range strings.Split(text, "\n") {
		concat := false
		for len(line) > replayLineLen {
			cut := replayLineLen
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			if cut == 0 {
				cut = replayLineLen // not UTF-8 (never stored, but never loop)
			}
			if sp := strings.LastIndexByte(line[:cut], ' '); sp > replayLineLen/2 {
				cut = sp + 1 // the space stays at the end of the piece
			}
			out = append(out, mlLine{text: line[:cut], concat: concat})
			line, concat = line[cut:], true
		}
		out = append(out, mlLine{text: line, concat: concat})
	}
	return out
}
