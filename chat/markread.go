package chat

import (
	"errors"
	"time"

	"laird/codec"
	"laird/kv"
)

// Read markers (IRCv3 draft/read-marker): MARKREAD <target> [timestamp=T].
// A marker is the time of the last message the user read in a channel or a
// private conversation; it never moves backwards. A logged-in client's
// markers belong to its account, durable in kv, loaded at login
// (historyLogin) into its user, whose sessions share them and hear when
// one of them moves a marker; a client that is not logged in keeps its own
// in memory.
//
// Markers are keyed like history: a channel by its casefolded name, a
// private conversation by its two parties (history_party.go), so a nick
// taken over by someone else starts with no marker.

func handleMarkread(o *op, m *codec.Message) {
	s := o.s
	if m.NParams() == 0 || len(m.Param(0)) == 0 {
		o.fail("MARKREAD", "NEED_MORE_PARAMS", "", "Missing parameters")
		return
	}
	target := string(m.Param(0))
	set := m.NParams() > 1
	var at time.Time
	if set {
		arg := string(m.Param(1))
		ref, ok := parseMsgRef(arg, false)
		switch {
		case !ok || ref.Time.IsZero():
			o.fail("MARKREAD", "INVALID_PARAMS", arg, "The timestamp must be timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
			return
		case ref.Time.After(time.Now()):
			o.fail("MARKREAD", "INVALID_PARAMS", arg, "The timestamp is in the future: it must be that of a message read")
			return
		}
		at = ref.Time.Truncate(time.Millisecond).UTC()
	}
	s.markerKey(o, target, func(key string, ok bool) {
		switch {
		case !ok && set:
			o.fail("MARKREAD", "INVALID_PARAMS", target, "No such nick or channel")
		case !ok:
			o.write(markreadLine(s, target, time.Time{}))
		case set:
			s.setMarker(o, target, key, at)
		default:
			s.getMarker(o, target, key)
		}
	})
}

// markerKey resolves a MARKREAD target to its marker key: a channel's
// casefolded name (whether or not the client is in it), or a private
// conversation's history key.
func (s *Server) markerKey(o *op, target string, then func(key string, ok bool)) {
	if codec.IsChannelName([]byte(target)) {
		then(s.cm.Fold(target), true)
		return
	}
	if !codec.ValidNick([]byte(target), s.cfg.NickLen) {
		then("", false)
		return
	}
	c := o.c
	s.peerParty(o, target, func(p kv.Party, ok bool) {
		if !ok {
			then("", false)
			return
		}
		then(kv.PrivateTarget(c.historyParty(), p), true)
	})
}

// setMarker moves the marker on key to at unless it is already later, and
// answers with its value.
func (s *Server) setMarker(o *op, target, key string, at time.Time) {
	c := o.c
	acct := c.Identity().Account
	if acct == "" || s.store == nil {
		v := c.user().hist.raiseMarker(key, at)
		o.write(markreadLine(s, target, v))
		return
	}
	var stored time.Time
	t := s.store.NewTxn()
	t.MarkRead(s.cm.Fold(acct), key, at, &stored)
	o.commit(t, func(err error) {
		if err != nil {
			s.log.Warn("read marker not saved", "account", acct, "err", err)
			o.fail("MARKREAD", "INTERNAL_ERROR", target, "The read timestamp could not be set")
			return
		}
		v := c.user().hist.raiseMarker(key, stored)
		o.write(markreadLine(s, target, v))
		s.pushMarker(c, target, v)
		s.conversationRead(c, key)
	})
}

// getMarker answers with the marker on key: the account's, read from the
// store, or the connection's own.
func (s *Server) getMarker(o *op, target, key string) {
	c := o.c
	acct := c.Identity().Account
	if acct == "" || s.store == nil {
		o.write(markreadLine(s, target, c.user().hist.marker(key)))
		return
	}
	var v time.Time
	var err error
	o.offload(readPool, func() { v, err = s.store.ReadMarker(s.cm.Fold(acct), key) }, func() {
		switch {
		case errors.Is(err, kv.ErrNotFound):
			v = time.Time{}
		case err != nil:
			s.log.Warn("read marker not read", "account", acct, "err", err)
			o.fail("MARKREAD", "INTERNAL_ERROR", target, "The read timestamp could not be read")
			return
		}
		o.write(markreadLine(s, target, c.user().hist.raiseMarker(key, v)))
	})
}

// pushMarker tells the other sessions of c's user that a marker moved
// (read-marker: "the server SHOULD send MARKREAD to all the clients of the
// user"); they share the user's markers already. Loop only.
func (s *Server) pushMarker(c *Client, target string, v time.Time) {
	line := markreadLine(s, target, v)
	for _, sib := range c.user().sessionList() {
		if sib != c && sib.Has(CapReadMarker) {
			s.onLoop(sib, func() { sib.conn.Write(line) })
		}
	}
}

// joinMarker appends the MARKREAD a session with draft/read-marker gets
// when it joins ch (or is shown it on attaching), before RPL_ENDOFNAMES.
// On ch's shard.
func (c *Client) joinMarker(r *replies, ch *Channel) {
	if c.Has(CapReadMarker) {
		r.line(markreadLine(c.srv, ch.name, c.user().hist.marker(ch.folded)))
	}
}

// markreadLine is ":server MARKREAD target timestamp=T", or "*" for no
// marker.
func markreadLine(s *Server, target string, v time.Time) []byte {
	ts := "*"
	if !v.IsZero() {
		ts = "timestamp=" + v.UTC().Format(serverTimeFormat)
	}
	return appendCmd(nil, s.name, "MARKREAD", false, target, ts)
}

// Markers in memory (clientHistory.markers).

func (h *userHistory) marker(key string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.markers[key]
}

// raiseMarker moves the marker on key to v unless it is later already,
// and returns it.
func (h *userHistory) raiseMarker(key string, v time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.markers[key]; !v.After(old) {
		return old
	}
	if h.markers == nil {
		h.markers = map[string]time.Time{}
	}
	h.markers[key] = v
	return v
}

// loggedIn replaces the markers and unread conversations with the
// account's (nil for a logout).
func (h *userHistory) loggedIn(markers map[string]time.Time, unread []kv.Unread) {
	h.mu.Lock()
	h.markers = markers
	h.unread = nil
	for _, u := range unread {
		if h.unread == nil {
			h.unread = map[string]bool{}
		}
		h.unread[u.Target] = true
	}
	h.mu.Unlock()
}

// takeUnread reports whether key had unread messages, and forgets them.
func (h *userHistory) takeUnread(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.unread[key] {
		return false
	}
	delete(h.unread, key)
	return true
}
