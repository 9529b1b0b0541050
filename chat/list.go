package chat

import (
	"strconv"
	"strings"
	"time"

	"laird/codec"
)

// listFilter holds LIST's ELIST=CMNTU filters and name list.
type listFilter struct {
	min, max  int // member counts: >min and <max; max 0 = none
	names     map[string]bool
	masks     []string // M: names must match one
	notMasks  []string // N: names must match none
	createdLT time.Duration
	createdGT time.Duration
	topicLT   time.Duration
	topicGT   time.Duration
}

type listEntryOut struct {
	name, topic string
	users       int
}

func parseListFilter(s *Server, params [][]byte) listFilter {
	f := listFilter{min: -1}
	for _, raw := range params {
		for _, p := range splitList(raw) {
			minutes := func(v string) time.Duration {
				n, _ := strconv.Atoi(v)
				return time.Duration(n) * time.Minute
			}
			switch {
			case strings.HasPrefix(p, ">"):
				f.min, _ = strconv.Atoi(p[1:])
			case strings.HasPrefix(p, "<"):
				f.max, _ = strconv.Atoi(p[1:])
			case strings.HasPrefix(p, "C<"):
				f.createdLT = minutes(p[2:])
			case strings.HasPrefix(p, "C>"):
				f.createdGT = minutes(p[2:])
			case strings.HasPrefix(p, "T<"):
				f.topicLT = minutes(p[2:])
			case strings.HasPrefix(p, "T>"):
				f.topicGT = minutes(p[2:])
			case strings.HasPrefix(p, "!"):
				f.notMasks = append(f.notMasks, p[1:])
			case strings.ContainsAny(p, "*?"):
				f.masks = append(f.masks, p)
			default:
				if f.names == nil {
					f.names = make(map[string]bool)
				}
				f.names[s.cm.Fold(p)] = true
			}
		}
	}
	return f
}

// match applies the filters to one channel, on its shard.
func (f *listFilter) match(s *Server, folded string, ch *Channel, now time.Time) bool {
	if f.names != nil && !f.names[folded] {
		return false
	}
	n := len(ch.members)
	if n <= f.min || (f.max > 0 && n >= f.max) {
		return false
	}
	if len(f.masks) > 0 {
		ok := false
		for _, m := range f.masks {
			ok = ok || globMatch(s.cm, m, ch.name)
		}
		if !ok {
			return false
		}
	}
	for _, m := range f.notMasks {
		if globMatch(s.cm, m, ch.name) {
			return false
		}
	}
	age := now.Sub(ch.created)
	if (f.createdLT > 0 && age >= f.createdLT) || (f.createdGT > 0 && age <= f.createdGT) {
		return false
	}
	if f.topicLT > 0 || f.topicGT > 0 {
		if ch.topicAt.IsZero() {
			return false
		}
		tage := now.Sub(ch.topicAt)
		if (f.topicLT > 0 && tage >= f.topicLT) || (f.topicGT > 0 && tage <= f.topicGT) {
			return false
		}
	}
	return true
}

func handleList(o *op, m *codec.Message) {
	s, c := o.s, o.c
	f := parseListFilter(s, m.Params())
	now := time.Now()
	gatherAll(o, func(sh *shard) []listEntryOut {
		var mine []listEntryOut
		for folded, ch := range sh.channels {
			if !f.match(s, folded, ch, now) {
				continue
			}
			if ch.modes&cmodeSecret != 0 && ch.member(c.user()) == nil {
				continue
			}
			mine = append(mine, listEntryOut{ch.name, ch.topic, len(ch.members)})
		}
		return mine
	}, func(entries []listEntryOut) {
		r := o.replies()
		r.numeric(codec.RPL_LISTSTART, "Channel", "Users  Name")
		for _, e := range entries {
			r.numeric(codec.RPL_LIST, e.name, strconv.Itoa(e.users), e.topic)
		}
		r.numeric(codec.RPL_LISTEND, "End of /LIST")
		o.reply(r)
	})
}
