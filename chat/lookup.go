package chat

import "sync"

// Gathers: an op asks several shards for their part of an answer at once
// (each ask is a part of the op) and continues on its loop with all the
// parts together.

// lookupNicks resolves casefolded nicks to present users across the nick
// shards, then runs then(found) on the loop as part of o. Missing nicks are
// absent from found.
func (s *Server) lookupNicks(o *op, folded []string, then func(found map[string]*user)) {
	groups := make(map[int][]string)
	for _, n := range folded {
		id := s.shardOf(n)
		groups[id] = append(groups[id], n)
	}
	type hit struct {
		folded string
		u      *user
	}
	gatherGroups(o, groups, func(sh *shard, names []string) []hit {
		var mine []hit
		for _, n := range names {
			if t := sh.nicks[n]; t != nil && t.present() {
				mine = append(mine, hit{n, t})
			}
		}
		return mine
	}, func(hits []hit) {
		found := make(map[string]*user, len(hits))
		for _, h := range hits {
			found[h.folded] = h.u
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
// then(views) on the loop as part of o.
func (s *Server) gatherChannels(o *op, target *user, then func(views []channelView)) {
	requester := o.c
	multi := requester.Has(CapMultiPrefix)
	gatherGroups(o, s.channelsByShard(target.channelList()), func(sh *shard, names []string) []channelView {
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
				secret: ch.modes&cmodeSecret != 0, shared: ch.member(requester.user()) != nil,
			})
		}
		return mine
	}, then)
}

// gatherGroups asks each shard in groups for its part of the names
// (collect, on that shard), then runs then(all) on the loop as part of o.
// With no groups, then runs once the op's current work is done.
func gatherGroups[T any](o *op, groups map[int][]string, collect func(sh *shard, names []string) []T, then func(all []T)) {
	var (
		mu  sync.Mutex
		all []T
	)
	for id, names := range groups {
		o.toShard(id, func(sh *shard, b *batch) {
			mine := collect(sh, names)
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	o.then(func() { then(all) })
}

// gatherAll asks every shard for its part (collect, on that shard) and
// runs then(all) on the loop as part of o.
func gatherAll[T any](o *op, collect func(sh *shard) []T, then func(all []T)) {
	groups := make(map[int][]string, len(o.s.shards))
	for id := range o.s.shards {
		groups[id] = nil
	}
	gatherGroups(o, groups, func(sh *shard, _ []string) []T { return collect(sh) }, then)
}
