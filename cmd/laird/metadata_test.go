package main

import (
	"strings"
	"testing"
	"time"
)

var metaCaps = []string{"batch", "draft/metadata-2"}

func TestMetadataUser(t *testing.T) {
	ts := startTestServer(t, func(c *Config) {
		c.Metadata = MetadataConfig{MaxKeys: 3, MaxSubs: 4, MaxValueBytes: 40}
	})
	foo := ts.connect("foo", metaCaps...)
	bar := ts.connect("bar", metaCaps...)
	quiet := ts.connect("quiet", metaCaps...) // shares the channel, subscribes to nothing
	if ls := foo.capLS(); !strings.Contains(ls, "draft/metadata-2=before-connect,max-subs=4,max-keys=3,max-value-bytes=40") ||
		!strings.Contains(ls, "draft/metadata-3=") {
		t.Fatalf("CAP LS: %s", ls)
	}

	// Subscriptions: in order, invalid keys refused, the limit enforced
	// at the first key past it.
	bar.send("METADATA * SUB display-name avatar Bad$Key")
	bar.expect(`^:laird\.local FAIL METADATA INVALID_KEY Bad\$Key :`)
	bar.expect(`^:laird\.local 770 bar display-name :?avatar$`)
	bar.send("METADATA * SUB pronouns homepage status more")
	bar.expect(`^:laird\.local FAIL METADATA LIMIT_REACHED status 4 :`)
	bar.expect(`^:laird\.local 770 bar pronouns :?homepage$`)
	bar.send("METADATA * UNSUB homepage")
	bar.expect(`^:laird\.local 771 bar :?homepage$`)
	bar.send("METADATA * SUBS")
	bar.expect(`BATCH \+\S+ metadata-subs$`)
	bar.expect(` 772 bar avatar display-name :?pronouns$`)

	for _, c := range []*ircClient{foo, bar, quiet} {
		c.send("JOIN #m")
		c.expect(` 366 \S+ #m `)
	}
	// SET answers 761 and reaches subscribed co-members only.
	foo.send("METADATA * SET display-name :Foo The First")
	foo.expect(`^:laird\.local 761 foo foo display-name \* :Foo The First$`)
	bar.expect(`^:laird\.local 761 \* foo display-name \* :Foo The First$`)
	quiet.expectNone(`761|766`, 200*time.Millisecond)
	foo.send("METADATA foo GET display-name avatar")
	foo.expect(`BATCH \+\S+ metadata foo$`)
	foo.expect(`^@batch=\S+ :laird\.local 761 foo foo display-name \* :Foo The First$`)
	foo.expect(`^@batch=\S+ :laird\.local 766 foo foo avatar :`)
	bar.send("WHOIS foo")
	bar.expect(`^:laird\.local 760 bar foo display-name \* :Foo The First$`)

	// Bad input: each a FAIL, nothing stored or relayed.
	foo.send("METADATA * SET Bad$Key :x")
	foo.expect(`^:laird\.local FAIL METADATA INVALID_KEY Bad\$Key :`)
	foo.send("METADATA * SET avatar :%s", strings.Repeat("x", 41))
	foo.expect(`^:laird\.local FAIL METADATA INVALID_VALUE avatar :`)
	foo.send("METADATA bar SET display-name :Not Bar")
	foo.expect(`^:laird\.local FAIL METADATA KEY_NO_PERMISSION bar display-name :`)
	foo.send("METADATA bar CLEAR")
	foo.expect(`^:laird\.local FAIL METADATA KEY_NO_PERMISSION bar \* :`)
	foo.send("METADATA nobody LIST")
	foo.expect(`^:laird\.local FAIL METADATA INVALID_TARGET nobody :`)
	foo.send("METADATA * BOGUS")
	foo.expect(`^:laird\.local FAIL METADATA INVALID_PARAMS BOGUS :`)
	foo.send("METADATA * GET")
	foo.expect(` 461 foo METADATA `)
	foo.send("METADATA * SET a :1")
	foo.expect(` 761 foo foo a `)
	foo.send("METADATA * SET b :2")
	foo.expect(` 761 foo foo b `)
	foo.send("METADATA * SET c :3") // a fourth key
	foo.expect(`^:laird\.local FAIL METADATA LIMIT_REACHED foo 3 :`)
	bar.expectNone(`761|766`, 200*time.Millisecond)
	foo.send("METADATA * LIST")
	foo.expect(` 761 foo foo a \* :?1$`)
	foo.expect(` 761 foo foo b \* :?2$`)
	foo.expect(` 761 foo foo display-name \* :Foo The First$`)
	foo.expect(`BATCH -`)

	// Unset and CLEAR: 766, and subscribers hear of the keys they follow.
	foo.send("METADATA * SET display-name")
	foo.expect(`^:laird\.local 766 foo foo display-name :`)
	bar.expect(`^:laird\.local 766 \* foo display-name :`)
	foo.send("METADATA * CLEAR")
	foo.expect(`^@batch=\S+ :laird\.local 766 foo foo a :`)
	foo.expect(`^@batch=\S+ :laird\.local 766 foo foo b :`)
	foo.send("METADATA * LIST")
	foo.expect(`BATCH \+\S+ metadata foo$`)
	foo.expect(`BATCH -`)
	foo.sync()
	for _, l := range foo.log[len(foo.log)-4:] {
		if strings.Contains(l, " 761 ") {
			t.Fatalf("metadata left after CLEAR: %q", l)
		}
	}
}

func TestMetadataChannelAndJoin(t *testing.T) {
	ts := startTestServer(t, nil)
	op := ts.connect("op", metaCaps...)
	member := ts.connect("member", metaCaps...)
	out := ts.connect("out", metaCaps...)
	op.send("JOIN #c")
	op.expect(` 366 op #c `)
	member.send("JOIN #c")
	member.expect(` 366 member #c `)
	op.send("METADATA * SET avatar :https://example.org/op.png")
	op.expect(` 761 op op avatar `)

	op.send("METADATA #c SET display-name :The Channel")
	op.expect(`^:laird\.local 761 op #c display-name \* :The Channel$`)
	member.send("METADATA #c SET display-name :Mine")
	member.expect(`^:laird\.local FAIL METADATA KEY_NO_PERMISSION #c display-name :`)
	member.send("METADATA #c GET display-name")
	member.expect(` 761 member #c display-name \* :The Channel$`)
	out.send("METADATA #c GET display-name")
	out.expect(`^:laird\.local FAIL METADATA KEY_NO_PERMISSION #c \* :`)
	out.send("METADATA #nochan LIST")
	out.expect(`^:laird\.local FAIL METADATA INVALID_TARGET #nochan :`)

	// A subscribed joiner gets the channel's and the members' values.
	out.send("METADATA * SUB display-name avatar")
	out.expect(` 770 out `)
	out.send("JOIN #c")
	out.expect(` 366 out #c `)
	out.expect(`BATCH \+\S+ metadata #c$`)
	out.expect(`^@batch=\S+ :laird\.local 761 out #c display-name \* :The Channel$`)
	out.expect(`^@batch=\S+ :laird\.local 761 out op avatar \* :https://example\.org/op\.png$`)
	out.expect(`BATCH -`)
	op.send("METADATA #c SET display-name :Renamed")
	out.expect(`^:laird\.local 761 \* #c display-name \* :Renamed$`)
	out.send("METADATA #c SYNC")
	out.expect(` 761 out #c display-name \* :Renamed$`)
}

func TestMetadataBeforeConnect(t *testing.T) {
	ts := startTestServer(t, nil)
	c := ts.dial("early")
	c.send("CAP LS 302")
	c.send("CAP REQ :batch draft/metadata-2")
	c.expect(`CAP \* ACK`)
	c.send("METADATA * SET display-name :Early Bird")
	c.expect(`^:laird\.local 761 \* \* display-name \* :Early Bird$`)
	c.send("METADATA early SET pronouns :they")
	c.expect(`^:laird\.local FAIL METADATA KEY_NO_PERMISSION early \* :`)
	c.send("NICK early")
	c.send("USER early 0 * :E")
	c.send("CAP END")
	c.expect(` 001 early `)
	c.expect(`BATCH \+\S+ metadata early$`)
	c.expect(`^@batch=\S+ :laird\.local 761 early early display-name \* :Early Bird$`)
	c.expect(`BATCH -`)
	c.expect(` 422 early `)
}

// An account's metadata and a registered channel's are stored: they come
// back at the next login and after a restart.
func TestMetadataStored(t *testing.T) {
	dir := t.TempDir()
	ts, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	alice := ts.registerAccount("alice", "sesame11", metaCaps...)
	alice.send("METADATA * SET homepage :https://alice.example")
	alice.expect(` 761 alice alice homepage `)
	alice.send("JOIN #stored")
	alice.expect(` 366 alice #stored `)
	alice.send("CS REGISTER #stored")
	alice.expect(`#stored is now registered`)
	alice.send("METADATA #stored SET display-name :Stored Channel")
	alice.expect(` 761 alice #stored display-name `)
	guest := ts.connect("guest", metaCaps...)
	guest.send("METADATA * SET display-name :Guest")
	guest.expect(` 761 guest guest display-name `)
	ts.stop()

	ts2, _ := startCaptured(t, func(c *Config) { c.Server.DataDir = dir })
	a := ts2.dial("alice")
	a.send("CAP LS 302")
	a.send("CAP REQ :batch draft/metadata-2 sasl")
	a.expect(`CAP \* ACK`)
	a.send("NICK alice")
	a.send("USER alice 0 * :A")
	a.saslPlain("alice", "sesame11")
	a.expect(` 903 `)
	a.send("CAP END")
	a.expect(`BATCH \+\S+ metadata alice$`)
	a.expect(` 761 alice alice homepage \* :https://alice\.example$`)
	a.send("JOIN #stored")
	a.expect(` 366 alice #stored `)
	a.send("METADATA #stored GET display-name")
	a.expect(` 761 alice #stored display-name \* :Stored Channel$`)
	// A guest's metadata lived with its connection.
	g := ts2.connect("guest", metaCaps...)
	g.send("METADATA * GET display-name")
	g.expect(` 766 guest guest display-name `)
	// Logging out leaves the metadata with the account.
	a.send("NS LOGOUT")
	a.expect(` 901 `)
	a.send("METADATA * LIST")
	a.expect(`BATCH \+\S+ metadata alice$`)
	a.expect(`BATCH -`)
	a.send("NS IDENTIFY sesame11")
	a.expect(` 900 `)
	a.send("METADATA * GET homepage")
	a.expect(` 761 alice alice homepage \* :https://alice\.example$`)
}
