package chat

import (
	"strings"

	"laird/codec"
)

// normalizeMask turns a ban-style mask into nick!user@host form, as
// servers do: "nick" -> "nick!*@*", "user@host" -> "*!user@host".
func normalizeMask(mask string) string {
	if strings.ContainsAny(mask, "!@") {
		if !strings.Contains(mask, "!") {
			mask = "*!" + mask
		}
		if !strings.Contains(mask, "@") {
			mask += "@*"
		}
		return mask
	}
	return mask + "!*@*"
}

// globMatch reports whether s matches pattern, where '*' matches any run
// and '?' any one byte, comparing through the casemapping. It backtracks
// only to the last '*', so it is linear in practice and never exponential.
func globMatch(cm *codec.Casemapping, pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || cm.Lower(pattern[p]) == cm.Lower(s[i])) && pattern[p] != '*':
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Extended bans (ISUPPORT EXTBAN=,am and ACCOUNTEXTBAN=a). A list entry
// "a:<account mask>" matches clients logged in to a matching account, in
// +b, +e and +I alike. "m:<mask>" (where mask is a hostmask or an a:
// entry) is a mute: in +b it keeps nobody out but stops matching members
// without voice or op from speaking; in +e it exempts from mutes. Any
// other "x:" prefix is part of an ordinary hostmask, as it always was.
const extbanTypes = "am"

// extbanOf splits an extended ban into its type and the rest; kind is 0
// for an ordinary hostmask.
func extbanOf(mask string) (kind byte, rest string) {
	if len(mask) >= 2 && mask[1] == ':' && strings.IndexByte(extbanTypes, mask[0]) >= 0 {
		return mask[0], mask[2:]
	}
	return 0, mask
}

// listMask normalises a +b/+e/+I argument: hostmasks to nick!user@host,
// extended bans recursively. It reports false for an extended ban without
// a mask ("a:", "m:").
func listMask(mask string) (string, bool) {
	kind, rest := extbanOf(mask)
	switch kind {
	case 0:
		return normalizeMask(mask), true
	case 'a':
		if rest == "" {
			return "", false
		}
		return mask, true
	}
	if rest == "" {
		return "", false
	}
	inner, ok := listMask(rest)
	if !ok || inner[0] == 'm' && len(inner) > 1 && inner[1] == ':' {
		return "", false // an empty or nested mute
	}
	return string(kind) + ":" + inner, true
}

// maskMatches reports whether a hostmask or account extban matches the
// client with identity id.
func maskMatches(cm *codec.Casemapping, mask string, id *Identity) bool {
	kind, rest := extbanOf(mask)
	switch kind {
	case 0:
		return globMatch(cm, mask, id.Prefix)
	case 'a':
		return id.Account != "" && globMatch(cm, rest, id.Account)
	}
	return false
}

// matchesAny reports whether an entry that is not a mute matches the
// client (bans keeping it out, exceptions and invite exceptions letting it
// in).
func matchesAny(cm *codec.Casemapping, list []listEntry, id *Identity) bool {
	for i := range list {
		if maskMatches(cm, list[i].mask, id) {
			return true
		}
	}
	return false
}

// matchesMute reports whether a mute entry ("m:...") matches the client.
func matchesMute(cm *codec.Casemapping, list []listEntry, id *Identity) bool {
	for i := range list {
		if kind, rest := extbanOf(list[i].mask); kind == 'm' && maskMatches(cm, rest, id) {
			return true
		}
	}
	return false
}
