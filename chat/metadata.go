package chat

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"laird/codec"
	"laird/kv"
)

// draft/metadata-2 (also advertised as draft/metadata-3, the revision
// under review that irctest and ergo follow: its FAIL codes and its
// numeric notifications are what laird sends).
//
// Users and channels carry keys and values. A user's live in user.meta
// (any goroutine reads it; changes replace it whole); a logged-in user's
// are its account's, stored in kv and loaded at login, so they outlast
// the connection. A channel's live on its shard (Channel.meta); a
// registered channel's are stored too, loaded at start with the
// registration and restored with the channel. A change that is stored is
// acknowledged once durable.
//
// Clients subscribe to keys (Client.subs) and hear of changes to them,
// as 761 RPL_KEYVALUE / 766 RPL_KEYNOTSET from the server, for the
// channels they are in, the users they share one with or MONITOR, and
// their own user (changes made by other sessions). Joining a channel
// brings its metadata and its members' for the subscribed keys; the
// registration burst brings the user's own (before-connect values
// included). Only channel members see a channel's metadata; only its
// operators, and a user itself, change it.

const (
	rplWhoisKeyValue    = "760"
	rplKeyValue         = "761"
	rplKeyNotSet        = "766"
	rplMetadataSubOK    = "770"
	rplMetadataUnsubOK  = "771"
	rplMetadataSubs     = "772"
	rplMetadataSyncLate = "774"
)

// metaSyncMembers bounds the members whose metadata a JOIN brings; past
// it the joiner is told to SYNC (774) instead.
const metaSyncMembers = 200

func (s *Server) metadataCapValue() string {
	m := s.cfg.Metadata
	return "before-connect,max-subs=" + strconv.Itoa(m.MaxSubs) + ",max-keys=" + strconv.Itoa(m.MaxKeys) +
		",max-value-bytes=" + strconv.Itoa(m.MaxValueBytes)
}

// hasMetadata reports whether c negotiated metadata under either name.
func (c *Client) hasMetadata() bool { return c.Has(CapMetadata) || c.Has(CapMetadata3) }

// metadata returns u's metadata.
func (u *user) metadata() metaList {
	if p := u.meta.Load(); p != nil {
		return *p
	}
	return nil
}

// changeMetadata applies fn to u's metadata and publishes the result. Any
// goroutine; concurrent changes retry rather than lose one.
func (u *user) changeMetadata(fn func(metaList) metaList) metaList {
	for {
		old := u.meta.Load()
		var cur metaList
		if old != nil {
			cur = *old
		}
		next := fn(cur)
		if u.meta.CompareAndSwap(old, &next) {
			return next
		}
	}
}

// subscriptions returns c's subscribed keys, sorted.
func (c *Client) subscriptions() []string {
	if p := c.subs.Load(); p != nil {
		return *p
	}
	return nil
}

// subscribed reports whether c subscribed to key.
func (c *Client) subscribed(key string) bool {
	_, ok := slices.BinarySearch(c.subscriptions(), key)
	return ok
}

// wantsMeta reports whether c hears of changes to key.
func (c *Client) wantsMeta(key string) bool { return c.hasMetadata() && c.subscribed(key) }

func handleMetadata(o *op, m *codec.Message) {
	c := o.c
	target := string(m.Param(0))
	sub := strings.ToUpper(string(m.Param(1)))
	var args []string
	for i := 2; i < m.NParams(); i++ {
		args = append(args, string(m.Param(i)))
	}
	switch sub {
	case "SUB", "UNSUB", "GET", "SET":
		if len(args) == 0 {
			needMore(o, "METADATA")
			return
		}
	}
	switch sub {
	case "SUB":
		metaSub(o, args)
	case "UNSUB":
		metaUnsub(o, args)
	case "SUBS":
		metaSubs(o)
	case "GET", "LIST", "SET", "CLEAR", "SYNC":
		if !c.Registered() {
			metaBeforeConnect(o, target, sub, args)
			return
		}
		metaTarget(o, target, sub, args)
	default:
		o.failWith("METADATA", "INVALID_PARAMS", "Unknown METADATA subcommand", orStar(string(m.Param(1))))
	}
}

// metaSub subscribes to keys in order, until the limit: each valid one is
// acknowledged (770), an invalid one gets INVALID_KEY, the first one past
// the limit LIMIT_REACHED and the rest are not processed.
func metaSub(o *op, keys []string) {
	s, c := o.s, o.c
	subs := slices.Clone(c.subscriptions())
	var ok []string
	r := o.replies()
	for i, key := range keys {
		if !validMetaKey(key) {
			r.failWith("METADATA", "INVALID_KEY", "Invalid key", key)
			continue
		}
		if j, found := slices.BinarySearch(subs, key); !found {
			if len(subs) >= s.cfg.Metadata.MaxSubs {
				r.failWith("METADATA", "LIMIT_REACHED", "Too many subscriptions", keys[i], strconv.Itoa(s.cfg.Metadata.MaxSubs))
				break
			}
			subs = slices.Insert(subs, j, key)
		}
		ok = append(ok, key)
	}
	c.subs.Store(&subs)
	keyReplies(r, rplMetadataSubOK, ok)
	o.reply(r)
}

func metaUnsub(o *op, keys []string) {
	c := o.c
	subs := slices.Clone(c.subscriptions())
	var done []string
	r := o.replies()
	for _, key := range keys {
		if !validMetaKey(key) {
			r.failWith("METADATA", "INVALID_KEY", "Invalid key", key)
			continue
		}
		if j, found := slices.BinarySearch(subs, key); found {
			subs = slices.Delete(subs, j, j+1)
		}
		done = append(done, key)
	}
	c.subs.Store(&subs)
	keyReplies(r, rplMetadataUnsubOK, done)
	o.reply(r)
}

func metaSubs(o *op) {
	r := o.replies()
	metaBatch(o.s, r, o.c, "metadata-subs", "", func(in *replies) {
		keyReplies(in, rplMetadataSubs, o.c.subscriptions())
	})
	o.reply(r)
}

// keyReplies appends num lines listing keys, as many per line as fit.
func keyReplies(r *replies, num string, keys []string) {
	for len(keys) > 0 {
		n, size := 0, 0
		for n < len(keys) && (n == 0 || size+len(keys[n])+1 < 350) {
			size += len(keys[n]) + 1
			n++
		}
		r.numeric(num, keys[:n]...)
		keys = keys[n:]
	}
}

// metaBatch appends the lines fill writes as one batch of type kind
// (naming target, if set) when c has batch, or as they are without.
func metaBatch(s *Server, r *replies, c *Client, kind, target string, fill func(in *replies)) {
	in := c.replies()
	defer putReplies(in)
	fill(in)
	if !c.Has(CapBatch) {
		for _, off := range in.starts {
			r.begin()
			r.buf = append(r.buf, in.buf[off:off+lineEnd(in.buf[off:])]...)
		}
		return
	}
	id := s.batchID()
	if target == "" {
		r.cmd(s.name, "BATCH", false, "+"+id, kind)
	} else {
		r.cmd(s.name, "BATCH", false, "+"+id, kind, target)
	}
	for _, off := range in.starts {
		r.begin()
		r.buf = appendWithTag(r.buf, in.buf[off:off+lineEnd(in.buf[off:])], "batch", []byte(id))
	}
	r.cmd(s.name, "BATCH", false, "-"+id)
}

// checkMetaSet validates a SET's key and value; it answers the FAIL and
// reports false when they are not acceptable.
func checkMetaSet(s *Server, r *replies, key, value string) bool {
	if !validMetaKey(key) {
		r.failWith("METADATA", "INVALID_KEY", "Invalid key", orStar(key))
		return false
	}
	if len(value) > s.cfg.Metadata.MaxValueBytes {
		r.failWith("METADATA", "INVALID_VALUE", "Value is longer than "+strconv.Itoa(s.cfg.Metadata.MaxValueBytes)+" bytes", key)
		return false
	}
	return true
}

// metaBeforeConnect serves METADATA * before registration
// (before-connect): the values are the connection's own until it
// registers, when they become its user's.
func metaBeforeConnect(o *op, target, sub string, args []string) {
	s, c := o.s, o.c
	r := o.replies()
	defer o.reply(r)
	if target != "*" {
		r.failWith("METADATA", "KEY_NO_PERMISSION", "Only your own metadata (*) before registration", orStar(target), "*")
		return
	}
	switch sub {
	case "SET":
		key, value := args[0], ""
		if len(args) > 1 {
			value = args[1]
		}
		if !checkMetaSet(s, r, key, value) {
			return
		}
		if value == "" {
			c.preMeta = c.preMeta.without(key)
			r.numeric(rplKeyNotSet, "*", key, "Key deleted")
			return
		}
		if _, set := c.preMeta.get(key); !set && len(c.preMeta) >= s.cfg.Metadata.MaxKeys {
			r.failWith("METADATA", "LIMIT_REACHED", "Too many metadata keys", "*", strconv.Itoa(s.cfg.Metadata.MaxKeys))
			return
		}
		c.preMeta = c.preMeta.with(key, value)
		r.numeric(rplKeyValue, "*", key, "*", value)
	case "GET":
		metaGetReplies(s, r, c, "*", c.preMeta, args)
	case "LIST", "SYNC":
		metaListReplies(s, r, c, "*", c.preMeta)
	case "CLEAR":
		metaClearReplies(s, r, c, "*", c.preMeta)
		c.preMeta = nil
	}
}

// metaGetReplies answers GET: a metadata batch with each key's value, or
// 766, or INVALID_KEY.
func metaGetReplies(s *Server, r *replies, c *Client, target string, l metaList, keys []string) {
	metaBatch(s, r, c, "metadata", target, func(in *replies) {
		for _, key := range keys {
			if !validMetaKey(key) {
				in.failWith("METADATA", "INVALID_KEY", "Invalid key", key)
				continue
			}
			if v, ok := l.get(key); ok {
				in.numeric(rplKeyValue, target, key, "*", v)
			} else {
				in.numeric(rplKeyNotSet, target, key, "Key is not set")
			}
		}
	})
}

// metaListReplies answers LIST: a metadata batch with every value.
func metaListReplies(s *Server, r *replies, c *Client, target string, l metaList) {
	metaBatch(s, r, c, "metadata", target, func(in *replies) {
		for _, e := range l {
			in.numeric(rplKeyValue, target, e.key, "*", e.value)
		}
	})
}

// metaClearReplies answers CLEAR: a metadata batch with 766 per key.
func metaClearReplies(s *Server, r *replies, c *Client, target string, l metaList) {
	metaBatch(s, r, c, "metadata", target, func(in *replies) {
		for _, e := range l {
			in.numeric(rplKeyNotSet, target, e.key, "Key deleted")
		}
	})
}

// metaSyncReplies appends target's values of c's subscribed keys.
func metaSyncReplies(r *replies, c *Client, target string, l metaList) {
	for _, e := range l {
		if c.subscribed(e.key) {
			r.numeric(rplKeyValue, target, e.key, "*", e.value)
		}
	}
}

// metaTarget resolves a registered client's METADATA target: itself, a
// channel (on its shard) or another user.
func metaTarget(o *op, target, sub string, args []string) {
	s, c := o.s, o.c
	if codec.IsChannelName([]byte(target)) {
		folded := s.cm.Fold(target)
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) { sh.channelMetadata(b, o, target, folded, sub, args) })
		return
	}
	u := c.user()
	if target == "*" || s.cm.Equal(target, u.Nick()) {
		userMetadata(o, u, sub, args)
		return
	}
	folded := s.cm.Fold(target)
	s.lookupNicks(o, []string{folded}, func(found map[string]*user) {
		t := found[folded]
		if t == nil {
			o.fail("METADATA", "INVALID_TARGET", target, "No such nick or channel")
			return
		}
		userMetadata(o, t, sub, args)
	})
}

// userMetadata runs a subcommand on user t's metadata, on the loop. Only
// t itself changes it.
func userMetadata(o *op, t *user, sub string, args []string) {
	s, c := o.s, o.c
	self := t == c.user()
	name := t.Nick()
	r := o.replies()
	switch sub {
	case "GET":
		metaGetReplies(s, r, c, name, t.metadata(), args)
	case "LIST":
		metaListReplies(s, r, c, name, t.metadata())
	case "SYNC":
		metaBatch(s, r, c, "metadata", name, func(in *replies) { metaSyncReplies(in, c, name, t.metadata()) })
	case "SET":
		key, value := args[0], ""
		if len(args) > 1 {
			value = args[1]
		}
		if !validMetaKey(key) {
			r.failWith("METADATA", "INVALID_KEY", "Invalid key", key)
			break
		}
		if !self {
			r.failWith("METADATA", "KEY_NO_PERMISSION", "You may only change your own metadata", name, key)
			break
		}
		if !checkMetaSet(s, r, key, value) {
			break
		}
		if _, set := t.metadata().get(key); !set && value != "" && len(t.metadata()) >= s.cfg.Metadata.MaxKeys {
			r.failWith("METADATA", "LIMIT_REACHED", "Too many metadata keys", name, strconv.Itoa(s.cfg.Metadata.MaxKeys))
			break
		}
		putReplies(r)
		s.setUserMeta(o, t, name, key, value)
		return
	case "CLEAR":
		if !self {
			r.failWith("METADATA", "KEY_NO_PERMISSION", "You may only change your own metadata", name, "*")
			break
		}
		putReplies(r)
		s.clearUserMeta(o, t, name)
		return
	}
	o.reply(r)
}

// setUserMeta sets (or, with an empty value, deletes) one key of o's own
// user: stored first when the user is logged in, then applied, answered
// and announced.
func (s *Server) setUserMeta(o *op, u *user, name, key, value string) {
	apply := func() {
		u.changeMetadata(func(l metaList) metaList {
			if value == "" {
				return l.without(key)
			}
			return l.with(key, value)
		})
		r := o.replies()
		var line []byte
		if value == "" {
			r.numeric(rplKeyNotSet, name, key, "Key deleted")
			line = appendCmd(nil, s.name, rplKeyNotSet, true, "*", name, key, "Key deleted")
		} else {
			r.numeric(rplKeyValue, name, key, "*", value)
			line = appendCmd(nil, s.name, rplKeyValue, true, "*", name, key, "*", value)
		}
		o.reply(r)
		s.notifyUserMeta(o, u, key, line)
	}
	acct := u.Identity().Account
	if acct == "" || s.store == nil {
		apply()
		return
	}
	t := s.store.NewTxn()
	owner := kv.AccountMetadata(s.cm.Fold(acct))
	if value == "" {
		t.DeleteMetadata(owner, key)
	} else {
		t.SetMetadata(owner, kv.MetadataEntry{Key: key, Value: value, Visibility: "*"})
	}
	o.commit(t, func(err error) {
		if err != nil {
			r := o.replies()
			metaStoreFail(r, err, name, key)
			o.reply(r)
			return
		}
		apply()
	})
}

// clearUserMeta deletes every key of o's own user.
func (s *Server) clearUserMeta(o *op, u *user, name string) {
	apply := func() {
		var old metaList
		u.changeMetadata(func(l metaList) metaList { old = l; return nil })
		r := o.replies()
		metaClearReplies(s, r, o.c, name, old)
		o.reply(r)
		for _, e := range old {
			s.notifyUserMeta(o, u, e.key, appendCmd(nil, s.name, rplKeyNotSet, true, "*", name, e.key, "Key deleted"))
		}
	}
	acct := u.Identity().Account
	if acct == "" || s.store == nil {
		apply()
		return
	}
	t := s.store.NewTxn()
	t.ClearMetadata(kv.AccountMetadata(s.cm.Fold(acct)))
	o.commit(t, func(err error) {
		if err != nil {
			r := o.replies()
			metaStoreFail(r, err, name, "*")
			o.reply(r)
			return
		}
		apply()
	})
}

// metaStoreFail answers a store refusal of a metadata change.
func metaStoreFail(r *replies, err error, target, key string) {
	var le *kv.LimitError
	switch {
	case errors.As(err, &le) && le.Limit == kv.LimitMetadataKeys:
		r.failWith("METADATA", "LIMIT_REACHED", "Too many metadata keys", target, strconv.Itoa(le.Max))
	case errors.As(err, &le):
		r.failWith("METADATA", "INVALID_VALUE", "Value is too long", key)
	default:
		r.failWith("METADATA", "TEMPORARILY_UNAVAILABLE", "Metadata not saved: "+storeFailText(err), target, key)
	}
}

// notifyUserMeta sends line (a 761 or 766 about u's key) to the sessions
// that follow u and subscribed to key: those sharing a channel with u,
// those monitoring u's nick, and u's own other sessions. As part of o.
func (s *Server) notifyUserMeta(o *op, u *user, key string, line []byte) {
	groups := s.channelsByShard(u.channelList())
	nickShard := s.shardOf(s.cm.Fold(u.Nick()))
	if _, ok := groups[nickShard]; !ok {
		groups[nickShard] = nil
	}
	cs := newCommonSet(len(groups))
	cs.add(u)
	for id, names := range groups {
		o.toShard(id, func(sh *shard, b *batch) {
			if id == nickShard {
				for w := range sh.watchers[s.cm.Fold(u.Nick())] {
					cs.addWatcher(w)
				}
			}
			for _, name := range names {
				if ch := sh.channels[name]; ch != nil {
					for _, mb := range ch.members {
						cs.add(mb.u)
					}
				}
			}
			if !cs.last() {
				return
			}
			off, end := b.appendLine(line)
			send := func(c *Client) {
				if c != o.c && c.wantsMeta(key) {
					b.sendSpan(c, off, end)
				}
			}
			for m := range cs.users {
				for _, c := range m.sessionList() {
					send(c)
				}
			}
			for w := range cs.watchers {
				if _, member := cs.users[w.user()]; !member {
					send(w)
				}
			}
		})
	}
}

// metadataWelcome makes what the registering session brings its user's
// metadata (its before-connect values, and its account's stored ones
// when it logged in before registering) and, for a client with metadata,
// lists the user's metadata in the burst: a batch, empty when there is
// none.
func (s *Server) metadataWelcome(o *op, r *replies, u *user) {
	c := o.c
	pre, stored := c.preMeta, c.acctMeta
	c.preMeta, c.acctMeta = nil, nil
	if stored != nil || len(pre) > 0 {
		u.changeMetadata(func(l metaList) metaList {
			if stored != nil {
				l = l.merged(*stored)
			}
			return s.mergeLimited(l, pre)
		})
		s.storeUserMeta(u, pre)
	}
	if c.hasMetadata() {
		nick := u.Nick()
		metaBatch(s, r, c, "metadata", nick, func(in *replies) {
			for _, e := range u.metadata() {
				in.numeric(rplKeyValue, nick, e.key, "*", e.value)
			}
		})
	}
}

// mergeLimited sets over's entries on l, new keys only while l has fewer
// than MaxKeys.
func (s *Server) mergeLimited(l, over metaList) metaList {
	for _, e := range over {
		if _, set := l.get(e.key); set || len(l) < s.cfg.Metadata.MaxKeys {
			l = l.with(e.key, e.value)
		}
	}
	return l
}

// storeUserMeta stores entries for u's account, if it has one, without
// waiting: they were acknowledged before the account was known.
func (s *Server) storeUserMeta(u *user, entries metaList) {
	acct := u.Identity().Account
	if acct == "" || s.store == nil || len(entries) == 0 {
		return
	}
	t := s.store.NewTxn()
	owner := kv.AccountMetadata(s.cm.Fold(acct))
	for _, e := range entries {
		t.SetMetadata(owner, kv.MetadataEntry{Key: e.key, Value: e.value, Visibility: "*"})
	}
	logErr := func(err error) {
		if err != nil {
			s.log.Warn("metadata not stored for account", "account", acct, "err", err)
		}
	}
	if err := s.store.Commit(t, logErr); err != nil {
		logErr(err)
	}
}

// metadataLogin loads account's stored metadata for o's client that just
// logged in to it: before registration it waits in the client for the
// welcome; after, the user's metadata becomes the stored one with what it
// had set meanwhile on top (and stored). A logout leaves the metadata with
// the account.
func (s *Server) metadataLogin(o *op, account string) {
	c := o.c
	u := c.user()
	if account == "" {
		u.changeMetadata(func(metaList) metaList { return nil })
		return
	}
	if s.store == nil {
		return
	}
	var stored []kv.MetadataEntry
	var err error
	owner := kv.AccountMetadata(s.cm.Fold(account))
	o.offload(readPool, func() { stored, err = s.store.Metadata(owner) }, func() {
		if err != nil {
			s.log.Warn("cannot load an account's metadata", "account", account, "err", err)
			return
		}
		l := fromKVMeta(stored)
		if !c.Registered() {
			c.acctMeta = &l
			return
		}
		var mine metaList
		u.changeMetadata(func(cur metaList) metaList {
			mine = cur
			return s.mergeLimited(l, cur)
		})
		s.storeUserMeta(u, mine)
	})
}
