package chat

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"laird/codec"
	"laird/guard"
	"laird/kv"
)

// Server bans (KLINE/DLINE) live in guard's BanList for matching and in kv
// for durability. A new ban takes effect in memory at once, is committed,
// and is acknowledged to the operator only once durable; if the commit
// fails it is withdrawn again and the operator is told.

// LoadBans fills the guard's ban list from the store at start-up, dropping
// bans that expired while the server was down.
func (s *Server) LoadBans(now time.Time) error {
	if s.guard() == nil || s.store == nil {
		return nil
	}
	bans, err := s.store.Bans()
	if err != nil {
		return fmt.Errorf("chat: load bans: %w", err)
	}
	for _, b := range bans {
		gb := guardBan(b)
		if gb.Expired(now) {
			s.deleteBanRecord(gb)
			continue
		}
		if _, _, err := s.guard().Bans.Add(gb, now); err != nil {
			s.log.Warn("stored ban not loaded", "mask", b.Mask, "err", err)
		}
	}
	return nil
}

// PruneBans drops expired bans from memory and from the store; the caller
// runs it periodically off the event loops.
func (s *Server) PruneBans(now time.Time) {
	if s.guard() == nil {
		return
	}
	exp := s.guard().Prune(now)
	for _, b := range exp.Bans {
		s.deleteBanRecord(b)
		s.audit("server", strings.ToLower(b.Kind.String())+".expire", b.Mask, b.Reason, "")
	}
}

func guardBan(b kv.Ban) guard.Ban {
	kind := guard.KLine
	if b.Kind == kv.DLine {
		kind = guard.DLine
	}
	return guard.Ban{Kind: kind, Mask: b.Mask, Reason: b.Reason, SetBy: b.SetBy, SetAt: b.SetAt, Expires: b.Expires}
}

func kvBan(b guard.Ban) kv.Ban {
	kind := kv.KLine
	if b.Kind == guard.DLine {
		kind = kv.DLine
	}
	return kv.Ban{Kind: kind, Mask: b.Mask, Reason: b.Reason, SetBy: b.SetBy, SetAt: b.SetAt, Expires: b.Expires}
}

func (s *Server) deleteBanRecord(b guard.Ban) {
	if s.store == nil {
		return
	}
	t := s.store.NewTxn()
	kb := kvBan(b)
	t.DeleteBan(kb.Kind, kb.Mask)
	if err := s.store.Commit(t, func(error) {}); err != nil {
		s.log.Warn("expired ban record not deleted", "mask", b.Mask, "err", err)
	}
}

// addBan applies b, persists it with an audit entry and, once durable,
// disconnects matching clients; done (on the kv writer goroutine, or at
// once on a validation error) learns the outcome.
func (s *Server) addBan(b guard.Ban, actor, ip string, done func(error)) {
	now := time.Now()
	stored, replaced, err := s.guard().Bans.Add(b, now)
	if err != nil {
		done(err)
		return
	}
	matcher, err := s.guard().Bans.Matcher(stored)
	if err != nil {
		done(err)
		return
	}
	kindName := strings.ToLower(stored.Kind.String())
	withdraw := func() {
		if !replaced {
			_, _ = s.guard().Bans.Remove(stored.Kind, stored.Mask)
		}
	}
	if s.store == nil {
		s.enforceBan(matcher, stored)
		done(nil)
		return
	}
	t := s.store.NewTxn()
	t.PutBan(kvBan(stored))
	t.AppendAudit(kv.AuditEntry{Actor: actor, Action: kindName + ".add", Target: stored.Mask, Reason: stored.Reason, IP: ip})
	err = s.store.Commit(t, func(err error) {
		if err != nil {
			withdraw()
			done(err)
			return
		}
		s.countBan(kindName)
		s.enforceBan(matcher, stored)
		done(nil)
	})
	if err != nil {
		withdraw()
		done(err)
	}
}

// enforceBan disconnects every registered client the ban covers.
func (s *Server) enforceBan(m guard.BanMatcher, b guard.Ban) {
	reason := "K-lined: " + b.Reason
	if b.Kind == guard.DLine {
		reason = "D-lined: " + b.Reason
	}
	for i := range s.shards {
		s.post(i, func(sh *shard, _ *batch) {
			for _, t := range sh.nicks {
				id := t.Identity()
				if !t.present() || !m.Match(id.Nick, id.User, id.Host, t.ip) {
					continue
				}
				s.disconnectUser(t, reason)
			}
		})
	}
}

// parseBanArgs reads "[duration] mask [:reason]".
func parseBanArgs(m *codec.Message) (dur time.Duration, mask, reason string, ok bool) {
	args := m.Params()
	if len(args) > 1 {
		if d, err := parseDuration(string(args[0])); err == nil {
			dur = d
			args = args[1:]
		}
	}
	if len(args) == 0 || len(args[0]) == 0 {
		return 0, "", "", false
	}
	mask = string(args[0])
	reason = "No reason given"
	if len(args) > 1 && len(args[1]) > 0 {
		reason = string(args[1])
	}
	return dur, mask, reason, true
}

// parseDuration accepts Go durations and d/w suffixes ("90m", "2d", "1w")
// or plain seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(v, "d") || strings.HasSuffix(v, "w") {
		n, err := strconv.Atoi(v[:len(v)-1])
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("bad duration %q", v)
		}
		unit := 24 * time.Hour
		if strings.HasSuffix(v, "w") {
			unit *= 7
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return d, nil
}

func handleKline(o *op, m *codec.Message) { banCommand(o, m, guard.KLine) }
func handleDline(o *op, m *codec.Message) { banCommand(o, m, guard.DLine) }

func banCommand(o *op, m *codec.Message, kind guard.BanKind) {
	s, c := o.s, o.c
	name := kind.String()
	if s.guard() == nil {
		o.fail(name, "DISABLED", "", "Server bans are not enabled")
		return
	}
	dur, mask, reason, ok := parseBanArgs(m)
	if !ok {
		needMore(o, name)
		return
	}
	now := time.Now()
	id := c.Identity()
	b := guard.Ban{Kind: kind, Mask: mask, Reason: reason, SetBy: id.Prefix, SetAt: now}
	if dur > 0 {
		b.Expires = now.Add(dur)
	}
	var result error
	o.waitFor(func(done func()) {
		s.addBan(b, id.Nick, c.ip.String(), func(err error) {
			result = err
			done()
		})
	}, func() {
		r := o.replies()
		if result != nil {
			code := "INVALID_MASK"
			if kv.Temporary(result) {
				code = "TEMPORARILY_UNAVAILABLE"
			}
			r.fail(name, code, mask, "Ban not added: "+result.Error())
		} else {
			exp := "permanent"
			if dur > 0 {
				exp = "for " + dur.String()
			}
			r.cmd(s.name, "NOTICE", true, c.Nick(), fmt.Sprintf("Added %s %s (%s): %s", name, mask, exp, reason))
			s.serverNotice(fmt.Sprintf("%s added %s %s (%s): %s", id.Nick, name, mask, exp, reason))
		}
		o.reply(r)
	})
}

func handleUnkline(o *op, m *codec.Message) { unbanCommand(o, m, guard.KLine) }
func handleUndline(o *op, m *codec.Message) { unbanCommand(o, m, guard.DLine) }

func unbanCommand(o *op, m *codec.Message, kind guard.BanKind) {
	s, c := o.s, o.c
	name := "UN" + kind.String()
	if s.guard() == nil {
		o.fail(name, "DISABLED", "", "Server bans are not enabled")
		return
	}
	mask := string(m.Param(0))
	removed, err := s.guard().Bans.Remove(kind, mask)
	if err != nil {
		o.fail(name, "NO_SUCH_BAN", mask, "No such "+kind.String())
		return
	}
	id := c.Identity()
	finish := func(err error) {
		if err != nil {
			// Not durable: put the ban back so memory matches the store.
			_, _, _ = s.guard().Bans.Add(removed, time.Now())
			o.fail(name, "TEMPORARILY_UNAVAILABLE", mask, "Ban not removed: "+err.Error())
			return
		}
		r := o.replies()
		r.cmd(s.name, "NOTICE", true, c.Nick(), "Removed "+kind.String()+" "+removed.Mask)
		o.reply(r)
		s.serverNotice(id.Nick + " removed " + kind.String() + " " + removed.Mask)
	}
	if s.store == nil {
		finish(nil)
		return
	}
	t := s.store.NewTxn()
	kb := kvBan(removed)
	t.DeleteBan(kb.Kind, kb.Mask)
	t.AppendAudit(kv.AuditEntry{Actor: id.Nick, Action: strings.ToLower(kind.String()) + ".remove", Target: removed.Mask, IP: c.ip.String()})
	o.commit(t, finish)
}

// statsBans lists K- or D-lines for STATS k / STATS d.
func (s *Server) statsBans(r *replies, kind guard.BanKind) {
	if s.guard() == nil {
		return
	}
	num := "216" // RPL_STATSKLINE
	letter := "K"
	if kind == guard.DLine {
		num, letter = "225", "D" // RPL_STATSDLINE
	}
	for _, b := range s.guard().Bans.List(kind, time.Now()) {
		exp := "permanent"
		if !b.Expires.IsZero() {
			exp = "expires " + b.Expires.UTC().Format(time.RFC3339)
		}
		r.numeric(num, letter, b.Mask, b.SetBy, b.Reason+" ("+exp+")")
	}
}
