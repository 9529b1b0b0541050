package chat

import (
	"errors"
	"slices"
	"strings"
	"time"

	"laird/codec"
	"laird/kv"
)

// ChanServ: registered channels. Each command runs on the shard owning
// the channel (which owns its registration, regchan.go) with the client
// parked, and answers once any commit it made is durable.

const chanServ = "ChanServ"

func chanServCommands() map[string]serviceCommand {
	return map[string]serviceCommand{
		"REGISTER": {handle: csRegister, minArgs: 1, usage: "<#channel>",
			help: "Registers a channel you are an operator of to your account; its topic, modes and lists then survive restarts."},
		"DROP": {handle: csDrop, minArgs: 1, usage: "<#channel>",
			help: "Unregisters a channel (its founder, or an IRC operator)."},
		"INFO": {handle: csInfo, minArgs: 1, usage: "<#channel>", help: "Shows a registered channel's founder and settings."},
		"ACCESS": {handle: csAccess, minArgs: 2, usage: "<#channel> ADD <account> <op|voice> | DEL <account> | LIST",
			help: "Manages who gets op or voice on joining (the founder changes it; members with access see it)."},
	}
}

// csCall is one ChanServ command in flight: the client is parked until
// finish.
type csCall struct {
	s      *Server
	c      *Client
	label  []byte
	name   string // channel as given
	folded string
	id     *Identity // the caller, as of the command
}

// chanServOp validates the channel name on the loop and runs fn on its
// shard with c parked.
func (s *Server) chanServOp(c *Client, name string, fn func(sh *shard, b *batch, op *csCall)) {
	if !codec.ValidChannel([]byte(name), s.cfg.ChannelLen) {
		s.serviceNotice(c, chanServ, name+" is not a valid channel name")
		return
	}
	op := &csCall{s: s, c: c, name: name, folded: s.cm.Fold(name), id: c.Identity()}
	op.label = c.takeLabel()
	c.park()
	s.post(s.shardOf(op.folded), func(sh *shard, b *batch) { fn(sh, b, op) })
}

// finish answers and resumes the client. Shard only.
func (op *csCall) finish(sh *shard, b *batch, lines ...string) {
	r := sh.replies(op.c)
	op.s.appendServiceNotice(r, op.c, chanServ, lines...)
	b.replies(op.c, r, op.label)
	putReplies(r)
	b.done(op.c)
}

// commit commits t and runs then on the shard with the outcome.
func (op *csCall) commit(sh *shard, b *batch, t *kv.Txn, then func(sh *shard, b *batch, err error)) {
	s := op.s
	id := sh.id
	done := func(err error) { s.post(id, func(sh *shard, b *batch) { then(sh, b, err) }) }
	if err := s.store.Commit(t, done); err != nil {
		then(sh, b, err)
	}
}

func (op *csCall) account() string { return op.s.cm.Fold(op.id.Account) }

func (op *csCall) isOper() bool { return op.id.Modes&UModeOper != 0 }

// failText logs a failed write and explains it.
func (op *csCall) failText(what string, err error) string {
	op.s.log.Error(what+" not saved", "channel", op.folded, "nick", op.id.Nick, "err", err)
	return what + " failed: " + storeFailText(err)
}

func csRegister(s *Server, c *Client, args []string) {
	if c.Identity().Account == "" {
		s.serviceNotice(c, chanServ, "You must be logged in to register a channel")
		return
	}
	s.chanServOp(c, args[0], func(sh *shard, b *batch, op *csCall) {
		ch := sh.channels[op.folded]
		var mb *Member
		if ch != nil {
			mb = ch.member(c)
		}
		switch {
		case sh.regOf(op.folded) != nil:
			op.finish(sh, b, op.name+" is already registered")
			return
		case mb == nil:
			op.finish(sh, b, "You must be in "+op.name+" to register it")
			return
		case mb.modes&memberOp == 0:
			op.finish(sh, b, "You must be a channel operator of "+op.name+" to register it")
			return
		}
		founder := op.account()
		now := time.Now()
		rec := recordOf(ch, kv.Channel{Name: op.folded, DisplayName: ch.name, Founder: founder, Created: ch.created})
		t := s.store.NewTxn()
		t.RequireNoChannel(op.folded)
		t.RequireAccount(founder)
		t.PutChannel(rec)
		t.PutAccess(kv.Access{Channel: op.folded, Account: founder, Level: kv.LevelFounder, SetBy: op.id.Nick, SetAt: now})
		t.AppendAudit(audit(c, "channel.register", op.folded))
		op.commit(sh, b, t, func(sh *shard, b *batch, err error) {
			switch {
			case errors.Is(err, kv.ErrExists):
				op.finish(sh, b, op.name+" is already registered")
				return
			case errors.Is(err, kv.ErrNotFound):
				op.finish(sh, b, "Your account no longer exists")
				return
			case err != nil:
				op.finish(sh, b, op.failText("Registration of "+op.name, err))
				return
			}
			if sh.registered == nil {
				sh.registered = make(map[string]*regChan)
			}
			rc := &regChan{rec: rec, access: map[string]kv.Level{founder: kv.LevelFounder}}
			sh.registered[op.folded] = rc
			s.log.Info("channel registered", "channel", op.folded, "founder", founder)
			op.finish(sh, b, rec.DisplayName+" is now registered to "+op.id.Account)
			sh.regSaveLive(b, rc)
		})
	})
}

func csDrop(s *Server, c *Client, args []string) {
	s.chanServOp(c, args[0], func(sh *shard, b *batch, op *csCall) {
		sh.regWhenIdle(b, op.folded, func(sh *shard, b *batch) {
			rc := sh.regOf(op.folded)
			switch {
			case rc == nil:
				op.finish(sh, b, op.name+" is not registered")
				return
			case rc.access[op.account()] != kv.LevelFounder && !op.isOper():
				op.finish(sh, b, "Only the founder of "+rc.rec.DisplayName+" can drop it")
				return
			}
			rc.busy = true
			t := s.store.NewTxn()
			t.RequireChannel(op.folded)
			t.DeleteChannel(op.folded)
			t.AppendAudit(audit(c, "channel.drop", op.folded))
			op.commit(sh, b, t, func(sh *shard, b *batch, err error) {
				switch {
				case err == nil || errors.Is(err, kv.ErrNotFound):
					if sh.registered[op.folded] == rc {
						delete(sh.registered, op.folded)
					}
					s.log.Info("channel dropped", "channel", op.folded, "by", op.id.Nick)
					op.finish(sh, b, rc.rec.DisplayName+" is no longer registered")
				default:
					op.finish(sh, b, op.failText("Dropping "+rc.rec.DisplayName, err))
				}
				sh.regIdle(b, rc)
			})
		})
	})
}

func csInfo(s *Server, c *Client, args []string) {
	s.chanServOp(c, args[0], func(sh *shard, b *batch, op *csCall) {
		rc := sh.regOf(op.folded)
		if rc == nil {
			op.finish(sh, b, op.name+" is not registered")
			return
		}
		r := rc.rec
		lines := []string{
			"Information on " + r.DisplayName + ":",
			"Founder: " + r.Founder,
			"Registered: " + r.Created.UTC().Format(time.RFC1123),
		}
		modes := "+" + r.Modes
		if r.Key != "" {
			modes += "k"
		}
		if r.Limit > 0 {
			modes += "l"
		}
		lines = append(lines, "Modes: "+modes)
		if r.Topic != "" {
			lines = append(lines, "Topic: "+r.Topic)
		}
		op.finish(sh, b, lines...)
	})
}

// parseLevel reads an access level a founder may grant.
func parseLevel(s string) (kv.Level, bool) {
	switch strings.ToLower(s) {
	case "op", "aop", "o":
		return kv.LevelOp, true
	case "voice", "vop", "v":
		return kv.LevelVoice, true
	}
	return 0, false
}

func csAccess(s *Server, c *Client, args []string) {
	sub := strings.ToUpper(args[1])
	switch {
	case sub == "LIST":
	case sub == "ADD" && len(args) >= 4:
		if _, ok := parseLevel(args[3]); !ok {
			s.serviceNotice(c, chanServ, "Unknown level "+args[3]+"; use op or voice")
			return
		}
	case sub == "DEL" && len(args) >= 3:
	default:
		s.serviceNotice(c, chanServ, "Syntax: ACCESS <#channel> ADD <account> <op|voice> | DEL <account> | LIST")
		return
	}
	s.chanServOp(c, args[0], func(sh *shard, b *batch, op *csCall) {
		rc := sh.regOf(op.folded)
		if rc == nil {
			op.finish(sh, b, op.name+" is not registered")
			return
		}
		mine := rc.access[op.account()]
		if sub == "LIST" {
			ch := sh.channels[op.folded]
			chanOp := false
			if ch != nil {
				mb := ch.member(c)
				chanOp = mb != nil && mb.modes&memberOp != 0
			}
			if mine == 0 && !chanOp && !op.isOper() {
				op.finish(sh, b, "You have no access to "+rc.rec.DisplayName)
				return
			}
			op.finish(sh, b, accessList(rc)...)
			return
		}
		if mine != kv.LevelFounder && !op.isOper() {
			op.finish(sh, b, "Only the founder of "+rc.rec.DisplayName+" can change its access list")
			return
		}
		target := s.cm.Fold(args[2])
		if rc.access[target] == kv.LevelFounder {
			op.finish(sh, b, "The founder's access cannot be changed")
			return
		}
		t := s.store.NewTxn()
		t.RequireChannel(op.folded)
		var level kv.Level
		if sub == "ADD" {
			level, _ = parseLevel(args[3])
			t.RequireAccount(target)
			t.PutAccess(kv.Access{Channel: op.folded, Account: target, Level: level, SetBy: op.id.Nick, SetAt: time.Now()})
			t.AppendAudit(audit(c, "channel.access.add", op.folded+" "+target+" "+level.String()))
		} else {
			if rc.access[target] == 0 {
				op.finish(sh, b, args[2]+" is not on the access list of "+rc.rec.DisplayName)
				return
			}
			t.DeleteAccess(op.folded, target)
			t.AppendAudit(audit(c, "channel.access.del", op.folded+" "+target))
		}
		op.commit(sh, b, t, func(sh *shard, b *batch, err error) {
			var ce *kv.ConditionError
			switch {
			case errors.As(err, &ce) && ce.Kind == kv.KindAccount:
				op.finish(sh, b, "No such account: "+args[2])
				return
			case errors.As(err, &ce):
				op.finish(sh, b, op.name+" is not registered")
				return
			case err != nil:
				op.finish(sh, b, op.failText("Access change on "+rc.rec.DisplayName, err))
				return
			}
			if cur := sh.regOf(op.folded); cur != nil {
				if sub == "ADD" {
					cur.access[target] = level
				} else {
					delete(cur.access, target)
				}
			}
			if sub == "ADD" {
				op.finish(sh, b, target+" now has "+level.String()+" access on "+rc.rec.DisplayName)
			} else {
				op.finish(sh, b, target+" no longer has access on "+rc.rec.DisplayName)
			}
		})
	})
}

func accessList(rc *regChan) []string {
	names := make([]string, 0, len(rc.access))
	for a := range rc.access {
		names = append(names, a)
	}
	slices.Sort(names)
	lines := []string{"Access list of " + rc.rec.DisplayName + ":"}
	for _, a := range names {
		lines = append(lines, "  "+a+" "+rc.access[a].String())
	}
	return append(lines, "End of access list")
}
