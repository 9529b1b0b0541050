package main

import (
	"os"
	"strings"
	"testing"

	"laird/chat"
)

// The IRC commands the user's guide and the operator's manual show are run
// here, in the order a reader would, against a real server; each step
// names the text of the document it stands for, and the test fails when
// the document no longer shows it (update both together). The shell
// commands of the manual are run by the command-line tests (cli_test.go,
// reload_test.go, dist_test.go).

// docStep is one command of a document: what the document shows, the
// line sent, and a regular expression the reply must match ("": the
// command has no reply of its own; a PING round trip follows it, and the
// test checks its effect elsewhere).
type docStep struct {
	doc, send, expect string
}

func runDocSteps(t *testing.T, docPath string, c *ircClient, steps []docStep) {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.doc != "" && !strings.Contains(string(doc), s.doc) {
			t.Errorf("%s no longer shows %q", docPath, s.doc)
		}
		c.send("%s", s.send)
		if s.expect == "" {
			c.sync()
			continue
		}
		c.expect(s.expect)
	}
}

func TestUsersGuideCommands(t *testing.T) {
	ts, _ := startCaptured(t, nil)
	const guide = "../../docs/users.md"
	bob := ts.connect("bob")
	alice := ts.connect("alice", "draft/chathistory", "batch", "server-time", "message-tags")
	runDocSteps(t, guide, alice, []docStep{
		{"/msg NickServ REGISTER <password> [<email>]", "PRIVMSG NickServ :REGISTER sesame11 alice@example.org", `NOTICE alice :Account alice registered`},
		{"/msg NickServ INFO [<account>]", "PRIVMSG NickServ :INFO alice", `NOTICE alice :Information on account alice:`},
		{"/msg NickServ SET PASSWORD <new password>", "PRIVMSG NickServ :SET PASSWORD newer-secret", `NOTICE alice :Password changed`},
		{"/msg NickServ LOGOUT", "PRIVMSG NickServ :LOGOUT", `NOTICE alice :You are now logged out`},
		{"/msg NickServ IDENTIFY <password>", "PRIVMSG NickServ :IDENTIFY newer-secret", `NOTICE alice :You are now identified as alice`},
		{"", "PRIVMSG NickServ :LOGOUT", `logged out`},
		{"/msg NickServ IDENTIFY <account> <password>", "PRIVMSG NickServ :IDENTIFY alice newer-secret", `NOTICE alice :You are now identified as alice`},
		{"/msg NickServ HELP", "PRIVMSG NickServ :HELP", `NOTICE alice :NickServ commands`},
		{"/quote HELP", "HELP", ` 704 alice index `},
		{"`HELP <command>`", "HELP JOIN", ` 705 alice JOIN :JOIN <#chan>`},
		{"/join #channel", "JOIN #guide", ` 366 alice #guide `},
		{"/mode #channel +m", "MODE #guide +m", `MODE #guide \+m`},
		{"| `+C` |", "MODE #guide +ntCl 10", `MODE #guide \+Cl 10`},
		{"| `+k <key>` |", "MODE #guide +k sekrit", `MODE #guide \+k sekrit`},
		{"| `+b <mask>`, `+e <mask>`, `+I <mask>` |", "MODE #guide +beI *!*@bad.example *!*@ok.example *!*@in.example", `MODE #guide \+beI`},
		{"| `+i` | invite only (`/invite <nick> #channel`) |", "MODE #guide +i", `MODE #guide \+i`},
		{"| `+b a:<account>` |", "MODE #guide +b a:mallory", `MODE #guide \+b a:mallory`},
		{"| `+b m:<mask>` |", "MODE #guide +b m:*!*@muted.example", `MODE #guide \+b m:\*!\*@muted\.example`},
	})
	bob.send("JOIN #guide")
	bob.expect(` 47[135] bob #guide `)
	runDocSteps(t, guide, bob, []docStep{
		{"/quote KNOCK #channel :please", "KNOCK #guide :please", ` 711 bob #guide :Your KNOCK has been delivered`},
	})
	alice.expect(` 710 alice #guide bob!\S+ :`)
	runDocSteps(t, guide, alice, []docStep{
		{"", "INVITE bob #guide", ` 341 alice bob :?#guide`},
	})
	bob.expect(`INVITE bob :?#guide`)
	bob.send("JOIN #guide sekrit")
	bob.expect(` 366 bob #guide `)
	runDocSteps(t, guide, alice, []docStep{
		{"| `+o <nick>`, `+v <nick>` |", "MODE #guide +v bob", `MODE #guide \+v bob`},
		{"/topic #channel :text", "TOPIC #guide :the guide's channel", `TOPIC #guide :the guide's channel`},
		{"/msg #channel text", "PRIVMSG #guide :hello", ""},
		{"/msg <nick> text", "PRIVMSG bob :hi bob", ""},
		{"", "MODE #guide +o bob", `MODE #guide \+o bob`},
		{"/msg @#channel text", "PRIVMSG @#guide :ops only", ""},
		{"/quote CHATHISTORY LATEST #channel * 50", "CHATHISTORY LATEST #guide * 50", `PRIVMSG #guide :hello`},
		{"/quote METADATA * SET pronouns :they/them", "METADATA * SET pronouns :they/them", ` 761 alice alice pronouns \* :they/them$`},
		{"/quote METADATA somenick LIST", "METADATA alice LIST", ` 761 alice alice pronouns \* :they/them$`},
		{"/msg ChanServ REGISTER #channel", "PRIVMSG ChanServ :REGISTER #guide", `NOTICE alice :#guide is now registered to alice`},
	})
	bob.expect(`^:alice!\S+ PRIVMSG #guide :hello$`)
	bob.expect(`^:alice!\S+ PRIVMSG bob :hi bob$`)
	bob.expect(`^:alice!\S+ PRIVMSG @#guide :ops only$`)
	bob.send("NS REGISTER sesame22")
	bob.expect(`Account bob registered`)
	runDocSteps(t, guide, alice, []docStep{
		{"/msg ChanServ ACCESS #channel ADD <account> op", "PRIVMSG ChanServ :ACCESS #guide ADD bob op", `NOTICE alice :bob now has op access on #guide`},
		{"/msg ChanServ ACCESS #channel LIST", "PRIVMSG ChanServ :ACCESS #guide LIST", `NOTICE alice :  bob op`},
		{"/msg ChanServ INFO #channel", "PRIVMSG ChanServ :INFO #guide", `NOTICE alice :Founder: alice`},
		{"`ACCESS ... DEL\n<account>`", "PRIVMSG ChanServ :ACCESS #guide DEL bob", `NOTICE alice :bob no longer has access on #guide`},
		{"/kick #channel nick :reason", "KICK #guide bob :enough", `KICK #guide bob :enough`},
		{"/list", "LIST >0", ` 323 alice `},
		{"/msg ChanServ DROP #channel", "PRIVMSG ChanServ :DROP #guide", `NOTICE alice :#guide is no longer registered`},
		{"/away reason", "AWAY :lunch", ` 306 alice `},
		{"/away` alone", "AWAY", ` 305 alice `},
		{"/whois nick", "WHOIS bob", ` 311 alice bob `},
		{"/who #channel", "WHO #guide", ` 315 alice #guide `},
		{"/quote MONITOR + nick1,nick2", "MONITOR + bob,carol", ` 731 alice :carol`},
		{"`MONITOR - nick`", "MONITOR - carol", ""},
		{"`MONITOR L`", "MONITOR L", ` 732 alice :bob$`},
		{"/mode yournick +B", "MODE alice +B", `MODE alice :?\+B`},
		{"`+w`", "MODE alice +w", `MODE alice :?\+w`},
		{"", "JOIN #oldname", ` 366 alice #oldname `},
		{"/quote RENAME #old #new :reason", "RENAME #oldname #newname :tidier", `JOIN :?#newname$`},
		{"/msg NickServ GHOST <nick>", "NICK alice_", `NICK :?alice_`},
	})
	holder := ts.connect("alice")
	runDocSteps(t, guide, alice, []docStep{
		{"", "PRIVMSG NickServ :GHOST alice", `NOTICE alice_ :alice has been disconnected`},
		{"/msg NickServ DROP <password>", "PRIVMSG NickServ :DROP newer-secret", `NOTICE alice_ :Account alice has been dropped`},
	})
	holder.expectClosed()
	// VERIFY needs [accounts] require_verification: TestRegisterWithVerification.
	if doc, _ := os.ReadFile(guide); !strings.Contains(string(doc), "/quote VERIFY <account> <code>") {
		t.Error("the guide no longer shows VERIFY; TestRegisterWithVerification runs it")
	}
}

func TestOperatorsManualIRCCommands(t *testing.T) {
	ts, _ := startCaptured(t, func(c *Config) {
		c.Opers = []chat.Oper{{Name: "admin", PasswordHash: operHash(t, "pw"), Hosts: []string{"*!*@127.0.0.1"}}}
	})
	const manual = "../../docs/operators.md"
	ts.registerAccount("carol", "sesame33")
	victim := ts.connect("victim")
	w := ts.connect("w")
	w.send("MODE w +w")
	w.expect(`MODE w :?\+w`)
	op := ts.connect("op")
	runDocSteps(t, manual, op, []docStep{
		{"`OPER admin <password>`", "OPER admin pw", ` 381 op `},
		{"`WALLOPS :<text>`", "WALLOPS :maintenance", ""},
		{"`KILL <nick> [:<reason>]`", "KILL victim :bye", ""},
		{"KLINE 2d *@198.51.100.7 :spam", "KLINE 2d *@198.51.100.7 :spam", `NOTICE op :Added KLINE \*@198\.51\.100\.7 .*: spam`},
		{"DLINE 1h 203.0.113.0/24 :connection flood", "DLINE 1h 203.0.113.0/24 :connection flood", `NOTICE op :Added DLINE 203\.0\.113\.0/24 .*: connection flood`},
		{"STATS k", "STATS k", ` 216 op K \*@198\.51\.100\.7 `},
		{"STATS d", "STATS d", ` op D 203\.0\.113\.0/24 `},
		{"UNKLINE *@198.51.100.7", "UNKLINE *@198.51.100.7", `NOTICE op :Removed KLINE \*@198\.51\.100\.7`},
		{"UNDLINE 203.0.113.0/24", "UNDLINE 203.0.113.0/24", `NOTICE op :Removed DLINE 203\.0\.113\.0/24`},
		{"`STATS L`", "STATS L", ` 219 op L `},
		{"`STATS u`", "STATS u", ` 242 op :Server Up `},
		{"`SUSPEND <account> [:<reason>]`", "SUSPEND carol :testing", `NOTICE op :Account carol is suspended: testing`},
		{"`CHGHOST <nick> <host>`", "CHGHOST w staff.example", `NOTICE op :Changing the host of w to staff\.example`},
		{"`UNSUSPEND <account>`", "UNSUSPEND carol", `NOTICE op :Account carol is no longer suspended`},
		{"AUDIT action=oper.fail since=1h", "AUDIT action=oper.fail since=1h", `NOTICE op :AUDIT end: 0 entries`},
		{"AUDIT actor=admin limit=20", "AUDIT actor=op limit=20", `NOTICE op :AUDIT \S+ op oper\.up admin`},
		{"\nAUDIT\n", "AUDIT", `NOTICE op :AUDIT \S+ \S+ dline\.remove 203\.0\.113\.0/24`},
		{"`REHASH`", "REHASH", `FAIL REHASH CANNOT_REHASH :This server was started without a configuration file`},
	})
	w.expect(`WALLOPS :maintenance`)
	w.expect(` 396 w staff\.example :is now your displayed host`)
	victim.expect(`^ERROR :Closing Link: .*Killed \(op \(bye\)\)`)
}
