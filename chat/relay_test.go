package chat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRelayedLineFits512: a PRIVMSG or NOTICE as long as a client may send
// gains the sender's prefix when relayed; the text is cut, on a UTF-8
// boundary, so that the line (tags aside) stays within 512 bytes.
func TestRelayedLineFits512(t *testing.T) {
	w := newTestWorld(t, 2, 2)
	alice := w.connect("alice", true)
	bob := w.connect("bob", true)
	w.cmd(alice, "JOIN #c", " 366 alice #c ")
	w.cmd(bob, "JOIN #c", " 366 bob #c ")
	for _, c := range []struct{ command, target string }{{"PRIVMSG", "#c"}, {"NOTICE", "#c"}, {"PRIVMSG", "bob"}, {"NOTICE", "bob"}} {
		head := c.command + " " + c.target + " :"
		pad, lead := 510-len(head), "x" // 510 bytes: the longest line
		if pad%2 == 0 {
			lead = "xy"
		}
		line := head + lead + strings.Repeat("é", (pad-len(lead))/2)
		if len(line) != 510 {
			t.Fatalf("test line is %d bytes", len(line))
		}
		n := len(bob.text())
		w.send(alice, line)
		w.expectAfter(bob, n, ":alice!alice@127.0.0.1 "+c.command+" "+c.target+" :"+lead+"é")
		w.settle()
		got := since(bob, n)
		got = got[:strings.Index(got, "\r\n")+2]
		if len(got) > 512 {
			t.Errorf("%s relayed as %d bytes", c.command, len(got))
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s relayed text cut inside a character", c.command)
		}
		if len(got) < 511 {
			t.Errorf("%s relayed as %d bytes: cut more than needed", c.command, len(got))
		}
	}
	// A short message is not touched.
	w.cmd(alice, "PRIVMSG #c :short", "")
	w.waitFor(bob, ":alice!alice@127.0.0.1 PRIVMSG #c :short\r\n")
}
