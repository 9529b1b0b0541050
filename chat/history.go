package chat

import (
	"strconv"
	"strings"
	"time"

	"laird/codec"
	"laird/kv"
)

// Message history (IRCv3 draft/chathistory). Channel PRIVMSG and NOTICE
// are appended to the store by the channel's shard after the fan-out, and
// private messages by the target nick's shard; appends never make a
// message wait for the disk ([store] lazy_history says whether each one is
// synced on its own). CHATHISTORY reads run off the event loop.

// historyMax is the most messages one CHATHISTORY request returns.
const historyMax = 100

func (s *Server) enableHistory() {
	// Deleting and editing act on stored messages (redact.go).
	for _, cp := range []Cap{CapChathistory, CapMessageRedaction, CapMessageEdit} {
		if !s.offers(cp) {
			s.caps = append(s.caps, cp)
		}
	}
	s.isupport = s.buildISupport()
}

// appendHistory stores one delivered message. Any goroutine.
func (s *Server) appendHistory(msg *outMsg, target string) {
	if s.store == nil || msg.command == "TAGMSG" {
		return
	}
	t := s.store.NewTxn()
	m := kv.HistoryMessage{
		Time: msg.at, MsgID: msg.msgid, Target: target, To: msg.params[0],
		Source: msg.source, Account: msg.account, Command: msg.command,
		Tags: string(msg.clientTags),
	}
	if len(msg.params) > 1 {
		m.Text = msg.params[1]
	}
	t.AppendHistory(m)
	if err := s.store.Commit(t, func(err error) {
		if err != nil {
			s.log.Debug("history append failed", "err", err)
		}
	}); err != nil {
		s.log.Debug("history append refused", "err", err)
	}
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

// dmTarget is the history key of a private conversation.
func (s *Server) dmTarget(a, b string) string {
	return kv.DMTarget(s.cm.Fold(a), s.cm.Fold(b))
}

func handleChathistory(o *op, m *codec.Message) {
	s, c := o.s, o.c
	sub := strings.ToUpper(string(m.Param(0)))
	fail := func(code, context, text string) { o.fail("CHATHISTORY", code, context, text) }
	if s.store == nil {
		fail("UNKNOWN_COMMAND", sub, "Message history is not available")
		return
	}
	need := map[string]int{"LATEST": 4, "BEFORE": 4, "AFTER": 4, "AROUND": 4, "BETWEEN": 5, "TARGETS": 4}
	n, known := need[sub]
	if !known {
		fail("INVALID_PARAMS", sub, "Unknown CHATHISTORY subcommand")
		return
	}
	if m.NParams() < n {
		fail("NEED_MORE_PARAMS", sub, "Missing parameters")
		return
	}
	limit, err := strconv.Atoi(string(m.Param(n - 1)))
	if err != nil || limit < 1 {
		fail("INVALID_PARAMS", string(m.Param(n-1)), "Invalid limit")
		return
	}
	limit = min(limit, historyMax)
	if sub == "TARGETS" {
		historyTargets(o, m, limit)
		return
	}
	target := string(m.Param(1))
	key, ok := s.historyKey(c, target)
	if !ok {
		fail("INVALID_TARGET", target, "Messages could not be retrieved")
		return
	}
	ref1, ok1 := parseMsgRef(string(m.Param(2)), sub == "LATEST")
	if !ok1 {
		fail("INVALID_PARAMS", string(m.Param(2)), "Invalid message reference")
		return
	}
	var ref2 kv.HistoryRef
	if sub == "BETWEEN" {
		var ok2 bool
		if ref2, ok2 = parseMsgRef(string(m.Param(3)), false); !ok2 {
			fail("INVALID_PARAMS", string(m.Param(3)), "Invalid message reference")
			return
		}
	}
	// Messages only: a redacted message is left out (its tombstone is for
	// event-playback), an edited one comes with its latest text.
	q := kv.HistoryQuery{Target: key, Select: historySelects[sub], Ref: ref1, Ref2: ref2, Limit: limit, Kinds: kv.HistMessages}
	var list []kv.HistoryMessage
	s.readHistory(o, func() {
		list, err = s.store.QueryHistory(q)
	}, func() {
		if err != nil {
			fail("MESSAGE_ERROR", sub, "Messages could not be retrieved")
			return
		}
		s.sendHistory(o, target, list)
	})
}

var historySelects = map[string]kv.HistorySelect{
	"LATEST": kv.SelectLatest, "BEFORE": kv.SelectBefore, "AFTER": kv.SelectAfter,
	"AROUND": kv.SelectAround, "BETWEEN": kv.SelectBetween,
}

// historyKey resolves a CHATHISTORY target: a channel the client is in,
// or a nick (their private conversation).
func (s *Server) historyKey(c *Client, target string) (string, bool) {
	if codec.IsChannelName([]byte(target)) {
		folded := s.cm.Fold(target)
		return folded, c.user().inChannel(folded)
	}
	if !codec.ValidNick([]byte(target), s.cfg.NickLen) {
		return "", false
	}
	return s.dmTarget(c.Nick(), target), true
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
		t, err := time.Parse(time.RFC3339Nano, val)
		return kv.HistoryRef{Time: t}, err == nil
	}
	return kv.HistoryRef{}, false
}

// sendHistory writes the messages in a chathistory batch (when the client
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
	for _, h := range list {
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
		msg := outMsg{
			source: h.Source, command: h.Command, params: []string{h.To, h.Text},
			at: h.Time, msgid: h.MsgID, account: h.Account, clientTags: []byte(h.Tags),
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

// historyTargets answers CHATHISTORY TARGETS for the channels the client
// is in: those with a message between the two timestamps, newest last.
func historyTargets(o *op, m *codec.Message, limit int) {
	s, c := o.s, o.c
	from, ok1 := parseMsgRef(string(m.Param(1)), false)
	to, ok2 := parseMsgRef(string(m.Param(2)), false)
	if !ok1 || !ok2 || from.Time.IsZero() || to.Time.IsZero() {
		o.fail("CHATHISTORY", "INVALID_PARAMS", "TARGETS", "TARGETS takes two timestamps")
		return
	}
	lo, hi := from.Time, to.Time
	if hi.Before(lo) {
		lo, hi = hi, lo
	}
	chans := c.user().channelList()
	type hit struct {
		name string
		at   time.Time
	}
	var hits []hit
	s.readHistory(o, func() {
		for _, folded := range chans {
			list, err := s.store.HistoryLatest(folded, kv.HistoryRef{}, 1)
			if err != nil || len(list) == 0 {
				continue
			}
			if t := list[0].Time; !t.Before(lo) && t.Before(hi) {
				hits = append(hits, hit{list[0].To, t})
			}
		}
	}, func() {
		r := o.replies()
		id := s.batchID()
		if c.Has(CapBatch) {
			r.cmd(s.name, "BATCH", false, "+"+id, "draft/chathistory-targets")
		}
		for i, h := range hits {
			if i >= limit {
				break
			}
			line := appendCmd(nil, s.name, "CHATHISTORY", false, "TARGETS", h.name, "timestamp="+h.at.UTC().Format(serverTimeFormat))
			if c.Has(CapBatch) {
				line = appendWithTag(nil, line, "batch", []byte(id))
			}
			r.line(line)
		}
		if c.Has(CapBatch) {
			r.cmd(s.name, "BATCH", false, "-"+id)
		}
		o.reply(r)
	})
}
