package chat

import (
	"sync"
	"sync/atomic"
)

// lookupNicks resolves casefolded nicks to registered clients across the
// nick shards, then runs then(found) on c's loop with the requester's
// label restored. c stays parked meanwhile. Missing nicks are absent from
// found.
func (s *Server) lookupNicks(c *Client, folded []string, then func(found map[string]*Client)) {
	groups := make(map[int][]string)
	for _, n := range folded {
		id := s.shardOf(n)
		groups[id] = append(groups[id], n)
	}
	type hit struct {
		folded string
		c      *Client
	}
	gatherGroups(s, c, groups, func(sh *shard, names []string) []hit {
		var mine []hit
		for _, n := range names {
			if t := sh.nicks[n]; t != nil && t.registeredShared() {
				mine = append(mine, hit{n, t})
			}
		}
		return mine
	}, func(hits []hit) {
		found := make(map[string]*Client, len(hits))
		for _, h := range hits {
			found[h.folded] = h.c
		}
		then(found)
	})
}

// channelView is one of a target's channels as a requester may see it.
type channelView struct {
	name   string
	prefix string // membership prefix of the target
	secret bool
	shared bool // the requester is also a member
}

// gatherChannels collects target's channels from their shards and runs
// then(views) on requester's loop; requester stays parked meanwhile.
func (s *Server) gatherChannels(requester, target *Client, then func(views []channelView)) {
	multi := requester.Has(CapMultiPrefix)
	gatherGroups(s, requester, s.channelsByShard(target.channelList()), func(sh *shard, names []string) []channelView {
		var mine []channelView
		for _, n := range names {
			ch := sh.channels[n]
			if ch == nil {
				continue
			}
			mb := ch.member(target)
			if mb == nil {
				continue
			}
			mine = append(mine, channelView{
				name: ch.name, prefix: mb.prefix(multi),
				secret: ch.modes&cmodeSecret != 0, shared: ch.member(requester) != nil,
			})
		}
		return mine
	}, then)
}

// gatherGroups asks each shard in groups for its part of the names
// (collect, on that shard), then runs then(all) on c's loop with c's label
// restored; c stays parked meanwhile. With no groups, then runs at once.
func gatherGroups[T any](s *Server, c *Client, groups map[int][]string, collect func(sh *shard, names []string) []T, then func(all []T)) {
	label := c.takeLabel()
	var (
		mu   sync.Mutex
		all  []T
		left atomic.Int32
	)
	finish := func(c *Client) {
		c.outLabel = append(c.outLabel[:0], label...)
		then(all)
		c.outLabel = c.outLabel[:0]
	}
	if len(groups) == 0 {
		finish(c)
		return
	}
	left.Store(int32(len(groups)))
	c.park()
	for id, names := range groups {
		s.post(id, func(sh *shard, b *batch) {
			mine := collect(sh, names)
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
			if left.Add(-1) == 0 {
				b.call(c, finish)
				b.done(c)
			}
		})
	}
}

// gatherShards asks every shard for its part (collect, on that shard) and
// runs finish once, on the shard that answers last, with all the parts.
// c is parked meanwhile; finish's output goes out with c's completion.
func gatherShards[T any](s *Server, c *Client, collect func(sh *shard) []T, finish func(sh *shard, b *batch, all []T)) {
	var (
		mu   sync.Mutex
		all  []T
		left atomic.Int32
	)
	left.Store(int32(len(s.shards)))
	c.park()
	for id := range s.shards {
		s.post(id, func(sh *shard, b *batch) {
			mine := collect(sh)
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
			if left.Add(-1) != 0 {
				return
			}
			finish(sh, b, all)
			b.done(c)
		})
	}
}
