// Package guard is laird's abuse policy: flood control, connection limits,
// bans, account suspension, the login throttle, automatic threat detection, keyed
// quotas and input validation. It is pure in-memory policy over plain
// values; it imports no other laird package. The chat and loop packages
// call it and apply its decisions; persistence (bans, suspensions, audit)
// is the caller's: every record guard holds is exported as a plain value
// (Ban, Suspension, Response) for the caller to convert to kv records.
//
// # Who may call what
//
//   - Budget is per connection and has no locks: it lives inside the
//     connection struct and only the event loop owning that connection
//     may touch it. FloodClass and Flood are immutable and shared.
//   - ConnLimiter, BanList, Suspensions, Logins, Detector and Quota are
//     shared by all event loops and shards and safe for concurrent use.
//     Per-address state lives in tables of 64 mutex-guarded shards, so two
//     loops contend only when their keys share a shard. Ban and suspension
//     lookups take a read lock; with no DLINE present, the accept path does
//     not lock the ban list at all.
//   - The validation helpers (Check, ValidUTF8, CountTargets) are pure.
//
// Hot-path calls do not allocate: Budget.Charge, FloodClass.Cost,
// ConnLimiter.Admit and Release (except when a shard map grows),
// BanList.MatchIP and MatchUserHost, Check. The benchmarks in this package
// hold them to that.
//
// # Memory
//
// Every table is bounded by configuration (MaxEntries): entries expire
// lazily and are swept by Prune, and a full shard evicts expired or idle
// entries; when only live entries remain (connections still open), Admit
// refuses with ErrCapacity instead of growing.
//
// # Time
//
// Every call takes now explicitly, so tests drive a fake clock. Pass
// time.Now() in production: rate state uses its monotonic reading and is
// immune to wall-clock steps. Ban and suspension expiries are
// wall-clock instants, since they are persisted and outlive the process.
//
// # Wiring (for the loop and chat packages)
//
// Accept: Conns.Admit(addr, now) before allocating the connection; on
// refusal send one ERROR line (for ErrBanned, the reason from
// Bans.MatchIP) and close; Detect.Observe(ConnStorm, IPKey(addr), now) on
// every attempt.
//
// Exemptions ([guard.connections] exempt, Conns.Exempt) are the blocks
// trusted to carry many users: no per-address limit or throttle, no
// detector observation, and every automatic D-line is narrowed so that it
// covers none of them. Bans that operators set still apply to them. On close of an admitted connection: Conns.Release(addr).
// The addr is the connection's client address field, set once at accept,
// so PROXY protocol support only changes where it comes from.
//
// Each command: d := c.budget.Charge(now, class.Cost(msg.Command,
// CountTargets(msg.Param(0)))). Proceed: run it. Fakelag: the command is
// paid for; run it (and read further input) only after d.Delay. A loop
// that stops reading while lagged leaves the client's unread bytes to its
// inbound cap; a loop that charges each line as it is framed lets the
// debt grow and gets ExcessFlood at the class's disconnect threshold.
// ExcessFlood: send ERROR :Excess Flood, close, and Observe(FloodDisconnect).
//
// Registration: Bans.MatchUserHost and Suspensions.Suspended before
// accepting a login. A password login asks Logins.Check first (refuse
// without checking, or check after its Delay, never on an event loop),
// then reports Logins.Failed or Logins.Succeeded (whose count of failures
// since the last login the owner is told); Observe(AuthFailIP) and
// Observe(AuthFailAccount) on each failed attempt, Observe(RegTimeout)
// when registration times out. A Response says what to apply: add the
// DLINE (Bans.Add, then persist the returned Ban), disconnect matching
// clients (Bans.Matcher on the stored Ban, Match over the connected ones),
// audit, notify operators. Operator KLINE/DLINE commands take the same
// path from Bans.Add on.
package guard
