package chat

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"laird/codec"
	"laird/kv"
)

// Who a private conversation belongs to. A conversation is keyed by its two
// parties (kv.PrivateTarget), never by nicks: a logged-in user is its
// account ("a:" + the casefolded account), any other (one connection) a
// token of its own (kv.ConnParty), random, never reused, so whoever holds
// a nick later can never read what was said to or by its earlier holder.
// Only the two parties can read a conversation: a query always has the
// asker's own party on one side.

// userHistory is a user's history state (user.hist), shared by its
// sessions.
type userHistory struct {
	// token is the user's party when not logged in (its one connection);
	// made on first use, then immutable (read by shards).
	token atomic.Pointer[string]

	// Read markers (markread.go), by marker key (markerKey): the
	// account's, loaded at login, or the connection's own when not logged
	// in. Read by the shard of a channel being joined, so guarded.
	mu      sync.Mutex
	markers map[string]time.Time
	// unread are the private conversations with unread offline messages,
	// loaded at login (offline.go).
	unread map[string]bool
}

// clientHistory is a connection's history state (Client.hist). Loop-owned.
type clientHistory struct {
	// unreadNotice is the notice of unread offline messages found at a
	// login that came before the welcome burst: sent after it.
	unreadNotice []string
}

// historyParty is who u is in private history: its account when logged
// in, else its connection. Any goroutine.
func (u *user) historyParty() kv.Party {
	if acct := u.Identity().Account; acct != "" {
		return kv.AccountParty(u.srv.cm.Fold(acct))
	}
	if t := u.hist.token.Load(); t != nil {
		return kv.ConnParty(*t)
	}
	t := kv.NewConnToken()
	if !u.hist.token.CompareAndSwap(nil, &t) {
		t = *u.hist.token.Load()
	}
	return kv.ConnParty(t)
}

// historyParty is the party of c's user.
func (c *Client) historyParty() kv.Party { return c.user().historyParty() }

// historyPeer is c's user as the other side of a conversation sees it.
func (c *Client) historyPeer() kv.Peer {
	return kv.Peer{Party: c.historyParty(), Name: c.Nick()}
}

// peerParty finds the party a nick stands for, for o's client, and runs
// then on the loop, trying in turn: whoever holds the nick now; the account
// that reserved it; the latest of the client's own conversations with
// someone who went by that nick (a sender who was not logged in and is
// gone: its messages stay readable by the one they were sent to, and by
// nobody else). ok is false when none applies.
func (s *Server) peerParty(o *op, nick string, then func(p kv.Party, ok bool)) {
	c := o.c
	folded := s.cm.Fold(nick)
	var p kv.Party
	o.toShard(s.shardOf(folded), func(sh *shard, _ *batch) {
		if t := sh.nicks[folded]; t != nil && t.present() {
			p = t.historyParty()
		}
	})
	o.then(func() {
		if p != "" || s.store == nil {
			then(p, p != "")
			return
		}
		self := c.historyParty()
		var err error
		o.offload(readPool, func() { p, err = s.offlinePeer(self, folded) }, func() {
			if err != nil {
				s.log.Warn("nick lookup for history failed", "nick", folded, "err", err)
			}
			then(p, p != "")
		})
	})
}

// offlinePeer is peerParty's store part: the account that reserved folded,
// else self's latest conversation with someone named so. Blocking.
func (s *Server) offlinePeer(self kv.Party, folded string) (kv.Party, error) {
	owner, err := s.store.NickOwner(folded)
	switch {
	case err == nil:
		return kv.AccountParty(owner), nil
	case !errors.Is(err, kv.ErrNotFound):
		return "", err
	}
	convs, err := s.store.HistoryTargets(kv.TargetsQuery{Party: self, Limit: math.MaxInt})
	if err != nil {
		return "", err
	}
	for i := len(convs) - 1; i >= 0; i-- { // newest first
		if s.cm.Fold(convs[i].Peer.Name) == folded {
			return convs[i].Peer.Party, nil
		}
	}
	return "", nil
}

// historyTarget resolves a CHATHISTORY (or MARKREAD) target to its history
// key and runs then on the loop: a channel the client is in, or the
// private conversation with whoever the nick stands for (peerParty).
func (s *Server) historyTarget(o *op, target string, then func(key string, ok bool)) {
	c := o.c
	if codec.IsChannelName([]byte(target)) {
		folded := s.cm.Fold(target)
		then(folded, c.user().inChannel(folded))
		return
	}
	if !codec.ValidNick([]byte(target), s.cfg.NickLen) {
		then("", false)
		return
	}
	s.peerParty(o, target, func(p kv.Party, ok bool) {
		if !ok {
			then("", false)
			return
		}
		then(kv.PrivateTarget(c.historyParty(), p), true)
	})
}
