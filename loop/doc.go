// Package loop runs laird's network side: the gnet engine, one event loop
// per core, the connection lifecycle, the Sink between a connection and its
// transport, input framing, output gathering and flushing, the loop side of
// the shards' mailboxes, and timers.
//
// Invariants:
//   - A conn belongs to the event loop that accepted it. Every field of it,
//     and every call on its Sink, happens on that loop's goroutine: in a
//     gnet callback or in the loop's pass.
//   - Nothing here blocks a loop: no disk, no locks held across I/O, no
//     channel send that can wait. The locks a loop takes (a mailbox's, the
//     Run queue's) guard a slice swap.
//   - Each shard has one mailbox per loop (mailbox.go). The shard appends
//     parcels and wakes the loop only when the mailbox goes from empty to
//     non-empty; the loop takes them all in its next pass. A mailbox is
//     bounded in bytes: past the bound the shard waits for the loop before
//     taking more work (backpressure on the shard, never on the loop).
//   - One flush per pass: a wakeup's reads (OnTraffic) and its pass (Run's
//     functions, then every mailbox's parcels) only gather output; at the
//     end of the pass every connection with output is written once, with
//     writev over views into shared buffers (a fanned-out line is never
//     copied per recipient; replies written on the loop are copied once
//     into the pass's arena). The transport copies only what the socket
//     does not take. Parcels are released, and the arena reset, after the
//     flush.
//   - Memory per connection is bounded by configuration: input beyond RecvQ
//     and output beyond SendQ (gathered plus the transport's unsent bytes)
//     disconnect that client only, with a clear ERROR line. Shards enforce
//     the same SendQ before they queue fan-out (chat.Client.SetBacklog
//     publishes what the transport holds), so a stalled loop's slow
//     recipients are cut without waiting for that loop.
//   - Descriptors are budgeted (fdbudget.go): OnOpen closes a new
//     connection, before anything is allocated for it, once the open ones
//     would eat into the reserve the rest of the process needs, so accept
//     never meets EMFILE (fatal to gnet). Nothing connected is dropped.
package loop
