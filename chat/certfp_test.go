package chat

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"laird/kv"
)

// Client certificates as credentials: NickServ CERT and SASL EXTERNAL.

const (
	fpBob   = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	fpOther = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// accountVia registers nick as an account from a connection on ti.
func (sw *storeWorld) accountVia(nick string, ti TransportInfo) *fakeConn {
	c := sw.connectVia(nick, ti)
	sw.cmd(c, "REGISTER * * pw-"+nick, "REGISTER SUCCESS "+nick)
	return c
}

// external runs SASL EXTERNAL (with authzid, "" for none) on a new
// connection on ti and returns it with what the exchange answered.
func (sw *storeWorld) external(ti TransportInfo, authzid, want string) (*fakeConn, string) {
	fc := sw.dialVia(ti)
	sw.cmd(fc, "CAP LS 302", "CAP * LS")
	sw.cmd(fc, "CAP REQ sasl", "CAP * ACK")
	sw.cmd(fc, "AUTHENTICATE EXTERNAL", "AUTHENTICATE +")
	payload := "+"
	if authzid != "" {
		payload = base64.StdEncoding.EncodeToString([]byte(authzid))
	}
	return fc, sw.cmd(fc, "AUTHENTICATE "+payload, want)
}

func TestNickServCert(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	alice := sw.accountVia("alice", withCert(fpAlice))
	bob := sw.account("bob")

	sw.cmd(alice, "PRIVMSG NickServ :CERT LIST", "Account alice has no certificate fingerprints")
	sw.cmd(alice, "PRIVMSG NickServ :CERT ADD", "Certificate fingerprint "+fpAlice+" added to account alice")
	sw.cmd(alice, "PRIVMSG NickServ :CERT ADD", "is already on your account")
	// Upper case and colons are accepted, and stored normalised.
	colons := strings.ToUpper(fpOther[:2])
	for i := 2; i < 64; i += 2 {
		colons += ":" + strings.ToUpper(fpOther[i:i+2])
	}
	sw.cmd(alice, "PRIVMSG NickServ :CERT ADD "+colons, "Certificate fingerprint "+fpOther+" added")
	sw.cmd(alice, "PRIVMSG NickServ :CERT ADD 1234", "A certificate fingerprint is a SHA-256 in 64 hex digits")
	sw.cmd(alice, "PRIVMSG NickServ :CERT ADD "+strings.Repeat("g", 64), "A certificate fingerprint is a SHA-256 in 64 hex digits")
	out := sw.cmd(alice, "PRIVMSG NickServ :CERT LIST", fpOther)
	if !strings.Contains(out, fpAlice) {
		t.Errorf("CERT LIST lacks %s:\n%s", fpAlice, out)
	}
	acct, err := sw.st.Account("alice")
	if err != nil || len(acct.CertFPs) != 2 {
		t.Fatalf("stored account: %+v, %v", acct.CertFPs, err)
	}

	// A fingerprint logs in to one account only.
	sw.cmd(bob, "PRIVMSG NickServ :CERT ADD "+fpAlice, "belongs to another account")
	sw.cmd(bob, "PRIVMSG NickServ :CERT ADD", "This connection has no client certificate")
	sw.cmd(alice, "PRIVMSG NickServ :CERT DEL "+fpOther, "removed from account alice")
	sw.cmd(alice, "PRIVMSG NickServ :CERT DEL "+fpOther, "is not on your account")
	sw.cmd(bob, "PRIVMSG NickServ :CERT ADD "+fpOther, "added to account bob")

	// The list is bounded.
	for i := 1; i < maxCertFPs; i++ {
		sw.cmd(bob, fmt.Sprintf("PRIVMSG NickServ :CERT ADD %064x", i), "added to account bob")
	}
	sw.cmd(bob, fmt.Sprintf("PRIVMSG NickServ :CERT ADD %064x", maxCertFPs), "the most certificate fingerprints allowed (16)")

	entries, err := sw.st.Audit(kv.AuditQuery{Target: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "account.cert.") {
			actions = append(actions, e.Action+" "+e.Reason)
		}
	}
	want := []string{"account.cert.del " + fpOther, "account.cert.add " + fpOther, "account.cert.add " + fpAlice}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Errorf("audit: got %q, want %q", actions, want)
	}

	anon := sw.connect("anon", true)
	sw.cmd(anon, "PRIVMSG NickServ :CERT LIST", "You must be logged in")
}

func TestSASLExternal(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	alice := sw.accountVia("alice", withCert(fpAlice))
	sw.cmd(alice, "PRIVMSG NickServ :CERT ADD", "added to account alice")
	if out := sw.cmd(alice, "CAP LS 302", "CAP alice LS"); !strings.Contains(out, "sasl=PLAIN,SCRAM-SHA-256,EXTERNAL") {
		t.Errorf("EXTERNAL not listed:\n%s", out)
	}

	fc, out := sw.external(withCert(fpAlice), "", " 903 ")
	if !strings.Contains(out, " 900 * *!*@127.0.0.1 alice :You are now logged in as alice") {
		t.Errorf("no 900:\n%s", out)
	}
	sw.send(fc, "NICK alice2", "USER a 0 * :a", "CAP END")
	sw.waitFor(fc, " 001 ")

	_, out = sw.external(withCert(fpAlice), "alice", " 903 ")
	if !strings.Contains(out, " 900 ") {
		t.Errorf("authzid of the account refused:\n%s", out)
	}
	sw.external(withCert(fpAlice), "bob", " 904 * :SASL authentication failed: Authorization identity must match the account")
	sw.external(withCert(fpBob), "", " 904 * :SASL authentication failed: No account has this certificate")
	sw.external(tlsTransport, "", " 904 * :SASL authentication failed: No client certificate on this connection")
	sw.external(TransportInfo{Name: "tcp"}, "", " 904 ")

	if _, err := sw.st.UpdateAccount("alice", func(a *kv.Account, _ *kv.Txn) error {
		a.Suspended = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sw.external(withCert(fpAlice), "", " 904 * :SASL authentication failed: Account alice is suspended")
}

// TestSASLExternalMulticlient: a certificate login goes the way of PLAIN's:
// a second connection logged in to a present account becomes a session of
// its user.
func TestSASLExternalMulticlient(t *testing.T) {
	sw := newStoreWorld(t, kv.Options{})
	alice := sw.accountVia("alice", withCert(fpAlice))
	sw.cmd(alice, "PRIVMSG NickServ :CERT ADD", "added to account alice")
	sw.cmd(alice, "JOIN #home", " 366 alice #home ")
	fc, _ := sw.external(withCert(fpAlice), "", " 903 ")
	sw.send(fc, "NICK other", "USER a 0 * :a", "CAP END")
	sw.waitFor(fc, " 001 alice ")
	sw.waitFor(fc, ":alice!alice@127.0.0.1 JOIN #home")
}
