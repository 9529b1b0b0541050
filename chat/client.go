package chat

import (
	"net/netip"

	"laird/guard"
	"laird/perf"
	"sync/atomic"
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

// Client is one connection: a session of a user (user.go). Identity,
// nick, channels and away state belong to the user; capabilities, the
// commands in flight, flood budget and output accounting to the session.
// See the package documentation for which goroutine may touch which field.
type Client struct {
	srv  *Server
	conn Conn
	ip   netip.Addr
	loop int // the event loop owning the connection; immutable

	// Read by any goroutine.
	u    atomic.Pointer[user] // the user this is a session of; replaced once, at attach
	caps atomic.Uint64        // capSet bits
	// live is set once registered and cleared at disconnect; shards use it
	// to skip sessions that are not (or no longer) connected.
	live atomic.Bool
	// transport is what the connection's transport told chat (transport.go).
	transport atomic.Pointer[TransportInfo]
	// away is this session's own away message ("" or nil: present); the
	// user's is derived from all its sessions' (away.go).
	away atomic.Pointer[string]
	// subs are the metadata keys the session subscribed to, sorted,
	// replaced whole (shards read them to filter notifications).
	subs atomic.Pointer[[]string]

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
	// refusedNick is the last nick refused as in use before registration
	// completed, so that REGISTER can say why it has no nick to register.
	refusedNick string
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
	lagUntil    int64          // fakelag: run it then (Unix ns)
	quitting    bool
	quitMsg     string
	signon      int64             // Unix seconds
	lastActive  int64             // Unix ns of the last non-idle command, at 1 s resolution
	monitor     map[string]string // casefolded -> as given
	acct        accountState      // SASL exchange, nick protection (nickprotect.go)
	ml          *multiline        // a draft/multiline batch being received (multiline.go)
	preMeta     metaList          // metadata set before registration (before-connect)
	acctMeta    *metaList         // the account's stored metadata, read at a login before registration

	// hist: the notice of unread offline messages (offline.go).
	hist clientHistory
}

// user returns the user this connection is a session of.
func (c *Client) user() *user { return c.u.Load() }

// Identity returns the public identity of the client's user.
func (c *Client) Identity() *Identity { return c.user().Identity() }

// registeredShared is Registered for goroutines other than c's loop.
func (c *Client) registeredShared() bool { return c.live.Load() }

// Nick returns the current nickname ("*" before one is claimed).
func (c *Client) Nick() string { return c.user().Nick() }

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

// update changes the identity of the client's user (user.update).
func (c *Client) update(fn func(*Identity)) *Identity { return c.user().update(fn) }

// Has reports whether the client enabled capability cp.
func (c *Client) Has(cp Cap) bool { return c.caps.Load()&(1<<cp) != 0 }

// noImplicitNames reports whether c opted out of the NAMES burst after
// JOIN (no-implicit-names, under either of its names).
func (c *Client) noImplicitNames() bool {
	return c.Has(CapNoImplicitNames) || c.Has(CapNoImplicitNamesDraft)
}
