package chat

import (
	"errors"
	"strings"
	"time"

	"laird/kv"
)

// Registered channels. The shard owning a channel also owns its
// registration (shard.registered): the durable record as last committed
// and the access list, loaded from the store at Start. The live Channel
// comes and goes with its members; an empty registered channel is
// recreated from the record on the next JOIN.
//
// A change of a registered channel's persistent state (topic, flag modes,
// key, limit, ban/exception/invite-exception lists) is acknowledged only
// once durable: the command applies it in memory as usual, then the
// channel is put back to the durable record, the new record is committed
// and the client is held (hold.go); when the commit succeeds the shard
// applies the record and sends the MODE/TOPIC lines, when it fails the
// client gets FAIL ... TEMPORARILY_UNAVAILABLE and nothing changed. One
// commit per channel is in flight at a time (regChan.busy): later changes
// wait, so each record is computed from the one before it and no
// acknowledged change is lost. Invariant: while a registration is not busy,
// its live channel's persistent state equals rec.

// regChan is a registered channel as its shard knows it. Shard only.
type regChan struct {
	rec     kv.Channel          // durable state, as last committed
	access  map[string]kv.Level // by casefolded account
	busy    bool                // a change of rec is being committed
	waiting []func(sh *shard, b *batch)
	meta    metaList // the channel's stored metadata (metadata.go)
}

// loadRegistered reads every registered channel and its access list into
// the owning shards. Start calls it before the shards run; a store that
// cannot be read leaves chat working without them (logged).
func (s *Server) loadRegistered() {
	if s.store == nil {
		return
	}
	var recs []kv.Channel
	err := s.store.ScanChannels(func(ch kv.Channel) bool {
		recs = append(recs, ch)
		return true
	})
	if err != nil {
		s.log.Error("cannot load registered channels", "err", err)
	}
	for _, rec := range recs {
		rc := &regChan{rec: rec, access: make(map[string]kv.Level)}
		list, err := s.store.Access(rec.Name)
		if err != nil {
			s.log.Error("cannot load a channel's access list", "channel", rec.Name, "err", err)
		}
		for _, a := range list {
			rc.access[a.Account] = a.Level
		}
		meta, err := s.store.Metadata(kv.ChannelMetadata(rec.Name))
		if err != nil {
			s.log.Error("cannot load a channel's metadata", "channel", rec.Name, "err", err)
		}
		rc.meta = fromKVMeta(meta)
		sh := s.shards[s.shardOf(rec.Name)]
		if sh.registered == nil {
			sh.registered = make(map[string]*regChan)
		}
		sh.registered[rec.Name] = rc
	}
	if len(recs) > 0 {
		s.log.Info("registered channels loaded", "count", len(recs))
	}
}

func (sh *shard) regOf(folded string) *regChan {
	if sh.registered == nil {
		return nil
	}
	return sh.registered[folded]
}

// persistentModes renders a channel's flag modes ("nt"), as 324 shows them.
func persistentModes(ch *Channel) string {
	return strings.Map(func(r rune) rune {
		if r == '+' || r == 'k' || r == 'l' {
			return -1
		}
		return r
	}, ch.modeParams(true)[1])
}

// recordOf returns base with ch's persistent state.
func recordOf(ch *Channel, base kv.Channel) kv.Channel {
	rec := base
	rec.Topic, rec.TopicSetBy, rec.TopicSetAt = ch.topic, ch.topicBy, ch.topicAt
	rec.Modes = persistentModes(ch)
	rec.Key, rec.Limit = ch.key, ch.limit
	rec.Bans, rec.Excepts, rec.Invex = toKVList(ch.bans), toKVList(ch.excepts), toKVList(ch.invex)
	return rec
}

// applyRecord sets ch's persistent state from rec.
func applyRecord(ch *Channel, rec *kv.Channel) {
	ch.topic, ch.topicBy, ch.topicAt = rec.Topic, rec.TopicSetBy, rec.TopicSetAt
	ch.modes = 0
	for i := 0; i < len(rec.Modes); i++ {
		ch.modes |= flagMode(rec.Modes[i])
	}
	ch.key, ch.limit = rec.Key, rec.Limit
	ch.bans, ch.excepts, ch.invex = fromKVList(rec.Bans), fromKVList(rec.Excepts), fromKVList(rec.Invex)
}

func toKVList(l []listEntry) []kv.ListEntry {
	if len(l) == 0 {
		return nil
	}
	out := make([]kv.ListEntry, len(l))
	for i, e := range l {
		out[i] = kv.ListEntry{Mask: e.mask, SetBy: e.setBy, SetAt: e.setAt}
	}
	return out
}

func fromKVList(l []kv.ListEntry) []listEntry {
	if len(l) == 0 {
		return nil
	}
	out := make([]listEntry, len(l))
	for i, e := range l {
		out[i] = listEntry{mask: e.Mask, setBy: e.SetBy, setAt: e.SetAt}
	}
	return out
}

// samePersistent compares the persistent state of two records.
func samePersistent(a, b *kv.Channel) bool {
	if a.Topic != b.Topic || a.TopicSetBy != b.TopicSetBy || !a.TopicSetAt.Equal(b.TopicSetAt) ||
		a.Modes != b.Modes || a.Key != b.Key || a.Limit != b.Limit {
		return false
	}
	return sameList(a.Bans, b.Bans) && sameList(a.Excepts, b.Excepts) && sameList(a.Invex, b.Invex)
}

func sameList(a, b []kv.ListEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Mask != b[i].Mask || a[i].SetBy != b[i].SetBy || !a[i].SetAt.Equal(b[i].SetAt) {
			return false
		}
	}
	return true
}

// JOIN hooks (join.go).

// regChannel recreates an empty registered channel from its record and
// adds it to the shard, or returns nil for a channel that is not
// registered. The caller removes it again (regDropIfEmpty) if the join is
// refused.
func (sh *shard) regChannel(name, folded string) *Channel {
	rc := sh.regOf(folded)
	if rc == nil {
		return nil
	}
	if rc.rec.DisplayName != "" {
		name = rc.rec.DisplayName
	}
	ch := newChannel(name, folded, rc.rec.Created)
	applyRecord(ch, &rc.rec)
	ch.meta = rc.meta
	sh.channels[folded] = ch
	sh.srv.channels.Add(1)
	return ch
}

// regDropIfEmpty undoes regChannel when nobody got in.
func (sh *shard) regDropIfEmpty(ch *Channel) {
	if len(ch.members) == 0 && sh.channels[ch.folded] == ch {
		delete(sh.channels, ch.folded)
		sh.srv.channels.Add(-1)
	}
}

// levelOf returns the access level of the client with identity id.
func (rc *regChan) levelOf(s *Server, id *Identity) kv.Level {
	if rc == nil || id.Account == "" {
		return 0
	}
	return rc.access[s.cm.Fold(id.Account)]
}

// regJoinModes returns the member modes a joiner gets: on a registered
// channel those of its access level (and no op for merely being first).
func (sh *shard) regJoinModes(ch *Channel, id *Identity, modes memberModes) memberModes {
	rc := sh.regOf(ch.folded)
	if rc == nil {
		return modes
	}
	switch lvl := rc.levelOf(sh.srv, id); {
	case lvl >= kv.LevelHalfOp:
		return memberOp
	case lvl >= kv.LevelVoice:
		return memberVoice
	}
	return 0
}

// regExempt reports whether the joiner's access (op or founder) lets it in
// past +k, +l, +i and bans.
func (sh *shard) regExempt(ch *Channel, id *Identity) bool {
	return sh.regOf(ch.folded).levelOf(sh.srv, id) >= kv.LevelOp
}

// regAnnounce tells the members (the joiner included) which modes a
// joiner got from the access list, as a MODE from ChanServ.
func (sh *shard) regAnnounce(b *batch, ch *Channel, c *Client, modes memberModes, now time.Time) {
	if modes == 0 || sh.regOf(ch.folded) == nil {
		return
	}
	letters := ""
	var args []string
	nick := c.Nick()
	if modes&memberOp != 0 {
		letters += "o"
		args = append(args, nick)
	}
	if modes&memberVoice != 0 {
		letters += "v"
		args = append(args, nick)
	}
	msg := &outMsg{source: sh.srv.serviceSource(chanServ), command: "MODE",
		params: append([]string{ch.name, "+" + letters}, args...), plainLast: true, at: now}
	sh.historyEvent(ch, msg)
	msg.toMembers(b, ch, nil)
}

// Persisting changes (mode.go, topic.go).

// regWait defers a client's MODE or TOPIC on a registered channel while a
// change of it is being committed; fn reruns the command. It reports
// whether it deferred.
func (sh *shard) regWait(b *batch, o *op, folded string, fn func(sh *shard, b *batch)) bool {
	rc := sh.regOf(folded)
	if rc == nil || !rc.busy {
		return false
	}
	sh.hold(b, o)
	rc.waiting = append(rc.waiting, func(sh *shard, b *batch) {
		if o.c.registeredShared() { // not if the client quit meanwhile (see release)
			fn(sh, b)
		}
		sh.release(b, o)
	})
	return true
}

// regWhenIdle runs fn now, or once the registration's commit in flight is
// done.
func (sh *shard) regWhenIdle(b *batch, folded string, fn func(sh *shard, b *batch)) {
	if rc := sh.regOf(folded); rc != nil && rc.busy {
		rc.waiting = append(rc.waiting, fn)
		return
	}
	fn(sh, b)
}

// regIdle ends a registration's busy state and runs what waited for it,
// until one of them starts a commit again.
func (sh *shard) regIdle(b *batch, rc *regChan) {
	rc.busy = false
	for !rc.busy && len(rc.waiting) > 0 {
		fn := rc.waiting[0]
		rc.waiting[0] = nil
		rc.waiting = rc.waiting[1:]
		fn(sh, b)
	}
}

// regCommit makes rec the channel's durable state. The live channel is
// already back at the old record (the invariant); on success rec is
// applied to it and emit runs, on failure fail runs. o, when set, is held
// until then.
func (sh *shard) regCommit(b *batch, o *op, folded string, rec kv.Channel,
	emit func(b *batch, ch *Channel), fail func(b *batch, err error)) {
	s := sh.srv
	rc := sh.regOf(folded)
	rc.busy = true
	if o != nil {
		sh.hold(b, o)
	}
	t := s.store.NewTxn()
	t.RequireChannel(folded)
	t.PutChannel(rec)
	committed := func(err error) {
		s.post(sh.id, func(sh *shard, b *batch) { sh.regCommitted(b, o, rc, rec, err, emit, fail) })
	}
	if err := s.store.Commit(t, committed); err != nil {
		sh.regCommitted(b, o, rc, rec, err, emit, fail)
	}
}

func (sh *shard) regCommitted(b *batch, o *op, rc *regChan, rec kv.Channel, err error,
	emit func(b *batch, ch *Channel), fail func(b *batch, err error)) {
	ch := sh.channels[rec.Name]
	if err == nil {
		rc.rec = rec
		if ch != nil {
			applyRecord(ch, &rec)
		}
		if emit != nil {
			emit(b, ch)
		}
	} else {
		sh.srv.log.Error("registered channel change not saved", "channel", rec.Name, "err", err)
		if fail != nil {
			fail(b, err)
		}
	}
	if o != nil {
		sh.release(b, o)
	}
	sh.regIdle(b, rc)
}

// regSaveLive persists a live channel whose state drifted from its record
// (changes made while its registration was being committed).
func (sh *shard) regSaveLive(b *batch, rc *regChan) {
	ch := sh.channels[rc.rec.Name]
	if ch == nil {
		return
	}
	rec := recordOf(ch, rc.rec)
	if samePersistent(&rec, &rc.rec) {
		return
	}
	applyRecord(ch, &rc.rec)
	sh.regCommit(b, nil, rc.rec.Name, rec, nil, nil)
}

// storeFailText is the client-facing text for a write that failed.
func storeFailText(err error) string {
	if errors.Is(err, kv.ErrDiskFull) {
		return "The server's storage is full; try again later"
	}
	if kv.Temporary(err) {
		return "The server cannot save this right now; try again later"
	}
	return "The change could not be saved"
}

// regModes takes over a MODE on a registered channel whose persistent
// state it changed (already applied to ch, errors in r): it commits first
// and answers after. It reports false when there is nothing to persist
// (member modes only, or the channel is not registered).
func (sh *shard) regModes(b *batch, o *op, ch *Channel, changes []modeChange, r *replies, now time.Time) bool {
	c := o.c
	rc := sh.regOf(ch.folded)
	if rc == nil {
		return false
	}
	rec := recordOf(ch, rc.rec)
	if samePersistent(&rec, &rc.rec) {
		return false
	}
	applyRecord(ch, &rc.rec)
	saved := savedReplies{buf: append([]byte(nil), r.buf...), starts: append([]int(nil), r.starts...)}
	id := c.Identity()
	send := func(b *batch, ch *Channel, changes []modeChange, failText string) {
		out := sh.replies(c)
		saved.into(out)
		if ch != nil && len(changes) > 0 {
			msg := &outMsg{source: id.Prefix, command: "MODE", params: modeLine(ch.name, changes), plainLast: true, at: now, account: id.Account}
			sh.historyEvent(ch, msg)
			msg.toMembers(b, ch, c)
			out.begin()
			out.buf = msg.appendVariant(out.buf, msg.variantOf(c))
		}
		if failText != "" {
			out.fail("MODE", "TEMPORARILY_UNAVAILABLE", rc.rec.DisplayName, failText)
		}
		b.reply(o, out)
	}
	sh.regCommit(b, o, ch.folded, rec, func(b *batch, ch *Channel) {
		send(b, ch, changes, "")
	}, func(b *batch, err error) {
		// Member modes took effect; only they are announced.
		var kept []modeChange
		for _, m := range changes {
			if m.mode == 'o' || m.mode == 'v' {
				kept = append(kept, m)
			}
		}
		send(b, sh.channels[ch.folded], kept, "Channel modes not saved: "+storeFailText(err))
	})
	return true
}

// regTopic takes over a TOPIC change on a registered channel: commit
// first, then announce. It reports false for a channel that is not
// registered.
func (sh *shard) regTopic(b *batch, o *op, ch *Channel, topic string, now time.Time) bool {
	c := o.c
	rc := sh.regOf(ch.folded)
	if rc == nil {
		return false
	}
	id := c.Identity()
	rec := rc.rec
	rec.Topic, rec.TopicSetBy, rec.TopicSetAt = topic, id.Prefix, now
	sh.regCommit(b, o, ch.folded, rec, func(b *batch, ch *Channel) {
		if ch == nil {
			return
		}
		msg := &outMsg{source: id.Prefix, command: "TOPIC", params: []string{ch.name, topic}, at: now, account: id.Account}
		sh.historyEvent(ch, msg)
		msg.toMembers(b, ch, c)
		msg.echo(b, o)
	}, func(b *batch, err error) {
		r := sh.replies(c)
		r.fail("TOPIC", "TEMPORARILY_UNAVAILABLE", rc.rec.DisplayName, "Topic not saved: "+storeFailText(err))
		b.reply(o, r)
	})
	return true
}

// savedReplies keeps a replies' lines past the pooled value's life.
type savedReplies struct {
	buf    []byte
	starts []int
}

func (sr savedReplies) into(r *replies) {
	base := len(r.buf)
	r.buf = append(r.buf, sr.buf...)
	for _, s := range sr.starts {
		r.starts = append(r.starts, base+s)
	}
}

// forgetAccountAccess drops a deleted account's access entries from every
// shard's registrations (the store already deleted them).
func (s *Server) forgetAccountAccess(folded string) {
	for i := range s.shards {
		s.post(i, func(sh *shard, _ *batch) {
			for _, rc := range sh.registered {
				delete(rc.access, folded)
			}
		})
	}
}
