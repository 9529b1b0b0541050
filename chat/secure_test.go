package chat

import (
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Transports as chat sees them (issue 11's TLS section): +Z, WHOIS 671 and
// 276, operators by certificate, STS. cmd/laird's tls_features_test.go
// runs them over real TLS.

const (
	fpAlice = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fpOper  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

var tlsTransport = TransportInfo{Name: "tls", Secure: true}

func withCert(fp string) TransportInfo {
	ti := tlsTransport
	ti.CertFP = fp
	return ti
}

// connectVia registers a client whose transport is ti, as the loop sets it
// before the first line.
func (w *testWorld) connectVia(nick string, ti TransportInfo, lines ...string) *fakeConn {
	w.tb.Helper()
	fc := w.dialVia(ti)
	w.send(fc, append(lines, "NICK "+nick, "USER "+nick+" 0 * :"+nick)...)
	w.waitFor(fc, " 001 ")
	w.settle()
	return fc
}

// dialVia connects a client on ti without registering it.
func (w *testWorld) dialVia(ti TransportInfo) *fakeConn {
	fc := &fakeConn{loop: w.next % w.loops.Count(), srv: w.srv, keep: true}
	w.next++
	w.onLoop(fc.loop, func() {
		fc.client = w.srv.Connect(fc, fc.loop, netip.MustParseAddr("127.0.0.1"), time.Now())
		fc.client.SetTransport(ti)
	})
	return fc
}

// newConfiguredWorld is newTestWorld with a configuration of its own.
func newConfiguredWorld(t *testing.T, cfg Config) *testWorld {
	t.Helper()
	fl := newFakeLoops(2)
	if cfg.Shards == 0 {
		cfg.Shards = 2
	}
	srv, err := New(cfg, fl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Stop()
		fl.stop()
	})
	return &testWorld{tb: t, srv: srv, loops: fl}
}

func TestSecureOnlyChannel(t *testing.T) {
	w := newTestWorld(t, 2, 2)
	op := w.connectVia("op", tlsTransport)
	secure := w.connectVia("secure", tlsTransport)
	plain := w.connect("plain", true)
	if !strings.Contains(op.text(), "CHANMODES=beI,k,l,CZimnst") {
		t.Fatalf("CHANMODES does not list Z:\n%s", op.text())
	}

	w.cmd(op, "JOIN #z", " 366 op #z ")
	w.cmd(plain, "JOIN #z", " 366 plain #z ")
	// InspIRCd's rule: +Z is refused while a member is on plaintext.
	w.refused(op, "MODE #z +Z", " 490 op #z :All members of the channel must be connected via TLS (1/2 are not)", "MODE #z +Z")
	w.cmd(plain, "PART #z", "PART #z")
	w.cmd(op, "MODE #z +Z", ":op!op@127.0.0.1 MODE #z +Z")
	w.cmd(op, "MODE #z", " 324 op #z :+Znt")

	w.cmd(plain, "JOIN #z", " 489 plain #z :Cannot join channel (+Z)")
	// An invitation does not get a plaintext user in, even to +i.
	w.cmd(op, "MODE #z +i", "MODE #z +i")
	w.cmd(op, "INVITE plain #z", " 341 op plain :#z")
	w.refused(plain, "JOIN #z", " 489 plain #z ", "JOIN #z")
	w.cmd(op, "INVITE secure #z", " 341 op secure :#z")
	w.cmd(secure, "JOIN #z", " 366 secure #z ")

	// Only channel operators set it.
	w.cmd(secure, "MODE #z -Z", " 482 secure #z ")
	w.cmd(op, "MODE #z -Z", "MODE #z -Z")
	w.cmd(op, "INVITE plain #z", " 341 op plain :#z")
	w.cmd(plain, "JOIN #z", " 366 plain #z ")
}

func TestWhoisSecureAndCertFP(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	w := newConfiguredWorld(t, Config{Opers: []Oper{{Name: "admin", PasswordHash: string(hash)}}})
	alice := w.connectVia("alice", withCert(fpAlice))
	bob := w.connectVia("bob", tlsTransport)
	w.connect("plain", true)
	oper := w.connect("oper", true)
	w.cmd(oper, "OPER admin pw", " 381 oper ")

	out := w.cmd(alice, "WHOIS alice", " 318 alice alice ")
	for _, want := range []string{" 671 alice alice :is using a secure connection", " 276 alice alice :has client certificate fingerprint " + fpAlice} {
		if !strings.Contains(out, want) {
			t.Errorf("WHOIS of oneself lacks %q:\n%s", want, out)
		}
	}
	out = w.cmd(bob, "WHOIS alice", " 318 bob alice ")
	if !strings.Contains(out, " 671 bob alice ") || strings.Contains(out, " 276 ") {
		t.Errorf("WHOIS by another user: want 671 and no 276:\n%s", out)
	}
	out = w.cmd(oper, "WHOIS alice", " 318 oper alice ")
	if !strings.Contains(out, " 276 oper alice :has client certificate fingerprint "+fpAlice) {
		t.Errorf("WHOIS by an operator lacks 276:\n%s", out)
	}
	out = w.cmd(bob, "WHOIS bob", " 318 bob bob ")
	if !strings.Contains(out, " 671 bob bob ") || strings.Contains(out, " 276 ") {
		t.Errorf("TLS without a certificate: want 671 and no 276:\n%s", out)
	}
	out = w.cmd(alice, "WHOIS plain", " 318 alice plain ")
	if strings.Contains(out, " 671 ") {
		t.Errorf("a plaintext user shown as secure:\n%s", out)
	}
}

func TestOperByCertificate(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	colons := strings.ToUpper(fpOper[:2])
	for i := 2; i < len(fpOper); i += 2 {
		colons += ":" + strings.ToUpper(fpOper[i:i+2])
	}
	w := newConfiguredWorld(t, Config{Opers: []Oper{
		{Name: "cert", CertFP: colons}, // normalised like NickServ CERT's
		{Name: "both", CertFP: fpOper, PasswordHash: string(hash)},
	}})
	right := w.connectVia("right", withCert(fpOper))
	wrong := w.connectVia("wrong", withCert(fpAlice))
	plain := w.connect("plain", true)

	w.refused(wrong, "OPER cert", " 491 wrong ", " 381 ")
	w.refused(plain, "OPER cert anything", " 491 plain ", " 381 ")
	w.refused(wrong, "OPER both pw", " 491 wrong ", " 381 ")
	// Both set: both are needed.
	w.refused(right, "OPER both", " 464 right ", " 381 ")
	w.refused(right, "OPER both wrong", " 464 right ", " 381 ")
	w.cmd(right, "OPER both pw", " 381 right ")
	w.cmd(right, "MODE right -o", "MODE right -o")
	w.cmd(right, "OPER cert", " 381 right ")
	w.cmd(plain, "OPER", " 461 plain OPER ")

	for _, bad := range []Oper{{Name: "none"}, {Name: "short", CertFP: "abc"}} {
		if err := (Config{Opers: []Oper{bad}}).Validate(); err == nil {
			t.Errorf("oper block %+v accepted", bad)
		}
	}
}

func TestSTSAdvertised(t *testing.T) {
	w := newConfiguredWorld(t, Config{STS: STSPolicy{Port: 6697, Duration: 30 * 24 * time.Hour}})
	ls := func(ti TransportInfo, version string) string {
		fc := w.dialVia(ti)
		return w.cmd(fc, "CAP LS"+version, "CAP * LS")
	}
	if out := ls(TransportInfo{Name: "tcp"}, " 302"); !strings.Contains(out, " sts=port=6697,duration=2592000 ") &&
		!strings.Contains(out, ":sts=port=6697,duration=2592000 ") {
		t.Errorf("plaintext CAP LS 302 lacks the policy with its port:\n%s", out)
	}
	if out := ls(tlsTransport, " 302"); !strings.Contains(out, "sts=duration=2592000 ") || strings.Contains(out, "port=") {
		t.Errorf("TLS CAP LS 302: want sts=duration=2592000 without a port:\n%s", out)
	}
	for _, c := range []struct {
		ti      TransportInfo
		version string
	}{{TransportInfo{Name: "tcp"}, ""}, {TransportInfo{Name: "ws", WebSocket: true}, " 302"}, {TransportInfo{Name: "wss", Secure: true, WebSocket: true}, " 302"}} {
		if out := ls(c.ti, c.version); strings.Contains(out, "sts") {
			t.Errorf("%s CAP LS%s offers sts:\n%s", c.ti.Name, c.version, out)
		}
	}
	// Clients must not request it; the server refuses.
	fc := w.dialVia(TransportInfo{Name: "tcp"})
	w.cmd(fc, "CAP REQ sts", "CAP * NAK :sts")

	w.srv.Reload(Reloadable{STS: STSPolicy{Port: 6697, Duration: time.Hour, Preload: true}})
	if out := ls(tlsTransport, " 302"); !strings.Contains(out, "sts=duration=3600,preload ") {
		t.Errorf("reloaded policy not advertised:\n%s", out)
	}
	w.srv.Reload(Reloadable{})
	if out := ls(TransportInfo{Name: "tcp"}, " 302"); strings.Contains(out, "sts") {
		t.Errorf("sts advertised without a TLS port:\n%s", out)
	}
}
