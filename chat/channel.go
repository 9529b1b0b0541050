package chat

import (
	"net/netip"
	"time"

	"laird/codec"
)

// chanModes is the set of a channel's flag modes.
type chanModes uint16

const (
	cmodeInvite     chanModes = 1 << iota // +i
	cmodeModerated                        // +m
	cmodeNoExternal                       // +n
	cmodeSecret                           // +s
	cmodeTopicLock                        // +t
	cmodeNoCTCP                           // +C: no CTCP but ACTION
	cmodeSecureOnly                       // +Z: only users on TLS join (secure.go)
)

// memberModes are a member's prefix modes.
type memberModes uint8

const (
	memberVoice memberModes = 1 << iota // +v
	memberOp                            // +o
)

// Member is one user's membership of a channel.
type Member struct {
	u      *user
	modes  memberModes
	joined time.Time
}

// listEntry is one +b/+e/+I mask.
type listEntry struct {
	mask  string // as given, normalised to nick!user@host form
	setBy string
	setAt time.Time
}

// Channel is owned by exactly one shard goroutine.
type Channel struct {
	name    string // as first created
	folded  string
	created time.Time

	members []*Member
	index   map[*user]int // position in members

	topic   string
	topicBy string
	topicAt time.Time

	modes   chanModes
	key     string
	limit   int
	bans    []listEntry
	excepts []listEntry
	invex   []listEntry
	knocks  map[netip.Addr]time.Time // recent KNOCKs by address (knock.go)
	meta    metaList                 // channel metadata (metadata.go)
	// renamedAt is when the channel was last renamed (rename.go).
	renamedAt time.Time
}

func newChannel(name, folded string, now time.Time) *Channel {
	return &Channel{
		name:    name,
		folded:  folded,
		created: now,
		index:   make(map[*user]int),
		modes:   cmodeNoExternal | cmodeTopicLock,
	}
}

func (ch *Channel) member(u *user) *Member {
	if i, ok := ch.index[u]; ok {
		return ch.members[i]
	}
	return nil
}

func (ch *Channel) addMember(u *user, modes memberModes, now time.Time) *Member {
	m := &Member{u: u, modes: modes, joined: now}
	ch.index[u] = len(ch.members)
	ch.members = append(ch.members, m)
	return m
}

// removeMember takes u out of ch, deleting ch when it empties. It reports
// whether u was a member.
func (sh *shard) removeMember(ch *Channel, u *user) bool {
	i, ok := ch.index[u]
	if !ok {
		return false
	}
	sh.memberLeft(ch, u)
	last := len(ch.members) - 1
	if i != last {
		ch.members[i] = ch.members[last]
		ch.index[ch.members[i].u] = i
	}
	ch.members[last] = nil
	ch.members = ch.members[:last]
	delete(ch.index, u)
	u.removeChannel(ch.folded)
	if len(ch.members) == 0 {
		delete(sh.channels, ch.folded)
		sh.srv.channels.Add(-1)
	}
	return true
}

// prefix returns the membership prefix characters for NAMES/WHO.
func (m *Member) prefix(multi bool) string {
	switch {
	case m.modes&memberOp != 0 && m.modes&memberVoice != 0 && multi:
		return "@+"
	case m.modes&memberOp != 0:
		return "@"
	case m.modes&memberVoice != 0:
		return "+"
	}
	return ""
}

// memberChannel looks up a channel for a command that needs c to be a
// member (o's user), and allowed(ch, member) to hold (e.g. being an operator). It
// answers 403, 442 or 482 itself and reports false when the command must
// stop. Shard goroutine only.
func (sh *shard) memberChannel(b *batch, o *op, name, folded string, allowed func(*Channel, *Member) bool) (*Channel, bool) {
	ch := sh.channels[folded]
	if ch == nil {
		sh.numericTo(b, o, codec.ERR_NOSUCHCHANNEL, name, "No such channel")
		return nil, false
	}
	mb := ch.member(o.c.user())
	if mb == nil {
		sh.numericTo(b, o, codec.ERR_NOTONCHANNEL, ch.name, "You're not on that channel")
		return nil, false
	}
	if !allowed(ch, mb) {
		sh.numericTo(b, o, codec.ERR_CHANOPRIVSNEEDED, ch.name, "You're not channel operator")
		return nil, false
	}
	return ch, true
}

// regView returns a registered channel that has no members, built from its
// record and not added to the shard, so that MODE and TOPIC queries answer
// from the stored state; nil when the channel is not registered.
func (sh *shard) regView(name, folded string) *Channel {
	rc := sh.regOf(folded)
	if rc == nil {
		return nil
	}
	if rc.rec.DisplayName != "" {
		name = rc.rec.DisplayName
	}
	ch := newChannel(name, folded, rc.rec.Created)
	applyRecord(ch, &rc.rec)
	return ch
}
