// Package chat implements IRC semantics: clients, nicks, channels, modes and
// the command handlers, on top of sharded state.
//
// Ownership, the rule everything here follows:
//   - A Client belongs to the event loop that accepted its connection. Only
//     that loop goroutine touches its loop-owned fields (registration state,
//     pending work counters) and calls its Conn.
//   - The fields other goroutines read (identity: nick, user, host, account,
//     away; capabilities) are published through atomics as immutable values
//     and replaced copy-on-write, so shards read them without locks.
//   - Shared state (channels and the nick registry) is partitioned into
//     shards by the hash of the casefolded name. One goroutine per shard
//     owns its partition and is the only one that reads or writes it: no
//     locks on the message path.
//   - Shards never call a Conn. They produce lines into a pooled batch,
//     grouped by event loop, and hand each loop one task per drain (fan-out);
//     the task runs on the loop and writes to that loop's connections.
//   - A command that needs a shard parks its connection: the loop stops
//     reading further lines from it until the shard's completion, delivered
//     in the same task as the replies, resumes it. Commands bound for the same
//     shard may be queued together; the shard keeps their order. So a client
//     sees replies in the order it sent the commands.
//   - Durable state (accounts, registered channels) lives in the kv store
//     and is acknowledged only once committed: the client stays parked
//     until the commit's outcome is back on its loop (commitFor), and a
//     shard whose registered channel's change is being committed holds the
//     client, setting its later tasks aside until then (hold.go, regchan.go).
//     Password hashing and store reads run off the loops (offload); the
//     shard owning a registered channel owns its registration too.
package chat
