package chat

import (
	"cmp"
	"slices"
	"time"

	"laird/codec"
	"laird/kv"
)

// CHATHISTORY TARGETS <timestamp> <timestamp> <limit>: the conversations
// whose latest entry is strictly between the two times, oldest first;
// when the first time is the later one, the limit counts back from it.

func historyTargets(o *op, m *codec.Message, limit int) {
	s, c := o.s, o.c
	var bounds [2]time.Time
	for i := range bounds {
		arg := string(m.Param(1 + i))
		ref, ok := parseMsgRef(arg, false)
		if !ok || ref.Time.IsZero() {
			historyFail(o, "INVALID_PARAMS", "TARGETS", arg, "TARGETS takes two timestamps: timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
			return
		}
		bounds[i] = ref.Time
	}
	q := kv.HistoryQuery{Select: kv.SelectLatest, Limit: 1, Kinds: historyKinds(c)}
	chans := c.user().channelList()
	var list []historyTargetLine
	var err error
	s.readHistory(o, func() {
		list, err = s.readTargets(q, chans, bounds[0], bounds[1], limit)
	}, func() {
		if err != nil {
			s.log.Warn("history targets read failed", "err", err)
			historyFail(o, "MESSAGE_ERROR", "TARGETS", "*", "Targets could not be retrieved")
			return
		}
		r := o.replies()
		id := ""
		if c.Has(CapBatch) {
			id = s.batchID()
			r.cmd(s.name, "BATCH", false, "+"+id, "draft/chathistory-targets")
		}
		for _, t := range list {
			line := appendCmd(nil, s.name, "CHATHISTORY", false, "TARGETS", t.name, t.latest.UTC().Format(serverTimeFormat))
			if id != "" {
				line = appendWithTag(nil, line, "batch", []byte(id))
			}
			r.line(line)
		}
		if id != "" {
			r.cmd(s.name, "BATCH", false, "-"+id)
		}
		o.reply(r)
	})
}

// historyTargetLine is one line of a TARGETS answer.
type historyTargetLine struct {
	name   string
	latest time.Time
}

// readTargets reads the latest entry of each channel and keeps those
// strictly between from and to (to the millisecond), limit of them counted
// from from. Blocking: off the loop.
func (s *Server) readTargets(q kv.HistoryQuery, chans []string, from, to time.Time, limit int) ([]historyTargetLine, error) {
	from, to = from.Truncate(time.Millisecond), to.Truncate(time.Millisecond)
	backwards := from.After(to)
	lo, hi := from, to
	if backwards {
		lo, hi = to, from
	}
	var list []historyTargetLine
	for _, folded := range chans {
		q.Target = folded
		latest, err := s.store.QueryHistory(q)
		if err != nil {
			return nil, err
		}
		if len(latest) == 1 && latest[0].Time.After(lo) && latest[0].Time.Before(hi) {
			list = append(list, historyTargetLine{folded, latest[0].Time})
		}
	}
	slices.SortFunc(list, func(a, b historyTargetLine) int {
		return cmp.Or(a.latest.Compare(b.latest), cmp.Compare(a.name, b.name))
	})
	if len(list) > limit {
		if backwards {
			list = list[len(list)-limit:]
		} else {
			list = list[:limit]
		}
	}
	return list, nil
}
