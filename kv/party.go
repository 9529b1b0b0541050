package kv

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
)

// A Party is one side of a private conversation: an account, or a
// connection that is not logged in. Private history, conversation lists
// and offline messages are keyed by parties, never by nicks, so whoever
// holds a nick later cannot read what was said to or by its earlier
// holder.
//
// An account party is "a:" + the casefolded account name. A connection
// party is "c:" + a token from NewConnToken: random, never issued twice,
// so a conversation with a connection that is not logged in can be read
// only by that connection, and by nobody once it is gone.
type Party string

// AccountParty is the party of a casefolded account.
func AccountParty(account string) Party { return Party("a:" + account) }

// ConnParty is the party of a connection that is not logged in, by its
// token (NewConnToken).
func ConnParty(token string) Party { return Party("c:" + token) }

// NewConnToken returns a token for ConnParty: 120 random bits, so that no
// two connections, even across restarts, ever share one.
func NewConnToken() string {
	var b [15]byte
	rand.Read(b[:]) // never fails (crypto/rand's contract since Go 1.24)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// Account returns the account of an account party.
func (p Party) Account() (string, bool) {
	a, ok := strings.CutPrefix(string(p), "a:")
	return a, ok
}

// check validates a party that becomes part of a key.
func (p Party) check() error {
	s := string(p)
	if len(s) < 3 || (s[:2] != "a:" && s[:2] != "c:") {
		return fmt.Errorf("%w: party %q is neither a:account nor c:token", ErrInvalid, s)
	}
	if strings.IndexByte(s, ' ') >= 0 {
		return fmt.Errorf("%w: party %q contains a space", ErrInvalid, s)
	}
	return checkName("party", s[2:])
}

// PrivateTarget returns the history target of the private conversation
// between two parties: the same whichever way round they are given. It
// contains a space, which IRC forbids in channel names and nicks, so it
// never collides with a channel; its halves start with "a:" or "c:", which
// no nick can, so it never collides with the nick-keyed targets of schema
// version 1 either.
func PrivateTarget(a, b Party) string {
	if b < a {
		a, b = b, a
	}
	return string(a) + " " + string(b)
}

// conversationParties splits a private target into its parties; ok is
// false for a channel or a schema-1 nick-keyed target.
func conversationParties(target string) (a, b Party, ok bool) {
	x, y, found := strings.Cut(target, " ")
	if !found {
		return "", "", false
	}
	a, b = Party(x), Party(y)
	return a, b, a.check() == nil && b.check() == nil
}

// Peer is a party with the name to show for it: the nick it used in the
// conversation's latest message.
type Peer struct {
	Party Party
	Name  string
}

// DMTarget returns a nick-keyed private history target.
//
// Deprecated: nick-keyed private history can be read by whoever holds the
// nick later. Use PrivateTarget with AccountParty or ConnParty. Opening a
// store of schema version 1 deletes every nick-keyed conversation it holds
// (see doc.go); DMTarget is kept only until chat has moved to parties.
func DMTarget(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + " " + b
}
