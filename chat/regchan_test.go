package chat

import (
	"testing"
	"time"

	"laird/kv"
)

// A registered channel's persistent state goes to a record and back
// unchanged, and the comparison sees every field.
func TestChannelRecordRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123).UTC()
	ch := newChannel("#Reg", "#reg", now)
	ch.topic, ch.topicBy, ch.topicAt = "a topic", "alice!a@h", now
	ch.modes = cmodeInvite | cmodeModerated | cmodeSecret
	ch.key, ch.limit = "sekrit", 12
	ch.bans = []listEntry{{mask: "*!*@bad", setBy: "alice", setAt: now}}
	ch.excepts = []listEntry{{mask: "*!*@good", setBy: "bob", setAt: now}}
	ch.invex = []listEntry{{mask: "*!*@inv", setBy: "carol", setAt: now}}

	base := kv.Channel{Name: "#reg", DisplayName: "#Reg", Founder: "alice", Created: now}
	rec := recordOf(ch, base)
	if rec.Modes != "ims" || rec.Founder != "alice" || rec.Key != "sekrit" || rec.Limit != 12 || len(rec.Bans) != 1 {
		t.Fatalf("record %+v", rec)
	}
	back := newChannel("#Reg", "#reg", now)
	applyRecord(back, &rec)
	again := recordOf(back, base)
	if !samePersistent(&rec, &again) {
		t.Fatalf("round trip changed the state:\n%+v\n%+v", rec, again)
	}
	if back.modeParams(true)[1] != ch.modeParams(true)[1] {
		t.Fatalf("modes %q, want %q", back.modeParams(true)[1], ch.modeParams(true)[1])
	}

	changes := []func(c *kv.Channel){
		func(c *kv.Channel) { c.Topic = "other" },
		func(c *kv.Channel) { c.TopicSetBy = "x" },
		func(c *kv.Channel) { c.TopicSetAt = c.TopicSetAt.Add(time.Nanosecond) },
		func(c *kv.Channel) { c.Modes = "im" },
		func(c *kv.Channel) { c.Key = "" },
		func(c *kv.Channel) { c.Limit = 0 },
		func(c *kv.Channel) { c.Bans = nil },
		func(c *kv.Channel) { c.Excepts = append([]kv.ListEntry(nil), kv.ListEntry{Mask: "*!*@other"}) },
		func(c *kv.Channel) { c.Invex = []kv.ListEntry{{Mask: "*!*@inv", SetBy: "dave", SetAt: now}} },
	}
	for i, change := range changes {
		c := recordOf(ch, base)
		change(&c)
		if samePersistent(&rec, &c) {
			t.Errorf("change %d not seen", i)
		}
	}
}

// Member-mode-only changes are not persistent: the record is the same.
func TestMemberModesNotPersistent(t *testing.T) {
	now := time.Now()
	ch := newChannel("#c", "#c", now)
	rec := recordOf(ch, kv.Channel{Name: "#c"})
	ch.addMember(&user{}, memberOp, now)
	after := recordOf(ch, kv.Channel{Name: "#c"})
	if !samePersistent(&rec, &after) {
		t.Fatal("a member change changed the record")
	}
}
