package kv

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Renaming a channel (draft/channel-rename). What is keyed by the channel
// moves in the rename's own transaction: its registration and access list,
// metadata, invitations and always-on members. History may be long, so it
// moves afterwards in bounded batches: the rename leaves a marker
//
//	R old 0 time seq   new name: move old's entries up to (time, seq) to new
//
// in the same transaction, and MoveRenamedHistory moves pruneChunk entries
// per transaction until the marker is gone. Open resumes markers left by a
// crash. Entries appended to the old name after the rename (a new channel
// of that name) are after the marker's bound and stay. Until the move is
// done, a query on the new name misses the entries not moved yet.

// RenameChannel renames a channel, registered or not, to newName (display
// form newDisplay); see above for what moves. The transaction fails with a
// *ConditionError (ErrExists) if a channel named newName is registered.
// Read markers on the channel are kept per account and do not move.
func (t *Txn) RenameChannel(oldName, newName, newDisplay string) {
	if !t.ok("channel name", oldName, "channel name", newName) {
		return
	}
	if oldName == newName {
		t.setErr(fmt.Errorf("%w: rename of %q to itself", ErrInvalid, oldName))
		return
	}
	t.RequireNoChannel(newName)
	t.derive(true, func(vw *views) error { return renameChannel(vw, oldName, newName, newDisplay) })
	t.RenameHistory(oldName, newName)
}

func renameChannel(vw *views, oldName, newName, newDisplay string) error {
	if v, found, err := vw.get(key1(nil, tagChannel, oldName)); err != nil {
		return err
	} else if found {
		c, err := decodeChannel(newName, v)
		if err != nil {
			return err
		}
		c.DisplayName = newDisplay
		if err := vw.set(key1(nil, tagChannel, newName), c.appendValue(nil)); err != nil {
			return err
		}
		if err := vw.del(key1(nil, tagChannel, oldName)); err != nil {
			return err
		}
	}
	if err := moveKeyed(vw, tagAccess, tagAccountAccess, oldName, newName); err != nil {
		return err
	}
	if err := renameAlwaysOn(vw, oldName, newName, newDisplay); err != nil {
		return err
	}
	if err := movePrefix(vw, ChannelMetadata(oldName).prefix(), ChannelMetadata(newName).prefix()); err != nil {
		return err
	}
	return renameInvites(vw, oldName, newName, newDisplay)
}

// moveKeyed moves "tag old 0 x" to "tag new 0 x" and the reverse entries
// "rtag x 0 old" to "rtag x 0 new", values unchanged.
func moveKeyed(vw *views, tag, rtag byte, oldName, newName string) error {
	prefix := prefix2(nil, tag, oldName)
	var keys, vals [][]byte
	err := vw.scan(prefix, prefixEnd(prefix), func(k, v []byte) (bool, error) {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
		return true, nil
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		x := string(k[len(prefix):])
		rv, _, err := vw.get(key2(nil, rtag, x, oldName))
		if err != nil {
			return err
		}
		for _, e := range []error{
			vw.del(k), vw.set(key2(nil, tag, newName, x), vals[i]),
			vw.del(key2(nil, rtag, x, oldName)), vw.set(key2(nil, rtag, x, newName), rv),
		} {
			if e != nil {
				return e
			}
		}
	}
	return nil
}

func renameAlwaysOn(vw *views, oldName, newName, newDisplay string) error {
	prefix := prefix2(nil, tagChannelAlwaysOn, oldName)
	keys, err := vw.keys(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		acct := string(k[len(prefix):])
		jk := key2(nil, tagAlwaysOn, acct, oldName)
		v, _, err := vw.get(jk)
		if err != nil {
			return err
		}
		c, _ := decodeAlwaysOn(newName, v) // an undecodable one is rewritten with what is known
		c.Channel, c.Name = newName, newDisplay
		for _, e := range []error{
			vw.del(jk), vw.del(k),
			vw.set(key2(nil, tagAlwaysOn, acct, newName), c.appendValue(nil)),
			vw.set(key2(nil, tagChannelAlwaysOn, newName, acct), nil),
		} {
			if e != nil {
				return e
			}
		}
	}
	return nil
}

// movePrefix moves every key under one prefix to another.
func movePrefix(vw *views, from, to []byte) error {
	var keys, vals [][]byte
	err := vw.scan(from, prefixEnd(from), func(k, v []byte) (bool, error) {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
		return true, nil
	})
	if err != nil {
		return err
	}
	for i, k := range keys {
		if err := vw.set(append(bytes.Clone(to), k[len(from):]...), vals[i]); err != nil {
			return err
		}
	}
	return vw.delPrefix(from)
}

func renameInvites(vw *views, oldName, newName, newDisplay string) error {
	prefix := prefix2(nil, tagInvite, oldName)
	keys, err := vw.keys(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		inv, found, err := getInvite(vw, oldName, string(k[len(prefix):]))
		if err != nil || !found {
			return err
		}
		if err := deleteInvite(vw, &inv); err != nil {
			return err
		}
		inv.Channel, inv.ChannelName = newName, newDisplay
		if inv.Status == InvitePending {
			if err := countPending(vw, newName, inv.Account, 1); err != nil {
				return err
			}
		}
		if err := putInvite(vw, &inv); err != nil {
			return err
		}
	}
	return nil
}

// RenameHistory moves a target's history to a new name (RenameChannel does
// it for channels): the entries there now move in bounded batches after the
// commit (see MoveRenamedHistory); later appends to either name stay where
// they are appended. A pending move to oldName is redirected to newName.
func (t *Txn) RenameHistory(oldName, newName string) {
	if !t.ok("history target", oldName, "history target", newName) {
		return
	}
	t.derive(true, func(vw *views) error {
		// Redirect pending moves into oldName.
		var redirect [][]byte
		err := vw.scan([]byte{tagRename}, []byte{tagRename + 1}, func(k, v []byte) (bool, error) {
			if string(v) == oldName {
				redirect = append(redirect, bytes.Clone(k))
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range redirect {
			if err := vw.set(k, []byte(newName)); err != nil {
				return err
			}
		}
		// The bound: oldName's last entry now.
		h := newHistRange(oldName)
		var last []byte
		it, err := vw.of(h.lower).NewIter(nil)
		if err != nil {
			return err
		}
		if it.SeekLT(h.upper) && bytes.HasPrefix(it.Key(), h.prefix) {
			last = bytes.Clone(it.Key()[len(h.prefix):])
		}
		if err := it.Close(); err != nil {
			return err
		}
		if len(last) != timeSeqLen {
			return nil // nothing to move
		}
		return vw.set(append(prefix2(nil, tagRename, oldName), last...), []byte(newName))
	})
}

// MoveRenamedHistory moves renamed history (see RenameChannel) until no
// rename is pending, at most pruneChunk entries per transaction, each
// through CommitWait, and returns how many entries it moved. An error
// stops it; a later call (or the next Open) continues. It blocks: not for
// event loops or shards. Open runs it in the background for renames a
// crash interrupted.
func (s *Store) MoveRenamedHistory() (int, error) {
	total := 0
	for {
		var marker []byte
		err := s.scan([]byte{tagRename}, []byte{tagRename + 1}, false, func(k, _ []byte) (bool, error) {
			marker = bytes.Clone(k)
			return false, nil
		})
		if err != nil || marker == nil {
			return total, err
		}
		n := 0
		t := s.NewTxn()
		chunk := pruneChunk
		t.derive(true, func(vw *views) error {
			var err error
			n, err = moveHistoryChunk(vw, marker, chunk)
			return err
		})
		if err := s.CommitWait(t); err != nil {
			return total, err
		}
		total += n
	}
}

// moveHistoryChunk moves up to max entries for one rename marker and
// deletes the marker once nothing is left to move.
func moveHistoryChunk(vw *views, marker []byte, max int) (int, error) {
	dest, found, err := vw.get(marker)
	if err != nil || !found {
		return 0, err
	}
	oldName, bound, ok := splitKey2(marker[1:])
	if !ok || len(bound) != timeSeqLen {
		return 0, vw.del(marker) // undecodable: nothing it could move
	}
	from := newHistRange(string(oldName))
	to := prefix2(nil, tagHistory, string(dest))
	upper := append(append(bytes.Clone(from.prefix), bound...), 0)
	type entry struct{ suffix, val []byte }
	var moving []entry
	err = vw.scan(from.lower, upper, func(k, v []byte) (bool, error) {
		moving = append(moving, entry{bytes.Clone(k[len(from.prefix):]), bytes.Clone(v)})
		return len(moving) < max, nil
	})
	if err != nil {
		return 0, err
	}
	for _, e := range moving {
		if err := vw.del(append(bytes.Clone(from.prefix), e.suffix...)); err != nil {
			return 0, err
		}
		if err := vw.set(append(bytes.Clone(to), e.suffix...), e.val); err != nil {
			return 0, err
		}
		if id := msgIDOf(e.val); id != "" {
			if err := vw.del(key2(nil, tagMsgID, string(oldName), id)); err != nil {
				return 0, err
			}
			if err := vw.set(key2(nil, tagMsgID, string(dest), id), e.suffix); err != nil {
				return 0, err
			}
		}
	}
	if len(moving) < max {
		return len(moving), vw.del(marker)
	}
	return len(moving), nil
}

// resumeRenames moves history of renames a crash interrupted, in the
// background, logging the outcome.
func (s *Store) resumeRenames() {
	var pending bool
	if err := s.scan([]byte{tagRename}, []byte{tagRename + 1}, false, func(_, _ []byte) (bool, error) {
		pending = true
		return false, nil
	}); err != nil || !pending || s.opts.ReadOnly {
		return
	}
	s.bg.Go(func() {
		start := time.Now()
		n, err := s.MoveRenamedHistory()
		if errors.Is(err, ErrClosed) {
			s.log.Info("moving renamed channel history interrupted by Close; the next start continues", "moved", n)
			return
		}
		if err != nil {
			s.log.Warn("moving renamed channel history stopped; the next start continues", "moved", n, "err", err)
			return
		}
		s.log.Info("moved renamed channel history", "entries", n, "took", time.Since(start).Round(time.Millisecond))
	})
}
