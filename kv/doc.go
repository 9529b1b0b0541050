// Package kv is laird's durable store: a Pebble v2 database with a
// versioned key schema, typed records in a compact binary encoding,
// all-or-nothing transactions with preconditions, and one group-commit
// writer that makes every acknowledged change durable (fsynced) before it
// says so. It imports no other laird package.
//
// # Names
//
// Callers pass names already casefolded with the server's casemapping
// (kv does not know it): account names, nicks, channel names, history
// targets. A name must be non-empty, at most 512 bytes, and contain no NUL
// byte (NUL separates key components); a transaction with such a name fails
// with ErrInvalid. Records may carry the display form separately
// (Account.DisplayName, Channel.DisplayName, HistoryMessage.To).
//
// # Key schema (SchemaVersion 2)
//
// Every key starts with a one-byte family tag. "0" is the byte 0x00,
// "time" is 8 bytes big-endian of UnixNano with the sign bit flipped (so
// keys sort by time), "seq" 8 bytes big-endian from a per-process counter
// that starts at the clock, making (time, seq) unique and ordered within a
// process. History entries are stored at their time truncated to the
// millisecond, what server-time shows a client, so that a client's
// timestamp bound selects exactly (see QueryHistory).
//
//	key                          value
//	S                            schema version, uint32 big-endian
//	a account                    Account (with its Version: see PutAccount)
//	s account                    empty: index of suspended accounts (Account.Suspended is authoritative)
//	f fingerprint                account name: certificate fingerprints (Account.CertFPs is authoritative)
//	n nick                       NickRecord: the account that reserved the nick
//	N account 0 nick             empty: nicks of an account (reverse of n)
//	c channel                    Channel: a registered channel
//	x channel 0 account          Access: access entry (founder/op/voice...)
//	X account 0 channel          empty: channels an account has access to (reverse of x)
//	b kind mask                  Ban: kind is one byte (1 KLINE, 2 DLINE)
//	l time seq                   AuditEntry: the audit trail, oldest first
//	h target 0 time seq          HistoryMessage: history of a target, oldest first
//	H target 0 msgid             time seq: msgid index into h
//	p party 0 conversation       the other party, its name, latest time: a party's private conversations
//	U account 0 conversation     Unread: offline messages of a conversation not yet received
//	u account                    uvarint: the account's unread total (the offline quota's count)
//	o time seq account 0 conv    empty: offline expiry queue, oldest first
//	r account 0 target           read marker: time of the last message read
//	i channel 0 account          Invitation (issue 14)
//	I account 0 channel          empty: invitations of an account (reverse of i)
//	e time channel 0 account     empty: invitation sweep queue, by when ExpireInvites acts
//	k 'a' account | 'c' channel  uvarint: pending invitations (what the caps count)
//	M 'a' account 0 key          MetadataEntry: an account's metadata (draft/metadata-2)
//	M 'c' channel 0 key          MetadataEntry: a registered channel's metadata
//	j account 0 channel          AlwaysOnChannel: channels of an always-on account
//	J channel 0 account          empty: always-on members of a channel (reverse of j)
//	R channel 0 time seq         new name: renamed history still to move (see RenameChannel)
//	P                            the last two-instance group's history batch (see "One instance or two")
//	m name                       caller's bytes: generic metadata
//
// A history target is a casefolded channel name or, for a private
// conversation, PrivateTarget of its two parties: "a:" + account for an
// account, "c:" + a never-reused token for a connection that is not logged
// in (see Party). The reverse indexes (s, f, N, X, H, p) are maintained by
// the typed operations of Txn, in the same batch as the records they index:
// PutAccount keeps s and f, PutNick/DeleteNick keep N (moving a nick from
// its old owner), PutAccess/DeleteAccess keep X, AppendHistory keeps H,
// AppendPrivate and AppendOffline keep H and p (and U, u, o); DeleteAccount
// and DeleteChannel remove everything that hangs off the record (the
// channel's: access and metadata), and DeleteAccount also the account's
// private conversations (both sides: a later account of the same name must
// not read them), invitations, metadata, always-on channels, unread state
// and read markers. Invite, AcceptInvite, DeclineInvite and
// RevokeInvite keep I, e and k; PutAlwaysOn and DeleteAlwaysOn keep J;
// RenameChannel moves what is keyed by the channel and leaves R for the
// history, which moves in bounded batches.
//
// Schema version 1 keyed private history by the two nicks (the h and H
// families with a target "nick1 nick2"). Nothing says which accounts those
// nicks were, so it cannot be given to accounts safely and must never be
// readable by whoever holds one of the nicks later: the migration to
// version 2 deletes it (one range deletion per conversation, one synced
// batch, before the version bump). A store opened read-only is not
// migrated.
//
// Values start with a record version byte (see codec.go for the encoding);
// they do not repeat the key's parts. Decoding is strict and never panics:
// unknown versions, short or trailing input are ErrCorrupt.
//
// Changing the schema: a new record field means a new record version byte,
// decoded alongside the old one. A change of key layout bumps SchemaVersion;
// Open then migrates older stores forward (each step writes its changes,
// synced, then the new version; a step run twice gives the same result, so
// a crash in between is finished by the next Open) and refuses newer ones
// with ErrSchemaTooNew, so an old binary never misreads a newer store.
//
// # One instance or two
//
// The families h, H, p, U, u, o and R are history (histFamily). With
// Options.SeparateHistory they live in a second Pebble instance in
// Dir/history, with its own memtable size, compression and compaction
// concurrency (HistoryMemTableSize, HistoryCompression,
// HistoryCompactionConcurrency), so that flushing and compacting history,
// most of what is written, stays apart from accounts and channels and can
// be tuned alone. Every key goes to the instance of its family; callers see
// no difference. A transaction that writes to both stays all or nothing
// across a crash: the group's main commit carries the group's history batch
// under the key P (intent), the history commit follows, and the next
// group's main commit deletes P before any later history commit; Open
// applies a P it finds again (see histdb.go). Turning the option on or off
// moves the history families at the next Open, in bounded batches, each
// idempotent. Checkpoint copies both instances (the history one into
// dir/history). Options.MaxOpenFiles is shared, half each.
//
// # Transactions and the writer
//
// A Txn collects operations and preconditions on the caller's goroutine
// (encoding happens there). Commit queues it for the writer without ever
// blocking: a full queue (Options.QueueSize) is ErrBusy at once. The single
// writer goroutine takes everything queued (up to Options.MaxGroup), checks
// each transaction's preconditions in queue order against the store plus
// the transactions before it in the group (an indexed batch), applies the
// survivors to that one Pebble batch, commits it with pebble.Sync, and then
// calls each done function. A transaction whose precondition fails gets a
// *ConditionError and contributes nothing; the others are unaffected. So
// "register account + reserve nick + audit entry" with RequireNoAccount and
// RequireNickFree cannot race with a concurrent registration, and a crash
// leaves each transaction entirely present or entirely absent.
//
// Nothing durable is committed with NoSync, and a done function hears nil
// only once its transaction is synced: with LazyHistory off (the default)
// that includes history appends, so a sender's echo that waits for done
// waits for the disk. With Options.LazyHistory, a transaction made only of
// history appends (AppendHistory, AppendPrivate) is acknowledged once
// applied, without a sync of its own; it is synced by the next durable
// commit to the same WAL or within LazySyncInterval, whichever comes first,
// even while the writer never runs out of work: a crash loses at most that
// much acknowledged history. Offline messages (AppendOffline) are always
// durable.
//
// # Goroutines
//
//   - The writer goroutine is the only one that writes to Pebble (apart from
//     Open writing the schema version, migrating and moving history before
//     it starts, and the WAL sync Checkpoint asks for). It runs the done functions: they must not block
//     and must not call CommitWait or Close.
//   - Commit never blocks and may be called from any goroutine, event loops
//     included. CommitWait blocks until the outcome is known: not for event
//     loops or shards.
//   - Reads (Account, Channel, History..., Audit, Scan...) run on the
//     caller's goroutine and may touch the disk: shards and other goroutines
//     that may block call them, event loops do not. Scan callbacks run while
//     an iterator is open and must not call Close.
//   - Stats, Healthy and Checkpoint may be called from any goroutine.
//   - Open may start one background goroutine, to finish moving the
//     history of a rename a crash interrupted (MoveRenamedHistory); it
//     commits like any caller and stops at Close.
//   - Close waits for calls in progress, lets the writer commit what is
//     queued, syncs and closes Pebble.
//
// # Failures
//
// Pebble treats a failed WAL write or sync as fatal: DB.Apply calls
// Logger.Fatalf ("pebble: fatal commit error"), whose default is os.Exit,
// and a later commit panics on the broken WAL writer. A chat server must
// keep serving chat when its disk fills up or turns read-only, so:
//
//   - Before each group the writer checks free space against
//     Options.DiskReserve and refuses writes with ErrDiskFull while it is
//     short (deletions still pass), so Pebble normally never meets ENOSPC.
//   - The logger given to Pebble turns Fatalf into a store failure: beneath
//     a kv call it panics and that call recovers it; on a Pebble background
//     goroutine it stops that goroutine (runtime.Goexit). The writer also
//     recovers Pebble's own panics. The caller gets ErrUnavailable wrapping
//     the cause, the store refuses every later write with it, Healthy
//     reports it, and reads keep working where Pebble can serve them.
//     Recovery is restarting the server (a Pebble stopped this way may keep
//     the directory locked for the process), which replays the WAL: every
//     acknowledged transaction is there, and the failed group is either
//     wholly there or wholly absent.
//   - Options.ReadOnly opens a store on a read-only file system, for a
//     server that should still serve what is stored.
package kv
