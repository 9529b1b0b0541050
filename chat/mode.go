package chat

import (
	"strconv"
	"strings"
	"time"

	"laird/codec"
)

func handleMode(o *op, m *codec.Message) {
	s := o.s
	target := string(m.Param(0))
	if !codec.IsChannelName(m.Param(0)) {
		userMode(o, target, m)
		return
	}
	var args []string
	for i := 2; i < m.NParams(); i++ {
		args = append(args, string(m.Param(i)))
	}
	modestr := string(m.Param(1))
	folded := s.cm.Fold(target)
	now := time.Now()
	if !strings.ContainsAny(modestr, "ov") || len(args) == 0 {
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
			sh.channelMode(b, o, target, folded, modestr, args, nil, now)
		})
		return
	}
	// +o/+v name nicks: learn first which exist, so that a missing one
	// gets 401 and one merely absent from the channel gets 441.
	var nicks []string
	for _, a := range args {
		nicks = append(nicks, s.cm.Fold(a))
	}
	s.lookupNicks(o, nicks, func(found map[string]*user) {
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
			sh.channelMode(b, o, target, folded, modestr, args, found, now)
		})
	})
}

// modeChange is one applied change, for the outgoing MODE line.
type modeChange struct {
	add  bool
	mode byte
	arg  string
}

// channelMode applies a MODE change on the channel's shard. existing, when
// not nil, holds the +o/+v arguments known to be online (folded).
func (sh *shard) channelMode(b *batch, o *op, name, folded, modestr string, args []string, existing map[string]*user, now time.Time) {
	s, c := sh.srv, o.c
	ch := sh.channels[folded]
	if ch == nil && len(args) == 0 && strings.Trim(modestr, "+beI") == "" {
		ch = sh.regView(name, folded) // a query on an empty registered channel
	}
	if ch == nil {
		sh.numericTo(b, o, codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	if sh.regWait(b, o, folded, func(sh *shard, b *batch) { // a registered channel's change is being saved
		sh.channelMode(b, o, name, folded, modestr, args, existing, now)
	}) {
		return
	}
	r := sh.replies(c)
	if modestr == "" {
		r.numeric(codec.RPL_CHANNELMODEIS, ch.modeParams(ch.member(c.user()) != nil)...)
		r.numeric(codec.RPL_CREATIONTIME, ch.name, strconv.FormatInt(ch.created.Unix(), 10))
		b.reply(o, r)
		return
	}
	mb := ch.member(c.user())
	isOp := mb != nil && mb.modes&memberOp != 0
	key0, limit0 := ch.key, ch.limit
	var changes []modeChange
	add := true
	params := 0
	denied := false
	nextArg := func() (string, bool) {
		if len(args) == 0 {
			return "", false
		}
		a := args[0]
		args = args[1:]
		return a, true
	}
	needOp := func() bool {
		if !isOp && !denied {
			denied = true
			if mb == nil {
				r.numeric(codec.ERR_NOTONCHANNEL, ch.name, "You're not on that channel")
			} else {
				r.numeric(codec.ERR_CHANOPRIVSNEEDED, ch.name, "You're not channel operator")
			}
		}
		return isOp
	}
	for i := 0; i < len(modestr); i++ {
		mc := modestr[i]
		switch mc {
		case '+':
			add = true
		case '-':
			add = false
		case 'b', 'e', 'I':
			arg, ok := nextArg()
			if !ok {
				ch.listReplies(r, mc)
				continue
			}
			if !needOp() || params >= 4 {
				continue
			}
			params++
			if mask, ok := ch.editList(s, r, mc, add, arg, c.Identity().Prefix, now); ok {
				changes = append(changes, modeChange{add, mc, mask})
			}
		case 'o', 'v':
			arg, ok := nextArg()
			if !ok {
				continue
			}
			if !needOp() || params >= 4 {
				continue
			}
			params++
			t := ch.memberByNick(s, arg)
			if t == nil {
				if existing != nil && existing[s.cm.Fold(arg)] == nil {
					r.numeric(codec.ERR_NOSUCHNICK, arg, "No such nick/channel")
				} else {
					r.numeric(codec.ERR_USERNOTINCHANNEL, arg, ch.name, "They aren't on that channel")
				}
				continue
			}
			bit := memberVoice
			if mc == 'o' {
				bit = memberOp
			}
			if add == (t.modes&bit != 0) {
				continue
			}
			if add {
				t.modes |= bit
			} else {
				t.modes &^= bit
			}
			sh.memberJoined(ch, t) // an always-on member's stored modes
			changes = append(changes, modeChange{add, mc, t.u.Nick()})
		case 'k':
			arg, ok := nextArg()
			if add && (!ok || arg == "" || strings.ContainsAny(arg, " ,")) {
				if ok {
					r.numeric(codec.ERR_INVALIDKEY, ch.name, "Key is not well-formed")
				}
				continue
			}
			if !needOp() {
				continue
			}
			if add {
				ch.key = arg
				changes = append(changes, modeChange{true, 'k', arg})
			} else if ch.key != "" {
				ch.key = ""
				changes = append(changes, modeChange{false, 'k', "*"})
			}
		case 'l':
			if add {
				arg, ok := nextArg()
				n, err := strconv.Atoi(arg)
				if !ok || err != nil || n <= 0 {
					if ok {
						r.numeric(codec.ERR_INVALIDMODEPARAM, ch.name, "l", orStar(arg), "Invalid limit")
					}
					continue
				}
				if !needOp() {
					continue
				}
				ch.limit = n
				changes = append(changes, modeChange{true, 'l', strconv.Itoa(n)})
			} else {
				if !needOp() {
					continue
				}
				if ch.limit != 0 {
					ch.limit = 0
					changes = append(changes, modeChange{false, 'l', ""})
				}
			}
		case 'C', 'Z', 'i', 'm', 'n', 's', 't':
			if !needOp() {
				continue
			}
			bit := flagMode(mc)
			if add == (ch.modes&bit != 0) {
				continue
			}
			if mc == 'Z' && add && !ch.allMembersSecure(r) {
				continue
			}
			if add {
				ch.modes |= bit
			} else {
				ch.modes &^= bit
			}
			changes = append(changes, modeChange{add, mc, ""})
		default:
			r.numeric(codec.ERR_UNKNOWNMODE, string(mc), "is an unknown mode char to me")
		}
	}
	changes = s.netChanges(changes, ch, key0, limit0)
	if len(changes) > 0 && sh.regModes(b, o, ch, changes, r, now) {
		return // a registered channel: answered once saved
	}
	if len(changes) > 0 {
		id := c.Identity()
		msg := &outMsg{source: id.Prefix, command: "MODE", params: modeLine(ch.name, changes), plainLast: true, at: now, account: id.Account}
		sh.historyEvent(ch, msg)
		msg.toMembers(b, ch, c)
		// The sender's MODE echo and any errors form one labeled response.
		r.begin()
		r.buf = msg.appendVariant(r.buf, msg.variantOf(c))
	}
	b.reply(o, r)
}

// modeKey identifies what one mode change is about: the mode, and for
// modes on a member or a list entry its casefolded argument.
type modeKey struct {
	mode byte
	arg  string
}

// netChanges reduces changes to their net effect: a mode (with its
// argument) changed several times in one command is echoed once, as its
// last change, and not at all when it ends as it started ("+t-t" repeated
// a hundred times echoes nothing). A mode changed once is kept as it is.
// key0 and limit0 are the channel's key and limit before the command.
func (s *Server) netChanges(changes []modeChange, ch *Channel, key0 string, limit0 int) []modeChange {
	if len(changes) < 2 {
		return changes
	}
	keyOf := func(mc modeChange) modeKey {
		switch mc.mode {
		case 'o', 'v', 'b', 'e', 'I':
			return modeKey{mc.mode, s.cm.Fold(mc.arg)}
		}
		return modeKey{mode: mc.mode}
	}
	type span struct{ first, last, n int }
	spans := make(map[modeKey]span, len(changes))
	for i, mc := range changes {
		k := keyOf(mc)
		sp, ok := spans[k]
		if !ok {
			sp.first = i
		}
		sp.last = i
		sp.n++
		spans[k] = sp
	}
	out := make([]modeChange, 0, len(spans))
	for i, mc := range changes {
		sp := spans[keyOf(mc)]
		if sp.last != i {
			continue
		}
		if sp.n > 1 {
			var moved bool
			switch mc.mode {
			case 'k':
				moved = ch.key != key0
			case 'l':
				moved = ch.limit != limit0
			default:
				// Every recorded change of these flipped the state, so it
				// ends where it started when the first and last differ.
				moved = changes[sp.first].add == mc.add
			}
			if !moved {
				continue
			}
		}
		out = append(out, mc)
	}
	return out
}

// flagModeChars are the channel's flag modes, in the order 324 lists them.
const flagModeChars = "CZimnst"

func flagMode(mc byte) chanModes {
	switch mc {
	case 'C':
		return cmodeNoCTCP
	case 'i':
		return cmodeInvite
	case 'm':
		return cmodeModerated
	case 'n':
		return cmodeNoExternal
	case 's':
		return cmodeSecret
	case 'Z':
		return cmodeSecureOnly
	}
	return cmodeTopicLock
}

// modeLine renders changes as MODE parameters: channel, "+o-v", args...
func modeLine(name string, changes []modeChange) []string {
	var sb strings.Builder
	var args []string
	sign := byte(0)
	for _, ch := range changes {
		want := byte('-')
		if ch.add {
			want = '+'
		}
		if want != sign {
			sb.WriteByte(want)
			sign = want
		}
		sb.WriteByte(ch.mode)
		if ch.arg != "" {
			args = append(args, ch.arg)
		}
	}
	return append([]string{name, sb.String()}, args...)
}

// modeParams returns 324's parameters; the key is shown to members only.
func (ch *Channel) modeParams(member bool) []string {
	modes := "+"
	var args []string
	for _, mc := range []byte(flagModeChars) {
		if ch.modes&flagMode(mc) != 0 {
			modes += string(mc)
		}
	}
	if ch.key != "" {
		modes += "k"
		if member {
			args = append(args, ch.key)
		} else {
			args = append(args, "*")
		}
	}
	if ch.limit > 0 {
		modes += "l"
		args = append(args, strconv.Itoa(ch.limit))
	}
	return append([]string{ch.name, modes}, args...)
}

func (ch *Channel) list(mc byte) *[]listEntry {
	switch mc {
	case 'e':
		return &ch.excepts
	case 'I':
		return &ch.invex
	}
	return &ch.bans
}

func (ch *Channel) listReplies(r *replies, mc byte) {
	item, end, text := codec.RPL_BANLIST, codec.RPL_ENDOFBANLIST, "End of channel ban list"
	switch mc {
	case 'e':
		item, end, text = codec.RPL_EXCEPTLIST, codec.RPL_ENDOFEXCEPTLIST, "End of channel exception list"
	case 'I':
		item, end, text = codec.RPL_INVEXLIST, codec.RPL_ENDOFINVEXLIST, "End of channel invite exception list"
	}
	for _, e := range *ch.list(mc) {
		r.numeric(item, ch.name, e.mask, e.setBy, strconv.FormatInt(e.setAt.Unix(), 10))
	}
	r.numeric(end, ch.name, text)
}

// editList adds or removes a mask; it returns the mask as stored and
// whether the list changed. A malformed extended ban gets 696.
func (ch *Channel) editList(s *Server, r *replies, mc byte, add bool, arg, setBy string, now time.Time) (string, bool) {
	mask, ok := listMask(arg)
	if !ok {
		r.numeric(codec.ERR_INVALIDMODEPARAM, ch.name, string(mc), arg, "Invalid ban mask")
		return "", false
	}
	l := ch.list(mc)
	for i, e := range *l {
		if s.cm.Equal(e.mask, mask) {
			if add {
				return "", false
			}
			*l = append((*l)[:i], (*l)[i+1:]...)
			return e.mask, true
		}
	}
	if !add {
		return "", false
	}
	if len(*l) >= s.cfg.MaxList {
		r.numeric(codec.ERR_BANLISTFULL, ch.name, string(mc), "Channel list is full")
		return "", false
	}
	*l = append(*l, listEntry{mask: mask, setBy: setBy, setAt: now})
	return mask, true
}

// userMode handles MODE <nick> on the client's own loop.
func userMode(o *op, target string, m *codec.Message) {
	s, c := o.s, o.c
	r := o.replies()
	defer o.reply(r)
	id := c.Identity()
	if !s.cm.Equal(target, id.Nick) {
		r.numeric(codec.ERR_USERSDONTMATCH, "Cant change mode for other users")
		return
	}
	if m.NParams() < 2 {
		r.numeric(codec.RPL_UMODEIS, id.Modes.String())
		return
	}
	add := true
	var set, clear UserModes
	unknown := false
	for _, mc := range m.Param(1) {
		switch mc {
		case '+':
			add = true
		case '-':
			add = false
		case 'i', 'w', 'B', 'o':
			bit := userModeBit(mc)
			if add {
				if mc != 'o' { // +o only through OPER
					set |= bit
				}
			} else {
				clear |= bit
			}
		default:
			unknown = true
		}
	}
	if unknown {
		r.numeric(codec.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
	}
	before := id.Modes
	nid := c.update(func(id *Identity) { id.Modes = (id.Modes | set) &^ clear })
	if before&UModeOper != 0 && nid.Modes&UModeOper == 0 {
		s.opers.Add(-1)
	}
	if diff := modeDiff(before, nid.Modes); diff != "" {
		r.cmd(id.Prefix, "MODE", false, id.Nick, diff)
	}
}

func userModeBit(mc byte) UserModes {
	switch mc {
	case 'i':
		return UModeInvisible
	case 'w':
		return UModeWallops
	case 'o':
		return UModeOper
	}
	return UModeBot
}

// String renders the modes as "+iw".
func (m UserModes) String() string {
	s := "+"
	for _, mc := range []byte("iwoB") {
		if m&userModeBit(mc) != 0 {
			s += string(mc)
		}
	}
	return s
}

func modeDiff(before, after UserModes) string {
	var plus, minus string
	for _, mc := range []byte("iwoB") {
		bit := userModeBit(mc)
		switch {
		case after&bit != 0 && before&bit == 0:
			plus += string(mc)
		case after&bit == 0 && before&bit != 0:
			minus += string(mc)
		}
	}
	out := ""
	if plus != "" {
		out += "+" + plus
	}
	if minus != "" {
		out += "-" + minus
	}
	return out
}
