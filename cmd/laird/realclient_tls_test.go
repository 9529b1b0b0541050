package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a certificate authority made for one test, a server
// certificate it signed for 127.0.0.1 and localhost, and a client
// certificate for logging in by fingerprint. Every file is PEM.
type testPKI struct {
	caFile                string // the CA certificate: what clients trust
	serverCert, serverKey string
	clientPEM             string // the client's certificate and key in one file (weechat's ssl_cert)
	clientCert, clientKey string
	clientDER             []byte // the client certificate, for its fingerprint
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t)
	p := &testPKI{
		caFile:     filepath.Join(dir, "ca.pem"),
		serverCert: filepath.Join(dir, "server.pem"), serverKey: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client.key"),
		clientPEM: filepath.Join(dir, "client-with-key.pem"),
	}
	writePEM(t, p.caFile, "CERTIFICATE", ca.cert.Raw)
	leaf := func(cn string, usage x509.ExtKeyUsage, certFile, keyFile string) ([]byte, []byte, []byte) {
		der, key := ca.sign(t, cn, usage)
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return der, writePEM(t, certFile, "CERTIFICATE", der), writePEM(t, keyFile, "PRIVATE KEY", pkcs8)
	}
	leaf("localhost", x509.ExtKeyUsageServerAuth, p.serverCert, p.serverKey)
	der, certPEM, keyPEM := leaf("laird test client", x509.ExtKeyUsageClientAuth, p.clientCert, p.clientKey)
	p.clientDER = der
	if err := os.WriteFile(p.clientPEM, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startTLSTestServer runs laird with a plain listener (ts.addr) and a TLS
// listener, returned, serving the PKI's server certificate.
func startTLSTestServer(t *testing.T, pki *testPKI, mutate func(*Config)) (*testServer, string) {
	t.Helper()
	tlsAddr := freeAddr(t)
	ts := startTestServer(t, func(c *Config) {
		c.Listen = []ListenConfig{
			{Address: c.Server.Listen},
			{Address: tlsAddr, TLSCert: pki.serverCert, TLSKey: pki.serverKey},
		}
		if mutate != nil {
			mutate(c)
		}
	})
	return ts, tlsAddr
}

// startIrssiTLS runs irssi in a private tmux server and connects it over
// TLS, verifying the server's certificate against caFile. irssi checks
// only DNS names against the certificate, so it connects to localhost
// (the test certificate names it; irssi prefers IPv4, where laird is).
func startIrssiTLS(t *testing.T, port, nick, caFile string) *irssiClient {
	t.Helper()
	home := t.TempDir()
	ir := &irssiClient{t: t, socket: "laird-tls-" + filepath.Base(filepath.Dir(home)) + "-" + filepath.Base(home)}
	cmd := exec.Command("tmux", "-L", ir.socket, "new-session", "-d", "-x", "200", "-y", "50",
		"irssi", "--home="+home, "-n", nick)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux irssi: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", ir.socket, "kill-server").Run() })
	eventually(t, 10*time.Second, "irssi to start", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "[(status)]"), s
	})
	ir.keys("/connect -tls -tls_verify -tls_cafile " + caFile + " localhost " + port)
	eventually(t, 15*time.Second, "irssi to register over TLS", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "Welcome to the"), s
	})
	return ir
}

// TestIrssiTLS: irssi connects over TLS, verifying laird's certificate
// against the test's CA, joins a channel and exchanges messages with a
// client on plain TCP.
func TestIrssiTLS(t *testing.T) {
	requireTools(t, "irssi", "tmux")
	pki := newTestPKI(t)
	ts, tlsAddr := startTLSTestServer(t, pki, nil)
	_, port, _ := strings.Cut(tlsAddr, ":")

	plain := ts.dial("plain")
	plain.register("plain")
	plain.send("JOIN #tls")
	plain.expect(` 366 plain #tls `)

	ir := startIrssiTLS(t, port, "irstls", pki.caFile)
	if s := ir.screen(); !strings.Contains(s, "Protocol: TLSv1.3") || !strings.Contains(s, "Issuer:  CN: laird test CA") {
		t.Fatalf("irssi did not report a TLS 1.3 session with the test CA's certificate:\n%s", s)
	}
	ir.keys("/join #tls")
	plain.expectWithin(`^:irstls!\S+ JOIN #tls`, 20*time.Second)
	plain.send("PRIVMSG #tls :hello over plain tcp")
	eventually(t, 10*time.Second, "irssi to show the plain client's message", func() (bool, string) {
		s := ir.screen()
		return strings.Contains(s, "plain> hello over plain tcp"), s
	})
	ir.keys("hello over tls")
	plain.expectWithin(`^:irstls!\S+ PRIVMSG #tls :hello over tls$`, 10*time.Second)
}

// TestWeechatTLS: weechat connects over TLS with certificate verification
// on and the test's CA as its only addition to the system's, joins a
// channel and exchanges messages with a client on plain TCP.
func TestWeechatTLS(t *testing.T) {
	requireTools(t, "weechat-headless")
	pki := newTestPKI(t)
	ts, tlsAddr := startTLSTestServer(t, pki, nil)
	plain := ts.dial("plain")
	plain.register("plain")
	plain.send("JOIN #tls")
	plain.expect(` 366 plain #tls `)

	w := startWeechat(t, weechatTLSServer(tlsAddr, pki.caFile, "weetls", "set irc.server.laird.autojoin #tls")...)
	plain.expectWithin(`^:weetls!\S+ JOIN #tls`, 15*time.Second)
	if l := w.log("irc.server.laird"); !strings.Contains(l, "/"+strings.Split(tlsAddr, ":")[1]+" (SSL)") {
		t.Fatalf("weechat did not connect over TLS:\n%s", l)
	}
	const buf = "irc.laird.#tls"
	plain.send("PRIVMSG #tls :hello over plain tcp")
	eventually(t, 10*time.Second, "weechat to show the plain client's message", func() (bool, string) {
		l := w.log(buf)
		return strings.Contains(l, "plain\thello over plain tcp"), l
	})
	w.command(buf, "hello over tls")
	plain.expectWithin(`^:weetls!\S+ PRIVMSG #tls :hello over tls$`, 10*time.Second)
}

// weechatTLSServer returns the commands that add server "laird" at addr
// over TLS (WeeChat 3.8, Debian 12's, still calls it ssl), trusting caFile
// besides the system's CAs and verifying the certificate, then connect.
func weechatTLSServer(addr, caFile, nick string, extra ...string) []string {
	host, port, _ := strings.Cut(addr, ":")
	cmds := []string{
		"set weechat.network.gnutls_ca_user " + caFile,
		"server add laird " + host + "/" + port + " -ssl",
		"set irc.server.laird.ssl_verify on",
		"set irc.server.laird.nicks " + nick,
		"set irc.server.laird.username " + nick,
		"set irc.server.laird.realname " + nick,
	}
	return append(append(cmds, extra...), "connect laird")
}

// TestOpenSSLProtocolVersions: openssl s_client completes TLS 1.2 and 1.3
// handshakes, verifying the certificate against the test's CA, and is
// refused by the server (a protocol_version alert) when it offers only
// TLS 1.0 or 1.1, even with every cipher allowed on its side; over TLS
// 1.3 it registers and quits like any IRC client.
func TestOpenSSLProtocolVersions(t *testing.T) {
	requireTools(t, "openssl")
	pki := newTestPKI(t)
	_, tlsAddr := startTLSTestServer(t, pki, nil)
	sclient := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "openssl", append([]string{"s_client", "-connect", tlsAddr, "-CAfile", pki.caFile, "-verify_return_error"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, _ := cmd.CombinedOutput() // a refused handshake exits non-zero; the output says why
		return string(out)
	}
	for _, v := range []string{"1_2", "1_3"} {
		out := sclient("", "-brief", "-tls"+v)
		want := "Protocol version: TLSv" + strings.ReplaceAll(v, "_", ".")
		if !strings.Contains(out, "CONNECTION ESTABLISHED") || !strings.Contains(out, want) || !strings.Contains(out, "Verification: OK") {
			t.Errorf("openssl s_client -tls%s: want an established, verified %s session; got:\n%s", v, want, out)
		}
	}
	for _, v := range []string{"1", "1_1"} {
		// SECLEVEL=0 lets this client offer the old versions at all; the
		// refusal must come from the server, as an alert.
		out := sclient("", "-brief", "-tls"+v, "-cipher", "DEFAULT@SECLEVEL=0")
		if strings.Contains(out, "CONNECTION ESTABLISHED") || !strings.Contains(out, "alert protocol version") {
			t.Errorf("openssl s_client -tls%s: want the server's protocol_version alert; got:\n%s", v, out)
		}
	}
	out := sclient("NICK sclient\r\nUSER sclient 0 * :openssl\r\nQUIT :done\r\n", "-quiet", "-tls1_3")
	for _, want := range []string{" 001 sclient :Welcome to the", "ERROR :Closing Link"} {
		if !strings.Contains(out, want) {
			t.Errorf("IRC over openssl s_client: no %q in:\n%s", want, out)
		}
	}
}

// TestWeechatSASLExternal: an account adds the test client certificate's
// fingerprint with NickServ CERT ADD, over TLS with that certificate; then
// weechat, presenting the certificate, logs in to the account with SASL
// EXTERNAL (disconnecting on failure) and joins a channel, where a plain
// TCP client sees it as logged in.
func TestWeechatSASLExternal(t *testing.T) {
	requireTools(t, "weechat-headless")
	pki := newTestPKI(t)
	ts, tlsAddr := startTLSTestServer(t, pki, fastAccounts)
	ts.registerAccount("certuser", "sesame11").quit()

	// Over TLS with the client certificate: identify, then CERT ADD
	// without a fingerprint adds this connection's.
	pair, err := tls.LoadX509KeyPair(pki.clientCert, pki.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}}
	ca, _ := os.ReadFile(pki.caFile)
	conf.RootCAs.AppendCertsFromPEM(ca)
	conn, err := tls.Dial("tcp", tlsAddr, conf)
	if err != nil {
		t.Fatal(err)
	}
	adder := wrapConn(t, conn, "adder")
	adder.register("adder")
	adder.send("PRIVMSG NickServ :IDENTIFY certuser sesame11")
	adder.expect(` 900 adder \S+ certuser `)
	sum := sha256.Sum256(pki.clientDER)
	fp := hex.EncodeToString(sum[:])
	adder.send("PRIVMSG NickServ :CERT ADD")
	adder.expect(`NOTICE adder :Certificate fingerprint ` + fp + ` added to account certuser`)
	adder.send("QUIT")
	adder.expectClosed()

	plain := ts.dial("plain")
	plain.register("plain")
	plain.send("JOIN #ext")
	plain.expect(` 366 plain #ext `)
	w := startWeechat(t, weechatTLSServer(tlsAddr, pki.caFile, "weeext",
		"set irc.server.laird.ssl_cert "+pki.clientPEM,
		"set irc.server.laird.sasl_mechanism external",
		"set irc.server.laird.sasl_fail disconnect",
		"set irc.server.laird.autojoin #ext")...)
	plain.expectWithin(`^:weeext!\S+ JOIN #ext`, 15*time.Second)
	if l := w.log("irc.server.laird"); !strings.Contains(l, "SASL authentication successful") {
		t.Fatalf("weechat did not report a SASL success:\n%s", l)
	}
	plain.send("WHOIS weeext")
	plain.expect(` 330 plain weeext certuser :is logged in as$`)
	plain.expect(` 671 plain weeext :is using a secure connection`)
	// The FIFO names the channel's buffer, which weechat opens on its JOIN.
	eventually(t, 10*time.Second, "weechat to open #ext", func() (bool, string) {
		l := w.log("irc.laird.#ext")
		return strings.Contains(l, "has joined #ext"), l
	})
	w.command("irc.laird.#ext", "logged in by certificate")
	plain.expectWithin(`^:weeext!\S+ PRIVMSG #ext :logged in by certificate$`, 10*time.Second)
}
