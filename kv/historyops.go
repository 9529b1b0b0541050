package kv

import (
	"fmt"
	"time"
)

// AppendHistory stores an entry in its target's history. A zero m.Time
// means now; the time is kept to the millisecond (see QueryHistory). With
// Options.LazyHistory, a transaction made only of history appends is not
// synced on its own (see Options.LazyHistory).
//
// Private conversations are appended with AppendPrivate or AppendOffline,
// which also keep the parties' conversation lists.
func (t *Txn) AppendHistory(m HistoryMessage) {
	if t.appendHistory(&m) && !t.s.opts.LazyHistory {
		t.durable = true
	}
}

// appendHistory adds the history entry and its msgid index entry; it
// leaves the durability decision to the caller. m.Time and m.Seq are set.
func (t *Txn) appendHistory(m *HistoryMessage) bool {
	if !t.ok("history target", m.Target) {
		return false
	}
	if m.MsgID != "" && !t.ok("msgid", m.MsgID) {
		return false
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	m.Time = msTime(m.Time)
	if err := checkKeyTime("message time", m.Time); err != nil {
		t.setErr(err)
		return false
	}
	m.Seq = t.s.nextSeq()
	k := t.mark(func(b []byte) []byte { return appendTimeSeq(prefix2(b, tagHistory, m.Target), m.Time, m.Seq) })
	t.ops = append(t.ops, op{kind: opSet, key: k, val: t.mark(m.appendValue)})
	if m.MsgID != "" {
		ik := t.mark(func(b []byte) []byte { return key2(b, tagMsgID, m.Target, m.MsgID) })
		iv := t.mark(func(b []byte) []byte { return appendTimeSeq(b, m.Time, m.Seq) })
		t.ops = append(t.ops, op{kind: opSet, key: ik, val: iv})
	}
	t.puts++
	return true
}

// DeleteHistory deletes one stored entry by msgid, leaving nothing behind
// (no-op if absent). RedactHistory keeps a tombstone instead.
func (t *Txn) DeleteHistory(target, msgid string) {
	if t.ok("history target", target, "msgid", msgid) {
		t.derived(op{kind: opDeleteHistory, a: target, b: msgid})
	}
}

// RedactHistory redacts a message (draft/message-redaction): its text,
// parameters and tags are removed and r is recorded, while its msgid,
// source and time stay as a tombstone, which queries return only when they
// ask for HistRedacted. A zero r.At means now. Redacting a tombstone again
// changes nothing. The transaction fails with a *ConditionError
// (ErrNotFound) if target holds no PRIVMSG, NOTICE or TAGMSG with msgid.
func (t *Txn) RedactHistory(target, msgid string, r Redaction) {
	if !t.ok("history target", target, "msgid", msgid) {
		return
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	t.check(func(vw *views) error {
		_, _, err := findMessage(vw, target, msgid, false)
		return err
	})
	t.derive(false, func(vw *views) error {
		key, m, err := findMessage(vw, target, msgid, false)
		if err != nil || m.Redacted != nil {
			return err
		}
		m.Params, m.Text, m.Tags, m.Edited = nil, "", "", nil
		m.Redacted = &r
		return vw.set(key, m.appendValue(nil))
	})
}

// EditHistory replaces the text of a PRIVMSG or NOTICE
// (draft/message-edit) and marks it edited with e; its time stays the
// original one. A zero e.At means now. The transaction fails with a
// *ConditionError (ErrNotFound) if target holds no such message with
// msgid, or if it has been redacted.
func (t *Txn) EditHistory(target, msgid, text string, e Edit) {
	if !t.ok("history target", target, "msgid", msgid) {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	t.check(func(vw *views) error {
		_, _, err := findMessage(vw, target, msgid, true)
		return err
	})
	t.derive(true, func(vw *views) error {
		key, m, err := findMessage(vw, target, msgid, true)
		if err != nil {
			return err
		}
		m.Text = text
		m.Edited = &e
		return vw.set(key, m.appendValue(nil))
	})
}

// findMessage finds a message by msgid for an edit (editable: PRIVMSG or
// NOTICE, not redacted) or a redaction (PRIVMSG, NOTICE or TAGMSG).
func findMessage(vw *views, target, msgid string, editable bool) ([]byte, HistoryMessage, error) {
	notFound := &ConditionError{Kind: KindHistory, Name: target + " " + msgid, Err: ErrNotFound}
	pos, found, err := vw.get(key2(nil, tagMsgID, target, msgid))
	if err != nil || !found {
		return nil, HistoryMessage{}, orErr(err, notFound)
	}
	if len(pos) != timeSeqLen {
		return nil, HistoryMessage{}, fmt.Errorf("%w: msgid index entry of %d bytes", ErrCorrupt, len(pos))
	}
	key := append(prefix2(nil, tagHistory, target), pos...)
	v, found, err := vw.get(key)
	if err != nil || !found {
		return nil, HistoryMessage{}, orErr(err, notFound)
	}
	tm, seq, _ := parseTimeSeq(pos)
	m, err := decodeHistory(target, tm, seq, v)
	if err != nil {
		return nil, m, err
	}
	switch m.Command {
	case "PRIVMSG", "NOTICE":
	case "TAGMSG":
		if editable {
			return nil, m, notFound
		}
	default:
		return nil, m, notFound
	}
	if editable && m.Redacted != nil {
		return nil, m, notFound
	}
	return key, m, nil
}

// orErr returns err if it is set, else alt.
func orErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}
