package chat

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// user is what other users see: a nick and its identity, channel
// memberships, away state. It is what the nick registry and channel
// membership hold. A connection that is not logged in is a user with one
// session (its Client); connections logged in to one account are sessions
// of one user (multiclient): they share its nick, channels and away state,
// and whatever reaches the user reaches every session. An always-on user
// stays, in its channels and with its nick, with no session at all.
//
// Every field is safe for any goroutine: identity and the session list are
// immutable values swapped in whole (copy-on-write), the channel list has
// its own lock (written by the shards owning the channels, read by the
// sessions' loops to plan QUIT, NICK and WHOIS).
type user struct {
	srv *Server
	id  atomic.Pointer[Identity]
	// sessions are the connected Clients, oldest first; nil when none.
	sessions atomic.Pointer[[]*Client]
	// live is set once registered and cleared when the user leaves (its
	// last session closed and it is not always-on); shards use it to skip
	// users that are not (or no longer) present.
	live atomic.Bool
	// alwaysOn keeps the user present with no session.
	alwaysOn atomic.Bool
	// activeAt is the unix time of the last non-idle command (WHOIS idle).
	activeAt atomic.Int64
	ip       netip.Addr // of the first session, for bans and WHOX
	signon   int64      // of the first session, Unix seconds

	// meta is the user's metadata (metadata.go), replaced whole.
	meta atomic.Pointer[metaList]

	chansMu sync.Mutex
	chans   []string // casefolded names; at most CHANLIMIT, so a slice beats a map

	invites connInvites // invitations while not logged in (invites.go)
	// hist: the party in private history and the read markers (history_party.go).
	hist userHistory
}

func newUser(s *Server, first *Client, id *Identity) *user {
	u := &user{srv: s, ip: first.ip, signon: first.signon}
	u.id.Store(id)
	u.sessions.Store(&[]*Client{first})
	return u
}

// Identity returns the user's current public identity.
func (u *user) Identity() *Identity { return u.id.Load() }

// Nick returns the current nickname ("*" before one is claimed).
func (u *user) Nick() string { return u.id.Load().Nick }

// present reports whether the user is registered and here (shards).
func (u *user) present() bool { return u.live.Load() }

// update applies fn to a copy of the identity and publishes it. It is safe
// from any goroutine; concurrent updates retry rather than lose a change.
func (u *user) update(fn func(*Identity)) *Identity {
	for {
		old := u.id.Load()
		nid := *old
		fn(&nid)
		nid.withPrefix()
		if u.id.CompareAndSwap(old, &nid) {
			return &nid
		}
	}
}

// sessionList returns the connected sessions; the slice is shared and
// must not be modified.
func (u *user) sessionList() []*Client {
	if p := u.sessions.Load(); p != nil {
		return *p
	}
	return nil
}

// attach adds c as a session; it reports false when the user already has
// max sessions (max <= 0: no limit).
func (u *user) attach(c *Client, max int) bool {
	for {
		old := u.sessions.Load()
		var list []*Client
		if old != nil {
			list = *old
		}
		if max > 0 && len(list) >= max {
			return false
		}
		next := append(slices.Clip(list), c)
		if u.sessions.CompareAndSwap(old, &next) {
			return true
		}
	}
}

// detach removes c and returns the number of sessions left.
func (u *user) detach(c *Client) int {
	for {
		old := u.sessions.Load()
		if old == nil {
			return 0
		}
		i := slices.Index(*old, c)
		if i < 0 {
			return len(*old)
		}
		next := slices.Delete(slices.Clone(*old), i, i+1)
		if u.sessions.CompareAndSwap(old, &next) {
			return len(next)
		}
	}
}

func (u *user) channelList() []string {
	u.chansMu.Lock()
	defer u.chansMu.Unlock()
	return append([]string(nil), u.chans...)
}

func (u *user) channelCount() int {
	u.chansMu.Lock()
	defer u.chansMu.Unlock()
	return len(u.chans)
}

// inChannel reports whether u is in the casefolded channel.
func (u *user) inChannel(folded string) bool {
	u.chansMu.Lock()
	defer u.chansMu.Unlock()
	return slices.Contains(u.chans, folded)
}

func (u *user) addChannel(folded string) {
	u.chansMu.Lock()
	if !slices.Contains(u.chans, folded) {
		u.chans = append(u.chans, folded)
	}
	u.chansMu.Unlock()
}

func (u *user) removeChannel(folded string) {
	u.chansMu.Lock()
	if i := slices.Index(u.chans, folded); i >= 0 {
		last := len(u.chans) - 1
		u.chans[i] = u.chans[last]
		u.chans[last] = ""
		u.chans = u.chans[:last]
	}
	u.chansMu.Unlock()
}

// Has reports whether any session enabled cp (for decisions about the
// user as a whole, such as who may see an invite-notify).
func (u *user) Has(cp Cap) bool {
	for _, s := range u.sessionList() {
		if s.Has(cp) {
			return true
		}
	}
	return false
}
