package chat

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"laird/kv"
)

// Stored invitations (issue 14). The store holds them (kv/invites.go); the
// shard owning a channel keeps an index of the pending ones to it
// (shard.invites), loaded at Start and changed only after the commit that
// changed the store, so that JOIN decides on the shard without reading
// the disk. An index entry past its expiry counts for nothing; the sweep
// (ExpireInvites) removes those from the store and the index.
//
// Accepting is joining: a JOIN by an account with a pending invitation
// consumes it, and on a registered channel grants LevelMember access, in
// one transaction (kv.Txn.AcceptInvite); the client is held on the shard
// until it is durable and only then joins, so a crash leaves both the
// access entry and the consumed invitation or neither, and never a join
// that was answered but not recorded.

// DefaultInviteTTL is how long a stored invitation lasts unless
// configured (Config.InviteTTL).
const DefaultInviteTTL = 7 * 24 * time.Hour

// inviteEntry is a pending stored invitation, as a shard indexes it.
type inviteEntry struct {
	inviter string // casefolded account of the inviter; "" if it had none
	expires time.Time
}

// inviteIndex holds a shard's pending invitations by casefolded channel,
// then account. Shard only.
type inviteIndex map[string]map[string]inviteEntry

func (s *Server) inviteTTL() time.Duration { return s.liveConfig().InviteTTL }

// storedInvite returns the pending invitation of account to channel, if
// it has not expired at now.
func (sh *shard) storedInvite(channel, account string, now time.Time) (inviteEntry, bool) {
	e, ok := sh.invites[channel][account]
	if !ok || !now.Before(e.expires) {
		return inviteEntry{}, false
	}
	return e, true
}

func (sh *shard) setInvite(channel, account string, e inviteEntry) {
	if sh.invites == nil {
		sh.invites = make(inviteIndex)
	}
	m := sh.invites[channel]
	if m == nil {
		m = make(map[string]inviteEntry)
		sh.invites[channel] = m
	}
	m[account] = e
}

func (sh *shard) dropInvite(channel, account string) {
	m := sh.invites[channel]
	delete(m, account)
	if len(m) == 0 {
		delete(sh.invites, channel)
	}
}

// loadInvites indexes the pending invitations on their channels' shards.
// Start calls it before the shards run; a store that cannot be read
// leaves the invitations unusable until a restart (logged).
func (s *Server) loadInvites() {
	if s.store == nil {
		return
	}
	now := time.Now()
	n := 0
	err := s.store.ScanInvites(func(inv kv.Invitation) bool {
		if inv.Pending(now) {
			s.shards[s.shardOf(inv.Channel)].setInvite(inv.Channel, inv.Account,
				inviteEntry{inviter: inv.Inviter, expires: inv.Expires})
			n++
		}
		return true
	})
	if err != nil {
		s.log.Error("cannot load invitations", "err", err)
	}
	if n > 0 {
		s.log.Info("pending invitations loaded", "count", n)
	}
}

// commitThen commits t and runs then on this shard with the outcome: nil
// once durable. Holding the op meanwhile is the caller's (sh.hold).
func (sh *shard) commitThen(b *batch, t *kv.Txn, then func(sh *shard, b *batch, err error)) {
	s, id := sh.srv, sh.id
	done := func(err error) { s.post(id, func(sh *shard, b *batch) { then(sh, b, err) }) }
	if err := s.store.Commit(t, done); err != nil {
		then(sh, b, err)
	}
}

// acceptInvite takes over a JOIN by an account with a pending stored
// invitation to the channel: it consumes the invitation (with LevelMember
// access on a registered channel) and, once that is durable, runs the
// join admitted by it. It reports false when there is no such invitation.
// A store failure refuses the join with FAIL JOIN TEMPORARILY_UNAVAILABLE;
// an invitation revoked or expired meanwhile makes it an ordinary join.
func (sh *shard) acceptInvite(b *batch, o *op, name, folded, key string, id *Identity, now time.Time) bool {
	s := sh.srv
	if id.Account == "" || len(sh.invites[folded]) == 0 {
		return false
	}
	acct := s.cm.Fold(id.Account)
	if _, ok := sh.storedInvite(folded, acct, now); !ok {
		return false
	}
	txn := s.store.NewTxn()
	txn.AcceptInvite(folded, acct, now, kv.LevelMember, audit(o.c, "", ""))
	sh.hold(b, o)
	sh.commitThen(b, txn, func(sh *shard, b *batch, err error) {
		defer sh.release(b, o)
		var ce *kv.ConditionError
		switch {
		case err == nil:
			sh.dropInvite(folded, acct)
			if rc := sh.regOf(folded); rc != nil && rc.access[acct] < kv.LevelMember {
				rc.access[acct] = kv.LevelMember
			}
		case errors.As(err, &ce) && ce.Kind == kv.KindInvite:
			sh.dropInvite(folded, acct)
		default:
			s.log.Error("invitation not accepted", "channel", folded, "account", acct, "err", err)
			r := sh.replies(o.c)
			r.fail("JOIN", "TEMPORARILY_UNAVAILABLE", name, "Your invitation cannot be accepted now: "+storeFailText(err))
			b.reply(o, r)
			return
		}
		if o.c.registeredShared() { // not if it quit meanwhile (see release)
			sh.joinAdmitted(b, o, name, folded, key, now, err == nil)
		}
	})
	return true
}

// admission is what lets a joiner past a channel's restrictions.
type admission uint8

const (
	// admitInvited: an invitation this join uses up; past +i, +k, +l and
	// bans, as an INVITE always let in.
	admitInvited admission = 1 << iota
	// admitAccess: LevelMember access on a registered channel (an accepted
	// invitation's lasting terms); past +i, +k and +l, not bans. Only
	// that level: voice access never let anyone past +i, and op access is
	// exempt from everything (regExempt).
	admitAccess
)

// admissionOf returns what admits c (with identity id) to the channel;
// accepted: its stored invitation was just consumed for this join.
func (sh *shard) admissionOf(c *Client, id *Identity, folded string, accepted bool) admission {
	var a admission
	if accepted || c.user().invites.has(folded) {
		a |= admitInvited
	}
	if sh.regOf(folded).levelOf(sh.srv, id) == kv.LevelMember {
		a |= admitAccess
	}
	return a
}

// ExpireInvites expires the stored invitations due at now and deletes
// those kept long enough after they ended (kv.Store.ExpireInvites, in
// bounded batches), then drops the expired ones from the shards' indexes.
// now is the caller's clock. It blocks on the store: call it off the
// event loops (cmd/laird's housekeeping does, every half minute).
func (s *Server) ExpireInvites(now time.Time) (expired, deleted int, err error) {
	if s.store == nil {
		return 0, 0, nil
	}
	expired, deleted, err = s.store.ExpireInvites(now)
	if expired > 0 {
		for i := range s.shards {
			s.post(i, func(sh *shard, _ *batch) {
				for ch, m := range sh.invites {
					for acct, e := range m {
						if !now.Before(e.expires) {
							sh.dropInvite(ch, acct)
						}
					}
				}
			})
		}
	}
	if err != nil {
		err = fmt.Errorf("expiring invitations: %w", err)
	}
	return expired, deleted, err
}

// forgetAccountInvites drops a deleted account's invitations from the
// shards' indexes (the store deleted them with the account), so that an
// account registered again under the name inherits none.
func (s *Server) forgetAccountInvites(folded string) {
	for i := range s.shards {
		s.post(i, func(sh *shard, _ *batch) {
			for ch := range sh.invites {
				sh.dropInvite(ch, folded)
			}
		})
	}
}

// Invitations at login: a notice lists the pending ones, whether they
// arrived while the account was offline or not.

// invitesAtLogin runs when o's registered client logged in to account
// (its display name; "" when it logged out).
func (s *Server) invitesAtLogin(o *op, account string) {
	if account != "" && o.c.Registered() && !o.c.quitting {
		s.noticeInvites(o, account)
	}
}

// invitesAtWelcome runs after the welcome burst of a client that may have
// logged in before registering (SASL).
func (s *Server) invitesAtWelcome(o *op) {
	if account := o.c.Identity().Account; account != "" {
		s.noticeInvites(o, account)
	}
}

// noticeInvites reads the account's invitations off the loop and sends
// the pending ones to o's client as notices, as part of o.
func (s *Server) noticeInvites(o *op, account string) {
	if s.store == nil {
		return
	}
	c := o.c
	folded := s.cm.Fold(account)
	var (
		list []kv.Invitation
		err  error
	)
	o.offload(readPool, func() { list, err = s.store.InvitesFor(folded) }, func() {
		if err != nil {
			s.log.Warn("login: invitations not read", "account", folded, "err", err)
			return
		}
		now := time.Now()
		list = slices.DeleteFunc(list, func(inv kv.Invitation) bool { return !inv.Pending(now) })
		if len(list) == 0 {
			return
		}
		nick := c.Nick()
		what := "1 pending invitation"
		if len(list) > 1 {
			what = fmt.Sprintf("%d pending invitations", len(list))
		}
		r := o.replies()
		r.cmd(s.name, "NOTICE", true, nick, fmt.Sprintf(
			"You have %s (JOIN the channel to accept, UNINVITE %s <channel> to decline):", what, nick))
		for _, inv := range list {
			r.cmd(s.name, "NOTICE", true, nick, fmt.Sprintf("%s from %s, until %s",
				inv.ChannelName, inv.InviterNick, inv.Expires.UTC().Format("2006-01-02 15:04 MST")))
		}
		o.reply(r)
	})
}

// Invitations of connections that are not logged in.

// maxConnInvites bounds one connection's invitations; past it the oldest
// goes.
const maxConnInvites = 100

// connInvite is an invitation kept for a connection that is not logged in.
type connInvite struct {
	channel string // casefolded
	name    string // as shown
	inviter string // casefolded account of the inviter; "" if it had none
}

// connInvites are a user's invitations that live and die with it (a user
// that is not logged in is one connection). Any goroutine.
type connInvites struct {
	mu   sync.Mutex
	list []connInvite
}

// add records inv, replacing an invitation to the same channel.
func (ci *connInvites) add(inv connInvite) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	ci.list = slices.DeleteFunc(ci.list, func(x connInvite) bool { return x.channel == inv.channel })
	if len(ci.list) >= maxConnInvites {
		ci.list = slices.Delete(ci.list, 0, 1)
	}
	ci.list = append(ci.list, inv)
}

func (ci *connInvites) get(channel string) (connInvite, bool) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	for _, x := range ci.list {
		if x.channel == channel {
			return x, true
		}
	}
	return connInvite{}, false
}

func (ci *connInvites) has(channel string) bool {
	_, ok := ci.get(channel)
	return ok
}

// remove deletes the invitation to channel and reports whether there was
// one.
func (ci *connInvites) remove(channel string) bool {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	n := len(ci.list)
	ci.list = slices.DeleteFunc(ci.list, func(x connInvite) bool { return x.channel == channel })
	return len(ci.list) < n
}

func (ci *connInvites) all() []connInvite {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return slices.Clone(ci.list)
}
