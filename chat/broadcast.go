package chat

import (
	"sync"
	"sync/atomic"
)

// commonSet gathers the users that share at least one channel with a given
// user (and, for some lines, the sessions watching its nick), across the
// shards owning those channels, so that a NICK or QUIT reaches each of them
// exactly once. The shard that completes the set does the fan-out.
type commonSet struct {
	mu        sync.Mutex
	users     map[*user]struct{}
	watchers  map[*Client]struct{}
	remaining atomic.Int32
}

func newCommonSet(parts int) *commonSet {
	cs := &commonSet{users: make(map[*user]struct{})}
	cs.remaining.Store(int32(parts))
	return cs
}

func (cs *commonSet) add(u *user) {
	cs.mu.Lock()
	cs.users[u] = struct{}{}
	cs.mu.Unlock()
}

func (cs *commonSet) addWatcher(c *Client) {
	cs.mu.Lock()
	if cs.watchers == nil {
		cs.watchers = make(map[*Client]struct{})
	}
	cs.watchers[c] = struct{}{}
	cs.mu.Unlock()
}

// last reports whether the calling shard is the last to contribute.
func (cs *commonSet) last() bool { return cs.remaining.Add(-1) == 0 }

// fanout sends line (tagged for account-tag recipients) to every session
// of every user in the set that enabled needCap, and to the watchers.
func (cs *commonSet) fanout(b *batch, line, tagged []byte, needCap Cap) {
	off, end := b.appendLine(line)
	toff, tend := off, end
	if tagged != nil {
		toff, tend = b.appendLine(tagged)
	}
	send := func(s *Client) {
		if needCap != noCap && !s.Has(needCap) {
			return
		}
		if s.Has(CapAccountTag) {
			b.sendSpan(s, toff, tend)
		} else {
			b.sendSpan(s, off, end)
		}
	}
	for u := range cs.users {
		for _, s := range u.sessionList() {
			send(s)
		}
	}
	for s := range cs.watchers {
		if _, member := cs.users[s.user()]; !member {
			send(s)
		}
	}
}

// channelsByShard groups casefolded channel names by owning shard.
func (s *Server) channelsByShard(names []string) map[int][]string {
	out := make(map[int][]string)
	for _, n := range names {
		id := s.shardOf(n)
		out[id] = append(out[id], n)
	}
	return out
}

// noCap means "every recipient" for broadcastCommonCap.
const noCap Cap = capCount

// broadcastCommon sends line once to every user sharing a channel with o's
// user, and, when self is true, to that user too: the sending session as
// o's reply, its other sessions as a plain line. Runs on the client's loop;
// the op completes once the lines are queued.
func (s *Server) broadcastCommon(o *op, line []byte, self bool) {
	s.broadcastCommonCap(o, line, self, noCap)
}

// broadcastCommonCap is broadcastCommon limited to sessions that enabled
// needCap (away-notify, setname, chghost, account-notify). extended-monitor
// watchers of the user's nick that enabled needCap get the line too.
func (s *Server) broadcastCommonCap(o *op, line []byte, self bool, needCap Cap) {
	c := o.c
	u := c.user()
	groups := s.channelsByShard(u.channelList())
	tagged := accountTagged(c, line) // for account-tag recipients; nil without an account
	// extended-monitor: the watchers of the nick live on the nick's shard.
	nickShard := -1
	if needCap != noCap {
		nickShard = s.shardOf(s.cm.Fold(u.Nick()))
		if _, ok := groups[nickShard]; !ok {
			groups[nickShard] = nil
		}
	}
	siblings := func(b *batch) {
		if !self {
			return
		}
		for _, sib := range u.sessionList() {
			if sib != c {
				b.send(sib, line)
			}
		}
	}
	if len(groups) == 0 {
		if self {
			o.write(line)
			if len(u.sessionList()) > 1 {
				s.post(s.shardOf(s.cm.Fold(u.Nick())), func(_ *shard, b *batch) { siblings(b) })
			}
		}
		return
	}
	cs := newCommonSet(len(groups))
	for id, names := range groups {
		o.toShard(id, func(sh *shard, b *batch) {
			if id == nickShard {
				for w := range sh.watchers[s.cm.Fold(u.Nick())] {
					if w.user() != u && w.Has(CapExtendedMonitor) {
						cs.addWatcher(w)
					}
				}
			}
			for _, name := range names {
				ch := sh.channels[name]
				if ch == nil {
					continue
				}
				for _, mb := range ch.members {
					if mb.u != u {
						cs.add(mb.u)
					}
				}
			}
			if !cs.last() {
				return
			}
			cs.fanout(b, line, tagged, needCap)
			if self {
				b.replyLine(o, line)
				siblings(b)
			}
		})
	}
}

// quitEverywhere removes a user that left from every channel, tells the
// users it shared them with, and frees its nick. No op: nobody is left to
// answer.
func (s *Server) quitEverywhere(u *user, reason string, registered bool) {
	id := u.Identity()
	s.historyQuit(id, u.channelList(), reason)
	if id.Nick != "*" {
		folded := s.cm.Fold(id.Nick)
		s.releaseNick(nil, folded, u)
		if registered {
			s.monitorNotify(folded, id, false)
		}
	}
	line := appendCmd(nil, id.Prefix, "QUIT", true, reason)
	tagged := accountTaggedID(id, line)
	groups := s.channelsByShard(u.channelList())
	cs := newCommonSet(len(groups))
	for sid, names := range groups {
		s.post(sid, func(sh *shard, b *batch) {
			for _, name := range names {
				ch := sh.channels[name]
				if ch == nil {
					continue
				}
				for _, mb := range ch.members {
					if mb.u != u {
						cs.add(mb.u)
					}
				}
				sh.removeMember(ch, u)
			}
			if cs.last() {
				cs.fanout(b, line, tagged, noCap)
			}
		})
	}
}
