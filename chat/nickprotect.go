package chat

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"laird/kv"
)

// Nick protection: a nick reserved by an account belongs to whoever is
// logged in to that account. Anyone else using it (after registration, a
// NICK change, or a logout) is asked by NickServ to identify and, if still
// not logged in to the owner after AccountConfig.NickGrace, is renamed to
// a guest nick. The reservation lookup reads the store, so it runs on its
// own goroutine; the client is not parked meanwhile (nothing it sends
// depends on the answer), and a generation counter discards answers and
// timers that a later nick or account change made stale.

// accountState is a client's SASL exchange and nick protection state.
// Loop-owned.
type accountState struct {
	sasl         *saslSession
	protectGen   uint64
	protectTimer *time.Timer
}

// lookupSlots bounds concurrent reservation lookups.
var lookupSlots = make(chan struct{}, 16)

// nickProtect (re)starts nick protection for c's current nick. Loop only.
func (s *Server) nickProtect(c *Client) {
	st := &c.acct
	st.protectGen++
	if st.protectTimer != nil {
		st.protectTimer.Stop()
		st.protectTimer = nil
	}
	grace := s.accounts().NickGrace
	if s.store == nil || grace < 0 || !c.Registered() || c.quitting {
		return
	}
	id := c.Identity()
	folded := s.cm.Fold(id.Nick)
	if id.Account != "" && s.cm.Fold(id.Account) == folded {
		return // an account always owns its own name
	}
	gen := st.protectGen
	go func() {
		lookupSlots <- struct{}{}
		owner, err := s.store.NickOwner(folded)
		<-lookupSlots
		if errors.Is(err, kv.ErrNotFound) {
			return
		}
		s.onLoop(c, func() { s.nickOwned(c, gen, folded, owner, err) })
	}()
}

// ownsNick reports whether c may take folded from holder: it is the name of
// the account c is logged in to, and holder is not logged in to it.
// Shard (reads identities only).
func (s *Server) ownsNick(c *Client, folded string, holder *user) bool {
	acct := c.Identity().Account
	return acct != "" && s.cm.Fold(acct) == folded && !s.cm.Equal(holder.Identity().Account, acct)
}

// reclaimNick renames the user holding nick, which its owner just took.
// Any goroutine.
func (s *Server) reclaimNick(holder *user, nick string) {
	sessions := holder.sessionList()
	if len(sessions) == 0 {
		return
	}
	first := sessions[0]
	s.log.Info("nick reclaimed by its account", "nick", nick, "from", holder.Identity().Prefix)
	s.onLoop(first, func() {
		s.toGuest(first, "Your nick "+nick+" was reclaimed by its owner; your nick is now ")
	})
}

// nickOwned runs on c's loop with the owner of the nick c had when gen was
// current.
func (s *Server) nickOwned(c *Client, gen uint64, folded, owner string, err error) {
	if gen != c.acct.protectGen || c.quitting || !c.registeredShared() {
		return
	}
	if err != nil {
		s.log.Warn("nick reservation lookup failed", "nick", folded, "err", err)
		return
	}
	if acct := c.Identity().Account; acct != "" && s.cm.Fold(acct) == owner {
		return
	}
	grace := s.accounts().NickGrace
	s.serviceNoticeTo(c, nickServ, fmt.Sprintf("This nickname is registered. Please identify with /msg NickServ IDENTIFY %s <password> within %s or choose another nick, or you will be renamed.",
		owner, grace.Round(time.Second)))
	c.acct.protectTimer = time.AfterFunc(grace, func() {
		s.onLoop(c, func() {
			if gen != c.acct.protectGen || c.quitting || !c.registeredShared() {
				return
			}
			s.renameGuest(c)
		})
	})
}

// renameGuest changes c's nick to a free guest nick, as a NICK command
// would, after whatever c has in flight.
func (s *Server) renameGuest(c *Client) {
	c.acct.protectTimer = nil
	s.toGuest(c, "You did not identify in time; your nick is now ")
}

// toGuest renames c's user to a free guest nick, as a NICK command would,
// after whatever c has in flight; NickServ tells it why (notice + nick).
func (s *Server) toGuest(c *Client, notice string) {
	guest := fmt.Sprintf("%s%05d", s.accounts().GuestPrefix, rand.IntN(100000))
	if len(guest) > s.cfg.NickLen {
		guest = guest[:s.cfg.NickLen]
	}
	c.internalOp(func(o *op) {
		if c.quitting {
			return
		}
		old := s.cm.Fold(c.Nick())
		s.ns(o, notice+guest)
		s.log.Info("nick protection rename", "from", old, "to", guest, "ip", c.ip.String())
		newFolded := s.cm.Fold(guest)
		o.toShard(s.shardOf(newFolded), func(sh *shard, b *batch) {
			sh.claimNick(b, o, guest, newFolded, old)
		})
	})
}
