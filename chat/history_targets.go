package chat

import (
	"time"

	"laird/codec"
	"laird/kv"
)

// CHATHISTORY TARGETS <timestamp> <timestamp> <limit>: the channels the
// client is in and its private conversations (its party's, kv's
// conversation list) whose latest entry is strictly between the two times,
// oldest first; when the first time is the later one, the limit counts
// back from it.

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
	q := kv.TargetsQuery{
		Party: c.historyParty(), Channels: c.user().channelList(),
		From: bounds[0], To: bounds[1], Limit: limit, Kinds: historyKinds(c),
	}
	var list []kv.HistoryTarget
	var err error
	s.readHistory(o, func() { list, err = s.store.HistoryTargets(q) }, func() {
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
			name := t.Target // a channel, casefolded
			if t.Peer.Party != "" {
				name = t.Peer.Name // the nick the other side last used
			}
			line := appendCmd(nil, s.name, "CHATHISTORY", false, "TARGETS", name, t.Latest.UTC().Format(serverTimeFormat))
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
