package kv

import (
	"fmt"
	"time"
)

// Txn is a set of changes that is committed as a whole or not at all, with
// optional preconditions that the writer checks atomically at commit time.
//
// A Txn is built by one goroutine (it is not safe for concurrent use), then
// handed to Store.Commit or Store.CommitWait, after which it belongs to the
// store and must not be touched again. Building never blocks and does no
// I/O: values are encoded into the Txn's buffer right away, so the writer
// goroutine mostly copies bytes. The operations that depend on what is
// stored (PutAccount's version check, an edit, an offline message's
// unread count, a read marker's maximum...) read it in the writer, against
// the group's state, which is what makes them atomic without locks.
//
// Errors while building (an empty name, a NUL in a name...) are sticky: the
// first one is kept, later calls do nothing, and Commit returns it (wrapping
// ErrInvalid, or a *LimitError for a value over a limit) without writing
// anything.
//
// Operations apply in the order they were added. Preconditions are all
// checked before any operation of the transaction, against the store as
// left by the transactions committed before it (including earlier ones of
// the same group commit).
type Txn struct {
	s     *Store
	buf   []byte // keys and values of raw operations
	ops   []op
	conds []cond
	err   error

	puts    int  // operations that add data (deletions don't count)
	durable bool // needs a WAL sync before it is acknowledged
	used    bool // handed to Commit

	done   func(error) // set by Commit
	result error       // set by the writer
	touch  uint8       // set by the writer: the instances t wrote to
}

type opKind uint8

const (
	opSet         opKind = iota + 1 // key, val
	opDelete                        // key
	opDeleteRange                   // key (start), val (end)
	// Derived operations: the writer reads before it writes.
	opPutNick       // key "n"+nick, val NickRecord; a nick, b account
	opDeleteNick    // a nick
	opDeleteAccount // a account
	opDeleteChannel // a channel
	opDeleteHistory // a target, b msgid
	opFunc          // fn: anything else the writer must read to do
)

type span struct{ off, end int }

type op struct {
	kind     opKind
	key, val span
	a, b     string
	fn       func(*views) error // opFunc
}

type condKind uint8

const (
	condAbsent condKind = iota + 1
	condExists
	condNickOwner // exists and names account b
)

type cond struct {
	kind condKind
	rk   RecordKind
	name string // the name the key was built from, for ConditionError
	key  span
	acct string // condNickOwner

	// fn, when set, is the whole check: it returns nil, a
	// *ConditionError or a *LimitError (a decision about the data), or
	// any other error if the views could not be read.
	fn func(*views) error
}

// NewTxn returns an empty transaction for this store.
func (s *Store) NewTxn() *Txn { return &Txn{s: s} }

// Err returns the first error recorded while building, if any.
func (t *Txn) Err() error { return t.err }

// Len returns the number of operations and preconditions added.
func (t *Txn) Len() int { return len(t.ops) + len(t.conds) }

func (t *Txn) setErr(err error) {
	if t.err == nil {
		t.err = err
	}
}

// ok checks the names of an operation and records the first failure.
func (t *Txn) ok(names ...string) bool {
	if t.err != nil {
		return false
	}
	if t.used {
		t.setErr(fmt.Errorf("%w: transaction already committed", ErrInvalid))
		return false
	}
	for i := 0; i+1 < len(names); i += 2 {
		if err := checkName(names[i], names[i+1]); err != nil {
			t.setErr(err)
			return false
		}
	}
	return true
}

// mark appends bytes produced by f to the buffer and returns their span.
func (t *Txn) mark(f func([]byte) []byte) span {
	off := len(t.buf)
	t.buf = f(t.buf)
	if len(t.buf) > maxTxnBytes {
		t.setErr(fmt.Errorf("%w: transaction larger than %d bytes", ErrInvalid, maxTxnBytes))
	}
	return span{off, len(t.buf)}
}

func (t *Txn) bytes(s span) []byte { return t.buf[s.off:s.end] }

func (t *Txn) set(key, val span) {
	t.ops = append(t.ops, op{kind: opSet, key: key, val: val})
	t.puts++
	t.durable = true
}

func (t *Txn) del(key span) {
	t.ops = append(t.ops, op{kind: opDelete, key: key})
	t.durable = true
}

func (t *Txn) derived(o op) {
	t.ops = append(t.ops, o)
	if o.kind == opPutNick {
		t.puts++
	}
	t.durable = true
}

// derive adds an operation that the writer runs against the group's views.
// adds says whether it may add data (see Options.DiskReserve).
func (t *Txn) derive(adds bool, fn func(*views) error) {
	t.ops = append(t.ops, op{kind: opFunc, fn: fn})
	if adds {
		t.puts++
	}
	t.durable = true
}

// check adds a precondition that the writer runs against the group's views
// before any operation of t.
func (t *Txn) check(fn func(*views) error) {
	t.conds = append(t.conds, cond{fn: fn})
}

func (t *Txn) require(kind condKind, rk RecordKind, name string, key span, acct string) {
	t.conds = append(t.conds, cond{kind: kind, rk: rk, name: name, key: key, acct: acct})
}

func noValue(b []byte) []byte { return b }

// DeleteAccount deletes an account together with every nick reserved for it
// and every channel access entry it holds. Channels it founded keep their
// record (Channel.Founder still names it): what happens to them is chat's
// decision.
func (t *Txn) DeleteAccount(name string) {
	if t.ok("account name", name) {
		t.derived(op{kind: opDeleteAccount, a: name})
	}
}

// PutNick reserves a nick for an account, replacing any earlier owner's
// reservation (use RequireNickFree to refuse that instead).
func (t *Txn) PutNick(n NickRecord) {
	if !t.ok("nick", n.Nick, "account name", n.Account) {
		return
	}
	k := t.mark(func(b []byte) []byte { return key1(b, tagNick, n.Nick) })
	t.derived(op{kind: opPutNick, key: k, val: t.mark(n.appendValue), a: n.Nick, b: n.Account})
}

// DeleteNick releases a nick reservation (no-op if the nick is free).
func (t *Txn) DeleteNick(nick string) {
	if t.ok("nick", nick) {
		t.derived(op{kind: opDeleteNick, a: nick})
	}
}

// PutChannel stores a registered channel, replacing any with the same name.
func (t *Txn) PutChannel(c Channel) {
	if !t.ok("channel name", c.Name) {
		return
	}
	k := t.mark(func(b []byte) []byte { return key1(b, tagChannel, c.Name) })
	t.set(k, t.mark(c.appendValue))
}

// DeleteChannel deletes a registered channel and its whole access list.
func (t *Txn) DeleteChannel(name string) {
	if t.ok("channel name", name) {
		t.derived(op{kind: opDeleteChannel, a: name})
	}
}

// PutAccess sets an account's access level on a channel.
func (t *Txn) PutAccess(a Access) {
	if !t.ok("channel name", a.Channel, "account name", a.Account) {
		return
	}
	if a.Level == 0 {
		t.setErr(fmt.Errorf("%w: access level 0", ErrInvalid))
		return
	}
	k := t.mark(func(b []byte) []byte { return key2(b, tagAccess, a.Channel, a.Account) })
	t.set(k, t.mark(a.appendValue))
	rk := t.mark(func(b []byte) []byte { return key2(b, tagAccountAccess, a.Account, a.Channel) })
	t.set(rk, t.mark(noValue))
}

// DeleteAccess removes an account's access entry on a channel.
func (t *Txn) DeleteAccess(channel, account string) {
	if !t.ok("channel name", channel, "account name", account) {
		return
	}
	t.del(t.mark(func(b []byte) []byte { return key2(b, tagAccess, channel, account) }))
	t.del(t.mark(func(b []byte) []byte { return key2(b, tagAccountAccess, account, channel) }))
}

func banKey(b []byte, kind BanKind, mask string) []byte {
	return append(append(b, tagBan, byte(kind)), mask...)
}

// PutBan stores a server ban, replacing one of the same kind and mask.
func (t *Txn) PutBan(b Ban) {
	if !t.ok("ban mask", b.Mask) {
		return
	}
	if b.Kind == 0 {
		t.setErr(fmt.Errorf("%w: ban kind 0", ErrInvalid))
		return
	}
	k := t.mark(func(dst []byte) []byte { return banKey(dst, b.Kind, b.Mask) })
	t.set(k, t.mark(b.appendValue))
}

// DeleteBan removes a server ban.
func (t *Txn) DeleteBan(kind BanKind, mask string) {
	if t.ok("ban mask", mask) {
		t.del(t.mark(func(dst []byte) []byte { return banKey(dst, kind, mask) }))
	}
}

// AppendAudit adds an entry to the audit trail. A zero e.Time means now.
func (t *Txn) AppendAudit(e AuditEntry) {
	if !t.ok() {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if err := checkKeyTime("audit time", e.Time); err != nil {
		t.setErr(err)
		return
	}
	seq := t.s.nextSeq()
	k := t.mark(func(b []byte) []byte { return appendTimeSeq(append(b, tagAudit), e.Time, seq) })
	t.set(k, t.mark(e.appendValue))
}

// PutMeta stores an opaque value under a caller-chosen name (server-wide
// settings, invitations, anything without a family of its own).
func (t *Txn) PutMeta(name string, value []byte) {
	if !t.ok("metadata name", name) {
		return
	}
	k := t.mark(func(b []byte) []byte { return key1(b, tagMeta, name) })
	t.set(k, t.mark(func(b []byte) []byte { return append(b, value...) }))
}

// DeleteMeta deletes a metadata value.
func (t *Txn) DeleteMeta(name string) {
	if t.ok("metadata name", name) {
		t.del(t.mark(func(b []byte) []byte { return key1(b, tagMeta, name) }))
	}
}

// deleteKey and deleteRange are the raw operations of retention.
func (t *Txn) deleteKey(key []byte) {
	t.del(t.mark(func(b []byte) []byte { return append(b, key...) }))
}

func (t *Txn) deleteRange(start, end []byte) {
	k := t.mark(func(b []byte) []byte { return append(b, start...) })
	v := t.mark(func(b []byte) []byte { return append(b, end...) })
	t.ops = append(t.ops, op{kind: opDeleteRange, key: k, val: v})
	t.durable = true
}

func (t *Txn) requireKey(kind condKind, rk RecordKind, tag byte, name, acct string) {
	if !t.ok(rk.String()+" name", name) {
		return
	}
	t.require(kind, rk, name, t.mark(func(b []byte) []byte { return key1(b, tag, name) }), acct)
}

// RequireNoAccount fails the transaction with ErrExists if the account exists.
func (t *Txn) RequireNoAccount(name string) {
	t.requireKey(condAbsent, KindAccount, tagAccount, name, "")
}

// RequireAccount fails the transaction with ErrNotFound if the account does
// not exist.
func (t *Txn) RequireAccount(name string) {
	t.requireKey(condExists, KindAccount, tagAccount, name, "")
}

// RequireNickFree fails the transaction with ErrExists if the nick is
// reserved by any account.
func (t *Txn) RequireNickFree(nick string) { t.requireKey(condAbsent, KindNick, tagNick, nick, "") }

// RequireNickOwner fails the transaction with ErrNotFound if the nick is not
// reserved, or ErrConflict if another account holds it.
func (t *Txn) RequireNickOwner(nick, account string) {
	if t.ok("account name", account) {
		t.requireKey(condNickOwner, KindNick, tagNick, nick, account)
	}
}

// RequireNoChannel fails the transaction with ErrExists if the channel is
// registered.
func (t *Txn) RequireNoChannel(name string) {
	t.requireKey(condAbsent, KindChannel, tagChannel, name, "")
}

// RequireChannel fails the transaction with ErrNotFound if the channel is not
// registered.
func (t *Txn) RequireChannel(name string) {
	t.requireKey(condExists, KindChannel, tagChannel, name, "")
}

// RequireNoMeta fails the transaction with ErrExists if the metadata name is
// set.
func (t *Txn) RequireNoMeta(name string) { t.requireKey(condAbsent, KindMeta, tagMeta, name, "") }

// RequireMeta fails the transaction with ErrNotFound if the metadata name is
// not set.
func (t *Txn) RequireMeta(name string) { t.requireKey(condExists, KindMeta, tagMeta, name, "") }
