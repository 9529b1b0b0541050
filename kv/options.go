package kv

import (
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures a Store. The zero value is usable: every field has a
// documented default.
type Options struct {
	// Dir is the data directory. Default "./data". It is created if missing.
	Dir string

	// Logger receives the store's own logs and Pebble's (Pebble's under the
	// attribute component=pebble). Default slog.Default().
	Logger *slog.Logger

	// LazyHistory makes history appends non-durable: a transaction that
	// holds only AppendHistory operations is committed without forcing a
	// WAL sync of its own. It is synced by the next durable commit or by
	// the LazySyncInterval timer, whichever comes first, so a crash loses
	// at most that much history. Default false: history is as durable as
	// everything else.
	LazyHistory bool

	// LazySyncInterval bounds how long lazily committed history may stay
	// unsynced. Default 1s.
	LazySyncInterval time.Duration

	// QueueSize bounds the number of transactions waiting for the writer.
	// When it is full, Commit returns ErrBusy at once. Default 4096.
	QueueSize int

	// MaxGroup bounds the number of transactions merged into one Pebble
	// batch. Default 1024.
	MaxGroup int

	// MaxGroupBytes bounds the encoded size of one group's transactions
	// (a single larger transaction still commits, alone). Default 4 MiB.
	MaxGroupBytes int

	// DiskReserve is the free space, in bytes, that the data directory's
	// file system must keep: below it, writes are refused with ErrDiskFull
	// (transactions that only delete are still accepted, so that retention
	// can free space). It keeps Pebble from ever meeting ENOSPC, which it
	// cannot recover from without a restart. Default 64 MiB; negative
	// disables the check.
	DiskReserve int64

	// CacheSize is Pebble's block cache size in bytes. Default 64 MiB:
	// precondition checks read bloom filter and index blocks of every L0
	// table, and with Pebble's own 8 MiB default they miss the cache and
	// hit the disk on a busy server.
	CacheSize int64

	// MaxOpenFiles bounds the files Pebble keeps open (its table cache, a
	// soft limit; it never goes below 74). Default Pebble's 1000. The
	// server sets it from its descriptor budget, so that the store cannot
	// take the descriptors its listeners need. With SeparateHistory it is
	// shared by the two instances, half each (and each has its own WAL,
	// MANIFEST, OPTIONS and lock files besides).
	MaxOpenFiles int

	// SeparateHistory keeps history (entries, msgid index, conversation
	// lists, unread and offline state, renames in progress) in a Pebble
	// instance of its own in Dir/history, with the History* settings
	// below, so that its flushes and compactions are apart from the rest.
	// Callers see no difference. Switching it on or off moves the data at
	// the next Open. Default false: one instance.
	SeparateHistory bool

	// HistoryMemTableSize is the history instance's memtable size in
	// bytes: smaller memtables make smaller, shorter flushes. Default
	// Pebble's (4 MiB). Only with SeparateHistory.
	HistoryMemTableSize int64

	// HistoryCompression is how the history instance compresses its
	// tables. Default CompressionDefault (Pebble's). Only with
	// SeparateHistory.
	HistoryCompression Compression

	// HistoryCompactionConcurrency bounds the history instance's
	// concurrent compactions. Default 1. Only with SeparateHistory.
	HistoryCompactionConcurrency int

	// ReadOnly opens the store for reading only: every commit fails with
	// ErrReadOnly. A server whose data directory cannot be written can still
	// start this way and serve what is stored.
	ReadOnly bool

	// CloseTimeout bounds how long Close waits for Pebble to shut down after
	// a fatal storage error (Pebble's background work may never finish
	// then). Default 10s.
	CloseTimeout time.Duration

	// OfflineMaxMessages bounds the offline messages an account may have
	// unread (AppendOffline refuses more with a *LimitError). Default 1000.
	OfflineMaxMessages int

	// OfflineMaxAge is how long an offline message counts as unread:
	// ExpireOffline ends the unread state of older ones (the messages stay
	// in history until its retention). Default 30 days.
	OfflineMaxAge time.Duration

	// InviteTTL is the lifetime of an invitation stored without an expiry
	// time of its own. Default 7 days.
	InviteTTL time.Duration

	// InviteKeep is how long an invitation stays listed after it was
	// accepted, declined, revoked or expired, before ExpireInvites deletes
	// it. Default 7 days.
	InviteKeep time.Duration

	// MaxInvitesPerAccount and MaxInvitesPerChannel cap pending
	// invitations: Invite refuses more with a *LimitError. Defaults 50 and
	// 500.
	MaxInvitesPerAccount int
	MaxInvitesPerChannel int

	// MetadataMaxKeys bounds the metadata keys of one account or channel
	// and MetadataMaxValueBytes the size of a value (draft/metadata-2's
	// max-keys and max-value-bytes): more is refused with a *LimitError.
	// Defaults 100 and 1024.
	MetadataMaxKeys       int
	MetadataMaxValueBytes int

	// OnCommit, when set, is called on the writer goroutine after every
	// Pebble batch the writer commits, with the commit's duration (for
	// latency monitoring: kv cannot import perf). It must not block.
	OnCommit func(d time.Duration)

	// fs replaces the file system; tests use it to inject faults.
	fs vfs.FS
}

// Compression is a table compression choice.
type Compression uint8

// Compressions, from none to the smallest tables.
const (
	CompressionDefault  Compression = iota // Pebble's default
	CompressionNone                        // none
	CompressionFastest                     // Snappy-like everywhere
	CompressionBalanced                    // fastest, zstd for the bottom levels
	CompressionGood                        // fastest, stronger zstd for the bottom levels
)

func (c Compression) settings() *pebble.DBCompressionSettings {
	var s pebble.DBCompressionSettings
	switch c {
	case CompressionNone:
		s = pebble.DBCompressionNone
	case CompressionFastest:
		s = pebble.DBCompressionFastest
	case CompressionBalanced:
		s = pebble.DBCompressionBalanced
	case CompressionGood:
		s = pebble.DBCompressionGood
	default:
		return nil
	}
	return &s
}

// Defaults.
const (
	DefaultDir              = "./data"
	DefaultQueueSize        = 4096
	DefaultMaxGroup         = 1024
	DefaultMaxGroupBytes    = 4 << 20
	DefaultDiskReserve      = 64 << 20
	DefaultLazySyncInterval = time.Second
	DefaultCloseTimeout     = 10 * time.Second
	DefaultCacheSize        = 64 << 20

	DefaultOfflineMaxMessages = 1000
	DefaultOfflineMaxAge      = 30 * 24 * time.Hour

	DefaultInviteTTL            = 7 * 24 * time.Hour
	DefaultInviteKeep           = 7 * 24 * time.Hour
	DefaultMaxInvitesPerAccount = 50
	DefaultMaxInvitesPerChannel = 500

	DefaultMetadataMaxKeys       = 100
	DefaultMetadataMaxValueBytes = 1024
)

// maxTxnBytes bounds one transaction's encoded size.
const maxTxnBytes = 64 << 20

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LazySyncInterval <= 0 {
		o.LazySyncInterval = DefaultLazySyncInterval
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = DefaultMaxGroup
	}
	if o.MaxGroupBytes <= 0 {
		o.MaxGroupBytes = DefaultMaxGroupBytes
	}
	if o.DiskReserve == 0 {
		o.DiskReserve = DefaultDiskReserve
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.OfflineMaxMessages <= 0 {
		o.OfflineMaxMessages = DefaultOfflineMaxMessages
	}
	if o.OfflineMaxAge <= 0 {
		o.OfflineMaxAge = DefaultOfflineMaxAge
	}
	if o.InviteTTL <= 0 {
		o.InviteTTL = DefaultInviteTTL
	}
	if o.InviteKeep <= 0 {
		o.InviteKeep = DefaultInviteKeep
	}
	if o.MaxInvitesPerAccount <= 0 {
		o.MaxInvitesPerAccount = DefaultMaxInvitesPerAccount
	}
	if o.MaxInvitesPerChannel <= 0 {
		o.MaxInvitesPerChannel = DefaultMaxInvitesPerChannel
	}
	if o.MetadataMaxKeys <= 0 {
		o.MetadataMaxKeys = DefaultMetadataMaxKeys
	}
	if o.HistoryCompactionConcurrency <= 0 {
		o.HistoryCompactionConcurrency = 1
	}
	if o.MetadataMaxValueBytes <= 0 {
		o.MetadataMaxValueBytes = DefaultMetadataMaxValueBytes
	}
	return o
}
