package chat

import (
	"strings"

	"laird/kv"
)

// Storing messages. A PRIVMSG, NOTICE or TAGMSG is appended to its
// target's history by the shard that delivers it, after the fan-out.
// History durability is a stated promise ([store] lazy_history):
//
//   - lazy_history = false (the default): the sender's echo (echo-message)
//     and its labeled reply wait for the group commit that makes the
//     message durable, so a client that saw its message acknowledged finds
//     it in history after a crash. Recipients never wait: their delivery
//     is the fan-out, before the commit.
//   - lazy_history = true: nothing waits; appends are synced by the next
//     durable group or within kv's LazySyncInterval (one second), which
//     bounds what a crash loses.

// historyMessage is the stored form of msg, to target (a history key).
func historyMessage(msg *outMsg, target string) kv.HistoryMessage {
	h := kv.HistoryMessage{
		Time: msg.at, MsgID: msg.msgid, Target: target, To: msg.params[0],
		Source: msg.source, Account: msg.account, Command: msg.command,
		Tags: string(msg.clientTags),
	}
	if len(msg.params) > 1 {
		h.Text = msg.params[1]
	}
	return h
}

// storable reports whether msg belongs in history: every PRIVMSG and
// NOTICE, and TAGMSGs unless they only say someone is typing.
func storable(msg *outMsg) bool {
	return msg.command != "TAGMSG" || !ephemeralTags(msg.clientTags)
}

// ephemeralTags reports whether escaped client tags carry a typing
// notification, which is worthless once read.
func ephemeralTags(tags []byte) bool {
	for _, t := range strings.Split(string(tags), ";") {
		k, _, _ := strings.Cut(t, "=")
		if k == "+typing" || k == "+draft/typing" {
			return true
		}
	}
	return false
}

// historyTxn returns the transaction that stores msg in the history of
// target, or nil when it is not stored (no store, store false, a typing
// notification).
func (s *Server) historyTxn(msg *outMsg, target string, store bool) *kv.Txn {
	if s.store == nil || !store || !storable(msg) {
		return nil
	}
	t := s.store.NewTxn()
	t.AppendHistory(historyMessage(msg, target))
	return t
}

// privateHistoryTxn returns the transaction that stores msg in the private
// conversation of from and to, or nil when it is not stored.
func (s *Server) privateHistoryTxn(msg *outMsg, from, to kv.Peer) *kv.Txn {
	if s.store == nil || !storable(msg) {
		return nil
	}
	t := s.store.NewTxn()
	t.AppendPrivate(historyMessage(msg, ""), from, to)
	return t
}

// lazyHistory reports whether history appends are synced lazily.
func (s *Server) lazyHistory() bool { return s.store.Options().LazyHistory }

// echoer is a message its sender may get back (echo-message): an outMsg,
// or a multiMsg (draft/multiline).
type echoer interface {
	// echo queues the sender's copy as output of its op, in b.
	echo(b *batch, o *op)
	// echoLine is the sender c's copy, encoded apart; nil for none.
	echoLine(c *Client) []byte
}

func (o *outMsg) echoLine(c *Client) []byte {
	if o.onlyTags && !c.Has(CapMessageTags) {
		return nil
	}
	return o.appendVariant(nil, o.variantOf(c))
}

func (mm *multiMsg) echoLine(c *Client) []byte {
	return mm.appendVariant(nil, mm.variantOf(c), "")
}

// storeAndEcho commits t (the history append of msg, or nil for none) and
// echoes msg to its sender when it negotiated echo-message; after, if not
// nil, runs next, for replies that follow the echo. Call it on the
// delivering shard after the fan-out. With durable history the echo, and
// the op's completion, wait for the commit.
func (sh *shard) storeAndEcho(b *batch, o *op, msg echoer, t *kv.Txn, after func(sh *shard, b *batch)) {
	s := sh.srv
	echo := o.c.Has(CapEchoMessage)
	if t == nil || s.lazyHistory() {
		if t != nil {
			s.commitQuiet(t, "history append")
		}
		if echo {
			msg.echo(b, o)
		}
		if after != nil {
			after(sh, b)
		}
		return
	}
	// msg is gone once this task ends: the echo is encoded now, sent later.
	var line []byte
	if echo {
		line = msg.echoLine(o.c)
	}
	id := sh.id
	err := s.store.Commit(t, func(err error) {
		s.post(id, func(sh *shard, b *batch) {
			if err != nil {
				s.log.Warn("history append failed: message delivered, not stored", "err", err)
			}
			if line != nil {
				b.replyLine(o, line)
			}
			if after != nil {
				after(sh, b)
			}
			b.done(o)
		})
	})
	if err != nil {
		// Refused at once (busy, disk full): delivered, not stored.
		s.log.Warn("history append refused: message delivered, not stored", "err", err)
		if line != nil {
			b.replyLine(o, line)
		}
		if after != nil {
			after(sh, b)
		}
		return
	}
	// One more part: the post above completes it. It comes in a later
	// batch of this shard, so the loop learns of the part first.
	b.openPart(o)
}

// commitQuiet commits t without waiting for it; a failure is logged.
func (s *Server) commitQuiet(t *kv.Txn, what string) {
	if err := s.store.Commit(t, func(err error) {
		if err != nil {
			s.log.Debug(what+" failed", "err", err)
		}
	}); err != nil {
		s.log.Debug(what+" refused", "err", err)
	}
}
