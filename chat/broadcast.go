package chat

import (
	"sync"
	"sync/atomic"
)

// commonSet gathers the clients that share at least one channel with a
// given client, across the shards owning those channels, so that a NICK or
// QUIT reaches each of them exactly once. The shard that completes the set
// does the fan-out.
type commonSet struct {
	mu        sync.Mutex
	members   map[*Client]struct{}
	remaining atomic.Int32
}

func (cs *commonSet) add(c *Client) {
	cs.mu.Lock()
	cs.members[c] = struct{}{}
	cs.mu.Unlock()
}

// last reports whether the calling shard is the last to contribute.
func (cs *commonSet) last() bool { return cs.remaining.Add(-1) == 0 }

// fanout sends line (tagged for account-tag recipients) to every member.
func (cs *commonSet) fanout(b *batch, line, tagged []byte) {
	off, end := b.appendLine(line)
	toff, tend := off, end
	if tagged != nil {
		toff, tend = b.appendLine(tagged)
	}
	for m := range cs.members {
		if m.Has(CapAccountTag) {
			b.sendSpan(m, toff, tend)
		} else {
			b.sendSpan(m, off, end)
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

// broadcastCommon sends line once to every client sharing a channel with
// o's client, and to that client itself when self is true (as o's reply).
// Runs on the client's loop; the op completes once the lines are queued.
func (s *Server) broadcastCommon(o *op, line []byte, self bool) {
	s.broadcastCommonCap(o, line, self, noCap)
}

// broadcastCommonCap is broadcastCommon limited to co-members that enabled
// needCap (away-notify, setname, chghost, account-notify). extended-monitor
// watchers of the client's nick that enabled needCap get the line too.
func (s *Server) broadcastCommonCap(o *op, line []byte, self bool, needCap Cap) {
	c := o.c
	groups := s.channelsByShard(c.channelList())
	tagged := accountTagged(c, line) // for account-tag recipients; nil without an account
	// extended-monitor: the watchers of c's nick live on the nick's shard.
	nickShard := -1
	if needCap != noCap {
		nickShard = s.shardOf(s.cm.Fold(c.Nick()))
		if _, ok := groups[nickShard]; !ok {
			groups[nickShard] = nil
		}
	}
	if len(groups) == 0 {
		if self {
			o.write(line)
		}
		return
	}
	cs := &commonSet{members: make(map[*Client]struct{})}
	cs.remaining.Store(int32(len(groups)))
	for id, names := range groups {
		o.toShard(id, func(sh *shard, b *batch) {
			if id == nickShard {
				for w := range sh.watchers[s.cm.Fold(c.Nick())] {
					if w != c && w.Has(CapExtendedMonitor) && w.Has(needCap) {
						cs.add(w)
					}
				}
			}
			for _, name := range names {
				ch := sh.channels[name]
				if ch == nil {
					continue
				}
				for _, mb := range ch.members {
					if mb.c != c && (needCap == noCap || mb.c.Has(needCap)) {
						cs.add(mb.c)
					}
				}
			}
			if !cs.last() {
				return
			}
			cs.fanout(b, line, tagged)
			if self {
				b.replyLine(o, line)
			}
		})
	}
}

// quitEverywhere removes a disconnected client from every channel, tells
// the clients it shared them with, and frees its nick. No op: the client
// is gone.
func (s *Server) quitEverywhere(c *Client, reason string, registered bool) {
	id := c.Identity()
	if id.Nick != "*" {
		folded := s.cm.Fold(id.Nick)
		s.releaseNick(nil, folded, c)
		if registered {
			s.monitorNotify(folded, id, false)
		}
	}
	line := appendCmd(nil, id.Prefix, "QUIT", true, reason)
	tagged := accountTagged(c, line)
	groups := s.channelsByShard(c.channelList())
	cs := &commonSet{members: make(map[*Client]struct{})}
	cs.remaining.Store(int32(len(groups)))
	for id, names := range groups {
		s.post(id, func(sh *shard, b *batch) {
			for _, name := range names {
				ch := sh.channels[name]
				if ch == nil {
					continue
				}
				for _, mb := range ch.members {
					if mb.c != c {
						cs.add(mb.c)
					}
				}
				sh.removeMember(ch, c)
			}
			if cs.last() {
				cs.fanout(b, line, tagged)
			}
		})
	}
}
