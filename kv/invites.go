package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// Invitations (issue 14): an account invited to a channel, by another
// account or a nick, with a lifetime and a status. Keys:
//
//	i channel 0 account       Invitation
//	I account 0 channel       empty: invitations of an account (reverse of i)
//	e time channel 0 account  empty: the sweep queue, by when ExpireInvites has to act
//	k 'a' account             uvarint: pending invitations of an account
//	k 'c' channel             uvarint: pending invitations to a channel
//
// A pending invitation is due at its expiry; one in a final state is due
// Options.InviteKeep after its change, when ExpireInvites deletes it. There
// is one invitation per channel and account: inviting again refreshes a
// pending one, or replaces a final one with a new pending one.

const inviteV1 = 1

// InviteStatus is the state of an invitation. The values are stored.
type InviteStatus uint8

// Invitation states: pending until accepted, declined, revoked or expired.
const (
	InvitePending InviteStatus = iota + 1
	InviteAccepted
	InviteDeclined
	InviteRevoked
	InviteExpired
)

var inviteStatusNames = [...]string{
	InvitePending: "pending", InviteAccepted: "accepted", InviteDeclined: "declined",
	InviteRevoked: "revoked", InviteExpired: "expired",
}

func (st InviteStatus) String() string {
	if int(st) < len(inviteStatusNames) && inviteStatusNames[st] != "" {
		return inviteStatusNames[st]
	}
	return fmt.Sprintf("status(%d)", uint8(st))
}

// Invitation is an account's invitation to a channel.
type Invitation struct {
	Channel     string // casefolded: the key
	Account     string // the invitee, casefolded: the key
	ChannelName string // the channel as named, for display
	Inviter     string // the inviter's casefolded account, "" if it had none
	InviterNick string // the inviter's nick, for display
	Created     time.Time
	Expires     time.Time
	Status      InviteStatus
	Changed     time.Time // when Status last changed (Created while pending)
	ChangedBy   string    // who accepted, declined or revoked it; "" for expiry

	sweepAt time.Time // when ExpireInvites acts on it: its e key
}

// Pending reports whether the invitation still admits its account at now.
func (inv *Invitation) Pending(now time.Time) bool {
	return inv.Status == InvitePending && now.Before(inv.Expires)
}

func (inv *Invitation) appendValue(dst []byte) []byte {
	e := encoder{dst}
	e.byte(inviteV1)
	e.str(inv.ChannelName)
	e.str(inv.Inviter)
	e.str(inv.InviterNick)
	e.time(inv.Created)
	e.time(inv.Expires)
	e.byte(byte(inv.Status))
	e.time(inv.Changed)
	e.str(inv.ChangedBy)
	e.time(inv.sweepAt)
	return e.b
}

func decodeInvite(channel, account string, v []byte) (Invitation, error) {
	d := newDecoder(v)
	d.version("invitation", inviteV1)
	inv := Invitation{Channel: channel, Account: account}
	inv.ChannelName = d.str()
	inv.Inviter = d.str()
	inv.InviterNick = d.str()
	inv.Created = d.time()
	inv.Expires = d.time()
	inv.Status = InviteStatus(d.byte())
	if d.err == nil && (inv.Status < InvitePending || inv.Status > InviteExpired) {
		d.fail("invitation status %d", inv.Status)
	}
	inv.Changed = d.time()
	inv.ChangedBy = d.str()
	inv.sweepAt = d.time()
	return inv, d.finish("invitation")
}

func inviteKey(channel, account string) []byte { return key2(nil, tagInvite, channel, account) }

func sweepKey(due time.Time, channel, account string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{tagInviteDue}, timeOrder(clampKeyTime(due)))
	return append(append(append(k, channel...), 0), account...)
}

func pendingKey(kind byte, name string) []byte {
	return append([]byte{tagInviteCount, kind}, name...)
}

// clampKeyTime keeps a time within what a key can hold.
func clampKeyTime(t time.Time) time.Time {
	switch {
	case t.Before(minKeyTime):
		return minKeyTime
	case t.After(maxKeyTime):
		return maxKeyTime
	}
	return t
}

// Invite stores a pending invitation of inv.Account to inv.Channel (inv's
// status and change fields are set here), with audit as its audit entry
// ("invite.create" on "channel account" unless audit says otherwise). A
// zero Created means now, a zero Expires Created + Options.InviteTTL. An
// invitation already pending is refreshed (new inviter and times) without
// counting again; otherwise the transaction fails with a *LimitError if the
// account or the channel already has as many pending invitations as
// Options.MaxInvitesPerAccount or MaxInvitesPerChannel allow.
func (t *Txn) Invite(inv Invitation, audit AuditEntry) {
	if !t.ok("channel name", inv.Channel, "account name", inv.Account) {
		return
	}
	if inv.Created.IsZero() {
		inv.Created = time.Now()
	}
	if inv.Expires.IsZero() {
		inv.Expires = inv.Created.Add(t.s.opts.InviteTTL)
	}
	inv.Status, inv.Changed, inv.ChangedBy, inv.sweepAt = InvitePending, inv.Created, "", inv.Expires
	opts := &t.s.opts
	t.check(func(vw *views) error {
		old, found, err := getInvite(vw, inv.Channel, inv.Account)
		if err != nil || found && old.Status == InvitePending {
			return err
		}
		for _, c := range []struct {
			kind  byte
			name  string
			max   int
			limit LimitKind
		}{
			{'a', inv.Account, opts.MaxInvitesPerAccount, LimitInvitesPerAccount},
			{'c', inv.Channel, opts.MaxInvitesPerChannel, LimitInvitesPerChannel},
		} {
			n, err := getCount(vw, pendingKey(c.kind, c.name))
			if err != nil {
				return err
			}
			if n >= c.max {
				return &LimitError{Limit: c.limit, Name: c.name, Max: c.max}
			}
		}
		return nil
	})
	t.derive(true, func(vw *views) error {
		old, found, err := getInvite(vw, inv.Channel, inv.Account)
		if err != nil {
			return err
		}
		if found {
			if err := vw.del(sweepKey(old.sweepAt, inv.Channel, inv.Account)); err != nil {
				return err
			}
		}
		if !found || old.Status != InvitePending {
			if err := countPending(vw, inv.Channel, inv.Account, 1); err != nil {
				return err
			}
		}
		return putInvite(vw, &inv)
	})
	t.inviteAudit(audit, "invite.create", inv.Channel, inv.Account)
}

// AcceptInvite consumes a pending invitation (the account joined) and, if
// grant is not 0 and the channel is registered, gives the account that
// access level on it (an existing higher level stays), all in this one
// transaction: a crash leaves both or neither. The transaction fails with a
// *ConditionError of KindInvite: ErrNotFound if there is no pending
// invitation, ErrExpired if it expired before at.
func (t *Txn) AcceptInvite(channel, account string, at time.Time, grant Level, audit AuditEntry) {
	t.finishInvite(channel, account, at, InviteAccepted, audit)
	if grant == 0 || t.err != nil {
		return
	}
	by := audit.Actor
	t.derive(true, func(vw *views) error {
		registered, err := has(vw, key1(nil, tagChannel, channel))
		if err != nil || !registered {
			return err
		}
		ak := key2(nil, tagAccess, channel, account)
		v, found, err := vw.get(ak)
		if err != nil {
			return err
		}
		if found {
			if a, err := decodeAccess(channel, account, v); err == nil && a.Level >= grant {
				return nil
			}
		}
		a := Access{Channel: channel, Account: account, Level: grant, SetBy: by, SetAt: at}
		if err := vw.set(ak, a.appendValue(nil)); err != nil {
			return err
		}
		return vw.set(key2(nil, tagAccountAccess, account, channel), nil)
	})
}

// DeclineInvite records that the account declined its pending
// invitation; it fails like AcceptInvite.
func (t *Txn) DeclineInvite(channel, account string, at time.Time, audit AuditEntry) {
	t.finishInvite(channel, account, at, InviteDeclined, audit)
}

// RevokeInvite records that the inviter or a channel operator revoked a
// pending invitation; it fails like AcceptInvite.
func (t *Txn) RevokeInvite(channel, account string, at time.Time, audit AuditEntry) {
	t.finishInvite(channel, account, at, InviteRevoked, audit)
}

func (t *Txn) finishInvite(channel, account string, at time.Time, st InviteStatus, audit AuditEntry) {
	if !t.ok("channel name", channel, "account name", account) {
		return
	}
	t.check(func(vw *views) error {
		inv, found, err := getInvite(vw, channel, account)
		switch {
		case err != nil:
			return err
		case !found || inv.Status != InvitePending:
			return &ConditionError{Kind: KindInvite, Name: channel + " " + account, Err: ErrNotFound}
		case !at.Before(inv.Expires):
			return &ConditionError{Kind: KindInvite, Name: channel + " " + account, Err: ErrExpired}
		}
		return nil
	})
	keep, by := t.s.opts.InviteKeep, audit.Actor
	t.derive(false, func(vw *views) error {
		inv, _, err := getInvite(vw, channel, account)
		if err != nil {
			return err
		}
		return closeInvite(vw, &inv, st, at, by, keep)
	})
	t.inviteAudit(audit, "invite."+st.verb(), channel, account)
}

func (st InviteStatus) verb() string {
	switch st {
	case InviteAccepted:
		return "accept"
	case InviteDeclined:
		return "decline"
	case InviteRevoked:
		return "revoke"
	}
	return st.String()
}

func (t *Txn) inviteAudit(a AuditEntry, action, channel, account string) {
	if a.Action == "" {
		a.Action = action
	}
	if a.Target == "" {
		a.Target = channel + " " + account
	}
	t.AppendAudit(a)
}

// closeInvite moves a pending invitation to a final state, due for
// deletion keep later.
func closeInvite(vw *views, inv *Invitation, st InviteStatus, at time.Time, by string, keep time.Duration) error {
	if err := vw.del(sweepKey(inv.sweepAt, inv.Channel, inv.Account)); err != nil {
		return err
	}
	if err := countPending(vw, inv.Channel, inv.Account, -1); err != nil {
		return err
	}
	inv.Status, inv.Changed, inv.ChangedBy, inv.sweepAt = st, at, by, at.Add(keep)
	return putInvite(vw, inv)
}

func putInvite(vw *views, inv *Invitation) error {
	if err := vw.set(inviteKey(inv.Channel, inv.Account), inv.appendValue(nil)); err != nil {
		return err
	}
	if err := vw.set(key2(nil, tagAccountInvite, inv.Account, inv.Channel), nil); err != nil {
		return err
	}
	return vw.set(sweepKey(inv.sweepAt, inv.Channel, inv.Account), nil)
}

// deleteInvite deletes an invitation and its index entries.
func deleteInvite(vw *views, inv *Invitation) error {
	if inv.Status == InvitePending {
		if err := countPending(vw, inv.Channel, inv.Account, -1); err != nil {
			return err
		}
	}
	for _, k := range [][]byte{
		inviteKey(inv.Channel, inv.Account),
		key2(nil, tagAccountInvite, inv.Account, inv.Channel),
		sweepKey(inv.sweepAt, inv.Channel, inv.Account),
	} {
		if err := vw.del(k); err != nil {
			return err
		}
	}
	return nil
}

func countPending(vw *views, channel, account string, d int) error {
	if err := addCount(vw, pendingKey('a', account), d); err != nil {
		return err
	}
	return addCount(vw, pendingKey('c', channel), d)
}

func getInvite(vw *views, channel, account string) (Invitation, bool, error) {
	v, found, err := vw.get(inviteKey(channel, account))
	if err != nil || !found {
		return Invitation{}, false, err
	}
	inv, err := decodeInvite(channel, account, v)
	return inv, err == nil, err
}

func has(vw *views, key []byte) (bool, error) {
	_, found, err := vw.get(key)
	return found, err
}

// deleteAccountInvites deletes every invitation of an account (its
// deletion); invitations it sent stay, naming it as their inviter.
func deleteAccountInvites(vw *views, account string) error {
	prefix := prefix2(nil, tagAccountInvite, account)
	keys, err := vw.keys(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		inv, found, err := getInvite(vw, string(k[len(prefix):]), account)
		if err != nil {
			return err
		}
		if found {
			if err := deleteInvite(vw, &inv); err != nil {
				return err
			}
		}
		if err := vw.del(k); err != nil {
			return err
		}
	}
	return vw.del(pendingKey('a', account))
}

// Invite returns one invitation, whatever its status, or ErrNotFound.
func (s *Store) Invite(channel, account string) (Invitation, error) {
	var inv Invitation
	err := s.get(inviteKey(channel, account), func(v []byte) (err error) {
		inv, err = decodeInvite(channel, account, v)
		return err
	})
	return inv, err
}

// InvitesFor returns an account's invitations, pending or not (see
// Invitation.Pending), ordered by channel.
func (s *Store) InvitesFor(account string) ([]Invitation, error) {
	prefix := prefix2(nil, tagAccountInvite, account)
	var channels []string
	err := s.scanPrefix(prefix, func(k, _ []byte) (bool, error) {
		channels = append(channels, string(k[len(prefix):]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	list := make([]Invitation, 0, len(channels))
	for _, ch := range channels {
		inv, err := s.Invite(ch, account)
		if err == ErrNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		list = append(list, inv)
	}
	return list, nil
}

// InvitesTo returns the invitations to a channel, pending or not, ordered
// by account.
func (s *Store) InvitesTo(channel string) ([]Invitation, error) {
	prefix := prefix2(nil, tagInvite, channel)
	var list []Invitation
	err := s.scanPrefix(prefix, func(k, v []byte) (bool, error) {
		inv, err := decodeInvite(channel, string(k[len(prefix):]), v)
		list = append(list, inv)
		return err == nil, err
	})
	return list, err
}

// ScanInvites calls fn with every invitation, pending or not, ordered by
// channel and account, until fn returns false (loading them at start).
func (s *Store) ScanInvites(fn func(Invitation) bool) error {
	return s.scanPrefix([]byte{tagInvite}, func(k, v []byte) (bool, error) {
		channel, account, ok := splitKey2(k[1:])
		if !ok {
			return false, fmt.Errorf("kv: invitation key %q: %w", k, ErrCorrupt)
		}
		inv, err := decodeInvite(string(channel), string(account), v)
		if err != nil {
			return false, err
		}
		return fn(inv), nil
	})
}

// PendingInvites returns how many pending invitations an account has and a
// channel has (what the caps count; expired ones not swept yet included).
func (s *Store) PendingInvites(account, channel string) (forAccount, toChannel int, err error) {
	read := func(k []byte) (n int, err error) {
		err = s.get(k, func(v []byte) (err error) {
			n, err = decodeCount(v)
			return err
		})
		if err == ErrNotFound {
			err = nil
		}
		return n, err
	}
	if forAccount, err = read(pendingKey('a', account)); err != nil {
		return 0, 0, err
	}
	toChannel, err = read(pendingKey('c', channel))
	return forAccount, toChannel, err
}

// ExpireInvites acts on the invitations due at now: pending ones past
// their expiry become expired (freeing their place under the caps), and
// ones in a final state for Options.InviteKeep are deleted. now is the
// caller's clock. It works in bounded batches (at most pruneChunk per
// transaction, each through CommitWait) and returns how many expired and
// how many were deleted; an error stops it and a later call continues.
func (s *Store) ExpireInvites(now time.Time) (expired, deleted int, err error) {
	upper := binary.BigEndian.AppendUint64([]byte{tagInviteDue}, timeOrder(clampKeyTime(now))+1)
	keep := s.opts.InviteKeep
	for {
		var keys [][]byte
		err := s.scan([]byte{tagInviteDue}, upper, false, func(k, _ []byte) (bool, error) {
			keys = append(keys, bytes.Clone(k))
			return len(keys) < pruneChunk, nil
		})
		if err != nil || len(keys) == 0 {
			return expired, deleted, err
		}
		var e, d int
		t := s.NewTxn()
		t.derive(false, func(vw *views) error {
			e, d = 0, 0
			for _, k := range keys {
				if err := vw.del(k); err != nil {
					return err
				}
				if len(k) < 9 {
					continue
				}
				ch, acct, ok := splitKey2(k[9:])
				if !ok {
					continue
				}
				inv, found, err := getInvite(vw, string(ch), string(acct))
				if err != nil || !found || !bytes.Equal(k, sweepKey(inv.sweepAt, inv.Channel, inv.Account)) {
					continue // gone, corrupt, or refreshed since: not this entry's
				}
				if inv.Status == InvitePending {
					if err := closeInvite(vw, &inv, InviteExpired, inv.Expires, "", keep); err != nil {
						return err
					}
					e++
					continue
				}
				if err := deleteInvite(vw, &inv); err != nil {
					return err
				}
				d++
			}
			return nil
		})
		if err := s.CommitWait(t); err != nil {
			return expired, deleted, err
		}
		expired, deleted = expired+e, deleted+d
		if len(keys) < pruneChunk {
			return expired, deleted, nil
		}
	}
}
