package chat

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"laird/codec"
	"laird/kv"
)

// Deleting and editing messages: draft/message-redaction (REDACT) and
// draft/message-edit (EDIT, as ircv3-specifications pull request 425
// proposes it; docs/message-edit.md says what laird implements of it).
//
// Both act on a stored message, found by target and msgid in the history
// the client may read (a channel it is in, or its private conversation with
// a nick), so they need the store. The loop reads the message (after the
// history appends queued before the command, so a message just sent is
// found) and checks authorship and the window; the channel's shard, or the
// recipient's nick shard, checks membership and channel-operator status,
// relays the change and queues it for the store, where the message's text
// is removed (a tombstone stays) or replaced. Like history appends, these
// changes are not waited for: the command's reply means the change is
// queued behind everything sent before it.
//
// Who may: the author of a message (same account, or same nick!user@host
// when it was sent without one) may redact it within [messages]
// redact_window and edit it within edit_window; channel operators may
// redact any message of their channel and server operators any message,
// at any time. Only the author edits, ever.

func handleRedact(o *op, m *codec.Message) {
	s := o.s
	target, msgid := string(m.Param(0)), string(m.Param(1))
	reason := ""
	hasReason := m.NParams() > 2
	if hasReason {
		reason = truncate(string(m.Param(2)), s.reasonLen())
	}
	s.findMessage(o, "REDACT", target, msgid, func(key string, h kv.HistoryMessage) {
		now := time.Now()
		id := o.c.Identity()
		oper := id.Modes&UModeOper != 0
		author := s.wrote(id, &h)
		win := s.cfg.Messages.RedactWindow
		expired := win > 0 && now.Sub(h.Time) > win
		ed := &msgChange{
			command: "REDACT", target: target, key: key, msgid: msgid, at: now,
			reason: reason, hasReason: hasReason, by: id,
			// The channel's shard decides for channel operators.
			allowed: oper || (author && !expired), expired: author && expired, window: win,
		}
		if !codec.IsChannelName([]byte(target)) && !ed.allowed {
			ed.refuse(o)
			return
		}
		ed.start(o)
	})
}

func handleEdit(o *op, m *codec.Message) {
	s := o.s
	target := string(m.Param(0))
	raw, ok := m.Tag("draft/target-msgid")
	if !ok || len(raw) == 0 {
		o.fail("EDIT", "INVALID_EDIT", target, "EDIT needs the draft/target-msgid tag")
		return
	}
	msgid := string(codec.UnescapeTag(nil, raw))
	rawText, _ := m.Tag("draft/edit-text")
	text := string(codec.UnescapeTag(nil, rawText))
	if !validEditText(text) || len(text) > maxTextLen(target) {
		o.failWith("EDIT", "INVALID_EDIT", "Invalid edit text: one line of UTF-8, not empty", target, msgid)
		return
	}
	s.findMessage(o, "EDIT", target, msgid, func(key string, h kv.HistoryMessage) {
		now := time.Now()
		id := o.c.Identity()
		if h.Command != "PRIVMSG" && h.Command != "NOTICE" {
			o.failWith("EDIT", "UNKNOWN_MSGID", "This message does not exist or cannot be edited", target, msgid)
			return
		}
		win := s.cfg.Messages.EditWindow
		ed := &msgChange{
			command: "EDIT", target: target, key: key, msgid: msgid, at: now,
			text: text, orig: h, by: id, window: win,
		}
		switch {
		case !s.wrote(id, &h):
		case win > 0 && now.Sub(h.Time) > win:
			ed.expired = true
		default:
			ed.allowed = true
		}
		if !ed.allowed {
			ed.refuse(o)
			return
		}
		ed.start(o)
	})
}

// maxTextLen is the longest text a client's PRIVMSG to target can carry
// in one 512-byte line; an edit may not make a message longer.
func maxTextLen(target string) int {
	return 512 - len("PRIVMSG  :\r\n") - len(target)
}

// validEditText reports whether text can replace a message's text.
func validEditText(text string) bool {
	if text == "" || !utf8.ValidString(text) {
		return false
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// findMessage resolves target and msgid to a stored message the client may
// act on and runs then(key, message) on the loop; otherwise it answers
// INVALID_TARGET or UNKNOWN_MSGID itself.
func (s *Server) findMessage(o *op, cmd, target, msgid string, then func(key string, h kv.HistoryMessage)) {
	if s.store == nil {
		o.fail(cmd, "INVALID_TARGET", target, "Messages are not stored on this server")
		return
	}
	// A private conversation's key is its parties', which may take a
	// lookup (history_party.go).
	s.historyTarget(o, target, func(key string, ok bool) {
		if !ok {
			o.fail(cmd, "INVALID_TARGET", target, "You cannot change messages in "+target)
			return
		}
		s.findMessageIn(o, cmd, target, key, msgid, then)
	})
}

// findMessageIn is findMessage once the target's history key is known.
func (s *Server) findMessageIn(o *op, cmd, target, key, msgid string, then func(key string, h kv.HistoryMessage)) {
	var h kv.HistoryMessage
	var err error
	s.readHistory(o, func() {
		h, err = s.store.HistoryMessageByID(key, msgid)
	}, func() {
		if err != nil || h.Redacted != nil {
			if err != nil && !errors.Is(err, kv.ErrNotFound) && !errors.Is(err, kv.ErrInvalid) {
				s.log.Warn("message lookup failed", "command", cmd, "target", key, "err", err)
			}
			o.failWith(cmd, "UNKNOWN_MSGID", "This message does not exist or is too old", target, msgid)
			return
		}
		switch h.Command {
		case "PRIVMSG", "NOTICE", "TAGMSG":
			then(key, h)
		default:
			o.failWith(cmd, "UNKNOWN_MSGID", "This message does not exist or is too old", target, msgid)
		}
	})
}

// wrote reports whether the client with identity id is the author of h:
// the same account, or, for a message sent without one, the same
// nick!user@host.
func (s *Server) wrote(id *Identity, h *kv.HistoryMessage) bool {
	if h.Account != "" {
		return id.Account != "" && s.cm.Equal(id.Account, h.Account)
	}
	return id.Prefix == h.Source
}

// msgChange is one accepted-so-far REDACT or EDIT on its way to the shard
// that relays it.
type msgChange struct {
	command   string // REDACT or EDIT
	id        string // the msgid of the REDACT or EDIT itself
	target    string // as the client gave it
	key       string // history target
	msgid     string // of the message changed
	at        time.Time
	by        *Identity
	reason    string // REDACT
	hasReason bool
	text      string            // EDIT: the new text
	orig      kv.HistoryMessage // EDIT: the message as stored
	allowed   bool              // authorised by authorship or server operator status
	expired   bool              // the author's window has passed
	window    time.Duration
}

// refuse answers REDACT_FORBIDDEN / EDIT_FORBIDDEN, or the window's FAIL.
func (ed *msgChange) refuse(o *op) {
	if ed.expired {
		secs := ed.windowSecs()
		o.failWith(ed.command, ed.command+"_WINDOW_EXPIRED", "You can no longer change this message", ed.target, ed.msgid, secs)
		return
	}
	o.failWith(ed.command, ed.command+"_FORBIDDEN", "You are not authorised to change this message", ed.target, ed.msgid)
}

// start sends the change to the shard of its target.
func (ed *msgChange) start(o *op) {
	s := o.s
	ed.id = newMsgID()
	folded := s.cm.Fold(ed.target)
	if codec.IsChannelName([]byte(ed.target)) {
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) { sh.changeInChannel(b, o, ed, folded) })
		return
	}
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) { sh.changePrivate(b, o, ed, folded) })
}

// changeInChannel relays a REDACT or EDIT to a channel's members, on its
// shard.
func (sh *shard) changeInChannel(b *batch, o *op, ed *msgChange, folded string) {
	ch := sh.channels[folded]
	mb := (*Member)(nil)
	if ch != nil {
		mb = ch.member(o.c.user())
	}
	if mb == nil {
		r := sh.replies(o.c)
		r.fail(ed.command, "INVALID_TARGET", ed.target, "You cannot change messages in "+ed.target)
		b.reply(o, r)
		return
	}
	if !ed.allowed && !(ed.command == "REDACT" && mb.modes&memberOp != 0) {
		r := sh.replies(o.c)
		ed.refuseInto(r)
		b.reply(o, r)
		return
	}
	ed.target = ch.name
	out, fallback := ed.lines(sh.srv)
	for _, m := range ch.members {
		ed.deliverUser(b, m.u, o.c, out, fallback)
	}
	ed.echo(b, o, out)
	ed.store(sh.srv)
}

// changePrivate relays a REDACT or EDIT of a private message to the other
// party (every session of it) and the requester's other sessions, on the
// other party's nick shard.
func (sh *shard) changePrivate(b *batch, o *op, ed *msgChange, folded string) {
	out, fallback := ed.lines(sh.srv)
	from := o.c.user()
	if to := sh.nicks[folded]; to != nil && to.present() && to != from {
		out.params[0] = to.Nick()
		if fallback != nil {
			fallback.params[0] = out.params[0]
		}
		ed.deliverUser(b, to, o.c, out, fallback)
	}
	ed.deliverUser(b, from, o.c, out, nil) // the requester's other sessions
	ed.echo(b, o, out)
	ed.store(sh.srv)
}

// refuseInto is refuse for output built on a shard.
func (ed *msgChange) refuseInto(r *replies) {
	if ed.expired {
		secs := ed.windowSecs()
		r.failWith(ed.command, ed.command+"_WINDOW_EXPIRED", "You can no longer change this message", ed.target, ed.msgid, secs)
		return
	}
	r.failWith(ed.command, ed.command+"_FORBIDDEN", "You are not authorised to change this message", ed.target, ed.msgid)
}

// lines builds the relayed line and, for EDIT, the fallback NOTICE for
// clients without draft/message-edit.
func (ed *msgChange) lines(s *Server) (out, fallback *outMsg) {
	out = &outMsg{
		source: ed.by.Prefix, command: ed.command, at: ed.at, atNano: ed.at.UnixNano(),
		msgid: ed.id, account: ed.by.Account, bot: ed.by.Modes&UModeBot != 0,
	}
	if ed.command == "REDACT" {
		out.params = []string{ed.target, ed.msgid}
		if ed.hasReason {
			out.params = append(out.params, ed.reason)
		} else {
			out.plainLast = true
		}
		return out, nil
	}
	out.params = []string{ed.target}
	out.plainLast = true
	tags := append([]byte("draft/target-msgid="), codec.AppendEscapedTag(nil, []byte(ed.msgid))...)
	tags = append(tags, ";draft/edit-text="...)
	out.clientTags = codec.AppendEscapedTag(tags, []byte(ed.text))
	fallback = &outMsg{
		source: s.name, command: "NOTICE", at: ed.at,
		params: []string{ed.target, ed.by.Nick + " edited a message from " + ago(ed.at.Sub(ed.orig.Time)) + ": " + ed.text},
	}
	return out, fallback
}

// deliver sends the change to one recipient: the relayed line with the
// capability, the fallback (EDIT only) without.
func (ed *msgChange) deliver(b *batch, c *Client, out, fallback *outMsg) {
	if c.Has(ed.capability()) {
		out.deliver(b, c)
	} else if fallback != nil {
		fallback.deliver(b, c)
	}
}

// deliverUser is deliver for every session of u but except.
func (ed *msgChange) deliverUser(b *batch, u *user, except *Client, out, fallback *outMsg) {
	for _, s := range u.sessionList() {
		if s != except {
			ed.deliver(b, s, out, fallback)
		}
	}
}

// echo gives the requester the relayed line when it has the capability
// (its confirmation; without it a labeled command gets ACK).
func (ed *msgChange) echo(b *batch, o *op, out *outMsg) {
	if o.c.Has(ed.capability()) {
		out.echo(b, o)
	}
}

// windowSecs is the window in whole seconds, rounded up, for the FAIL.
func (ed *msgChange) windowSecs() string {
	return strconv.FormatInt(int64((ed.window+time.Second-1)/time.Second), 10)
}

func (ed *msgChange) capability() Cap {
	if ed.command == "EDIT" {
		return CapMessageEdit
	}
	return CapMessageRedaction
}

// store queues the change for the store, like a history append.
func (ed *msgChange) store(s *Server) {
	t := s.store.NewTxn()
	if ed.command == "REDACT" {
		t.RedactHistory(ed.key, ed.msgid, kv.Redaction{At: ed.at, By: ed.by.Prefix, Account: ed.by.Account, Reason: ed.reason, MsgID: ed.id})
	} else {
		t.EditHistory(ed.key, ed.msgid, ed.text, kv.Edit{At: ed.at, MsgID: ed.id})
	}
	if err := s.store.Commit(t, func(err error) {
		if err != nil {
			s.log.Warn("message change not stored", "command", ed.command, "target", ed.key, "err", err)
		}
	}); err != nil {
		s.log.Warn("message change not stored", "command", ed.command, "target", ed.key, "err", err)
	}
}

// ago describes a past duration the way a person would say it.
func ago(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "a moment ago"
	case d < 2*time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " seconds ago"
	case d < 2*time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " minutes ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " hours ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
}
