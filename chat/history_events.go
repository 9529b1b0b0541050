package chat

import (
	"time"

	"laird/kv"
)

// Channel events in history (IRCv3 draft/event-playback): JOIN, PART,
// KICK, TOPIC and MODE are stored by the channel's shard as they are
// announced (historyEvent, one call where each builds its line), NICK and
// QUIT for every channel the client is in (historyNick, historyQuit).
// TAGMSGs are stored with the messages (history_store.go). A client that
// negotiated draft/event-playback gets them back from CHATHISTORY; others
// get PRIVMSG and NOTICE only (historyKinds).
//
// Events are stored as lazily as the configuration says for history
// ([store] lazy_history), but nobody waits for them: the state they
// announce (membership, topic, modes) is what matters, and it does not
// depend on history.

// historyEvent gives an event line of channel ch a msgid (so that a client
// can match what it saw with what history returns) and stores it. Call it
// on ch's shard before the line is delivered.
func (sh *shard) historyEvent(ch *Channel, msg *outMsg) {
	s := sh.srv
	if s.store == nil || len(msg.params) == 0 {
		return
	}
	msg.msgid = newMsgID()
	h := kv.HistoryMessage{
		Time: msg.at, MsgID: msg.msgid, Target: ch.folded, To: msg.params[0],
		Source: msg.source, Account: msg.account, Command: msg.command,
	}
	rest := msg.params[1:]
	switch {
	case msg.extParams != nil: // JOIN: account and realname, for extended-join
		h.Params = msg.extParams[1:]
	case msg.plainLast:
		h.Params = rest
	case len(rest) > 0:
		h.Params, h.Text = rest[:len(rest)-1], rest[len(rest)-1]
	}
	s.storeEvents(h)
}

// historyNick stores a nick change in each of chans (casefolded).
func (s *Server) historyNick(old *Identity, chans []string, newNick string) {
	if s.store == nil {
		return
	}
	s.storeEvents(perChannel(kv.HistoryMessage{
		Source: old.Prefix, Account: old.Account, Command: "NICK", Params: []string{newNick},
	}, chans)...)
}

// historyQuit stores a QUIT in each of chans (casefolded).
func (s *Server) historyQuit(id *Identity, chans []string, reason string) {
	if s.store == nil {
		return
	}
	s.storeEvents(perChannel(kv.HistoryMessage{
		Source: id.Prefix, Account: id.Account, Command: "QUIT", Text: reason,
	}, chans)...)
}

// perChannel returns a copy of h for each channel, each with its own msgid.
func perChannel(h kv.HistoryMessage, chans []string) []kv.HistoryMessage {
	h.Time = time.Now()
	out := make([]kv.HistoryMessage, len(chans))
	for i, folded := range chans {
		out[i] = h
		out[i].Target, out[i].MsgID = folded, newMsgID()
	}
	return out
}

// storeEvents appends events in one transaction.
func (s *Server) storeEvents(hs ...kv.HistoryMessage) {
	if len(hs) == 0 {
		return
	}
	t := s.store.NewTxn()
	for _, h := range hs {
		t.AppendHistory(h)
	}
	if err := s.store.Commit(t, func(err error) {
		if err != nil {
			s.log.Debug("history event not stored", "command", hs[0].Command, "err", err)
		}
	}); err != nil {
		s.log.Debug("history event refused", "command", hs[0].Command, "err", err)
	}
}

// eventLine rebuilds the line of a stored event into msg, as it was
// announced: which parameter is written as trailing follows the live line.
func eventLine(h *kv.HistoryMessage, msg *outMsg) {
	var p []string
	if h.To != "" {
		p = append(p, h.To)
	}
	p = append(p, h.Params...)
	switch {
	case h.Command == "TOPIC" || h.Command == "KICK" || h.Command == "QUIT":
		p = append(p, h.Text) // always written as trailing, even empty
	case h.Command == "PART" && h.Text != "":
		p = append(p, h.Text)
	default:
		if h.Text != "" {
			p = append(p, h.Text)
		}
		msg.plainLast = true
	}
	msg.params = p
	if h.Command == "JOIN" && len(h.Params) == 2 && h.To != "" {
		msg.params, msg.extParams = p[:1], p
	}
}
