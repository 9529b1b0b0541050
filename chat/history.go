package chat

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"laird/codec"
	"laird/kv"
)

// Message history (IRCv3 draft/chathistory): the CHATHISTORY command.
// What is stored, and when the sender hears of it, is history_store.go;
// channel events for draft/event-playback are history_events.go; TARGETS
// is history_targets.go. Reads run off the event loop (readPool).

// historyMax is the most entries one CHATHISTORY request returns (the
// CHATHISTORY ISUPPORT token); a larger limit is served up to it.
const historyMax = 100

func (s *Server) enableHistory() {
	// Deleting and editing act on stored messages (redact.go).
	for _, cp := range []Cap{CapChathistory, CapEventPlayback, CapReadMarker, CapMessageRedaction, CapMessageEdit} {
		if !s.offers(cp) {
			s.caps = append(s.caps, cp)
		}
	}
	s.isupport = s.buildISupport()
}

// chathistoryParams is the number of parameters of each subcommand,
// itself included.
var chathistoryParams = map[string]int{"LATEST": 4, "BEFORE": 4, "AFTER": 4, "AROUND": 4, "BETWEEN": 5, "TARGETS": 4}

var historySelects = map[string]kv.HistorySelect{
	"LATEST": kv.SelectLatest, "BEFORE": kv.SelectBefore, "AFTER": kv.SelectAfter,
	"AROUND": kv.SelectAround, "BETWEEN": kv.SelectBetween,
}

func handleChathistory(o *op, m *codec.Message) {
	s := o.s
	sub := strings.ToUpper(string(m.Param(0)))
	if s.store == nil {
		o.fail("CHATHISTORY", "UNKNOWN_COMMAND", sub, "Message history is not available")
		return
	}
	n, known := chathistoryParams[sub]
	switch {
	case !known:
		historyFail(o, "INVALID_PARAMS", sub, "Unknown subcommand")
		return
	case m.NParams() < n:
		historyFail(o, "INVALID_PARAMS", sub, "Insufficient parameters")
		return
	}
	limitArg := string(m.Param(n - 1))
	limit, ok := parseHistoryLimit(limitArg)
	if !ok {
		historyFail(o, "INVALID_PARAMS", sub, limitArg, "Invalid limit: a positive number, of which at most "+strconv.Itoa(historyMax)+" are returned")
		return
	}
	if sub == "TARGETS" {
		historyTargets(o, m, limit)
		return
	}
	q := kv.HistoryQuery{Select: historySelects[sub], Limit: limit, Kinds: historyKinds(o.c)}
	for i, ref := range []*kv.HistoryRef{&q.Ref, &q.Ref2}[:n-3] {
		arg := string(m.Param(2 + i))
		r, ok := parseMsgRef(arg, sub == "LATEST")
		if !ok {
			historyFail(o, "INVALID_PARAMS", sub, arg, "Invalid message reference: msgid=..., timestamp=YYYY-MM-DDThh:mm:ss.sssZ, or * for LATEST")
			return
		}
		*ref = r
	}
	target := string(m.Param(1))
	s.historyTarget(o, target, func(key string, ok bool) {
		if !ok {
			historyFail(o, "INVALID_TARGET", sub, target, "Messages could not be retrieved")
			return
		}
		q.Target = key
		var list []kv.HistoryMessage
		var err error
		s.readHistory(o, func() { list, err = s.store.QueryHistory(q) }, func() {
			switch {
			case errors.Is(err, kv.ErrNotFound):
				list = nil // a msgid the history does not hold (any more): nothing around it
			case err != nil:
				s.log.Warn("history read failed", "target", key, "err", err)
				historyFail(o, "MESSAGE_ERROR", sub, target, "Messages could not be retrieved")
				return
			}
			s.sendHistory(o, target, list)
			if !codec.IsChannelName([]byte(target)) {
				s.conversationRead(o.c, key)
			}
		})
	})
}

// historyFail answers with FAIL CHATHISTORY code, the given context
// parameters (the subcommand first, as the specification wants) and the
// description, which is last.
func historyFail(o *op, code string, params ...string) {
	last := len(params) - 1
	o.failWith("CHATHISTORY", code, params[last], params[:last]...)
}

// parseHistoryLimit accepts a positive decimal number; one past historyMax
// (however large) is served as historyMax.
func parseHistoryLimit(p string) (int, bool) {
	if p == "" || len(p) > 64 {
		return 0, false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(p)
	switch {
	case err != nil: // digits only: too large for an int
		return historyMax, true
	case n < 1:
		return 0, false
	}
	return min(n, historyMax), true
}

// historyKinds is what c gets from history: events only with
// draft/event-playback; a redacted message is left out (its tombstone is
// for REDACT), an edited one comes with its latest text.
func historyKinds(c *Client) kv.HistoryKinds {
	if c.Has(CapEventPlayback) {
		return kv.HistAll &^ kv.HistRedacted
	}
	return kv.HistMessages
}

// readHistory runs read on the read pool once every history append queued
// before it is applied, so that a CHATHISTORY reply includes every message
// delivered before the request (the kv writer is FIFO), then then on the
// loop, as part of o. Waiting for the writer holds no pool slot.
func (s *Server) readHistory(o *op, read func(), then func()) {
	o.waitFor(func(done func()) {
		if err := s.store.Commit(s.store.NewTxn(), func(error) { done() }); err != nil {
			s.log.Debug("history barrier", "err", err)
			done()
		}
	}, func() { o.offload(readPool, read, then) })
}

// parseTimestamp parses a server-time timestamp as the specifications
// write it (milliseconds, UTC). Other RFC 3339 forms are accepted too.
func parseTimestamp(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// parseMsgRef parses "msgid=..." or "timestamp=...", or "*" where allowed.
func parseMsgRef(p string, starOK bool) (kv.HistoryRef, bool) {
	if p == "*" {
		return kv.HistoryRef{}, starOK
	}
	key, val, ok := strings.Cut(p, "=")
	if !ok || val == "" {
		return kv.HistoryRef{}, false
	}
	switch key {
	case "msgid":
		return kv.HistoryRef{MsgID: val}, true
	case "timestamp":
		t, ok := parseTimestamp(val)
		return kv.HistoryRef{Time: t}, ok
	}
	return kv.HistoryRef{}, false
}

// sendHistory writes the entries in a chathistory batch (when the client
// has batch), each with its original time, msgid and tags. An edited
// message has its latest text and, for draft/message-edit clients, the
// tag draft/edited=<time of the last edit>.
func (s *Server) sendHistory(o *op, target string, list []kv.HistoryMessage) {
	c := o.c
	r := o.replies()
	id := ""
	if c.Has(CapBatch) {
		id = s.batchID()
		r.cmd(s.name, "BATCH", false, "+"+id, "chathistory", target)
	}
	for i := range list {
		h := &list[i]
		if (h.Command == "PRIVMSG" || h.Command == "NOTICE") && (strings.IndexByte(h.Text, '\n') >= 0 || len(h.Text) > maxTextLen(h.To)) {
			// A draft/multiline message: a batch again, or its lines.
			mm := &multiMsg{
				source: h.Source, command: h.Command, target: h.To, lines: splitStored(h.Text),
				at: h.Time, msgid: h.MsgID, batchID: s.batchID(), account: h.Account, clientTags: []byte(h.Tags),
			}
			r.begin()
			r.buf = mm.appendVariant(r.buf, mm.variantOf(c), id)
			continue
		}
		msg := historyLine(h)
		if msg.onlyTags && !c.Has(CapMessageTags) {
			continue
		}
		r.begin()
		if h.Edited != nil && c.Has(CapMessageEdit) {
			line := msg.appendVariantIn(nil, msg.variantOf(c), id)
			r.buf = appendWithTag(r.buf, line, "draft/edited", []byte(h.Edited.At.UTC().Format(serverTimeFormat)))
			continue
		}
		r.buf = msg.appendVariantIn(r.buf, msg.variantOf(c), id)
	}
	if id != "" {
		r.cmd(s.name, "BATCH", false, "-"+id)
	}
	o.reply(r)
}

// historyLine rebuilds the line a stored entry was.
func historyLine(h *kv.HistoryMessage) outMsg {
	msg := outMsg{
		source: h.Source, command: h.Command, at: h.Time, msgid: h.MsgID,
		account: h.Account, clientTags: []byte(h.Tags),
	}
	switch h.Command {
	case "PRIVMSG", "NOTICE":
		msg.params = []string{h.To, h.Text}
	case "TAGMSG":
		msg.params, msg.onlyTags = []string{h.To}, true
	default:
		eventLine(h, &msg)
	}
	return msg
}
