package chat

import (
	"sync"
	"time"
)

// whowasEntry remembers an identity that left or changed nick.
type whowasEntry struct {
	nick     string
	user     string
	host     string
	realname string
	server   string
	account  string
	when     time.Time
}

// whowasLog is a fixed-size ring of past identities, newest last. It is
// written on nick changes and quits from any loop, so a mutex guards it;
// it is never on the message path.
type whowasLog struct {
	mu   sync.Mutex
	ring []whowasEntry
	next int
	full bool
}

func newWhowasLog(n int) *whowasLog { return &whowasLog{ring: make([]whowasEntry, n)} }

func (w *whowasLog) add(id *Identity, server string) {
	if id == nil || id.Nick == "*" || len(w.ring) == 0 {
		return
	}
	e := whowasEntry{nick: id.Nick, user: id.User, host: id.Host, realname: id.Realname, server: server, account: id.Account, when: time.Now()}
	w.mu.Lock()
	w.ring[w.next] = e
	w.next = (w.next + 1) % len(w.ring)
	if w.next == 0 {
		w.full = true
	}
	w.mu.Unlock()
}

// find returns up to max entries for nick (compared with eq), newest first.
func (w *whowasLog) find(eq func(a, b string) bool, nick string, max int) []whowasEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []whowasEntry
	n := w.next
	if w.full {
		n = len(w.ring)
	}
	for i := 1; i <= n && (max <= 0 || len(out) < max); i++ {
		e := w.ring[(w.next-i+len(w.ring))%len(w.ring)]
		if eq(e.nick, nick) {
			out = append(out, e)
		}
	}
	return out
}
