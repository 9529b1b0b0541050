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

// matchesAny reports whether the client's prefix matches an entry.
func matchesAny(cm *codec.Casemapping, list []listEntry, id *Identity) bool {
	for i := range list {
		if globMatch(cm, list[i].mask, id.Prefix) {
			return true
		}
	}
	return false
}
