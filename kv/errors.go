package kv

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the error values
// returned by the store usually wrap one of them with context.
var (
	// ErrNotFound: the record does not exist (reads), or a RequireXxx
	// precondition wanted a record that is absent (commits).
	ErrNotFound = errors.New("kv: not found")
	// ErrExists: a RequireNoXxx precondition found the record present.
	ErrExists = errors.New("kv: already exists")
	// ErrConflict: a RequireNickOwner precondition found the nick owned by
	// another account.
	ErrConflict = errors.New("kv: owned by another account")
	// ErrInvalid: a transaction or query was malformed (empty name, NUL byte
	// in a name, oversized value...). Nothing was written.
	ErrInvalid = errors.New("kv: invalid argument")
	// ErrCorrupt: a stored record could not be decoded.
	ErrCorrupt = errors.New("kv: corrupt record")
	// ErrBusy: the writer's queue is full. Commit never waits for room;
	// the caller should answer "try again later".
	ErrBusy = errors.New("kv: write queue full")
	// ErrDiskFull: free space on the data directory's file system is below
	// Options.DiskReserve. Writes that only delete are still accepted.
	ErrDiskFull = errors.New("kv: disk space below reserve")
	// ErrUnavailable: the store cannot write (a WAL write or sync failed, the
	// directory is read-only, Pebble reported a fatal error...). It wraps the
	// cause. Once a write has failed this way the store refuses all further
	// writes until it is reopened; reads keep working where Pebble can serve
	// them.
	ErrUnavailable = errors.New("kv: store unavailable")
	// ErrReadOnly: the store was opened with Options.ReadOnly.
	ErrReadOnly = fmt.Errorf("%w: opened read-only", ErrUnavailable)
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("kv: store closed")
	// ErrSchemaTooNew: the data directory was written by a newer laird whose
	// key schema this code does not know. See SchemaError.
	ErrSchemaTooNew = errors.New("kv: schema version too new")
	// ErrExpired: a RequireXxx precondition found the record, but past
	// its expiry time (an invitation).
	ErrExpired = errors.New("kv: expired")
	// ErrLimit: a configured limit would be exceeded (offline messages,
	// pending invitations, metadata keys or value size). See LimitError.
	ErrLimit = errors.New("kv: limit reached")
)

// Temporary reports whether err means "the store cannot take this write
// right now" (busy, disk full, unavailable, closed) as opposed to an answer
// about the data (exists, not found, invalid). Chat replies to the former
// with TEMPORARILY_UNAVAILABLE-style errors.
func Temporary(err error) bool {
	return errors.Is(err, ErrBusy) || errors.Is(err, ErrDiskFull) ||
		errors.Is(err, ErrUnavailable) || errors.Is(err, ErrClosed)
}

// SchemaError is returned by Open when the stored schema version is newer
// than SchemaVersion. errors.Is(err, ErrSchemaTooNew) is true for it.
type SchemaError struct {
	Found     uint32 // version stored in the data directory
	Supported uint32 // SchemaVersion of this code
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("kv: data directory has key schema version %d, this build supports up to %d; refusing to open",
		e.Found, e.Supported)
}

// Is makes errors.Is(err, ErrSchemaTooNew) true.
func (e *SchemaError) Is(target error) bool { return target == ErrSchemaTooNew }

// ConditionError is returned (to the caller's done function) when a
// precondition of a transaction fails at commit time. Nothing of that
// transaction was written. Err is ErrExists, ErrNotFound, ErrConflict or
// ErrExpired.
type ConditionError struct {
	Kind RecordKind // which family the precondition was about
	Name string     // the (casefolded) name it was about
	Err  error
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("kv: precondition on %s %q failed: %v", e.Kind, e.Name, e.Err)
}

func (e *ConditionError) Unwrap() error { return e.Err }

// RecordKind names a record family of the key schema (see doc.go).
type RecordKind uint8

// Record families that preconditions can name.
const (
	KindAccount RecordKind = iota + 1
	KindNick
	KindChannel
	KindMeta
	KindHistory // a history entry; Name is "target msgid"
	KindCert    // a certificate fingerprint; Name is the fingerprint
	KindInvite  // an invitation; Name is "channel account"
)

var recordKindNames = [...]string{
	KindAccount: "account", KindNick: "nick", KindChannel: "channel", KindMeta: "metadata",
	KindHistory: "history entry", KindCert: "certificate fingerprint", KindInvite: "invitation",
}

func (k RecordKind) String() string {
	if int(k) < len(recordKindNames) && recordKindNames[k] != "" {
		return recordKindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// LimitError says which configured limit a write would have exceeded:
// returned by Commit for a value that is too large, or to the done
// function when a count is reached at commit time. Nothing of the
// transaction was written. errors.Is(err, ErrLimit) is true for it.
type LimitError struct {
	Limit LimitKind
	Name  string // what the limit is about: the account, channel...
	Max   int    // the configured limit
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("kv: %s limit of %d reached for %q", e.Limit, e.Max, e.Name)
}

func (e *LimitError) Unwrap() error { return ErrLimit }

// LimitKind names a configured limit (see Options).
type LimitKind uint8

// Limits.
const (
	LimitOffline           LimitKind = iota + 1 // Options.OfflineMaxMessages
	LimitInvitesPerAccount                      // Options.MaxInvitesPerAccount
	LimitInvitesPerChannel                      // Options.MaxInvitesPerChannel
	LimitMetadataKeys                           // Options.MetadataMaxKeys
	LimitMetadataValue                          // Options.MetadataMaxValueBytes
)

var limitKindNames = [...]string{
	LimitOffline: "offline message", LimitInvitesPerAccount: "pending invitations per account",
	LimitInvitesPerChannel: "pending invitations per channel", LimitMetadataKeys: "metadata key",
	LimitMetadataValue: "metadata value bytes",
}

func (k LimitKind) String() string {
	if int(k) < len(limitKindNames) && limitKindNames[k] != "" {
		return limitKindNames[k]
	}
	return fmt.Sprintf("limit(%d)", uint8(k))
}

// decision reports whether a precondition's error is an answer about the
// data (the transaction is refused) rather than a failure to read.
func decision(err error) bool {
	var ce *ConditionError
	var le *LimitError
	return errors.As(err, &ce) || errors.As(err, &le)
}
