package kv

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Account record encodings: version 1 is still decoded (as Version 1);
// version 2 adds the record's version and what issues 11, 12 and 15 need.
const (
	accountV1 = 1
	accountV2 = 2
)

// Account is a registered account.
//
// Every change is a read-modify-write guarded by Version: PutAccount
// refuses to store a copy read at another version than the stored one, so
// a change committed meanwhile (a SUSPEND while SET PASSWORD was hashing)
// is never undone; UpdateAccount retries such conflicts.
type Account struct {
	Name        string // casefolded account name: the key
	Version     uint64 // set by the store: 0 for an account not stored yet, +1 at every change
	DisplayName string // the name as registered, for display
	PassHash    string // opaque password hash (bcrypt, argon2id...), chosen by chat
	Scram       string // opaque SCRAM-SHA-256 verifier (salt, iterations, keys), chosen by chat
	Email       string
	Created     time.Time
	Verified    bool
	VerifyCode  string // opaque pending verification secret; empty once verified
	// CertFPs are the SHA-256 fingerprints of the client certificates
	// that log in to the account (SASL EXTERNAL, NickServ CERT), 64
	// lowercase hex digits each; stored sorted. A fingerprint belongs to
	// one account at most (see AccountByCert).
	CertFPs []string

	Suspended     bool
	SuspendReason string
	SuspendedBy   string
	SuspendedAt   time.Time

	AlwaysOn Toggle            // stays in its channels with nothing connected
	Settings map[string]string // other per-account settings (NickServ SET), by chat's names

	// LastLogin (the last successful login) and FailedLogins (failed
	// logins since) are written by RecordLogin only: PutAccount keeps the
	// stored ones, and RecordLogin does not move Version, so recording
	// logins never makes another change conflict, nor is undone by one.
	LastLogin    time.Time
	FailedLogins int
}

// Toggle is a per-account setting that may follow the server's default.
type Toggle uint8

// Toggle values. The values are stored.
const (
	ToggleDefault Toggle = iota // the server's default
	ToggleOn
	ToggleOff
)

// Or returns the setting, or def for ToggleDefault.
func (t Toggle) Or(def bool) bool {
	switch t {
	case ToggleOn:
		return true
	case ToggleOff:
		return false
	}
	return def
}

func (a *Account) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(accountV2)
	e.uvarint(a.Version)
	e.str(a.DisplayName)
	e.str(a.PassHash)
	e.str(a.Scram)
	e.str(a.Email)
	e.time(a.Created)
	e.bool(a.Verified)
	e.str(a.VerifyCode)
	e.strs(a.CertFPs)
	e.bool(a.Suspended)
	e.str(a.SuspendReason)
	e.str(a.SuspendedBy)
	e.time(a.SuspendedAt)
	e.byte(byte(a.AlwaysOn))
	keys := slices.Sorted(maps.Keys(a.Settings))
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(a.Settings[k])
	}
	e.time(a.LastLogin)
	e.uvarint(uint64(a.FailedLogins))
	return e.b
}

func decodeAccount(name string, v []byte) (Account, error) {
	d := newDecoder(v)
	a := Account{Name: name}
	ver := d.byte()
	switch {
	case d.err != nil:
		return a, d.finish("account")
	case ver == accountV1:
		a.Version = 1
	case ver == accountV2:
		a.Version = d.uvarint()
	default:
		d.fail("account record version %d", ver)
		return a, d.finish("account")
	}
	a.DisplayName = d.str()
	a.PassHash = d.str()
	a.Scram = d.str()
	a.Email = d.str()
	a.Created = d.time()
	a.Verified = d.bool()
	a.VerifyCode = d.str()
	a.CertFPs = d.strs()
	a.Suspended = d.bool()
	a.SuspendReason = d.str()
	a.SuspendedBy = d.str()
	a.SuspendedAt = d.time()
	if ver == accountV1 {
		return a, d.finish("account")
	}
	if a.AlwaysOn = Toggle(d.byte()); a.AlwaysOn > ToggleOff {
		d.fail("always-on %d", a.AlwaysOn)
	}
	n := d.count(2)
	prev := ""
	for i := range n {
		k, val := d.str(), d.str()
		if i > 0 && k <= prev {
			d.fail("settings out of order")
		}
		if a.Settings == nil {
			a.Settings = make(map[string]string, n)
		}
		a.Settings[k], prev = val, k
	}
	a.LastLogin = d.time()
	if f := d.uvarint(); f > 1<<31 {
		d.fail("failed logins %d", f)
	} else {
		a.FailedLogins = int(f)
	}
	return a, d.finish("account")
}

// CheckCertFP reports whether fp is a fingerprint as Account.CertFPs holds
// them: a SHA-256 in 64 lowercase hex digits.
func CheckCertFP(fp string) error {
	if len(fp) != 64 {
		return fmt.Errorf("%w: certificate fingerprint %q is not 64 hex digits", ErrInvalid, fp)
	}
	for i := range len(fp) {
		if c := fp[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: certificate fingerprint %q is not lowercase hex", ErrInvalid, fp)
		}
	}
	return nil
}

// PutAccount stores an account read at version a.Version (0: one not
// stored yet), as version a.Version+1. The transaction fails with a
// *ConditionError if the stored account is not at a.Version: ErrExists
// for a new account whose name is taken, ErrNotFound if the account is
// gone, ErrConflict if it changed meanwhile (read it again and redo the
// change; UpdateAccount does). It fails with a *ConditionError of
// KindCert (ErrConflict) if one of a.CertFPs belongs to another account.
//
// PutAccount keeps the indexes of suspended accounts and of certificate
// fingerprints in step. It does not touch the account's nicks or access
// entries.
func (t *Txn) PutAccount(a Account) {
	if !t.ok("account name", a.Name) {
		return
	}
	fps := slices.Clone(a.CertFPs)
	slices.Sort(fps)
	fps = slices.Compact(fps)
	for _, fp := range fps {
		if err := CheckCertFP(fp); err != nil {
			t.setErr(err)
			return
		}
	}
	a.CertFPs = fps
	read := a.Version
	a.Version++
	name := a.Name
	t.check(func(vw *views) error {
		if err := checkVersion(vw, name, read); err != nil {
			return err
		}
		for _, fp := range fps {
			owner, found, err := vw.get(key1(nil, tagCert, fp))
			if err != nil {
				return err
			}
			if found && string(owner) != name {
				return &ConditionError{Kind: KindCert, Name: fp, Err: ErrConflict}
			}
		}
		return nil
	})
	t.derive(true, func(vw *views) error {
		old, err := storedAccount(vw, name)
		if err != nil {
			return err
		}
		if old.Version != 0 {
			a.LastLogin, a.FailedLogins = old.LastLogin, old.FailedLogins
		}
		return putAccount(vw, name, a.appendValue(nil), old.CertFPs, fps, a.Suspended)
	})
}

// checkVersion is PutAccount's precondition.
func checkVersion(vw *views, name string, read uint64) error {
	stored, err := storedAccount(vw, name)
	switch {
	case err != nil:
		return err
	case stored.Version == 0 && read != 0:
		return &ConditionError{Kind: KindAccount, Name: name, Err: ErrNotFound}
	case stored.Version != 0 && read == 0:
		return &ConditionError{Kind: KindAccount, Name: name, Err: ErrExists}
	case stored.Version != read:
		return &ConditionError{Kind: KindAccount, Name: name, Err: ErrConflict}
	}
	return nil
}

// storedAccount reads an account in the writer; Version 0 if absent.
func storedAccount(vw *views, name string) (Account, error) {
	v, found, err := vw.get(key1(nil, tagAccount, name))
	if err != nil || !found {
		return Account{Name: name}, err
	}
	return decodeAccount(name, v)
}

// putAccount writes an encoded account and its index entries.
func putAccount(vw *views, name string, val []byte, oldFPs, newFPs []string, suspended bool) error {
	for _, fp := range oldFPs {
		if !slices.Contains(newFPs, fp) {
			if err := deleteCert(vw, fp, name); err != nil {
				return err
			}
		}
	}
	for _, fp := range newFPs {
		if err := vw.set(key1(nil, tagCert, fp), []byte(name)); err != nil {
			return err
		}
	}
	if err := vw.set(key1(nil, tagAccount, name), val); err != nil {
		return err
	}
	sk := key1(nil, tagSuspended, name)
	if suspended {
		return vw.set(sk, nil)
	}
	return vw.del(sk)
}

// deleteCert deletes a fingerprint's index entry if it names account.
func deleteCert(vw *views, fp, account string) error {
	k := key1(nil, tagCert, fp)
	owner, found, err := vw.get(k)
	if err != nil || !found || string(owner) != account {
		return err
	}
	return vw.del(k)
}

// RecordLogin records a login to an account: a success sets LastLogin to
// at and resets FailedLogins, a failure counts one more. It needs no read
// by the caller and leaves Version alone (see Account.LastLogin), so it
// never conflicts with another change; for an account that does not exist
// it does nothing. (Read the account before recording a success to tell
// the owner how many failures there were since the last login.)
func (t *Txn) RecordLogin(name string, at time.Time, success bool) {
	if !t.ok("account name", name) {
		return
	}
	t.derive(false, func(vw *views) error {
		a, err := storedAccount(vw, name)
		if err != nil || a.Version == 0 {
			return err
		}
		if success {
			a.LastLogin, a.FailedLogins = at, 0
		} else {
			a.FailedLogins++
		}
		return vw.set(key1(nil, tagAccount, name), a.appendValue(nil))
	})
}

// maxUpdateTries bounds UpdateAccount's retries: each conflict means
// another change of the same account committed in between, which cannot
// go on for long.
const maxUpdateTries = 8

// UpdateAccount reads an account, lets change modify it (and add
// operations of its own to the transaction, an audit entry say), and
// commits it with PutAccount's version precondition; when another change
// committed in between, it reads the account again and calls change again.
// change must not block and must expect to be called more than once (do
// slow work such as password hashing before). An error from change is
// returned as is and nothing is committed. It returns the account as
// stored (LastLogin and FailedLogins as read). It blocks until the commit is durable: not for event loops or
// shards.
func (s *Store) UpdateAccount(name string, change func(a *Account, t *Txn) error) (Account, error) {
	for range maxUpdateTries {
		a, err := s.Account(name)
		if err != nil {
			return Account{}, err
		}
		t := s.NewTxn()
		if err := change(&a, t); err != nil {
			return Account{}, err
		}
		a.Name = name
		t.PutAccount(a)
		err = s.CommitWait(t)
		var ce *ConditionError
		if errors.As(err, &ce) && ce.Kind == KindAccount && errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Account{}, err
		}
		a.Version++
		slices.Sort(a.CertFPs)
		a.CertFPs = slices.Compact(a.CertFPs)
		return a, nil
	}
	return Account{}, fmt.Errorf("kv: account %q changed %d times while being updated: %w", name, maxUpdateTries, ErrConflict)
}

// AccountByCert returns the account a certificate fingerprint belongs to,
// or ErrNotFound.
func (s *Store) AccountByCert(fp string) (Account, error) {
	var name string
	err := s.get(key1(nil, tagCert, fp), func(v []byte) error {
		name = string(v)
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	return s.Account(name)
}
