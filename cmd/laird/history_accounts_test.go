package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Private history and offline messages belong to accounts (or to one
// connection), never to nicks.

var historyCaps = []string{"draft/chathistory", "batch", "server-time", "message-tags", "echo-message", "sasl"}

// login connects nick with caps and logs in to account with SASL PLAIN
// before registering. With multiclient, a connection whose account is
// online becomes a session of its user, under the user's nick.
func (ts *testServer) login(nick, account, password string, caps ...string) *ircClient {
	ts.t.Helper()
	c := ts.dial(nick)
	c.send("CAP LS 302")
	c.send("CAP REQ :%s", strings.Join(append([]string{"sasl"}, caps...), " "))
	c.expect(`CAP \S+ ACK`)
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	c.saslPlain(account, password)
	c.expect(` 903 `)
	c.send("CAP END")
	c.expect(` 001 \S+ `)
	c.expect(` (376|422) `)
	return c
}

// historyTexts sends a CHATHISTORY command and returns the PRIVMSG/NOTICE
// texts of its batch.
func (c *ircClient) historyTexts(format string, args ...any) []string {
	c.t.Helper()
	c.send(format, args...)
	c.expect(` BATCH \+\S+ chathistory `)
	var texts []string
	for {
		line := c.expect(`^.*$`)[0]
		if strings.Contains(line, " BATCH -") {
			return texts
		}
		if m := regexp.MustCompile(` (?:PRIVMSG|NOTICE) \S+ :(.*)$`).FindStringSubmatch(line); m != nil {
			texts = append(texts, m[1])
		}
	}
}

// targets sends CHATHISTORY TARGETS over all time and returns its lines'
// names.
func (c *ircClient) targets() []string {
	c.t.Helper()
	c.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 100")
	c.expect(` BATCH \+\S+ draft/chathistory-targets`)
	var names []string
	for {
		line := c.expect(`^.*$`)[0]
		if strings.Contains(line, " BATCH -") {
			return names
		}
		if m := regexp.MustCompile(` CHATHISTORY TARGETS (\S+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$`).FindStringSubmatch(line); m != nil {
			names = append(names, m[1])
		} else {
			c.t.Fatalf("bad TARGETS line %q", line)
		}
	}
}

func noSquatProtection(c *Config) {
	fastAccounts(c)
	c.Accounts.NickProtection = false
}

// The leak of issue 12: someone who takes a nick after its owner left
// never reads the owner's private history, nor what was stored for it.
func TestPrivateHistoryNotReadableByNickSquatter(t *testing.T) {
	ts, _ := startCaptured(t, noSquatProtection)
	ts.registerAccount("alice", "alicepw1").quit()
	ts.registerAccount("bob", "bobpw123").quit()
	alice := ts.login("alice", "alice", "alicepw1", historyCaps...)
	bob := ts.login("bob", "bob", "bobpw123", historyCaps...)
	alice.send("PRIVMSG bob :secret for bob")
	bob.expect(`PRIVMSG bob :secret for bob`)
	bob.send("PRIVMSG alice :secret reply")
	alice.expect(`PRIVMSG alice :secret reply`)
	if got := bob.historyTexts("CHATHISTORY LATEST alice * 10"); strings.Join(got, "|") != "secret for bob|secret reply" {
		t.Fatalf("bob's own history: %q", got)
	}
	bob.quit()

	// Someone else takes the nick bob, without the account.
	squat := ts.connect("bob", "draft/chathistory", "batch", "server-time", "message-tags")
	if got := squat.historyTexts("CHATHISTORY LATEST alice * 10"); len(got) != 0 {
		t.Fatalf("the squatter read bob's private history: %q", got)
	}
	if got := squat.historyTexts("CHATHISTORY BEFORE alice timestamp=2999-01-01T00:00:00.000Z 10"); len(got) != 0 {
		t.Fatalf("the squatter read bob's private history: %q", got)
	}
	if got := squat.targets(); len(got) != 0 {
		t.Fatalf("the squatter sees bob's conversations: %q", got)
	}
	// alice, asking about "bob" now, gets her conversation with whoever
	// holds the nick now: the squatter, with whom she has none.
	if got := alice.historyTexts("CHATHISTORY LATEST bob * 10"); len(got) != 0 {
		t.Fatalf("alice's conversation with the squatter: %q", got)
	}
	squat.quit()
	// With nobody on the nick, "bob" is the account that reserved it.
	if got := alice.historyTexts("CHATHISTORY LATEST bob * 10"); strings.Join(got, "|") != "secret for bob|secret reply" {
		t.Fatalf("alice's history with the account bob: %q", got)
	}
}

// A message to the nick of an account with nothing connected is stored,
// the sender is told so, a squatter of the nick never gets it, and the
// account finds it at its next login.
func TestOfflineMessageStoredForAccount(t *testing.T) {
	ts, _ := startCaptured(t, noSquatProtection)
	ts.registerAccount("bob", "bobpw123").quit()
	alice := ts.registerAccount("alice", "alicepw1", "echo-message", "message-tags")

	alice.send("PRIVMSG bob :are you there?")
	alice.expect(`PRIVMSG bob :are you there\?`) // the echo
	alice.expect(`NOTE PRIVMSG STORED_OFFLINE bob :bob is offline`)
	alice.send("NOTICE bob :a notice too")
	alice.expect(`NOTE NOTICE STORED_OFFLINE bob :`)
	// A nick nobody holds and no account owns is still 401; a NOTICE to
	// it is still dropped silently.
	alice.send("PRIVMSG nobody :hello")
	alice.expect(` 401 alice nobody `)

	squat := ts.connect("bob", "draft/chathistory", "batch", "server-time", "message-tags")
	squat.send("PING squat")
	squat.expectNoneMatch(func(l string) bool { return strings.Contains(l, "are you there") }, 300*time.Millisecond)
	if got := squat.historyTexts("CHATHISTORY LATEST alice * 10"); len(got) != 0 {
		t.Fatalf("the squatter got bob's offline messages: %q", got)
	}
	// While the squatter holds the nick, messages to it are theirs (IRC
	// addresses nicks), not stored for the account.
	alice.send("PRIVMSG bob :who are you?")
	squat.expect(`PRIVMSG bob :who are you\?`)
	squat.quit()

	bob := ts.login("bobby", "bob", "bobpw123", historyCaps...)
	bob.expect(`NOTICE bobby :You have 2 unread messages in 1 conversation while you were away, from alice \(2\)\.`)
	if got := bob.targets(); strings.Join(got, ",") != "alice" {
		t.Fatalf("TARGETS after login: %q", got)
	}
	bob.quit()
	// Unread until read: told again at the next login.
	bob = ts.login("bob", "bob", "bobpw123", historyCaps...)
	bob.expect(`NOTICE bob :You have 2 unread messages in 1 conversation`)
	if got := bob.historyTexts("CHATHISTORY LATEST alice * 10"); strings.Join(got, "|") != "are you there?|a notice too" {
		t.Fatalf("offline messages in history: %q", got)
	}
	bob.quit()
	// Fetched: not unread any more.
	bob = ts.login("bob", "bob", "bobpw123", historyCaps...)
	bob.send("PING after")
	bob.expectNoneMatch(func(l string) bool { return strings.Contains(l, "unread") }, 300*time.Millisecond)
}

// A sender that is not logged in is its connection: once it is gone, the
// account it wrote to still reads the conversation (by the nick it used),
// and nobody else can.
func TestOfflineMessageFromGuestStaysReadable(t *testing.T) {
	ts, _ := startCaptured(t, noSquatProtection)
	ts.registerAccount("bob", "bobpw123").quit()
	guest := ts.connect("guest1")
	guest.send("PRIVMSG bob :from a guest")
	guest.expect(`NOTE PRIVMSG STORED_OFFLINE bob `)
	guest.quit()

	bob := ts.login("bob", "bob", "bobpw123", historyCaps...)
	bob.expect(`from guest1 \(1\)`)
	if got := bob.targets(); strings.Join(got, ",") != "guest1" {
		t.Fatalf("TARGETS: %q", got)
	}
	if got := bob.historyTexts("CHATHISTORY LATEST guest1 * 10"); strings.Join(got, "|") != "from a guest" {
		t.Fatalf("history with the gone guest: %q", got)
	}
	// A new guest1 is someone else: no history with bob.
	other := ts.connect("guest1", "draft/chathistory", "batch")
	if got := other.historyTexts("CHATHISTORY LATEST bob * 10"); len(got) != 0 {
		t.Fatalf("a later guest1 read the first one's conversation: %q", got)
	}
}

// The offline quota: past it the sender gets a clear FAIL and nothing is
// stored; reading the conversation frees it (marking it read does too).
func TestOfflineQuotaFull(t *testing.T) {
	ts, _ := startCaptured(t, func(c *Config) {
		noSquatProtection(c)
		c.Store.OfflineMaxMessages = 2
	})
	ts.registerAccount("bob", "bobpw123").quit()
	alice := ts.registerAccount("alice", "alicepw1")
	for i := 1; i <= 2; i++ {
		alice.send("PRIVMSG bob :message %d", i)
		alice.expect(`NOTE PRIVMSG STORED_OFFLINE bob `)
	}
	alice.send("PRIVMSG bob :message 3")
	alice.expect(`FAIL PRIVMSG OFFLINE_QUOTA_FULL bob :bob is offline with 2 unread messages already; nothing was stored`)
	alice.send("NOTICE bob :notice 4")
	alice.expect(`FAIL NOTICE OFFLINE_QUOTA_FULL bob `)

	bob := ts.login("bob", "bob", "bobpw123", append(historyCaps, "draft/read-marker")...)
	bob.expect(`You have 2 unread messages`)
	if got := bob.historyTexts("CHATHISTORY LATEST alice * 10"); strings.Join(got, "|") != "message 1|message 2" {
		t.Fatalf("stored: %q", got)
	}
	bob.quit()
	for i := 5; i <= 6; i++ {
		alice.send("PRIVMSG bob :message %d", i)
		alice.expect(`NOTE PRIVMSG STORED_OFFLINE bob `)
	}
	alice.send("PRIVMSG bob :message 7")
	alice.expect(`FAIL PRIVMSG OFFLINE_QUOTA_FULL bob `)
	bob = ts.login("bob", "bob", "bobpw123", append(historyCaps, "draft/read-marker")...)
	bob.expect(`You have 2 unread messages`)
	bob.send("MARKREAD alice timestamp=%s", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	bob.expect(`MARKREAD alice timestamp=`)
	bob.quit()
	alice.send("PRIVMSG bob :message 8")
	alice.expect(`NOTE PRIVMSG STORED_OFFLINE bob `)
}

// CHATHISTORY TARGETS lists private conversations with the nick the other
// side used, and channels, ordered by their latest message.
func TestTargetsListPrivateConversations(t *testing.T) {
	ts, _ := startCaptured(t, noSquatProtection)
	ts.registerAccount("alice", "alicepw1").quit()
	alice := ts.login("alice", "alice", "alicepw1", historyCaps...)
	bob := ts.connect("bob")
	carol := ts.connect("carol")
	alice.send("JOIN #t")
	alice.expect(` 366 alice #t `)
	bob.send("PRIVMSG alice :hi from bob")
	alice.expect(`hi from bob`)
	time.Sleep(5 * time.Millisecond)
	alice.send("PRIVMSG #t :in the channel")
	alice.expect(`PRIVMSG #t :in the channel`)
	time.Sleep(5 * time.Millisecond)
	alice.send("PRIVMSG carol :hi carol")
	carol.expect(`hi carol`)
	if got := alice.targets(); strings.Join(got, ",") != "bob,#t,carol" {
		t.Fatalf("TARGETS: %q", got)
	}
	// bob, not logged in, has his own list: one conversation.
	bob.send("CAP REQ :draft/chathistory batch")
	bob.expect(`ACK`)
	if got := bob.targets(); strings.Join(got, ",") != "alice" {
		t.Fatalf("bob's TARGETS: %q", got)
	}
}

// A logged-in client's read markers belong to its account: durable across
// reconnects and restarts, sent on JOIN, pushed to the account's other
// connections, never moving backwards.
func TestReadMarkersPerAccount(t *testing.T) {
	dir := t.TempDir()
	keepDir := func(c *Config) {
		noSquatProtection(c)
		c.Server.DataDir = dir
	}
	ts, _ := startCaptured(t, keepDir)
	ts.registerAccount("alice", "alicepw1").quit()
	ts.registerAccount("bob", "bobpw123").quit()
	a1 := ts.login("alice", "alice", "alicepw1", "draft/read-marker")
	a2 := ts.login("alice2", "alice", "alicepw1", "draft/read-marker") // a second session of alice
	a1.send("JOIN #m")
	a1.expect(`MARKREAD #m \*`)
	a1.send("MARKREAD #m timestamp=2022-11-11T11:11:11.111Z")
	a1.expect(`:laird.local MARKREAD #m timestamp=2022-11-11T11:11:11.111Z`)
	// The other connection of the account hears of it.
	a2.expect(`:laird.local MARKREAD #m timestamp=2022-11-11T11:11:11.111Z`)
	// An older value from it leaves the marker where it is.
	a2.send("MARKREAD #m timestamp=2021-01-01T00:00:00.000Z")
	a2.expect(`:laird.local MARKREAD #m timestamp=2022-11-11T11:11:11.111Z`)
	a2.send("MARKREAD bob timestamp=2023-01-01T00:00:00.000Z")
	a2.expect(`:laird.local MARKREAD bob timestamp=2023-01-01T00:00:00.000Z`)
	a2.send("QUIT")
	a2.expectClosed()
	a1.quit()
	ts.stop()

	ts, _ = startCaptured(t, keepDir)
	a := ts.login("alice", "alice", "alicepw1", "draft/read-marker")
	a.send("JOIN #m")
	a.expect(`:laird.local MARKREAD #m timestamp=2022-11-11T11:11:11.111Z`)
	a.expect(` 366 alice #m `)
	a.send("MARKREAD bob")
	a.expect(`:laird.local MARKREAD bob timestamp=2023-01-01T00:00:00.000Z`)
	// Another client named alice, not logged in, has none of them.
	a.quit()
	guest := ts.connect("alice", "draft/read-marker")
	guest.send("JOIN #m")
	guest.expect(`:laird.local MARKREAD #m \*`)
	guest.send("MARKREAD bob")
	guest.expect(`:laird.local MARKREAD bob \*`)
}

// An account that is online under another nick is not offline: a message
// to its reserved nick reaches it live.
func TestMessageToAccountNickReachesItsUser(t *testing.T) {
	ts, _ := startCaptured(t, noSquatProtection)
	ts.registerAccount("bob", "bobpw123").quit()
	bob := ts.login("bobby", "bob", "bobpw123", historyCaps...)
	alice := ts.registerAccount("alice", "alicepw1", "echo-message")
	alice.send("PRIVMSG bob :found you")
	alice.expect(`:alice!\S+ PRIVMSG bobby :found you`) // the echo
	bob.expect(`:alice!\S+ PRIVMSG bobby :found you`)
	alice.send("PING done")
	alice.expectNoneMatch(func(l string) bool { return strings.Contains(l, "STORED_OFFLINE") }, 200*time.Millisecond)
	if got := bob.historyTexts("CHATHISTORY LATEST alice * 10"); strings.Join(got, "|") != "found you" {
		t.Fatalf("history: %q", got)
	}
}

// An always-on user with nothing connected is offline too: a message to it
// is stored for the account, the sender told so, the account told at its
// next connection.
func TestOfflineMessageToAlwaysOnUser(t *testing.T) {
	ts, _ := startCaptured(t, noSquatProtection)
	ts.registerAccount("bob", "bobpw123").quit()
	bob := ts.login("bob", "bob", "bobpw123", historyCaps...)
	bob.send("PRIVMSG NickServ :SET ALWAYS-ON on")
	bob.expect(`Always-on is now on`)
	bob.send("QUIT")
	bob.expectClosed()
	alice := ts.registerAccount("alice", "alicepw1")
	alice.send("PRIVMSG bob :while you were out")
	alice.expect(`NOTE PRIVMSG STORED_OFFLINE bob `)
	bob = ts.login("bobby", "bob", "bobpw123", historyCaps...) // becomes a session of bob
	bob.expect(`You have 1 unread message in 1 conversation while you were away, from alice \(1\)`)
	if got := bob.historyTexts("CHATHISTORY LATEST alice * 10"); strings.Join(got, "|") != "while you were out" {
		t.Fatalf("history: %q", got)
	}
}
