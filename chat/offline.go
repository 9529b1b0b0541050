package chat

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"laird/codec"
	"laird/kv"
)

// Offline delivery. A PRIVMSG or NOTICE to a nick nobody holds, reserved by
// an account, or to an always-on user with no session, is stored for that
// account in their private conversation
// (kv AppendOffline: synced before the sender hears of it, counted unread,
// bounded by the account's quota, [store] offline_max_messages and
// offline_max_age). The sender gets its echo and a NOTE STORED_OFFLINE, or
// a FAIL when the quota is full or the store cannot take it. At the
// account's next logins the client is told how many unread messages wait
// and from whom, until it fetches the conversation (CHATHISTORY) or marks
// it read (MARKREAD); the conversations are in CHATHISTORY TARGETS.
//
// "Nothing connected" is decided in steps: nobody holds the nick (its
// shard), the owner from the store (o.offload), and the owner's account
// has no present user (the account registry on its shard): if it has one,
// under another nick, the message goes to it live. Then the message is
// committed (o.commit). A login between the last check and the commit
// finds the message at the next login rather than live.

// offlineMessage is what storeOffline needs of a message: copies, since the
// message itself is gone once the shard task ends.
type offlineMessage struct {
	command    string
	nick       string // the target as given
	folded     string
	text       string
	clientTags []byte
	at         time.Time
	msgid      string
}

// offlineMessage hands a PRIVMSG or NOTICE to a nick nobody holds over to
// the sender's loop, to be stored if an account owns the nick; it reports
// false when that cannot apply (no store, TAGMSG). On the nick's shard, as
// part of o: the loop runs storeOffline before the part completes.
func (sh *shard) offlineMessage(b *batch, o *op, msg *outMsg, folded string) bool {
	s := sh.srv
	if s.store == nil || msg.command == "TAGMSG" {
		return false
	}
	om := &offlineMessage{
		command: msg.command, nick: msg.params[0], folded: folded, text: msg.params[1],
		clientTags: msg.clientTags, at: msg.at, msgid: msg.msgid,
	}
	b.call(o.c, func(*Client) { s.storeOffline(o, om) })
	return true
}

// sessionlessMessage stores a PRIVMSG or NOTICE to to, an always-on user
// with no session connected, for its account, as offline delivery does;
// it reports false when to has a session (or no account, or the message
// cannot be stored), for the usual delivery. On to's nick shard, as part
// of o.
func (sh *shard) sessionlessMessage(b *batch, o *op, msg *outMsg, to *user) bool {
	s := sh.srv
	if s.store == nil || msg.command == "TAGMSG" || len(to.sessionList()) > 0 {
		return false
	}
	acct := to.Identity().Account
	if acct == "" {
		return false
	}
	om := &offlineMessage{
		command: msg.command, nick: to.Nick(), folded: s.cm.Fold(to.Nick()), text: msg.params[1],
		clientTags: msg.clientTags, at: msg.at, msgid: msg.msgid,
	}
	folded := s.cm.Fold(acct)
	b.call(o.c, func(*Client) { s.appendOffline(o, om, folded) })
	return true
}

// storeOffline stores om for the account that owns its nick, or answers
// 401 (PRIVMSG) when none does; if the account is online after all (its
// user under another nick), om goes to it live instead. On the sender's
// loop, as part of o.
func (s *Server) storeOffline(o *op, om *offlineMessage) {
	var owner string
	var err error
	o.offload(readPool, func() { owner, err = s.store.NickOwner(om.folded) }, func() {
		switch {
		case errors.Is(err, kv.ErrNotFound):
			if om.command != "NOTICE" {
				o.numeric(codec.ERR_NOSUCHNICK, om.nick, "No such nick/channel")
			}
			return
		case err != nil:
			s.log.Warn("nick owner lookup failed", "nick", om.folded, "err", err)
			s.offlineFail(o, om, "TEMPORARILY_UNAVAILABLE", "The message could not be stored; try again later")
			return
		}
		var online *user
		o.toShard(s.shardOf(owner), func(sh *shard, _ *batch) {
			if u := sh.accounts[owner]; u != nil && u.present() && len(u.sessionList()) > 0 {
				online = u
			}
		})
		o.then(func() {
			if online != nil {
				s.messageAccountUser(o, om, online)
				return
			}
			s.appendOffline(o, om, owner)
		})
	})
}

// offlineOutMsg rebuilds om as sent by o's client now.
func offlineOutMsg(c *Client, om *offlineMessage) *outMsg {
	id := c.Identity()
	return &outMsg{
		source: id.Prefix, command: om.command, params: []string{om.nick, om.text},
		at: om.at, msgid: om.msgid, account: id.Account, bot: id.Modes&UModeBot != 0,
		clientTags: om.clientTags,
	}
}

// messageAccountUser delivers om to u, the present user of the account
// that owns om's nick, under the nick u has now: every session of it, and
// the sender's other sessions, as a private message to u.
func (s *Server) messageAccountUser(o *op, om *offlineMessage, u *user) {
	c := o.c
	o.toShard(s.shardOf(s.cm.Fold(u.Nick())), func(sh *shard, b *batch) {
		msg := offlineOutMsg(c, om)
		msg.params[0] = u.Nick()
		msg.deliverUser(b, u, c)
		if from := c.user(); from != u {
			msg.deliverUser(b, from, c)
		}
		to := kv.Peer{Party: u.historyParty(), Name: u.Nick()}
		sh.storeAndEcho(b, o, msg, s.privateHistoryTxn(msg, c.historyPeer(), to), nil)
	})
}

// appendOffline stores om for the account owner, with nothing connected.
func (s *Server) appendOffline(o *op, om *offlineMessage, owner string) {
	c := o.c
	msg := offlineOutMsg(c, om)
	t := s.store.NewTxn()
	t.AppendOffline(historyMessage(msg, ""), c.historyPeer(), kv.Peer{Party: kv.AccountParty(owner), Name: om.nick})
	o.commit(t, func(err error) {
		var limit *kv.LimitError
		switch {
		case errors.As(err, &limit):
			s.offlineFail(o, om, "OFFLINE_QUOTA_FULL",
				fmt.Sprintf("%s is offline with %d unread messages already; nothing was stored, try again later", om.nick, limit.Max))
			return
		case err != nil:
			s.log.Warn("offline message not stored", "to", owner, "err", err)
			s.offlineFail(o, om, "TEMPORARILY_UNAVAILABLE", "The message could not be stored; try again later")
			return
		}
		r := o.replies()
		if c.Has(CapEchoMessage) {
			r.begin()
			r.buf = msg.appendVariant(r.buf, msg.variantOf(c))
		}
		r.standard("NOTE", om.command, "STORED_OFFLINE", om.nick,
			om.nick+" is offline: the message is stored and waits for their next login")
		o.reply(r)
	})
}

// offlineFail tells the sender its message was not stored. Unlike errors
// about the target, this is sent for NOTICE too: nothing is lost silently.
func (s *Server) offlineFail(o *op, om *offlineMessage, code, text string) {
	o.fail(om.command, code, om.nick, text)
}

// Login: what waits for the account.

// historyLogin runs when o's client logged in to account (its display
// name), or out (""): it loads the account's read markers and unread
// conversations into the user and tells the client about unread offline
// messages. They stay unread (and counted by the quota) until the client
// reads the conversation (conversationRead) or they expire. Loop only, as
// part of o.
func (s *Server) historyLogin(o *op, account string) {
	c := o.c
	if account == "" {
		c.user().hist.loggedIn(nil, nil) // the account's state is not the connection's
		return
	}
	if s.store == nil {
		return
	}
	folded := s.cm.Fold(account)
	var (
		unread  []kv.Unread
		markers map[string]time.Time
		err     error
	)
	o.offload(readPool, func() {
		if unread, err = s.store.Unread(folded); err != nil {
			return
		}
		markers, err = s.store.ReadMarkers(folded)
	}, func() {
		if err != nil {
			s.log.Warn("login: unread messages and read markers not read", "account", folded, "err", err)
			return
		}
		c.user().hist.loggedIn(markers, unread)
		if len(unread) == 0 {
			return
		}
		c.hist.unreadNotice = append(c.hist.unreadNotice, unreadNotice(unread))
		if c.Registered() {
			s.sendUnreadNotice(o)
		}
	})
}

// conversationRead ends the unread state of a private conversation of c's
// account once the client fetched it (CHATHISTORY) or marked it read
// (MARKREAD): its offline messages are delivered, and no longer count
// against the quota. A write only when there was something unread. Loop.
func (s *Server) conversationRead(c *Client, key string) {
	acct := c.Identity().Account
	if acct == "" || s.store == nil || !c.user().hist.takeUnread(key) {
		return
	}
	t := s.store.NewTxn()
	t.ClearUnread(s.cm.Fold(acct), key)
	s.commitQuiet(t, "clearing unread messages")
}

// sendUnreadNotice sends the notice of unread messages found at a login,
// once the client is registered (historyWelcome calls it for a login
// before the welcome burst). Loop only.
func (s *Server) sendUnreadNotice(o *op) {
	c := o.c
	if len(c.hist.unreadNotice) == 0 {
		return
	}
	r := o.replies()
	for _, text := range c.hist.unreadNotice {
		r.cmd(s.name, "NOTICE", true, c.Nick(), text)
	}
	c.hist.unreadNotice = nil
	o.reply(r)
}

// historyWelcome runs at the end of the welcome burst.
func (s *Server) historyWelcome(o *op) { s.sendUnreadNotice(o) }

// unreadNotice says how many unread messages wait, in how many
// conversations, from whom (most first).
func unreadNotice(unread []kv.Unread) string {
	type from struct {
		name string
		n    int
	}
	byName := map[string]int{}
	total := 0
	for _, u := range unread {
		byName[u.Peer.Name] += u.Count
		total += u.Count
	}
	list := make([]from, 0, len(byName))
	for name, n := range byName {
		list = append(list, from{name, n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].name < list[j].name
	})
	const shown = 10
	var sb strings.Builder
	fmt.Fprintf(&sb, "You have %d unread %s in %d %s while you were away, from ",
		total, plural(total, "message", "messages"), len(unread), plural(len(unread), "conversation", "conversations"))
	for i, f := range list {
		if i == shown {
			sb.WriteString(", and " + strconv.Itoa(len(list)-shown) + " more")
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(f.name + " (" + strconv.Itoa(f.n) + ")")
	}
	sb.WriteString(". CHATHISTORY TARGETS lists the conversations.")
	return sb.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
