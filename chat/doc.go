// Package chat implements IRC semantics: clients, nicks, channels, modes and
// the command handlers, on top of sharded state.
//
// Ownership, the rule everything here follows:
//   - A Client belongs to the event loop that accepted its connection. Only
//     that loop goroutine touches its loop-owned fields (registration state,
//     its ops) and calls its Conn.
//   - The fields other goroutines read (identity: nick, user, host, account,
//     away; capabilities) are published through atomics as immutable values
//     and replaced copy-on-write, so shards read them without locks.
//   - Shared state (channels and the nick registry) is partitioned into
//     shards by the hash of the casefolded name. One goroutine per shard
//     owns its partition and is the only one that reads or writes it: no
//     locks on the message path.
//
// The data path of a command (op.go, queue.go, shard.go, batch.go):
//   - The loop parses a line and starts the command as an op: its label,
//     the work it starts (parts: tasks on shards, offloaded work, commits)
//     and what runs next on the loop when that work is done. Commands that
//     need nothing shared run inline and complete at once.
//   - Order is per connection: a client's next command starts only when it
//     cannot overtake the ops in flight (mayStart): commands routed to the
//     one shard all of them are confined to may queue behind them, up to
//     PipelineMax; anything else waits. Output of an op that is not the
//     oldest, and all output of a labeled op, is held in the op until it may
//     go out; labeled-response framing is applied once, at completion.
//   - A shard drains its queue in batches. Each batch encodes every line once
//     per capability variant into one buffer and groups deliveries (lines to
//     recipients, op output, part completions) by event loop; it then posts
//     one parcel per loop to that (shard, loop) mailbox. The loop delivers
//     parcels in its next pass and writes the lines from the batch's buffer,
//     shared by every recipient; the batch returns to its pool when the last
//     loop released it after its flush.
//   - Memory is bounded by configuration: a loop holds a client's command
//     back while the shard it is routed to is over ShardQueue (the shard
//     wakes it when there is room); fan-out charges each recipient's SendQ
//     before queueing and cuts a recipient past it as a slow consumer (its
//     loop closes it; nobody waits); a mailbox past its byte bound makes the
//     shard wait for that loop before taking more work.
//   - Durable state (accounts, registered channels, invitations) lives in
//     the kv store and is acknowledged only once committed: the op's part
//     completes when the commit's outcome is back on the loop (op.commit),
//     and a shard whose registered channel's change (or an invitation) is
//     being committed holds the client, setting its later tasks aside
//     until then (hold.go, regchan.go, invites.go).
//     Password hashing and store reads run on work pools off the loops and
//     shards (offload.go); the shard owning a registered channel owns its
//     registration too, and its index of pending stored invitations
//     (invites.go), changed only after the commit that changed the store.
//   - Message history is appended by the shard that delivers a message,
//     after the fan-out. With durable history the sender's op gets one more
//     part (batch.openPart) that the same shard completes, with the echo,
//     in a later batch once the commit is back (history_store.go):
//     recipients never wait, the sender's acknowledgement does. Private
//     history is keyed by parties, never nicks (history_party.go).
package chat
