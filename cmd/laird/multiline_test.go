package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"laird/guard"
)

var mlCaps = []string{"message-tags", "batch", "echo-message", "server-time", "labeled-response", "draft/chathistory", "draft/multiline"}

// batchLines reads a batch that c receives (its opening line matching
// open) and returns its lines, the opening and closing ones included.
func (c *ircClient) batchLines(open string) []string {
	c.t.Helper()
	rx := regexp.MustCompile(open)
	start := c.expectMatch(rx.MatchString, open)
	id := regexp.MustCompile(` BATCH \+(\S+)`).FindStringSubmatch(start)[1]
	lines := []string{start}
	for {
		l := c.expectMatch(func(string) bool { return true }, "a line of batch "+id)
		lines = append(lines, l)
		if strings.Contains(l, " BATCH -"+id) {
			return lines
		}
	}
}

func TestMultiline(t *testing.T) {
	ts := startTestServer(t, nil)
	alice := ts.connect("alice", mlCaps...)
	bob := ts.connect("bob", mlCaps...)
	carol := ts.connect("carol", "message-tags", "batch", "echo-message", "server-time", "draft/chathistory")
	for _, c := range []*ircClient{alice, bob, carol} {
		c.send("JOIN #ml")
		c.expect(` 366 \S+ #ml `)
	}
	if ls := alice.capLS(); !strings.Contains(ls, "draft/multiline=max-bytes=4096,max-lines=100") {
		t.Fatalf("CAP LS: %s", ls)
	}

	alice.send("@label=xyz;+draft/reply=abc BATCH +r1 draft/multiline #ml")
	alice.send("@batch=r1 PRIVMSG #ml hello")
	alice.send("@batch=r1 PRIVMSG #ml :")
	alice.send("@batch=r1 PRIVMSG #ml :how is ")
	alice.send("@batch=r1;draft/multiline-concat PRIVMSG #ml :everyone?")
	alice.send("BATCH -r1")

	// The sender's echo is the batch, labeled on its opening line.
	echo := alice.batchLines(`BATCH \+\S+ draft/multiline #ml`)
	if !regexp.MustCompile(`^@label=xyz;msgid=(\S+);time=\S+;\+draft/reply=abc :alice!alice@127\.0\.0\.1 BATCH \+(\S+) draft/multiline #ml$`).MatchString(echo[0]) {
		t.Fatalf("echo opens with %q", echo[0])
	}
	msgid := msgidOf(t, echo[0])
	want := []string{
		`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG #ml :?hello$`,
		`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG #ml :$`,
		`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG #ml :how is $`,
		`^@batch=\S+;draft/multiline-concat :alice!alice@127\.0\.0\.1 PRIVMSG #ml :everyone\?$`,
		`^:alice!alice@127\.0\.0\.1 BATCH -\S+$`,
	}
	check := func(name string, lines []string) {
		t.Helper()
		if len(lines) != len(want)+1 {
			t.Fatalf("%s got %d lines: %q", name, len(lines), lines)
		}
		for i, re := range want {
			if !regexp.MustCompile(re).MatchString(lines[i+1]) {
				t.Errorf("%s line %d = %q, want /%s/", name, i+1, lines[i+1], re)
			}
		}
	}
	check("echo", echo)
	// A multiline member gets the same batch with the same msgid.
	relay := bob.batchLines(`BATCH \+\S+ draft/multiline #ml`)
	if msgidOf(t, relay[0]) != msgid {
		t.Fatalf("relay opens with %q, msgid %s expected", relay[0], msgid)
	}
	check("relay", relay)
	// The others get the non-blank lines, the msgid on the first.
	carol.expect(`^@msgid=` + msgid + `;time=\S+;\+draft/reply=abc :alice!alice@127\.0\.0\.1 PRIVMSG #ml :?hello$`)
	carol.expect(`^@time=\S+;\+draft/reply=abc :alice!alice@127\.0\.0\.1 PRIVMSG #ml :how is $`)
	carol.expect(`^@time=\S+;\+draft/reply=abc :alice!alice@127\.0\.0\.1 PRIVMSG #ml :everyone\?$`)

	// History keeps it as one message, played back the same two ways.
	bob.send("CHATHISTORY LATEST #ml * 10")
	bob.expect(`BATCH \+(\S+) chathistory #ml`)
	bob.expect(`^@batch=\S+;msgid=` + msgid + `;time=\S+;\+draft/reply=abc :alice!alice@127\.0\.0\.1 BATCH \+\S+ draft/multiline #ml$`)
	bob.expect(`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG #ml :?hello$`)
	bob.expect(`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG #ml :$`)
	bob.expect(`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG #ml :how is everyone\?$`)
	carol.send("CHATHISTORY LATEST #ml * 10")
	carol.expect(`^@batch=\S+;msgid=` + msgid + `;time=\S+;\+draft/reply=abc :alice!alice@127\.0\.0\.1 PRIVMSG #ml :?hello$`)
	carol.expect(`^@batch=\S+;time=\S+;\+draft/reply=abc :alice!alice@127\.0\.0\.1 PRIVMSG #ml :how is everyone\?$`)

	// Private messages work the same way.
	alice.send("BATCH +p draft/multiline bob")
	alice.send("@batch=p PRIVMSG bob :one")
	alice.send("@batch=p PRIVMSG bob :two")
	alice.send("BATCH -p")
	bob.expect(`:alice!alice@127\.0\.0\.1 BATCH \+\S+ draft/multiline bob$`)
	bob.expect(`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG bob :?one$`)
	bob.expect(`^@batch=\S+ :alice!alice@127\.0\.0\.1 PRIVMSG bob :?two$`)
}

// Every malformed batch gets FAIL BATCH and delivers nothing.
func TestMultilineBadInput(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Messages.MultilineMaxBytes = 20
		c.Messages.MultilineMaxLines = 3
	})
	alice := ts.connect("alice", mlCaps...)
	bob := ts.connect("bob", mlCaps...)
	for _, c := range []*ircClient{alice, bob} {
		c.send("JOIN #ml")
		c.expect(` 366 \S+ #ml `)
	}
	if ls := alice.capLS(); !strings.Contains(ls, "draft/multiline=max-bytes=20,max-lines=3") {
		t.Fatalf("CAP LS: %s", ls)
	}
	fail := func(code string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			alice.send("%s", l)
		}
		alice.expect(`^:laird\.local FAIL BATCH ` + code)
	}
	fail(`MULTILINE_MAX_BYTES 20 :`, "BATCH +a draft/multiline #ml", "@batch=a PRIVMSG #ml :0123456789", "@batch=a PRIVMSG #ml :0123456789")
	alice.send("BATCH -a") // the batch is gone
	alice.expect(`^:laird\.local FAIL BATCH MULTILINE_INVALID :`)
	fail(`MULTILINE_MAX_LINES 3 :`, "BATCH +b draft/multiline #ml", "@batch=b PRIVMSG #ml :1", "@batch=b PRIVMSG #ml :2", "@batch=b PRIVMSG #ml :3", "@batch=b PRIVMSG #ml :4")
	fail(`MULTILINE_INVALID_TARGET #ml #other :`, "BATCH +c draft/multiline #ml", "@batch=c PRIVMSG #other :hi")
	fail(`MULTILINE_INVALID :`, "BATCH +d draft/multiline #ml", "@batch=zzz PRIVMSG #ml :hi")
	fail(`MULTILINE_INVALID :`, "BATCH +e draft/multiline #ml", "@batch=e PRIVMSG #ml :hi", "@batch=e;draft/multiline-concat PRIVMSG #ml :", "BATCH -e")
	fail(`MULTILINE_INVALID :`, "BATCH +f draft/multiline #ml", "@batch=f PRIVMSG #ml :", "@batch=f PRIVMSG #ml :", "BATCH -f")
	fail(`MULTILINE_INVALID :`, "BATCH +g draft/multiline #ml", "@batch=g PRIVMSG #ml :hi", "@batch=g NOTICE #ml :there")
	fail(`MULTILINE_INVALID :`, "BATCH +h draft/multiline #ml", "BATCH +i draft/multiline #ml") // nested
	fail(`MULTILINE_INVALID :`, "BATCH -nothing")
	fail(`MULTILINE_INVALID :`, "@batch=none PRIVMSG #ml :stray")
	fail(`MULTILINE_INVALID_TARGET \* :`, "BATCH +j draft/multiline")
	fail(`MULTILINE_INVALID_TARGET #a,#b :`, "BATCH +k draft/multiline #a,#b")
	fail(`INVALID_PARAMS other-type :`, "BATCH +l other-type #ml")
	bob.expectNone(`PRIVMSG|BATCH`, 300*time.Millisecond)

	// A batch never closed ends with the next other command, which runs
	// as usual; an interleaved ordinary message ends it too, and goes out.
	fail(`MULTILINE_INVALID :Command not allowed`, "BATCH +m draft/multiline #ml", "@batch=m PRIVMSG #ml :lost", "TOPIC #ml :after")
	bob.expect(`TOPIC #ml :after$`)
	fail(`MULTILINE_INVALID :`, "BATCH +n draft/multiline #ml", "@batch=n PRIVMSG #ml :lost", "PRIVMSG #ml :plain")
	bob.expect(`PRIVMSG #ml :plain$`)
	// PING does not end a batch.
	alice.send("BATCH +o draft/multiline #ml")
	alice.send("@batch=o PRIVMSG #ml :kept")
	alice.send("PING :x")
	alice.expect(`PONG \S+ :?x$`)
	alice.send("BATCH -o")
	bob.expect(`BATCH \+\S+ draft/multiline #ml$`)
	bob.expect(`PRIVMSG #ml :?kept$`)
	for _, l := range bob.log {
		if strings.Contains(l, "lost") {
			t.Fatalf("a line of an aborted batch was delivered: %q", l)
		}
	}
	// A client without the capability cannot open one.
	carol := ts.connect("carol", "batch")
	carol.send("BATCH +x draft/multiline #ml")
	carol.expect(`^:laird\.local FAIL BATCH INVALID_PARAMS draft/multiline :`)
}

// Flood control charges every line of a batch: a batch longer than the
// burst ends the connection where a short one passes.
func TestMultilineFlood(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Guard.Flood.Exempt = nil
		c.Guard.Flood.Classes = map[string]guard.FloodClassConfig{
			"user": {Burst: 30, Rate: 0.1, Disconnect: 30, NoFakelag: true, DefaultCost: 1},
		}
	})
	a := ts.connect("alice", mlCaps...)
	a.send("JOIN #f")
	a.expect(` 366 alice #f `)
	a.send("BATCH +s draft/multiline #f")
	for i := 0; i < 3; i++ {
		a.send("@batch=s PRIVMSG #f :short")
	}
	a.send("BATCH -s")
	a.expect(`BATCH -`)
	long := "BATCH +l draft/multiline #f\r\n" + strings.Repeat("@batch=l PRIVMSG #f :long\r\n", 30) + "BATCH -l\r\n"
	a.sendRaw([]byte(long))
	a.expect(`^ERROR .*Excess Flood`)
	a.expectClosed()
}
