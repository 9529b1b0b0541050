package main

import (
	"regexp"
	"testing"
	"time"

	"laird/chat"
)

var msgCaps = []string{"message-tags", "echo-message", "batch", "server-time", "draft/chathistory", "draft/message-redaction", "draft/message-edit"}

// msgidOf returns the msgid tag of a line.
func msgidOf(t *testing.T, line string) string {
	t.Helper()
	m := regexp.MustCompile(`[@;]msgid=([^; ]+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no msgid in %q", line)
	}
	return m[1]
}

// say sends text to target and returns the msgid of c's echo.
func (c *ircClient) say(target, text string) string {
	c.t.Helper()
	c.send("PRIVMSG %s :%s", target, text)
	rx := regexp.MustCompile(` PRIVMSG ` + regexp.QuoteMeta(target) + ` :` + regexp.QuoteMeta(text) + `$`)
	return msgidOf(c.t, c.expectMatch(rx.MatchString, rx.String()))
}

func TestRedact(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "hunter2")}}
	})
	alice := ts.connect("alice", msgCaps...) // channel operator
	bob := ts.connect("bob", msgCaps...)
	plain := ts.connect("plain", "message-tags", "echo-message")
	for _, c := range []*ircClient{alice, bob, plain} {
		c.send("JOIN #r")
		c.expect(` 366 \S+ #r `)
	}
	alice.send("CAP LS 302")
	alice.expect(`CAP alice LS .*draft/message-redaction`)

	// The author redacts: capable members (and the author) get REDACT,
	// others nothing; the message leaves CHATHISTORY.
	id := bob.say("#r", "oops")
	alice.expect(`PRIVMSG #r :oops`)
	plain.expect(`PRIVMSG #r :oops`)
	keep := bob.say("#r", "keep this")
	bob.send("REDACT #r %s :typo", id)
	bob.expect(`^@msgid=\S+;time=\S+ :bob!bob@127\.0\.0\.1 REDACT #r ` + id + ` :typo$`)
	alice.expect(`:bob!bob@127\.0\.0\.1 REDACT #r ` + id + ` :typo$`)
	plain.expectNone(`REDACT`, 200*time.Millisecond)
	alice.send("CHATHISTORY LATEST #r * 10")
	alice.expect(`PRIVMSG #r :keep this$`)
	alice.expect(`BATCH -`)
	for _, l := range alice.log[len(alice.log)-4:] {
		if regexp.MustCompile(`oops`).MatchString(l) {
			t.Fatalf("redacted message still in history: %q", l)
		}
	}

	// Bad input: each a FAIL, nothing relayed, nothing changed.
	bob.send("REDACT #r %s", id) // already gone
	bob.expect(`^:laird\.local FAIL REDACT UNKNOWN_MSGID #r ` + id + ` :`)
	bob.send("REDACT #r nosuchmsgid")
	bob.expect(`^:laird\.local FAIL REDACT UNKNOWN_MSGID #r nosuchmsgid :`)
	aliceMsg := alice.say("#r", "mine")
	bob.expect(`PRIVMSG #r :mine`)
	bob.send("REDACT #r %s", aliceMsg) // another user's, not an operator
	bob.expect(`^:laird\.local FAIL REDACT REDACT_FORBIDDEN #r ` + aliceMsg + ` :`)
	bob.send("REDACT #elsewhere %s", keep) // not a member
	bob.expect(`^:laird\.local FAIL REDACT INVALID_TARGET #elsewhere :`)
	// A forged reference: a real msgid, named under another target.
	alice.send("JOIN #other")
	alice.expect(` 366 alice #other `)
	alice.send("REDACT #other %s", keep)
	alice.expect(`^:laird\.local FAIL REDACT UNKNOWN_MSGID #other ` + keep + ` :`)
	bob.send("REDACT #r")
	bob.expect(` 461 bob REDACT `)
	alice.expectNone(`REDACT #r `+aliceMsg, 200*time.Millisecond)

	// A channel operator redacts someone else's message; so does a server
	// operator who is no channel operator.
	alice.send("REDACT #r %s :spam", keep)
	alice.expect(`:alice!alice@127\.0\.0\.1 REDACT #r ` + keep + ` :spam$`)
	bob.expect(`:alice!alice@127\.0\.0\.1 REDACT #r ` + keep + ` :spam$`)
	plain.send("OPER admin hunter2")
	plain.expect(` 381 plain `)
	plain.send("REDACT #r %s", aliceMsg)
	alice.expect(`:plain!plain@127\.0\.0\.1 REDACT #r ` + aliceMsg + `$`)
	plain.expectNone(`FAIL`, 200*time.Millisecond)

	// Private messages: the author redacts; the other party cannot.
	pm := alice.say("bob", "private oops")
	bob.expect(`PRIVMSG bob :private oops`)
	bob.send("REDACT alice %s", pm)
	bob.expect(`^:laird\.local FAIL REDACT REDACT_FORBIDDEN alice ` + pm + ` :`)
	alice.send("REDACT bob %s", pm)
	bob.expect(`:alice!alice@127\.0\.0\.1 REDACT bob ` + pm + `$`)
	alice.expect(`:alice!alice@127\.0\.0\.1 REDACT bob ` + pm + `$`)
	bob.send("CHATHISTORY LATEST alice * 10")
	bob.expect(`BATCH -`)
	bob.expectNone(`private oops`, 100*time.Millisecond)
}

func TestRedactWindow(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Messages.RedactWindow = duration{150 * time.Millisecond}
		c.Messages.EditWindow = duration{150 * time.Millisecond}
	})
	alice := ts.connect("alice", msgCaps...)
	bob := ts.connect("bob", msgCaps...)
	for _, c := range []*ircClient{alice, bob} {
		c.send("JOIN #w")
		c.expect(` 366 \S+ #w `)
	}
	old := bob.say("#w", "old words")
	fresh := bob.say("#w", "fresh words")
	bob.send("REDACT #w %s", fresh)
	bob.expect(`REDACT #w ` + fresh + `$`)
	alice.expect(`REDACT #w ` + fresh + `$`)
	time.Sleep(250 * time.Millisecond)
	bob.send("REDACT #w %s", old)
	bob.expect(`^:laird\.local FAIL REDACT REDACT_WINDOW_EXPIRED #w ` + old + ` 1 :`)
	bob.send("@draft/target-msgid=%s;draft/edit-text=new EDIT #w", old)
	bob.expect(`^:laird\.local FAIL EDIT EDIT_WINDOW_EXPIRED #w ` + old + ` 1 :`)
	alice.expectNone(`REDACT|EDIT`, 200*time.Millisecond)
	// The channel operator is not bound by the window.
	alice.send("REDACT #w %s", old)
	bob.expect(`:alice!alice@127\.0\.0\.1 REDACT #w ` + old + `$`)
}

func TestEdit(t *testing.T) {
	ts := startTestServer(t, nil)
	alice := ts.connect("alice", msgCaps...)
	bob := ts.connect("bob", msgCaps...)
	plain := ts.connect("plain", "message-tags", "server-time")
	for _, c := range []*ircClient{alice, bob, plain} {
		c.send("JOIN #e")
		c.expect(` 366 \S+ #e `)
	}
	id := alice.say("#e", "anex ample")
	plain.expect(`PRIVMSG #e :anex ample`)

	// The author edits: draft/message-edit clients get EDIT with the tags
	// of the proposal, the others a NOTICE they can read.
	alice.send(`@draft/target-msgid=%s;draft/edit-text=an\sexample EDIT #e`, id)
	edit := `;draft/target-msgid=` + id + `;draft/edit-text=an\\sexample :alice!alice@127\.0\.0\.1 EDIT #e$`
	alice.expect(`^@msgid=\S+;time=\S+` + edit)
	bob.expect(`^@msgid=\S+;time=\S+` + edit)
	plain.expect(`^@time=\S+ :laird\.local NOTICE #e :alice edited a message from a moment ago: an example$`)

	// CHATHISTORY returns the latest text, with the original msgid and a
	// draft/edited tag for clients that know edits.
	bob.send("CHATHISTORY LATEST #e * 10")
	bob.expect(`^@draft/edited=\S+;batch=\S+;msgid=` + id + `;time=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG #e :an example$`)

	// Bad input: each a FAIL, nothing relayed, the text unchanged.
	bob.send(`@draft/target-msgid=%s;draft/edit-text=hijack EDIT #e`, id)
	bob.expect(`^:laird\.local FAIL EDIT EDIT_FORBIDDEN #e ` + id + ` :`)
	alice.send(`@draft/target-msgid=nosuch;draft/edit-text=x EDIT #e`)
	alice.expect(`^:laird\.local FAIL EDIT UNKNOWN_MSGID #e nosuch :`)
	alice.send(`@draft/edit-text=x EDIT #e`)
	alice.expect(`^:laird\.local FAIL EDIT INVALID_EDIT #e :`)
	alice.send(`@draft/target-msgid=%s EDIT #e`, id)
	alice.expect(`^:laird\.local FAIL EDIT INVALID_EDIT #e ` + id + ` :`)
	alice.send(`@draft/target-msgid=%s;draft/edit-text=two\nlines EDIT #e`, id)
	alice.expect(`^:laird\.local FAIL EDIT INVALID_EDIT #e ` + id + ` :`)
	alice.send(`@draft/target-msgid=%s;draft/edit-text=x EDIT #nothere`, id)
	alice.expect(`^:laird\.local FAIL EDIT INVALID_TARGET #nothere :`)
	alice.send(`@draft/target-msgid=%s;draft/edit-text=x EDIT bob`, id) // forged: not in that conversation
	alice.expect(`^:laird\.local FAIL EDIT UNKNOWN_MSGID bob ` + id + ` :`)
	bob.expectNone(`EDIT`, 200*time.Millisecond)
	bob.send("CHATHISTORY LATEST #e * 10")
	bob.expect(`PRIVMSG #e :an example$`)

	// A redacted message cannot be edited; an edited one can be redacted.
	alice.send("REDACT #e %s", id)
	alice.expect(`REDACT #e ` + id + `$`)
	alice.send(`@draft/target-msgid=%s;draft/edit-text=back EDIT #e`, id)
	alice.expect(`^:laird\.local FAIL EDIT UNKNOWN_MSGID #e ` + id + ` :`)

	// Private messages: the fallback goes to the recipient's nick.
	pm := alice.say("plain", "hi there")
	plain.expect(`PRIVMSG plain :hi there`)
	alice.send(`@draft/target-msgid=%s;draft/edit-text=hello\sthere EDIT plain`, pm)
	alice.expect(`:alice!alice@127\.0\.0\.1 EDIT plain$`)
	plain.expect(`:laird\.local NOTICE plain :alice edited a message from a moment ago: hello there$`)
}
