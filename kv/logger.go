package kv

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleLogger routes Pebble's log lines to slog and turns Pebble's fatal
// errors into store failures instead of process exits.
//
// Pebble calls Logger.Fatalf when it cannot go on, notably when a WAL write
// or sync fails inside a commit ("pebble: fatal commit error"), and expects
// it not to return: its default logger calls os.Exit, and if Fatalf simply
// returned, DB.Apply would report success for a batch that is not durable.
// So Fatalf never returns:
//   - beneath a kv call (the writer's commit, Open, a read, Checkpoint),
//     it panics with fatalPanic, which that call recovers and returns as
//     ErrUnavailable wrapping the cause;
//   - on one of Pebble's own background goroutines (flush, compaction,
//     MANIFEST update), it stops that goroutine with runtime.Goexit.
//
// Either way the store is marked failed first: all later writes are refused
// with ErrUnavailable, Healthy reports the cause, and the server keeps
// serving what does not need the store. Pebble's state after a fatal error
// is not trustworthy for writing (the WAL writer is broken), so recovery is
// a restart, which replays the WAL.
type pebbleLogger struct {
	s   *Store
	log *slog.Logger
}

// fatalPanic carries a Pebble fatal error up to the kv call that recovers it.
type fatalPanic struct{ err error }

// fatalError is a Pebble fatal error: its message, and the error among its
// arguments, if any, so that callers can still test for the cause.
type fatalError struct {
	msg string
	err error
}

func (e fatalError) Error() string { return e.msg }
func (e fatalError) Unwrap() error { return e.err }

func (l pebbleLogger) logf(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l pebbleLogger) Infof(format string, args ...any)  { l.logf(slog.LevelInfo, format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args...) }

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, args...))
	cause := fatalError{msg: "pebble: " + strings.TrimPrefix(msg, "pebble: ")}
	for _, a := range args {
		if err, ok := a.(error); ok {
			cause.err = err // keeps errors.Is(err, syscall.ENOSPC) working
			break
		}
	}
	l.s.fail(cause)
	if underKVCall() {
		l.log.Error("fatal storage error, returned to the caller", "detail", msg)
		panic(fatalPanic{cause})
	}
	l.log.Error("fatal storage error in a Pebble background goroutine; stopping that goroutine", "detail", msg)
	runtime.Goexit()
}

// kvFuncPrefix is the prefix of the names of this package's functions.
var kvFuncPrefix = func() string {
	name := runtime.FuncForPC(reflect.ValueOf(Open).Pointer()).Name() // "laird/kv.Open"
	return name[:strings.LastIndexByte(name, '.')+1]
}()

// underKVCall reports whether the calling goroutine entered Pebble from this
// package: whether, past the logger's own frames, a kv frame is on the
// stack. Every kv function that calls into Pebble recovers fatalPanic.
func underKVCall() bool {
	pcs := make([]uintptr, 512)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	leftLogger := false
	for {
		f, more := frames.Next()
		inKV := strings.HasPrefix(f.Function, kvFuncPrefix)
		if !inKV {
			leftLogger = true
		} else if leftLogger {
			return true
		}
		if !more {
			return false
		}
	}
}

// recoverFatal, deferred by kv functions that call into Pebble, turns a
// fatalPanic into the function's error. Other panics continue.
func (s *Store) recoverFatal(errp *error) {
	r := recover()
	if r == nil {
		return
	}
	fp, ok := r.(fatalPanic)
	if !ok {
		panic(r)
	}
	*errp = s.fail(fp.err)
}

// recoverWriter is recoverFatal for the writer's commit: there any panic
// from Pebble (it panics on a commit after its WAL writer failed) becomes a
// store failure rather than a crash.
func (s *Store) recoverWriter(errp *error) {
	r := recover()
	if r == nil {
		return
	}
	if fp, ok := r.(fatalPanic); ok {
		*errp = s.fail(fp.err)
		return
	}
	s.log.Error("panic in commit", "panic", r, "stack", string(debug.Stack()))
	*errp = s.fail(fmt.Errorf("panic in commit: %v", r))
}

// eventStats counts Pebble events for Stats.
type eventStats struct {
	backgroundErrors atomic.Uint64
	writeStalls      atomic.Uint64
	diskSlow         atomic.Uint64
	diskAvail        atomic.Uint64
}

func (s *Store) eventListener() *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			s.events.backgroundErrors.Add(1)
			s.log.Error("pebble background error", "err", err)
		},
		// Pebble's default here is Fatalf; corruption is reported to the
		// reader as an error anyway, so it only marks the store unhealthy.
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			err := fmt.Errorf("%w: %s", ErrCorrupt, info)
			s.corrupt.CompareAndSwap(nil, &err)
			s.log.Error("pebble detected data corruption", "info", info.String())
		},
		// Called on Pebble's disk-health goroutine, which must not block
		// on I/O: count only.
		DiskSlow: func(pebble.DiskSlowInfo) { s.events.diskSlow.Add(1) },
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			s.events.writeStalls.Add(1)
			s.log.Warn("pebble write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() { s.log.Info("pebble write stall ended") },
	}
}
