package chat

import (
	"strconv"
	"strings"

	"laird/codec"
	"laird/kv"
)

// draft/multiline: a client sends one message as a client batch,
//
//	BATCH +ref draft/multiline <target>
//	@batch=ref PRIVMSG <target> :line one
//	@batch=ref;draft/multiline-concat PRIVMSG <target> :continued
//	BATCH -ref
//
// and the server delivers it as one message: as a batch to recipients with
// the capability, as its non-blank lines to the others (the first carrying
// the msgid), and into history as one message whose text joins the lines
// with "\n" (or nothing, for concatenated ones).
//
// The lines are collected on the client's loop (Client.ml) as they arrive,
// each one an ordinary command as far as ordering and flood control go:
// every line is charged like a PRIVMSG, so a batch costs what its lines
// would, and [messages] multiline_max_bytes / multiline_max_lines bound it.
// Anything wrong ends the batch with the spec's FAIL BATCH and nothing is
// delivered: a bad line, a limit passed, a nested or unknown batch, and
// any other command (but PING and PONG) sent while it is open, which is
// then run as usual. A batch left open is bounded by the same limits and
// dropped with its connection.

const (
	multilineType   = "draft/multiline"
	multilineConcat = "draft/multiline-concat"
)

// multiline is a client batch being collected. Loop-owned.
type multiline struct {
	ref        string // the client's reference tag
	target     string // as the client named it
	command    string // PRIVMSG or NOTICE, set by the first line
	lines      []mlLine
	bytes      int    // of the combined text, joining newlines included
	clientTags []byte // the BATCH line's client-only tags, escaped
	label      []byte // the BATCH line's label: it labels the whole message
}

type mlLine struct {
	text   string
	concat bool // joined to the previous line without a newline
}

// multilineCapValue is the capability's value.
func (s *Server) multilineCapValue() string {
	return "max-bytes=" + strconv.Itoa(s.cfg.Messages.MultilineMaxBytes) +
		",max-lines=" + strconv.Itoa(s.cfg.Messages.MultilineMaxLines)
}

// multilineAllows is asked for every command while a batch is open: a
// line of the batch and BATCH go to their handlers, PING and PONG pass,
// and anything else ends the batch (FAIL) before running as usual.
func (s *Server) multilineAllows(o *op, cmd *command, m *codec.Message) {
	if cmd != nil && cmd.idle || m.CommandIs("BATCH") || m.CommandIs("PRIVMSG") || m.CommandIs("NOTICE") {
		return
	}
	o.c.ml = nil
	o.fail("BATCH", "MULTILINE_INVALID", "", "Command not allowed during a multiline batch")
}

func handleBatch(o *op, m *codec.Message) {
	s, c := o.s, o.c
	ref := string(m.Param(0))
	if len(ref) < 2 || (ref[0] != '+' && ref[0] != '-') {
		o.fail("BATCH", "MULTILINE_INVALID", "", "Invalid batch reference")
		c.ml = nil
		return
	}
	if ref[0] == '-' {
		ml := c.ml
		c.ml = nil
		if ml == nil || ml.ref != ref[1:] {
			o.fail("BATCH", "MULTILINE_INVALID", "", "No such batch is open")
			return
		}
		s.endMultiline(o, ml)
		return
	}
	if c.ml != nil {
		c.ml = nil
		o.fail("BATCH", "MULTILINE_INVALID", "", "Multiline batches cannot be nested")
		return
	}
	if string(m.Param(1)) != multilineType || !c.Has(CapMultiline) {
		o.failWith("BATCH", "INVALID_PARAMS", "Unsupported batch type", orStar(string(m.Param(1))))
		return
	}
	target := string(m.Param(2))
	if target == "" || strings.ContainsAny(target, ",") || isService(s, target) {
		o.fail("BATCH", "MULTILINE_INVALID_TARGET", orStar(target), "Invalid multiline target")
		return
	}
	ml := &multiline{ref: ref[1:], target: target}
	if c.Has(CapMessageTags) {
		ml.clientTags = copyClientTags(m.Tags)
	}
	// The label belongs to the message the batch makes: the BATCH +ref
	// line itself gets no ACK.
	ml.label = append(ml.label, o.label...)
	o.label = o.label[:0]
	c.ml = ml
}

// absorbMultiline takes a PRIVMSG or NOTICE into the open batch, or ends
// the batch with a FAIL. It reports whether the line was the batch's
// (otherwise the caller handles it as an ordinary message).
func (s *Server) absorbMultiline(o *op, m *codec.Message, command string) bool {
	c := o.c
	ml := c.ml
	ref, tagged := m.Tag("batch")
	if ml == nil {
		if !tagged {
			return false
		}
		o.fail("BATCH", "MULTILINE_INVALID", "", "No such batch is open")
		return true
	}
	o.label = o.label[:0] // only the BATCH line's label counts
	fail := func(code, text string, context ...string) {
		c.ml = nil
		o.failWith("BATCH", code, text, context...)
	}
	if !tagged {
		fail("MULTILINE_INVALID", "Messages without the batch tag cannot interleave a multiline batch")
		s.handleAfterAbort(o, m, command)
		return true
	}
	if string(ref) != ml.ref {
		fail("MULTILINE_INVALID", "Incorrect batch tag")
		return true
	}
	if m.NParams() < 2 {
		fail("MULTILINE_INVALID", "Invalid multiline batch")
		return true
	}
	if target := string(m.Param(0)); !s.cm.Equal(target, ml.target) {
		fail("MULTILINE_INVALID_TARGET", "Invalid multiline target", ml.target, target)
		return true
	}
	if ml.command == "" {
		ml.command = command
	} else if ml.command != command {
		fail("MULTILINE_INVALID", "A multiline batch is all PRIVMSG or all NOTICE")
		return true
	}
	text := m.Param(1)
	_, concat := m.Tag(multilineConcat)
	if concat && len(text) == 0 {
		fail("MULTILINE_INVALID", "Cannot send a blank line with the multiline concat tag")
		return true
	}
	if len(ml.lines) > 0 && !concat {
		ml.bytes++ // the joining newline
	}
	ml.bytes += len(text)
	if max := s.cfg.Messages.MultilineMaxBytes; ml.bytes > max {
		fail("MULTILINE_MAX_BYTES", "Multiline batch max-bytes exceeded", strconv.Itoa(max))
		return true
	}
	if max := s.cfg.Messages.MultilineMaxLines; len(ml.lines)+1 > max {
		fail("MULTILINE_MAX_LINES", "Multiline batch max-lines exceeded", strconv.Itoa(max))
		return true
	}
	ml.lines = append(ml.lines, mlLine{text: string(text), concat: concat})
	return true
}

// handleAfterAbort runs a message that ended a batch as an ordinary one,
// its replies after the FAIL.
func (s *Server) handleAfterAbort(o *op, m *codec.Message, command string) {
	s.message(o, m, command)
}

// endMultiline delivers a complete batch as one message.
func (s *Server) endMultiline(o *op, ml *multiline) {
	c := o.c
	blank := true
	for _, l := range ml.lines {
		if l.text != "" {
			blank = false
			break
		}
	}
	if blank {
		o.fail("BATCH", "MULTILINE_INVALID", "", "Invalid multiline batch with blank lines only")
		return
	}
	o.label = append(o.label[:0], ml.label...)
	o.batchLabel = true // an echo that is one batch carries the label itself
	id := c.Identity()
	mm := &multiMsg{
		source: id.Prefix, command: ml.command, target: ml.target, lines: ml.lines,
		at: o.start, msgid: newMsgID(), batchID: s.batchID(), account: id.Account,
		bot: id.Modes&UModeBot != 0, clientTags: ml.clientTags,
	}
	folded := s.cm.Fold(ml.target)
	if codec.IsChannelName([]byte(ml.target)) {
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) { sh.multilineToChannel(b, o, mm, folded) })
		return
	}
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) { sh.multilineToNick(b, o, mm, folded) })
}

// multilineToChannel runs on the channel's shard.
func (sh *shard) multilineToChannel(b *batch, o *op, mm *multiMsg, folded string) {
	s, c := sh.srv, o.c
	quiet := mm.command == "NOTICE"
	ch := sh.channels[folded]
	if ch == nil {
		if !quiet {
			sh.numericTo(b, o, codec.ERR_NOSUCHCHANNEL, mm.target, "No such channel")
		}
		return
	}
	id := c.Identity()
	ctcp := len(mm.lines) > 0 && strings.HasPrefix(mm.lines[0].text, "\x01") && !strings.HasPrefix(mm.lines[0].text, "\x01ACTION")
	if !ch.canSpeak(s, c, id) || (ch.modes&cmodeNoCTCP != 0 && ctcp && ch.member(c.user()).opOrNil() == 0) {
		if !quiet {
			sh.numericTo(b, o, codec.ERR_CANNOTSENDTOCHAN, ch.name, "Cannot send to channel")
		}
		return
	}
	mm.target = ch.name
	for _, mb := range ch.members {
		mm.deliverUser(b, mb.u, c)
	}
	sh.storeAndEcho(b, o, mm, s.historyTxn(mm.asOne(), ch.folded, true), nil)
}

// multilineToNick runs on the recipient nick's shard.
func (sh *shard) multilineToNick(b *batch, o *op, mm *multiMsg, folded string) {
	s, c := sh.srv, o.c
	to := sh.nicks[folded]
	if to == nil || !to.present() {
		if mm.command != "NOTICE" {
			sh.numericTo(b, o, codec.ERR_NOSUCHNICK, mm.target, "No such nick/channel")
		}
		return
	}
	tid := to.Identity()
	mm.target = tid.Nick
	mm.deliverUser(b, to, nil) // the sending session too when it writes to itself
	if from := c.user(); from != to {
		mm.deliverUser(b, from, c)
	}
	var after func(sh *shard, b *batch)
	if mm.command == "PRIVMSG" && tid.Away != "" {
		after = func(sh *shard, b *batch) { sh.numericTo(b, o, codec.RPL_AWAY, tid.Nick, tid.Away) }
	}
	sh.storeAndEcho(b, o, mm, s.privateHistoryTxn(mm.asOne(), c.historyPeer(), kv.Peer{Party: to.historyParty(), Name: tid.Nick}), after)
}

// isService reports whether target names a service (NickServ, ChanServ),
// which takes one line at a time.
func isService(s *Server, target string) bool {
	return services[s.cm.Fold(target)] != nil
}
