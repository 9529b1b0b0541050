package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"laird/chat"
)

// Issue 11's TLS section over real TLS: STS, client certificates (SASL
// EXTERNAL, NickServ CERT, WHOIS 276, operators by fingerprint), +Z and
// WHOIS 671. The certificates are made here: a test CA and client
// certificates it signs (testCA).

// dialTLSCert is dialTLS presenting a client certificate (nil: none).
func (ts *transportServer) dialTLSCert(name string, cert *tls.Certificate) *ircClient {
	ts.t.Helper()
	conf := ts.tlsConfig()
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.tls, conf)
	if err != nil {
		ts.t.Fatalf("%s: tls dial: %v", name, err)
	}
	return wrapConn(ts.t, conn, name)
}

// externalLogin runs SASL EXTERNAL on a fresh connection and returns it
// with the 903/904 line.
func (ts *transportServer) externalLogin(name string, cert *tls.Certificate) (*ircClient, string) {
	ts.t.Helper()
	c := ts.dialTLSCert(name, cert)
	c.send("CAP REQ :sasl")
	c.expect(`CAP \S+ ACK`)
	c.send("AUTHENTICATE EXTERNAL")
	c.expect(`^AUTHENTICATE \+$`)
	c.send("AUTHENTICATE +")
	return c, c.expect(` 90[34] .*`)[0]
}

func tlsPortOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestSTSOverListeners: with a TLS listener, CAP LS 302 sends plaintext
// clients to its port and tells TLS clients how long to keep to TLS;
// without one, or with [sts] enabled = false, sts is not offered.
func TestSTSOverListeners(t *testing.T) {
	ts := startTransportServer(t, nil)
	plain := ts.dial("plain")
	want := "sts=port=" + tlsPortOf(t, ts.tls) + ",duration=2592000"
	if caps := plain.capLS(); !hasCap(caps, want) {
		t.Errorf("plaintext CAP LS lacks %s: %s", want, caps)
	}
	secure := ts.dialTLS("secure")
	if caps := secure.capLS(); !hasCap(caps, "sts=duration=2592000") {
		t.Errorf("TLS CAP LS lacks sts=duration=2592000: %s", caps)
	}

	noTLS := startTestServer(t, nil)
	if caps := noTLS.dial("c").capLS(); strings.Contains(caps, "sts") {
		t.Errorf("sts offered without a TLS listener: %s", caps)
	}
	off := startTransportServer(t, func(c *Config) { c.STS.Enabled = false })
	if caps := off.dial("c").capLS(); strings.Contains(caps, "sts") {
		t.Errorf("sts offered with [sts] enabled = false: %s", caps)
	}
}

// hasCap reports whether the space-separated list has item.
func hasCap(list, item string) bool {
	for _, f := range strings.Fields(list) {
		if f == item {
			return true
		}
	}
	return false
}

// TestSTSReload: REHASH applies a changed [sts] section.
func TestSTSReload(t *testing.T) {
	dir, cert, key := testCert(t)
	tlsAddr, plainAddr := freeAddr(t), freeAddr(t)
	cfgFile := filepath.Join(dir, "laird.toml")
	write := func(sts string) {
		text := fmt.Sprintf("[sts]\n%s\n\n[[oper]]\nname = \"op\"\npassword_hash = %q\n\n[[listen]]\naddress = %q\n\n[[listen]]\naddress = %q\ntls_cert = %q\ntls_key = %q\n",
			sts, operHash(t, "pw"), plainAddr, tlsAddr, cert, key)
		if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`duration = "1h"`)
	startTestServer(t, func(c *Config) {
		fresh, err := loadConfig(cfgFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Listen, c.Opers, c.STS, c.path = fresh.Listen, fresh.Opers, fresh.STS, fresh.path
	})
	port := tlsPortOf(t, tlsAddr)
	if caps := dialWith(t, plainAddr, "before", nil).capLS(); !hasCap(caps, "sts=port="+port+",duration=3600") {
		t.Fatalf("CAP LS: %s", caps)
	}
	write("duration = \"2h\"\npreload = true")
	op := dialWith(t, plainAddr, "op", nil)
	op.register("op")
	op.send("OPER op pw")
	op.expect(` 381 op `)
	op.send("REHASH")
	op.expect(` 382 op `)
	if caps := dialWith(t, plainAddr, "after", nil).capLS(); !hasCap(caps, "sts=port="+port+",duration=7200") {
		t.Errorf("after REHASH, CAP LS: %s", caps)
	}
	conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if caps := wrapConn(t, conn, "tls").capLS(); !hasCap(caps, "sts=duration=7200,preload") {
		t.Errorf("after REHASH, TLS CAP LS: %s", caps)
	}
}

// TestCertificateLogin: a client certificate added with NickServ CERT ADD
// logs in with SASL EXTERNAL, shows in WHOIS 276 to its owner, and still
// logs in from an address that ran out of password attempts (issue 15).
func TestCertificateLogin(t *testing.T) {
	ca := newTestCA(t)
	aliceCert, aliceFP := ca.issue(t, "alice")
	strangerCert, _ := ca.issue(t, "stranger")
	ts := startTransportServer(t, fastLogins)

	alice := ts.dialTLSCert("alice", &aliceCert)
	alice.register("alice")
	alice.send("REGISTER * * right-password")
	alice.expect(`REGISTER SUCCESS alice `)
	alice.send("PRIVMSG NickServ :CERT ADD")
	alice.expect(`NOTICE alice :Certificate fingerprint ` + aliceFP + ` added to account alice`)
	alice.send("WHOIS alice")
	alice.expect(` 671 alice alice :is using a secure connection`)
	alice.expect(` 276 alice alice :has client certificate fingerprint ` + aliceFP + `$`)
	alice.send("PRIVMSG NickServ :CERT LIST")
	alice.expect(`NOTICE alice :` + aliceFP + `$`)

	// Another user sees 671, not the fingerprint.
	bob := ts.dialTLS("bob")
	bob.register("bob")
	bob.send("WHOIS alice")
	bob.expect(` 671 bob alice `)
	if line := bob.expect(` (276|318) bob alice `)[0]; strings.Contains(line, " 276 ") {
		t.Errorf("fingerprint shown to another user: %s", line)
	}

	c, line := ts.externalLogin("ext", &aliceCert)
	if !strings.Contains(line, " 903 ") {
		t.Fatalf("SASL EXTERNAL: %s", line)
	}
	c.send("NICK alice2")
	c.send("USER a 0 * :a")
	c.send("CAP END")
	c.expect(` 001 alice `) // a session of alice's user (multiclient)

	if _, line := ts.externalLogin("stranger", &strangerCert); !strings.Contains(line, "No account has this certificate") {
		t.Errorf("unknown certificate: %s", line)
	}
	if _, line := ts.externalLogin("nocert", nil); !strings.Contains(line, "No client certificate") {
		t.Errorf("no certificate: %s", line)
	}

	// Passwords from this address run out; the certificate still logs in.
	guesser := ts.dialTLS("guesser")
	guesser.send("CAP REQ :sasl")
	guesser.expect(`CAP \S+ ACK`)
	for i := 0; i < 5; i++ {
		guesser.saslPlain("alice", "wrong")
		guesser.expect(` 904 .*Invalid account name or password`)
	}
	guesser.saslPlain("alice", "right-password")
	guesser.expect(` 904 .*Too many failed logins to alice from your address`)
	if _, line := ts.externalLogin("ext2", &aliceCert); !strings.Contains(line, " 903 ") {
		t.Errorf("certificate login refused after password failures: %s", line)
	}
}

// TestOperCertFP: an [[oper]] block with certfp alone opers up the client
// presenting that certificate, without a password; nobody else.
func TestOperCertFP(t *testing.T) {
	ca := newTestCA(t)
	opCert, opFP := ca.issue(t, "op")
	otherCert, _ := ca.issue(t, "other")
	ts := startTransportServer(t, func(c *Config) {
		c.Opers = []chat.Oper{{Name: "certop", CertFP: strings.ToUpper(opFP)}}
	})
	op := ts.dialTLSCert("op", &opCert)
	op.register("op")
	op.send("OPER certop")
	op.expect(` 381 op `)
	other := ts.dialTLSCert("other", &otherCert)
	other.register("other")
	other.send("OPER certop")
	other.expect(` 491 other `)
	plain := ts.dial("plain")
	plain.register("plain")
	plain.send("OPER certop pw")
	plain.expect(` 491 plain `)
	// The operator sees another user's fingerprint.
	op.send("WHOIS other")
	op.expect(` 276 op other :has client certificate fingerprint [0-9a-f]{64}$`)

	cfg := testConfig(t)
	cfg.Opers = []chat.Oper{{Name: "x", CertFP: "zz"}}
	if err := validateConfig(&cfg, nil); err == nil || !strings.Contains(err.Error(), "certfp") {
		t.Errorf("an oper block with a malformed certfp: %v", err)
	}
	cfg.Opers[0].CertFP = opFP
	if err := validateConfig(&cfg, nil); err != nil {
		t.Errorf("an oper block with certfp alone: %v", err)
	}
}

// TestSecureOnlyOverTLS: +Z lets TLS users in and keeps plaintext ones
// out, whatever transport the channel operator uses.
func TestSecureOnlyOverTLS(t *testing.T) {
	ts := startTransportServer(t, nil)
	op := ts.dialTLS("op")
	op.register("op")
	op.send("JOIN #tls")
	op.expect(` 366 op #tls `)
	op.send("MODE #tls +Z")
	op.expect(`MODE #tls \+Z`)
	plain := ts.dial("plain")
	plain.register("plain")
	plain.send("JOIN #tls")
	plain.expect(` 489 plain #tls :Cannot join channel \(\+Z\)`)
	secure := ts.dialTLS("secure")
	secure.register("secure")
	secure.send("JOIN #tls")
	secure.expect(` 366 secure #tls `)
	plain.send("WHOIS secure")
	plain.expect(` 671 plain secure `)
	secure.send("WHOIS plain")
	if line := secure.expect(` (671|318) secure plain `)[0]; strings.Contains(line, " 671 ") {
		t.Errorf("plaintext user shown secure: %s", line)
	}
	plain.send("MODE #tls")
	plain.expect(` 324 plain #tls :?\+Z`)
}
