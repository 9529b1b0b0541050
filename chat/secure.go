package chat

import (
	"slices"
	"strconv"
	"strings"

	"laird/codec"
	"laird/kv"
)

// What chat does with a connection's transport (transport.go): channel
// mode +Z, WHOIS 671 and 276.
//
// A user is secure when every one of its connected sessions is on TLS that
// laird terminates (a PROXY protocol header does not say whether the proxy
// spoke TLS, so a proxied client counts as plaintext): with multiclient, one
// plaintext session would show a +Z channel's traffic in the clear. An
// always-on user with no session is not secure (nothing vouches for it)
// but stays in the channels it is in.
//
// +Z follows InspIRCd's +z: only secure users may JOIN, an invitation
// does not get around it (nor do channel registration's access levels),
// and it cannot be set while an insecure user is a member (490 names how
// many), so that every member of a +Z channel is on TLS. ergo has no such
// channel mode. What +Z does not cover: a plaintext session attaching
// later to a user already in the channel (multiclient) sees its traffic.

// secure reports whether u has sessions and all of them are on TLS. Any
// goroutine.
func (u *user) secure() bool {
	sessions := u.sessionList()
	for _, s := range sessions {
		if !s.Transport().Secure {
			return false
		}
	}
	return len(sessions) > 0
}

// secureOnlyRefused reports whether ch is +Z and u may not join it.
// Channel's shard.
func (ch *Channel) secureOnlyRefused(u *user) bool {
	return ch.modes&cmodeSecureOnly != 0 && !u.secure()
}

// allMembersSecure reports whether +Z may be set on ch; when not, it
// appends 490 to r. Channel's shard.
func (ch *Channel) allMembersSecure(r *replies) bool {
	insecure := 0
	for _, mb := range ch.members {
		if !mb.u.secure() {
			insecure++
		}
	}
	if insecure == 0 {
		return true
	}
	r.numeric(codec.ERR_ALLMUSTSSL, ch.name, "All members of the channel must be connected via TLS ("+
		strconv.Itoa(insecure)+"/"+strconv.Itoa(len(ch.members))+" are not)")
	return false
}

// whoisSecure appends 671 when t is secure, and for t itself or an
// operator (privileged) 276 with each certificate fingerprint t's
// sessions presented.
func whoisSecure(r *replies, t *user, nick string, privileged bool) {
	if t.secure() {
		r.numeric(codec.RPL_WHOISSECURE, nick, "is using a secure connection")
	}
	if !privileged {
		return
	}
	var shown []string
	for _, s := range t.sessionList() {
		fp := s.Transport().CertFP
		if fp == "" || slices.Contains(shown, fp) {
			continue
		}
		shown = append(shown, fp)
		r.numeric(codec.RPL_WHOISCERTFP, nick, "has client certificate fingerprint "+fp)
	}
}

// normalizeCertFP accepts a SHA-256 fingerprint in hex, upper or lower
// case, with or without colons between the bytes, and returns it as
// kv.Account.CertFPs holds it.
func normalizeCertFP(fp string) (string, bool) {
	fp = strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	return fp, kv.CheckCertFP(fp) == nil
}
