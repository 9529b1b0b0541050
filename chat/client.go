package chat

import (
	"net/netip"
	"slices"

	"laird/guard"
	"laird/perf"
	"sync"
	"sync/atomic"
	"time"
)

// Identity is what other clients see of a client. It is immutable once
// published: changes build a new Identity and swap it in (Client.update).
type Identity struct {
	Nick     string
	User     string
	Host     string
	Realname string
	Account  string // empty when not logged in
	Away     string // empty when present
	Modes    UserModes
	Prefix   string // nick!user@host, precomputed for the fan-out path
}

func (id *Identity) withPrefix() *Identity {
	id.Prefix = id.Nick + "!" + id.User + "@" + id.Host
	return id
}

// UserModes is a set of user modes.
type UserModes uint32

const (
	UModeInvisible UserModes = 1 << iota // +i
	UModeWallops                         // +w
	UModeOper                            // +o
	UModeBot                             // +B
)

// regState tracks the registration handshake; loop-owned.
type regState uint8

const (
	regNick       regState = 1 << iota // a nick has been claimed
	regUser                            // USER was given
	regCapPending                      // CAP LS/REQ started negotiation, END not yet seen
	regDone                            // the welcome burst was sent
)

// Client is one connected user. See the package documentation for which
// goroutine may touch which field.
type Client struct {
	srv  *Server
	conn Conn
	ip   netip.Addr
	loop int // the event loop owning the connection; immutable

	// Read by any goroutine.
	id   atomic.Pointer[Identity]
	caps atomic.Uint64 // capSet bits
	// live is set once registered and cleared at disconnect; shards use it
	// to skip clients that are not (or no longer) users.
	live atomic.Bool
	// activeAt is the unix time of the last non-idle command (WHOIS idle).
	activeAt atomic.Int64

	// SendQ accounting of fan-out, shared by shards and the loop: queued
	// is what shards put in mailboxes for the client and the loop has not
	// taken yet; backlog is what the loop holds unsent (published after
	// every flush); slow is set once the client was cut for passing its
	// SendQ, after which shards skip it.
	queued  atomic.Int64
	backlog atomic.Int64
	slow    atomic.Bool

	// Loop-owned.
	reg        regState
	capVersion int
	password   string // PASS value, checked at registration
	// ops are the commands in progress, oldest first (op.go). A command
	// starts only when mayStart allows it, which keeps per-connection
	// order.
	ops  []*op
	idle []func() // internal ops waiting for ops to drain (internalOp)
	// waitingRoom: on its loop's list of clients holding a command back
	// for a full shard (queue.go).
	waitingRoom bool
	rec         *perf.Recorder // the client's loop's recorder, or nil
	budget      guard.Budget   // flood control
	lagPaid     bool           // the waiting command was charged already
	lagUntil    time.Time      // fakelag: run it then
	quitting    bool
	quitMsg     string
	signon      time.Time
	lastActive  time.Time
	monitor     map[string]string // casefolded -> as given
	acct        accountState      // SASL exchange, nick protection (nickprotect.go)

	// chans is the set of channels the client is in, by casefolded name.
	// Shards owning those channels write it; the client's loop reads it to
	// plan QUIT and NICK. Rarely contended.
	chansMu sync.Mutex
	chans   []string // casefolded names; at most CHANLIMIT, so a slice beats a map
}

// Identity returns the client's current public identity.
func (c *Client) Identity() *Identity { return c.id.Load() }

// registeredShared is Registered for goroutines other than c's loop.
func (c *Client) registeredShared() bool { return c.live.Load() }

// Nick returns the current nickname ("*" before one is claimed).
func (c *Client) Nick() string { return c.id.Load().Nick }

// Registered reports whether the welcome burst has been sent. Loop-owned.
func (c *Client) Registered() bool { return c.reg&regDone != 0 }

// Conn returns the client's connection. Loop-owned.
func (c *Client) Conn() Conn { return c.conn }

// SetBacklog publishes the bytes the loop holds unsent for the client
// (its transport's buffer), which shards add to what they queue when they
// enforce SendQ. Loop only.
func (c *Client) SetBacklog(n int) { c.backlog.Store(int64(n)) }

// IP returns the address the connection came from.
func (c *Client) IP() netip.Addr { return c.ip }

// update applies fn to a copy of the identity and publishes it. It is safe
// from any goroutine; concurrent updates retry rather than lose a change.
func (c *Client) update(fn func(*Identity)) *Identity {
	for {
		old := c.id.Load()
		nid := *old
		fn(&nid)
		nid.withPrefix()
		if c.id.CompareAndSwap(old, &nid) {
			return &nid
		}
	}
}

// Has reports whether the client enabled capability cp.
func (c *Client) Has(cp Cap) bool { return c.caps.Load()&(1<<cp) != 0 }

// noImplicitNames reports whether c opted out of the NAMES burst after
// JOIN (no-implicit-names, under either of its names).
func (c *Client) noImplicitNames() bool {
	return c.Has(CapNoImplicitNames) || c.Has(CapNoImplicitNamesDraft)
}

func (c *Client) channelList() []string {
	c.chansMu.Lock()
	defer c.chansMu.Unlock()
	return append([]string(nil), c.chans...)
}

func (c *Client) channelCount() int {
	c.chansMu.Lock()
	defer c.chansMu.Unlock()
	return len(c.chans)
}

// inChannel reports whether c is in the casefolded channel.
func (c *Client) inChannel(folded string) bool {
	c.chansMu.Lock()
	defer c.chansMu.Unlock()
	return slices.Contains(c.chans, folded)
}

func (c *Client) addChannel(folded string) {
	c.chansMu.Lock()
	if !slices.Contains(c.chans, folded) {
		c.chans = append(c.chans, folded)
	}
	c.chansMu.Unlock()
}

func (c *Client) removeChannel(folded string) {
	c.chansMu.Lock()
	if i := slices.Index(c.chans, folded); i >= 0 {
		last := len(c.chans) - 1
		c.chans[i] = c.chans[last]
		c.chans[last] = ""
		c.chans = c.chans[:last]
	}
	c.chansMu.Unlock()
}
