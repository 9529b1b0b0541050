package chat

import (
	"time"

	"laird/codec"
)

// RENAME <#old> <#new> [:<reason>] (draft/channel-rename): a channel
// operator renames a channel, which keeps its members, modes, topic, lists
// and metadata; a registered one keeps its registration, access list and
// history too (kv moves what is keyed by the name in one transaction, and
// the history after it, in the background).
//
// The two names usually belong to different shards, so the channel moves
// between them in three steps of the op, each on one shard:
//  1. the new name's shard reserves the name (refused if it is taken or
//     reserved), so that nothing creates it meanwhile;
//  2. the old name's shard checks the requester and takes the channel (and
//     its registration) out of its maps; with a store, the rename is
//     committed before going on (the client is held), and a failed commit
//     puts everything back;
//  3. the new name's shard installs the channel under its new name and
//     tells the members: RENAME to those with the capability, PART and a
//     JOIN burst to the others.
// Between 2 and 3 neither name has the channel: a command for it gets "no
// such channel", a JOIN of the new name is told to try again.
//
// A rename that only changes case stays on its shard and sends no
// PART/JOIN fallback. A channel can be renamed once per renameCooldown.

const renameCooldown = 10 * time.Second

func handleRename(o *op, m *codec.Message) {
	s, c := o.s, o.c
	oldName, newName := string(m.Param(0)), string(m.Param(1))
	reason := ""
	if m.NParams() > 2 {
		reason = truncate(string(m.Param(2)), s.reasonLen())
	}
	fail := func(code, text string) { o.failWith("RENAME", code, text, oldName, newName) }
	if !codec.IsChannelName([]byte(oldName)) {
		o.numeric(codec.ERR_NOSUCHCHANNEL, oldName, "No such channel")
		return
	}
	if !codec.ValidChannel([]byte(newName), s.cfg.ChannelLen) {
		fail("CANNOT_RENAME", "Invalid channel name")
		return
	}
	if oldName[0] != newName[0] {
		fail("CANNOT_RENAME", "A channel's prefix type cannot change")
		return
	}
	oldF, newF := s.cm.Fold(oldName), s.cm.Fold(newName)
	now := time.Now()
	if oldF == newF {
		o.toShard(s.shardOf(oldF), func(sh *shard, b *batch) { sh.renameCase(b, o, oldName, newName, reason, now) })
		return
	}
	from, to := s.shardOf(oldF), s.shardOf(newF)
	var reserved bool
	var mv *channelMove
	o.sequence(func() {
		o.toShard(to, func(sh *shard, b *batch) {
			if sh.channels[newF] != nil || sh.regOf(newF) != nil || sh.reserved[newF] {
				r := sh.replies(c)
				r.failWith("RENAME", "CHANNEL_NAME_IN_USE", "The channel name is already taken", oldName, newName)
				b.reply(o, r)
				return
			}
			if sh.reserved == nil {
				sh.reserved = make(map[string]bool)
			}
			sh.reserved[newF] = true
			reserved = true
		})
	}, func() {
		if !reserved {
			return
		}
		o.toShard(from, func(sh *shard, b *batch) {
			sh.renameDetach(b, o, oldName, oldF, newName, newF, now, func(m *channelMove) { mv = m })
		})
	}, func() {
		if !reserved {
			return
		}
		o.toShard(to, func(sh *shard, b *batch) {
			delete(sh.reserved, newF)
			if mv != nil {
				sh.renameInstall(b, o, mv, newName, newF, reason, now)
			}
		})
	})
}

// channelMove is a channel between its two shards.
type channelMove struct {
	ch      *Channel
	rc      *regChan
	oldName string // the name it had, as shown
}

// renameDetach is step 2 on the old name's shard: it reports the moving
// channel through done (nothing when the rename is refused or failed).
func (sh *shard) renameDetach(b *batch, o *op, oldName, oldF, newName, newF string, now time.Time, done func(*channelMove)) {
	s := sh.srv
	isOp := func(_ *Channel, mb *Member) bool { return mb.modes&memberOp != 0 }
	ch, ok := sh.memberChannel(b, o, oldName, oldF, isOp)
	if !ok {
		return
	}
	refuse := func(text string) {
		r := sh.replies(o.c)
		r.failWith("RENAME", "CANNOT_RENAME", text, ch.name, newName)
		b.reply(o, r)
	}
	if now.Sub(ch.renamedAt) < renameCooldown {
		refuse("This channel has been renamed recently")
		return
	}
	rc := sh.regOf(oldF)
	if rc != nil && rc.busy {
		refuse("A change of this channel is being saved; try again")
		return
	}
	mv := &channelMove{ch: ch, rc: rc, oldName: ch.name}
	sh.renameTake(mv, oldF)
	if s.store == nil {
		done(mv)
		return
	}
	t := s.store.NewTxn()
	t.RenameChannel(oldF, newF, newName)
	sh.hold(b, o)
	committed := func(err error) {
		s.post(sh.id, func(sh *shard, b *batch) {
			if err != nil {
				s.log.Error("channel rename not saved", "channel", oldF, "to", newF, "err", err)
				sh.renamePutBack(mv, oldF)
				refuse("The rename could not be saved: " + storeFailText(err))
			} else {
				done(mv)
				s.moveRenamedHistory()
			}
			sh.release(b, o)
		})
	}
	if err := s.store.Commit(t, committed); err != nil {
		committed(err)
	}
}

// renameTake removes a moving channel (and its registration) from the
// shard's maps; renamePutBack undoes it.
func (sh *shard) renameTake(mv *channelMove, oldF string) {
	delete(sh.channels, oldF)
	if mv.rc != nil {
		delete(sh.registered, oldF)
	}
}

func (sh *shard) renamePutBack(mv *channelMove, oldF string) {
	if sh.channels[oldF] == nil {
		sh.channels[oldF] = mv.ch
	}
	if mv.rc != nil {
		sh.registered[oldF] = mv.rc
	}
}

// renameInstall is step 3 on the new name's shard.
func (sh *shard) renameInstall(b *batch, o *op, mv *channelMove, newName, newF, reason string, now time.Time) {
	ch, oldF := mv.ch, mv.ch.folded
	ch.name, ch.folded, ch.renamedAt = newName, newF, now
	sh.channels[newF] = ch
	if mv.rc != nil {
		mv.rc.rec.Name, mv.rc.rec.DisplayName = newF, newName
		if sh.registered == nil {
			sh.registered = make(map[string]*regChan)
		}
		sh.registered[newF] = mv.rc
	}
	// Members that left while the channel was between shards left it
	// everywhere but here.
	for i := len(ch.members) - 1; i >= 0; i-- {
		if u := ch.members[i].u; !u.present() {
			sh.removeMember(ch, u)
		}
	}
	if len(ch.members) == 0 {
		return // removeMember dropped it
	}
	for _, mb := range ch.members {
		mb.u.removeChannel(oldF)
		mb.u.addChannel(newF)
	}
	by := o.c.Identity()
	line := appendCmd(nil, by.Prefix, "RENAME", true, mv.oldName, newName, reason)
	for _, mb := range ch.members {
		for _, sess := range mb.u.sessionList() {
			out := line
			if !sess.Has(CapChannelRename) {
				out = ch.renameFallback(sess, mb, mv.oldName, reason)
			}
			if sess == o.c {
				b.replyLine(o, out)
			} else {
				b.send(sess, out)
			}
		}
	}
}

// renameCase changes only the case of a channel's name: a registered
// channel's display name is saved first; members with the capability are
// told, the others see the new case in later lines.
func (sh *shard) renameCase(b *batch, o *op, oldName, newName, reason string, now time.Time) {
	isOp := func(_ *Channel, mb *Member) bool { return mb.modes&memberOp != 0 }
	ch, ok := sh.memberChannel(b, o, oldName, sh.srv.cm.Fold(oldName), isOp)
	if !ok {
		return
	}
	if now.Sub(ch.renamedAt) < renameCooldown {
		r := sh.replies(o.c)
		r.failWith("RENAME", "CANNOT_RENAME", "This channel has been renamed recently", ch.name, newName)
		b.reply(o, r)
		return
	}
	announce := func(b *batch, ch *Channel) {
		if ch == nil {
			return
		}
		old := ch.name
		ch.name, ch.renamedAt = newName, now
		line := appendCmd(nil, o.c.Identity().Prefix, "RENAME", true, old, newName, reason)
		for _, mb := range ch.members {
			for _, sess := range mb.u.sessionList() {
				if !sess.Has(CapChannelRename) {
					continue
				}
				if sess == o.c {
					b.replyLine(o, line)
				} else {
					b.send(sess, line)
				}
			}
		}
	}
	rc := sh.regOf(ch.folded)
	if rc == nil || sh.srv.store == nil {
		announce(b, ch)
		return
	}
	if sh.regWait(b, o, ch.folded, func(sh *shard, b *batch) { sh.renameCase(b, o, oldName, newName, reason, now) }) {
		return
	}
	rec := rc.rec
	rec.DisplayName = newName
	sh.regCommit(b, o, ch.folded, rec, announce, func(b *batch, err error) {
		r := sh.replies(o.c)
		r.failWith("RENAME", "CANNOT_RENAME", "The rename could not be saved: "+storeFailText(err), oldName, newName)
		b.reply(o, r)
	})
}

// renameFallback is what a session without draft/channel-rename sees of a
// rename: its user PARTs the old name and JOINs the new one, with the
// topic and NAMES a JOIN brings.
func (ch *Channel) renameFallback(sess *Client, mb *Member, oldName, reason string) []byte {
	id := mb.u.Identity()
	var out []byte
	if reason != "" {
		out = appendCmd(out, id.Prefix, "PART", true, oldName, reason)
	} else {
		out = appendCmd(out, id.Prefix, "PART", false, oldName)
	}
	if sess.Has(CapExtendedJoin) {
		account := id.Account
		if account == "" {
			account = "*"
		}
		out = appendCmd(out, id.Prefix, "JOIN", true, ch.name, account, id.Realname)
	} else {
		out = appendCmd(out, id.Prefix, "JOIN", false, ch.name)
	}
	r := sess.replies()
	if ch.topic != "" {
		ch.topicReplies(r)
	}
	if !sess.noImplicitNames() {
		ch.namesReplies(r, sess)
	}
	out = append(out, r.buf...)
	putReplies(r)
	return out
}

// moveRenamedHistory moves renamed channels' history to their new names
// in the background, one mover at a time (kv.Store.MoveRenamedHistory
// blocks). A rename while it runs is picked up by the same run.
func (s *Server) moveRenamedHistory() {
	if s.store == nil || !s.historyMover.CompareAndSwap(false, true) {
		s.historyMoveAgain.Store(true)
		return
	}
	go func() {
		for {
			s.historyMoveAgain.Store(false)
			if n, err := s.store.MoveRenamedHistory(); err != nil {
				s.log.Warn("moving renamed channel history stopped; it continues at the next rename or start", "moved", n, "err", err)
			}
			s.historyMover.Store(false)
			if !s.historyMoveAgain.Load() || !s.historyMover.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}
