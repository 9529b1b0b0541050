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

// csCall is one ChanServ command in flight, on the channel's shard: the
// command's op is held there (hold.go) until finish, which may come after
// a commit.
type csCall struct {
	s      *Server
	o      *op
	name   string // channel as given
	folded string
	id     *Identity // the caller, as of the command
}

// chanServOp validates the channel name on the loop and runs fn on its
// shard as part of o, held until the call finishes.
func (s *Server) chanServOp(o *op, name string, fn func(sh *shard, b *batch, call *csCall)) {
	if !codec.ValidChannel([]byte(name), s.cfg.ChannelLen) {
		s.serviceNotice(o, chanServ, name+" is not a valid channel name")
		return
	}
	call := &csCall{s: s, o: o, name: name, folded: s.cm.Fold(name), id: o.c.Identity()}
	o.toShard(s.shardOf(call.folded), func(sh *shard, b *batch) {
		sh.hold(b, o)
		fn(sh, b, call)
	})
}

// finish answers and completes the call. Shard only.
func (call *csCall) finish(sh *shard, b *batch, lines ...string) {
	r := sh.replies(call.o.c)
	call.s.appendServiceNotice(r, call.o.c, chanServ, lines...)
	b.reply(call.o, r)
	sh.release(b, call.o)
}

// commit commits t and runs then on the shard with the outcome.
func (call *csCall) commit(sh *shard, b *batch, t *kv.Txn, then func(sh *shard, b *batch, err error)) {
	s := call.s
	id := sh.id
	done := func(err error) { s.post(id, func(sh *shard, b *batch) { then(sh, b, err) }) }
	if err := s.store.Commit(t, done); err != nil {
		then(sh, b, err)
	}
}

func (call *csCall) account() string { return call.s.cm.Fold(call.id.Account) }

func (call *csCall) isOper() bool { return call.id.Modes&UModeOper != 0 }

// failText logs a failed write and explains it.
func (call *csCall) failText(what string, err error) string {
	call.s.log.Error(what+" not saved", "channel", call.folded, "nick", call.id.Nick, "err", err)
	return what + " failed: " + storeFailText(err)
}

func csRegister(o *op, args []string) {
	s, c := o.s, o.c
	if c.Identity().Account == "" {
		s.serviceNotice(o, chanServ, "You must be logged in to register a channel")
		return
	}
	s.chanServOp(o, args[0], func(sh *shard, b *batch, call *csCall) {
		ch := sh.channels[call.folded]
		var mb *Member
		if ch != nil {
			mb = ch.member(c.user())
		}
		switch {
		case sh.regOf(call.folded) != nil:
			call.finish(sh, b, call.name+" is already registered")
			return
		case mb == nil:
			call.finish(sh, b, "You must be in "+call.name+" to register it")
			return
		case mb.modes&memberOp == 0:
			call.finish(sh, b, "You must be a channel operator of "+call.name+" to register it")
			return
		}
		founder := call.account()
		now := time.Now()
		rec := recordOf(ch, kv.Channel{Name: call.folded, DisplayName: ch.name, Founder: founder, Created: ch.created})
		t := s.store.NewTxn()
		t.RequireNoChannel(call.folded)
		t.RequireAccount(founder)
		t.PutChannel(rec)
		t.PutAccess(kv.Access{Channel: call.folded, Account: founder, Level: kv.LevelFounder, SetBy: call.id.Nick, SetAt: now})
		t.AppendAudit(audit(c, "channel.register", call.folded))
		call.commit(sh, b, t, func(sh *shard, b *batch, err error) {
			switch {
			case errors.Is(err, kv.ErrExists):
				call.finish(sh, b, call.name+" is already registered")
				return
			case errors.Is(err, kv.ErrNotFound):
				call.finish(sh, b, "Your account no longer exists")
				return
			case err != nil:
				call.finish(sh, b, call.failText("Registration of "+call.name, err))
				return
			}
			if sh.registered == nil {
				sh.registered = make(map[string]*regChan)
			}
			rc := &regChan{rec: rec, access: map[string]kv.Level{founder: kv.LevelFounder}}
			sh.registered[call.folded] = rc
			s.log.Info("channel registered", "channel", call.folded, "founder", founder)
			call.finish(sh, b, rec.DisplayName+" is now registered to "+call.id.Account)
			sh.regSaveLive(b, rc)
		})
	})
}

func csDrop(o *op, args []string) {
	s, c := o.s, o.c
	s.chanServOp(o, args[0], func(sh *shard, b *batch, call *csCall) {
		sh.regWhenIdle(b, call.folded, func(sh *shard, b *batch) {
			rc := sh.regOf(call.folded)
			switch {
			case rc == nil:
				call.finish(sh, b, call.name+" is not registered")
				return
			case rc.access[call.account()] != kv.LevelFounder && !call.isOper():
				call.finish(sh, b, "Only the founder of "+rc.rec.DisplayName+" can drop it")
				return
			}
			rc.busy = true
			t := s.store.NewTxn()
			t.RequireChannel(call.folded)
			t.DeleteChannel(call.folded)
			t.AppendAudit(audit(c, "channel.drop", call.folded))
			call.commit(sh, b, t, func(sh *shard, b *batch, err error) {
				switch {
				case err == nil || errors.Is(err, kv.ErrNotFound):
					if sh.registered[call.folded] == rc {
						delete(sh.registered, call.folded)
					}
					s.log.Info("channel dropped", "channel", call.folded, "by", call.id.Nick)
					call.finish(sh, b, rc.rec.DisplayName+" is no longer registered")
				default:
					call.finish(sh, b, call.failText("Dropping "+rc.rec.DisplayName, err))
				}
				sh.regIdle(b, rc)
			})
		})
	})
}

func csInfo(o *op, args []string) {
	s := o.s
	s.chanServOp(o, args[0], func(sh *shard, b *batch, call *csCall) {
		rc := sh.regOf(call.folded)
		if rc == nil {
			call.finish(sh, b, call.name+" is not registered")
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
		call.finish(sh, b, lines...)
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

func csAccess(o *op, args []string) {
	s, c := o.s, o.c
	sub := strings.ToUpper(args[1])
	switch {
	case sub == "LIST":
	case sub == "ADD" && len(args) >= 4:
		if _, ok := parseLevel(args[3]); !ok {
			s.serviceNotice(o, chanServ, "Unknown level "+args[3]+"; use op or voice")
			return
		}
	case sub == "DEL" && len(args) >= 3:
	default:
		s.serviceNotice(o, chanServ, "Syntax: ACCESS <#channel> ADD <account> <op|voice> | DEL <account> | LIST")
		return
	}
	s.chanServOp(o, args[0], func(sh *shard, b *batch, call *csCall) {
		rc := sh.regOf(call.folded)
		if rc == nil {
			call.finish(sh, b, call.name+" is not registered")
			return
		}
		mine := rc.access[call.account()]
		if sub == "LIST" {
			ch := sh.channels[call.folded]
			chanOp := false
			if ch != nil {
				mb := ch.member(c.user())
				chanOp = mb != nil && mb.modes&memberOp != 0
			}
			if mine == 0 && !chanOp && !call.isOper() {
				call.finish(sh, b, "You have no access to "+rc.rec.DisplayName)
				return
			}
			call.finish(sh, b, accessList(rc)...)
			return
		}
		if mine != kv.LevelFounder && !call.isOper() {
			call.finish(sh, b, "Only the founder of "+rc.rec.DisplayName+" can change its access list")
			return
		}
		target := s.cm.Fold(args[2])
		if rc.access[target] == kv.LevelFounder {
			call.finish(sh, b, "The founder's access cannot be changed")
			return
		}
		t := s.store.NewTxn()
		t.RequireChannel(call.folded)
		var level kv.Level
		if sub == "ADD" {
			level, _ = parseLevel(args[3])
			t.RequireAccount(target)
			t.PutAccess(kv.Access{Channel: call.folded, Account: target, Level: level, SetBy: call.id.Nick, SetAt: time.Now()})
			t.AppendAudit(audit(c, "channel.access.add", call.folded+" "+target+" "+level.String()))
		} else {
			if rc.access[target] == 0 {
				call.finish(sh, b, args[2]+" is not on the access list of "+rc.rec.DisplayName)
				return
			}
			t.DeleteAccess(call.folded, target)
			t.AppendAudit(audit(c, "channel.access.del", call.folded+" "+target))
		}
		call.commit(sh, b, t, func(sh *shard, b *batch, err error) {
			var ce *kv.ConditionError
			switch {
			case errors.As(err, &ce) && ce.Kind == kv.KindAccount:
				call.finish(sh, b, "No such account: "+args[2])
				return
			case errors.As(err, &ce):
				call.finish(sh, b, call.name+" is not registered")
				return
			case err != nil:
				call.finish(sh, b, call.failText("Access change on "+rc.rec.DisplayName, err))
				return
			}
			if cur := sh.regOf(call.folded); cur != nil {
				if sub == "ADD" {
					cur.access[target] = level
				} else {
					delete(cur.access, target)
				}
			}
			if sub == "ADD" {
				call.finish(sh, b, target+" now has "+level.String()+" access on "+rc.rec.DisplayName)
			} else {
				call.finish(sh, b, target+" no longer has access on "+rc.rec.DisplayName)
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
