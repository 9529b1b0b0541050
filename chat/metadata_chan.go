package chat

import (
	"strconv"

	"laird/kv"
)

// Channel metadata (see metadata.go), on the channel's shard.

// channelMetadata runs a METADATA subcommand on a channel: members read,
// channel operators (and server operators) change.
func (sh *shard) channelMetadata(b *batch, o *op, target, folded, sub string, args []string) {
	s, c := sh.srv, o.c
	r := sh.replies(c)
	defer func() {
		if r != nil {
			b.reply(o, r)
		}
	}()
	ch := sh.channels[folded]
	if ch == nil {
		r.failWith("METADATA", "INVALID_TARGET", "No such channel", target)
		return
	}
	name := ch.name
	mb := ch.member(c.user())
	oper := c.Identity().Modes&UModeOper != 0
	if mb == nil && !oper {
		key := "*"
		if sub == "SET" && len(args) > 0 {
			key = args[0]
		}
		r.failWith("METADATA", "KEY_NO_PERMISSION", "You are not on that channel", name, key)
		return
	}
	switch sub {
	case "GET":
		metaGetReplies(s, r, c, name, ch.meta, args)
	case "LIST":
		metaListReplies(s, r, c, name, ch.meta)
	case "SYNC":
		metaBatch(s, r, c, "metadata", name, func(in *replies) { ch.metaSync(in, c) })
	case "SET", "CLEAR":
		key, value := "*", ""
		if sub == "SET" {
			key = args[0]
			if len(args) > 1 {
				value = args[1]
			}
			if !validMetaKey(key) {
				r.failWith("METADATA", "INVALID_KEY", "Invalid key", key)
				return
			}
		}
		if !oper && mb.modes&memberOp == 0 {
			r.failWith("METADATA", "KEY_NO_PERMISSION", "You're not channel operator", name, key)
			return
		}
		if sub == "SET" && !checkMetaSet(s, r, key, value) {
			return
		}
		if _, set := ch.meta.get(key); sub == "SET" && !set && value != "" && len(ch.meta) >= s.cfg.Metadata.MaxKeys {
			r.failWith("METADATA", "LIMIT_REACHED", "Too many metadata keys", name, strconv.Itoa(s.cfg.Metadata.MaxKeys))
			return
		}
		putReplies(r)
		r = nil
		sh.changeChannelMeta(b, o, folded, sub == "CLEAR", key, value)
	}
}

// changeChannelMeta applies a SET (value "" deletes) or a CLEAR to a
// channel: a registered channel's is stored first, o held meanwhile.
func (sh *shard) changeChannelMeta(b *batch, o *op, folded string, clear bool, key, value string) {
	s := sh.srv
	rc := sh.regOf(folded)
	if rc == nil || s.store == nil {
		sh.applyChannelMeta(b, o, folded, clear, key, value)
		return
	}
	t := s.store.NewTxn()
	owner := kv.ChannelMetadata(folded)
	switch {
	case clear:
		t.ClearMetadata(owner)
	case value == "":
		t.DeleteMetadata(owner, key)
	default:
		t.SetMetadata(owner, kv.MetadataEntry{Key: key, Value: value, Visibility: "*"})
	}
	sh.hold(b, o)
	done := func(err error) {
		s.post(sh.id, func(sh *shard, b *batch) {
			if err != nil {
				r := sh.replies(o.c)
				metaStoreFail(r, err, rc.rec.DisplayName, key)
				b.reply(o, r)
			} else {
				sh.applyChannelMeta(b, o, folded, clear, key, value)
			}
			sh.release(b, o)
		})
	}
	if err := s.store.Commit(t, done); err != nil {
		done(err)
	}
}

// applyChannelMeta makes a change live (and, for a registered channel,
// part of its stored state), answers o and tells the subscribed members.
func (sh *shard) applyChannelMeta(b *batch, o *op, folded string, clear bool, key, value string) {
	s, c := sh.srv, o.c
	ch := sh.channels[folded]
	var meta *metaList
	name := folded
	if ch != nil {
		meta, name = &ch.meta, ch.name
	}
	rc := sh.regOf(folded)
	var old metaList
	if meta != nil {
		old = *meta
	} else if rc != nil {
		old = rc.meta
	}
	next := metaList(nil)
	switch {
	case clear:
	case value == "":
		next = old.without(key)
	default:
		next = old.with(key, value)
	}
	if meta != nil {
		*meta = next
	}
	if rc != nil {
		rc.meta = next
	}
	r := sh.replies(c)
	notify := func(key string, line []byte) {
		if ch == nil {
			return
		}
		off, end := b.appendLine(line)
		for _, mb := range ch.members {
			for _, sess := range mb.u.sessionList() {
				if sess != c && sess.wantsMeta(key) {
					b.sendSpan(sess, off, end)
				}
			}
		}
	}
	switch {
	case clear:
		metaClearReplies(s, r, c, name, old)
		for _, e := range old {
			notify(e.key, appendCmd(nil, s.name, rplKeyNotSet, true, "*", name, e.key, "Key deleted"))
		}
	case value == "":
		r.numeric(rplKeyNotSet, name, key, "Key deleted")
		notify(key, appendCmd(nil, s.name, rplKeyNotSet, true, "*", name, key, "Key deleted"))
	default:
		r.numeric(rplKeyValue, name, key, "*", value)
		notify(key, appendCmd(nil, s.name, rplKeyValue, true, "*", name, key, "*", value))
	}
	b.reply(o, r)
}

// metaSync appends the values of c's subscribed keys that c, as a member,
// follows on ch: the channel's and its members'. Shard only.
func (ch *Channel) metaSync(r *replies, c *Client) {
	metaSyncReplies(r, c, ch.name, ch.meta)
	for _, mb := range ch.members {
		metaSyncReplies(r, c, mb.u.Nick(), mb.u.metadata())
	}
}

// joinMetadata appends what a joining client with metadata learns: the
// channel's and members' values of its subscribed keys in a metadata
// batch, or, in a big channel, 774 telling it to SYNC later.
func (ch *Channel) joinMetadata(s *Server, r *replies, c *Client) {
	if !c.hasMetadata() || len(c.subscriptions()) == 0 {
		return
	}
	if len(ch.members) > metaSyncMembers {
		r.numeric(rplMetadataSyncLate, ch.name, "5", "Too many members: use METADATA "+ch.name+" SYNC")
		return
	}
	in := c.replies()
	ch.metaSync(in, c)
	if !in.empty() {
		metaBatch(s, r, c, "metadata", ch.name, func(out *replies) {
			savedReplies{buf: in.buf, starts: in.starts}.into(out)
		})
	}
	putReplies(in)
}
