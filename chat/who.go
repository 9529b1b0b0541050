package chat

import (
	"strconv"
	"strings"
	"time"

	"laird/codec"
)

// whoQuery is a parsed WHO request.
type whoQuery struct {
	mask   string
	whox   bool
	fields string // WHOX field letters
	token  string
}

func parseWho(m *codec.Message) whoQuery {
	q := whoQuery{mask: string(m.Param(0))}
	if q.mask == "" {
		q.mask = "*"
	}
	if f := string(m.Param(1)); strings.HasPrefix(f, "%") {
		q.whox = true
		q.fields, q.token, _ = strings.Cut(f[1:], ",")
	}
	return q
}

func handleWho(o *op, m *codec.Message) {
	s, c := o.s, o.c
	q := parseWho(m)
	if codec.IsChannelName([]byte(q.mask)) {
		folded := s.cm.Fold(q.mask)
		o.toShard(s.shardOf(folded), func(sh *shard, b *batch) {
			r := sh.replies(c)
			if ch := sh.channels[folded]; ch != nil {
				member := ch.member(c.user()) != nil
				if member || ch.modes&cmodeSecret == 0 {
					for _, mb := range ch.members {
						id := mb.u.Identity()
						if !member && id.Modes&UModeInvisible != 0 {
							continue
						}
						s.whoReply(r, q, ch.name, mb.u, id, mb.prefix(c.Has(CapMultiPrefix)))
					}
				}
			}
			r.numeric(codec.RPL_ENDOFWHO, q.mask, "End of WHO list")
			b.reply(o, r)
		})
		return
	}
	if !strings.ContainsAny(q.mask, "*?!@") {
		s.lookupNicks(o, []string{s.cm.Fold(q.mask)}, func(found map[string]*user) {
			r := o.replies()
			for _, t := range found {
				s.whoReply(r, q, "*", t, t.Identity(), "")
			}
			r.numeric(codec.RPL_ENDOFWHO, q.mask, "End of WHO list")
			o.reply(r)
		})
		return
	}
	s.whoScan(o, q)
}

// whoScan answers a wildcard WHO by asking every nick shard.
func (s *Server) whoScan(o *op, q whoQuery) {
	c := o.c
	oper := c.Identity().Modes&UModeOper != 0
	mask := q.mask
	if mask == "0" {
		mask = "*"
	}
	me := c.user()
	gatherAll(o, func(sh *shard) []*user {
		var mine []*user
		for _, t := range sh.nicks {
			if !t.present() {
				continue
			}
			tid := t.Identity()
			if t != me && !oper && tid.Modes&UModeInvisible != 0 && !shareChannel(me, t) {
				continue
			}
			if globMatch(s.cm, mask, tid.Nick) || globMatch(s.cm, mask, tid.Prefix) || globMatch(s.cm, mask, tid.Host) || globMatch(s.cm, mask, tid.Realname) {
				mine = append(mine, t)
			}
		}
		return mine
	}, func(found []*user) {
		r := o.replies()
		for i, t := range found {
			if i >= 500 {
				break // bound the reply; a WHO * on a big network is abuse
			}
			s.whoReply(r, q, "*", t, t.Identity(), "")
		}
		r.numeric(codec.RPL_ENDOFWHO, q.mask, "End of WHO list")
		o.reply(r)
	})
}

// whoFlags returns H or G, then * for operators, B for bots, then prefix.
func whoFlags(id *Identity, prefix string) string {
	f := "H"
	if id.Away != "" {
		f = "G"
	}
	if id.Modes&UModeOper != 0 {
		f += "*"
	}
	if id.Modes&UModeBot != 0 {
		f += "B"
	}
	return f + prefix
}

func (s *Server) whoReply(r *replies, q whoQuery, channel string, t *user, id *Identity, prefix string) {
	if !q.whox {
		r.numeric(codec.RPL_WHOREPLY, channel, id.User, id.Host, s.name, id.Nick, whoFlags(id, prefix), "0 "+id.Realname)
		return
	}
	var out []string
	has := func(f byte) bool { return strings.IndexByte(q.fields, f) >= 0 }
	// WHOX fields are returned in this fixed order whatever the request's.
	if has('t') {
		out = append(out, orStar(q.token))
	}
	if has('c') {
		out = append(out, channel)
	}
	if has('u') {
		out = append(out, id.User)
	}
	if has('i') {
		out = append(out, t.ip.String())
	}
	if has('h') {
		out = append(out, id.Host)
	}
	if has('s') {
		out = append(out, s.name)
	}
	if has('n') {
		out = append(out, id.Nick)
	}
	if has('f') {
		out = append(out, whoFlags(id, prefix))
	}
	if has('d') {
		out = append(out, "0")
	}
	if has('l') {
		out = append(out, strconv.FormatInt(time.Now().Unix()-t.activeAt.Load(), 10))
	}
	if has('a') {
		out = append(out, orZero(id.Account))
	}
	if has('o') {
		out = append(out, "n/a")
	}
	if has('r') {
		out = append(out, id.Realname)
	}
	if len(out) == 0 {
		out = append(out, "*")
	}
	r.numeric(codec.RPL_WHOSPCRPL, out...)
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func handleWhois(o *op, m *codec.Message) {
	s, c := o.s, o.c
	nick := string(m.Param(m.NParams() - 1))
	if nick == "" {
		r := c.replies()
		r.numeric(codec.ERR_NONICKNAMEGIVEN, "No nickname given")
		o.reply(r)
		return
	}
	if i := strings.IndexByte(nick, ','); i >= 0 {
		nick = nick[:i] // TARGMAX WHOIS:1
	}
	folded := s.cm.Fold(nick)
	s.lookupNicks(o, []string{folded}, func(found map[string]*user) {
		t := found[folded]
		if t == nil {
			r := o.replies()
			r.numeric(codec.ERR_NOSUCHNICK, nick, "No such nick/channel")
			r.numeric(codec.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
			o.reply(r)
			return
		}
		s.gatherChannels(o, t, func(views []channelView) {
			s.whoisReplies(o, t, views)
		})
	})
}

func (s *Server) whoisReplies(o *op, t *user, views []channelView) {
	c := o.c
	self := t == c.user()
	id := t.Identity()
	me := c.Identity()
	r := c.replies()
	r.numeric(codec.RPL_WHOISUSER, id.Nick, id.User, id.Host, "*", id.Realname)
	var chans []string
	for _, v := range views {
		if v.secret && !v.shared && !self && me.Modes&UModeOper == 0 {
			continue
		}
		chans = append(chans, v.prefix+v.name)
	}
	if len(chans) > 0 {
		r.numeric(codec.RPL_WHOISCHANNELS, id.Nick, strings.Join(chans, " "))
	}
	r.numeric(codec.RPL_WHOISSERVER, id.Nick, s.name, s.cfg.Description)
	if id.Away != "" {
		r.numeric(codec.RPL_AWAY, id.Nick, id.Away)
	}
	if id.Modes&UModeOper != 0 {
		r.numeric(codec.RPL_WHOISOPERATOR, id.Nick, "is an IRC operator")
	}
	if id.Modes&UModeBot != 0 {
		r.numeric("335", id.Nick, "is a bot")
	}
	if id.Account != "" {
		r.numeric(codec.RPL_WHOISACCOUNT, id.Nick, id.Account, "is logged in as")
	}
	whoisSecure(r, t, id.Nick, self || me.Modes&UModeOper != 0)
	if self || me.Modes&UModeOper != 0 {
		r.numeric(codec.RPL_WHOISHOST, id.Nick, "is connecting from *@"+t.ip.String()+" "+t.ip.String())
	}
	if c.hasMetadata() {
		for _, e := range t.metadata() {
			r.numeric(rplWhoisKeyValue, id.Nick, e.key, "*", e.value)
		}
	}
	idle := time.Now().Unix() - t.activeAt.Load()
	r.numeric(codec.RPL_WHOISIDLE, id.Nick, strconv.FormatInt(max(idle, 0), 10), strconv.FormatInt(t.signon, 10), "seconds idle, signon time")
	r.numeric(codec.RPL_ENDOFWHOIS, id.Nick, "End of /WHOIS list")
	o.reply(r)
}

func handleWhowas(o *op, m *codec.Message) {
	s, c := o.s, o.c
	nick := string(m.Param(0))
	count := 0
	if m.NParams() > 1 {
		count, _ = strconv.Atoi(string(m.Param(1)))
	}
	r := c.replies()
	entries := s.whowas.find(s.cm.Equal, nick, count)
	if len(entries) == 0 {
		r.numeric(codec.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
	}
	for _, e := range entries {
		r.numeric(codec.RPL_WHOWASUSER, e.nick, e.user, e.host, "*", e.realname)
		r.numeric(codec.RPL_WHOISSERVER, e.nick, e.server, e.when.UTC().Format(time.RFC1123))
	}
	r.numeric(codec.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")
	o.reply(r)
}

func handleIson(o *op, m *codec.Message) {
	s, c := o.s, o.c
	var folded []string
	for _, p := range m.Params() {
		for _, n := range strings.Fields(string(p)) {
			folded = append(folded, s.cm.Fold(n))
		}
	}
	s.lookupNicks(o, folded, func(found map[string]*user) {
		var on []string
		for _, f := range folded {
			if t := found[f]; t != nil {
				on = append(on, t.Nick())
			}
		}
		r := c.replies()
		r.numeric(codec.RPL_ISON, strings.Join(on, " "))
		o.reply(r)
	})
}

func handleUserhost(o *op, m *codec.Message) {
	s, c := o.s, o.c
	var folded []string
	for i, p := range m.Params() {
		if i >= 5 {
			break
		}
		folded = append(folded, s.cm.Fold(string(p)))
	}
	s.lookupNicks(o, folded, func(found map[string]*user) {
		var out []string
		for _, f := range folded {
			t := found[f]
			if t == nil {
				continue
			}
			id := t.Identity()
			e := id.Nick
			if id.Modes&UModeOper != 0 {
				e += "*"
			}
			if id.Away != "" {
				e += "=-"
			} else {
				e += "=+"
			}
			out = append(out, e+id.User+"@"+id.Host)
		}
		r := c.replies()
		r.numeric(codec.RPL_USERHOST, strings.Join(out, " "))
		o.reply(r)
	})
}

// shareChannel reports whether a and b are in a common channel. It reads
// both users' channel sets under their locks, one at a time.
func shareChannel(a, b *user) bool {
	mine := a.channelList()
	for _, name := range mine {
		if b.inChannel(name) {
			return true
		}
	}
	return false
}
