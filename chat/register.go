package chat

import (
	"crypto/sha256"
	"crypto/subtle"
	"sort"
	"strconv"
	"strings"
	"time"

	"laird/codec"
)

func handlePass(o *op, m *codec.Message) {
	c := o.c
	if c.Registered() {
		r := c.replies()
		r.numeric(codec.ERR_ALREADYREGISTERED, "You may not reregister")
		o.reply(r)
		return
	}
	c.password = string(m.Param(0))
}

func handleUser(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if c.Registered() || c.reg&regUser != 0 {
		r := c.replies()
		r.numeric(codec.ERR_ALREADYREGISTERED, "You may not reregister")
		o.reply(r)
		return
	}
	user := m.Param(0)
	if len(user) > codec.DefaultUserLen {
		user = user[:codec.DefaultUserLen]
	}
	if !codec.ValidUser(user, codec.DefaultUserLen) {
		r := c.replies()
		r.numeric("468", "Your username is not valid")
		o.reply(r)
		return
	}
	if len(m.Param(3)) == 0 {
		r := c.replies()
		r.numeric(codec.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
		o.reply(r)
		return
	}
	realname := truncate(string(m.Param(3)), s.realnameLen())
	u := string(user)
	c.update(func(id *Identity) { id.User, id.Realname = u, realname })
	c.reg |= regUser
	s.tryRegister(o)
}

// tryRegister sends the welcome burst once NICK, USER and CAP negotiation
// are complete. Loop only.
func (s *Server) tryRegister(o *op) {
	c := o.c
	if c.reg&(regNick|regUser) != regNick|regUser || c.reg&(regCapPending|regDone) != 0 {
		return
	}
	if pw := s.liveConfig().Password; pw != "" && !sameSecret(c.password, pw) {
		o.numeric(codec.ERR_PASSWDMISMATCH, "Password incorrect")
		c.conn.Close("Bad password")
		c.quitting = true
		s.log.Info("wrong server password", "ip", c.ip.String())
		s.authFailure(c, "", time.Now())
		return
	}
	s.saslAbortOnRegister(o)
	c.password = ""
	if reason, banned := s.kLined(c, time.Now()); banned {
		o.numeric(codec.ERR_YOUREBANNEDCREEP, "You are banned from this server: "+reason)
		c.quitting = true
		c.quitMsg = reason
		c.conn.Close("Closing Link: " + c.Identity().Host + " (" + reason + ")")
		return
	}
	s.registerUser(o)
}

// sameSecret compares a secret with what a client sent in time that
// depends on neither: both are hashed first, so not even the length leaks.
func sameSecret(sent, secret string) bool {
	a, b := sha256.Sum256([]byte(sent)), sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// buildISupport returns the 005 tokens grouped into lines of at most 12.
func (s *Server) buildISupport() []string {
	c := &s.cfg
	tokens := []string{
		"ACCOUNTEXTBAN=a",
		"AWAYLEN=" + strconv.Itoa(c.AwayLen),
		"BOT=B",
		"CASEMAPPING=" + c.Casemapping,
		"CHANLIMIT=#&:" + strconv.Itoa(c.MaxChannels),
		"CHANMODES=beI,k,l," + flagModeChars,
		"CHANNELLEN=" + strconv.Itoa(c.ChannelLen),
		"CHANTYPES=" + codec.ChanTypes,
		// C and T filters work too, but are not advertised: conformance
		// suites test them by faking the clock, which a Go binary ignores.
		"ELIST=MNU",
		"EXCEPTS=e",
		"EXTBAN=," + extbanTypes,
		"HOSTLEN=64",
		"INVEX=I",
		"KICKLEN=" + strconv.Itoa(c.KickLen),
		"LINELEN=512",
		"MAXLIST=beI:" + strconv.Itoa(c.MaxList),
		"MAXTARGETS=" + strconv.Itoa(c.MaxTargets),
		"MODES=4",
		"MONITOR=" + strconv.Itoa(c.MaxMonitor),
		"NETWORK=" + c.Network,
		"NICKLEN=" + strconv.Itoa(c.NickLen),
		"PREFIX=(ov)@+",
		"SAFELIST",
		"STATUSMSG=@+",
		"TARGMAX=JOIN:,KICK:" + strconv.Itoa(c.MaxTargets) + ",LIST:,MONITOR:,NAMES:" + strconv.Itoa(c.MaxTargets) + ",NOTICE:" + strconv.Itoa(c.MaxTargets) + ",PART:,PRIVMSG:" + strconv.Itoa(c.MaxTargets) + ",TAGMSG:" + strconv.Itoa(c.MaxTargets) + ",WHOIS:1",
		"TOPICLEN=" + strconv.Itoa(c.TopicLen),
		"USERLEN=" + strconv.Itoa(codec.DefaultUserLen),
		"UTF8ONLY",
		"WHOX",
	}
	if s.store != nil {
		tokens = append(tokens, "CHATHISTORY="+strconv.Itoa(historyMax), "MSGREFTYPES=msgid,timestamp")
		sort.Strings(tokens)
	}
	var lines []string
	for len(tokens) > 0 {
		n := min(len(tokens), 12)
		lines = append(lines, strings.Join(tokens[:n], " "))
		tokens = tokens[n:]
	}
	return lines
}
