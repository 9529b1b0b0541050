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

// channelsByShard groups casefolded channel names by owning shard.
func (s *Server) channelsByShard(names []string) map[int][]string {
	out := make(map[int][]string)
	for _, n := range names {
		id := s.shardOf(n)
		out[id] = append(out[id], n)
	}
	return out
}

// broadcastCommon sends line once to every client sharing a channel with c,
// and to c itself when self is true (with label). When part is true, c
// leaves all those channels on the way (QUIT). Runs on c's loop. Unless
// part is set, c stays parked until the lines are delivered.
func (s *Server) broadcastCommon(c *Client, line []byte, self bool, label []byte, part bool) {
	s.broadcastCommonCap(c, line, self, label, part, noCap)
}

// noCap means "every recipient" for broadcastCommonCap.
const noCap Cap = capCount

// broadcastCommonCap is broadcastCommon limited to co-members that enabled
// needCap (away-notify, setname, chghost, account-notify).
func (s *Server) broadcastCommonCap(c *Client, line []byte, self bool, label []byte, part bool, needCap Cap) {
	groups := s.channelsByShard(c.channelList())
	tagged := accountTagged(c, line) // for account-tag recipients; nil without an account
	// extended-monitor: watchers of c's nick that enabled it (and needCap)
	// get the change too; they live on the nick's shard.
	nickShard := -1
	if needCap != noCap && !part {
		nickShard = s.shardOf(s.cm.Fold(c.Nick()))
		if _, ok := groups[nickShard]; !ok {
			groups[nickShard] = nil
		}
	}
	if len(groups) == 0 {
		if self {
			r := c.replies()
			r.line(line)
			c.outLabel = append(c.outLabel[:0], label...)
			c.sendReplies(r)
		}
		return
	}
	cs := &commonSet{members: make(map[*Client]struct{})}
	cs.remaining.Store(int32(len(groups)))
	if !part {
		c.park()
	}
	for id, names := range groups {
		s.post(id, func(sh *shard, b *batch) {
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
				if part {
					sh.removeMember(ch, c)
				}
			}
			if cs.remaining.Add(-1) != 0 {
				return
			}
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
			if part {
				return
			}
			if self {
				r := sh.replies(c)
				r.line(line)
				b.replies(c, r, label)
				putReplies(r)
			}
			b.done(c)
		})
	}
}

// quitEverywhere removes a disconnected client from every channel, tells
// the clients it shared them with, and frees its nick.
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
	s.broadcastCommon(c, line, false, nil, true)
}
