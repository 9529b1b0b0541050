package chat

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"laird/codec"
)

// listFilter holds LIST's ELIST=U filters and name list.
type listFilter struct {
	min, max int // member counts: >min and <max; max 0 = none
	names    map[string]bool
}

type listEntryOut struct {
	name, topic string
	users       int
}

func handleList(s *Server, c *Client, m *codec.Message) {
	f := listFilter{min: -1}
	for _, p := range splitList(m.Param(0)) {
		switch {
		case strings.HasPrefix(p, ">"):
			f.min, _ = strconv.Atoi(p[1:])
		case strings.HasPrefix(p, "<"):
			f.max, _ = strconv.Atoi(p[1:])
		default:
			if f.names == nil {
				f.names = make(map[string]bool)
			}
			f.names[s.cm.Fold(p)] = true
		}
	}
	label := c.takeLabel()
	var (
		mu      sync.Mutex
		entries []listEntryOut
		left    atomic.Int32
	)
	left.Store(int32(len(s.shards)))
	c.park()
	for id := range s.shards {
		s.post(id, func(sh *shard, b *batch) {
			var mine []listEntryOut
			for folded, ch := range sh.channels {
				if f.names != nil && !f.names[folded] {
					continue
				}
				n := len(ch.members)
				if n <= f.min || (f.max > 0 && n >= f.max) {
					continue
				}
				if ch.modes&cmodeSecret != 0 && ch.member(c) == nil {
					continue
				}
				mine = append(mine, listEntryOut{ch.name, ch.topic, n})
			}
			mu.Lock()
			entries = append(entries, mine...)
			mu.Unlock()
			if left.Add(-1) != 0 {
				return
			}
			r := sh.replies(c)
			r.numeric(codec.RPL_LISTSTART, "Channel", "Users  Name")
			for _, e := range entries {
				r.numeric(codec.RPL_LIST, e.name, strconv.Itoa(e.users), e.topic)
			}
			r.numeric(codec.RPL_LISTEND, "End of /LIST")
			b.replies(c, r, label)
			putReplies(r)
			b.done(c)
		})
	}
}
