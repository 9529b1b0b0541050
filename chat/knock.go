package chat

import (
	"net/netip"
	"time"

	"laird/codec"
)

// KNOCK asks a closed channel's operators for an invitation. guard prices
// it like any command (the flood cost of KNOCK); on top of that a channel
// takes one knock per address per KnockInterval and remembers at most
// knockMemory knocking addresses at a time, so neither one client nor a
// crowd can flood its operators.

// knockMemory bounds the addresses a channel remembers as having knocked.
const knockMemory = 64

func handleKnock(o *op, m *codec.Message) {
	s := o.s
	name := string(m.Param(0))
	if !codec.IsChannelName(m.Param(0)) {
		o.numeric(codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	text := ""
	if m.NParams() > 1 {
		text = truncate(string(m.Param(1)), s.reasonLen())
	}
	folded := s.cm.Fold(name)
	now := time.Now()
	o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
		sh.knock(b, o, name, folded, text, now)
	})
}

// knock runs on the channel's shard.
func (sh *shard) knock(b *batch, o *op, name, folded, text string, now time.Time) {
	s, c := sh.srv, o.c
	ch := sh.channels[folded]
	if ch == nil {
		sh.numericTo(b, o, codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	if ch.member(c.user()) != nil {
		sh.numericTo(b, o, codec.ERR_KNOCKONCHAN, ch.name, "You're already on that channel")
		return
	}
	id := c.Identity()
	if matchesAny(s.cm, ch.bans, id) && !matchesAny(s.cm, ch.excepts, id) {
		sh.numericTo(b, o, codec.ERR_BANNEDFROMCHAN, ch.name, "Cannot knock on channel (+b)")
		return
	}
	full := ch.limit > 0 && len(ch.members) >= ch.limit
	if ch.modes&cmodeInvite == 0 && ch.key == "" && !full {
		sh.numericTo(b, o, codec.ERR_CHANOPEN, ch.name, "Channel is open")
		return
	}
	if !ch.admitKnock(c.ip, now, s.cfg.KnockInterval) {
		sh.numericTo(b, o, codec.ERR_TOOMANYKNOCK, ch.name, "Too many KNOCKs (channel)")
		return
	}
	notice := "has asked for an invite"
	if text != "" {
		notice += " (" + text + ")"
	}
	for _, mb := range ch.members {
		if mb.modes&memberOp == 0 {
			continue
		}
		off := int32(len(b.buf))
		b.buf = appendCmd(b.buf, s.name, codec.RPL_KNOCK, true, mb.u.Nick(), ch.name, id.Prefix, notice)
		b.sendUser(mb.u, off, int32(len(b.buf)))
	}
	sh.numericTo(b, o, codec.RPL_KNOCKDLVR, ch.name, "Your KNOCK has been delivered")
}

// admitKnock records a knock from ip unless that address knocked within
// interval or the channel already remembers knockMemory recent knockers.
func (ch *Channel) admitKnock(ip netip.Addr, now time.Time, interval time.Duration) bool {
	if last, ok := ch.knocks[ip]; ok && now.Sub(last) < interval {
		return false
	}
	for a, at := range ch.knocks {
		if now.Sub(at) >= interval {
			delete(ch.knocks, a)
		}
	}
	if len(ch.knocks) >= knockMemory {
		return false
	}
	if ch.knocks == nil {
		ch.knocks = make(map[netip.Addr]time.Time)
	}
	ch.knocks[ip] = now
	return true
}
