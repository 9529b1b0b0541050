package chat

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// RFC 7677 section 3: the SCRAM-SHA-256 example exchange.
const (
	rfcUser        = "user"
	rfcPassword    = "pencil"
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcExchange(t *testing.T, password string, known bool) *scramExchange {
	t.Helper()
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := deriveScram(password, salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	first, err := parseClientFirst([]byte(rfcClientFirst))
	if err != nil {
		t.Fatal(err)
	}
	if first.user != rfcUser || first.nonce != "rOprNGfwEbeRWgbNEkqO" || first.gs2Header != "n,," {
		t.Fatalf("client-first parsed as %+v", first)
	}
	// The server nonce is random in newScramExchange; use the RFC's.
	return &scramExchange{first: first, serverFirst: rfcServerFirst, verifier: v, known: known,
		nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"}
}

func TestScramRFC7677(t *testing.T) {
	final, err := rfcExchange(t, rfcPassword, true).finish([]byte(rfcClientFinal))
	if err != nil || final != rfcServerFinal {
		t.Fatalf("finish = %q, %v; want %q", final, err, rfcServerFinal)
	}
	if _, err := rfcExchange(t, "wrong", true).finish([]byte(rfcClientFinal)); !errors.Is(err, errBadCredentials) {
		t.Fatalf("wrong password: %v, want errBadCredentials", err)
	}
	if _, err := rfcExchange(t, rfcPassword, false).finish([]byte(rfcClientFinal)); !errors.Is(err, errBadCredentials) {
		t.Fatalf("unknown account: %v, want errBadCredentials", err)
	}
	tampered := strings.Replace(rfcClientFinal, "c=biws", "c=eSws", 1) // "y,,"
	if _, err := rfcExchange(t, rfcPassword, true).finish([]byte(tampered)); err == nil {
		t.Fatal("a changed channel binding was accepted")
	}
	otherNonce := strings.Replace(rfcClientFinal, "k0,p=", "k1,p=", 1)
	if _, err := rfcExchange(t, rfcPassword, true).finish([]byte(otherNonce)); err == nil {
		t.Fatal("a changed nonce was accepted")
	}
}

func TestScramVerifierEncoding(t *testing.T) {
	v, err := newScramVerifier("sesame", scramMinIter)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseScramVerifier(v.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != v.String() {
		t.Fatalf("round trip: %q != %q", got.String(), v.String())
	}
	for _, bad := range []string{"", "sha256$4096$a$b", "sha1$4096$AA==$" + strings.Repeat("A", 44) + "$" + strings.Repeat("A", 44),
		"sha256$12$AA==$" + strings.Repeat("A", 43) + "=$" + strings.Repeat("A", 43) + "="} {
		if _, err := parseScramVerifier(bad); err == nil {
			t.Errorf("parseScramVerifier(%q) accepted", bad)
		}
	}
}

func TestParseClientFirst(t *testing.T) {
	cases := []struct {
		in, user, authz string
		ok              bool
	}{
		{"n,,n=user,r=abc", "user", "", true},
		{"y,,n=user,r=abc", "user", "", true},
		{"n,a=admin,n=user,r=abc", "user", "admin", true},
		{"n,,n=us=2Cer=3D,r=abc", "us,er=", "", true},
		{"n,,n=us=41,r=abc", "", "", false},
		{"p=tls-unique,,n=user,r=abc", "", "", false},
		{"n,,m=ext,n=user,r=abc", "", "", false},
		{"n,,n=,r=abc", "", "", false},
		{"n,,n=user", "", "", false},
		{"n,,n=user,r=", "", "", false},
		{"x,,n=user,r=abc", "", "", false},
		{"n,b=x,n=user,r=abc", "", "", false},
	}
	for _, c := range cases {
		cf, err := parseClientFirst([]byte(c.in))
		if (err == nil) != c.ok || (c.ok && (cf.user != c.user || cf.authzid != c.authz)) {
			t.Errorf("parseClientFirst(%q) = %+v, %v", c.in, cf, err)
		}
	}
}

func TestSplitPlain(t *testing.T) {
	z, c, p, err := splitPlain([]byte("\x00jilles\x00sesame"))
	if err != nil || z != "" || c != "jilles" || p != "sesame" {
		t.Fatalf("got %q %q %q %v", z, c, p, err)
	}
	for _, bad := range []string{"", "jilles", "\x00\x00pw", "a\x00b", "a\x00b\x00c\x00d"} {
		if _, _, _, err := splitPlain([]byte(bad)); err == nil {
			t.Errorf("splitPlain(%q) accepted", bad)
		}
	}
}

func TestPasswordHashing(t *testing.T) {
	s := &Server{}
	s.cfg.Accounts.setDefaults()
	s.cfg.Accounts.BcryptCost = 4
	s.live.Store(&Reloadable{Accounts: s.cfg.Accounts})
	long := strings.Repeat("é", 150) // 300 bytes: past bcrypt's 72
	creds, err := s.makeCredentials(long)
	if err != nil {
		t.Fatal(err)
	}
	if !passwordMatches(creds.passHash, long) {
		t.Fatal("the password does not match its hash")
	}
	if passwordMatches(creds.passHash, long[:len(long)-2]+"e") {
		t.Fatal("a password differing after byte 72 matches")
	}
	if passwordMatches("$2a$04$plainbcryptwithoutprefix", "x") {
		t.Fatal("a hash without the prefix matched")
	}
	if _, err := parseScramVerifier(creds.scram); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseClientFirst(f *testing.F) {
	f.Add([]byte(rfcClientFirst))
	f.Add([]byte("n,a=x,n=a=2Cb,r=abc,ext=1"))
	f.Add([]byte("p=x,,"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := parseClientFirst(b)
		if err != nil {
			return
		}
		if cf.user == "" || !validNonce(cf.nonce) || !strings.HasPrefix(string(b), cf.gs2Header) ||
			!strings.HasSuffix(string(b), cf.bare) {
			t.Fatalf("accepted %q as %+v", b, cf)
		}
	})
}

func FuzzParseClientFinal(f *testing.F) {
	f.Add([]byte(rfcClientFinal))
	f.Add([]byte("c=biws,r=x,p="))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := parseClientFinal(b)
		if err != nil {
			return
		}
		if len(cf.proof) != scramKeyLen || !strings.HasPrefix(string(b), cf.withoutProof+",p=") {
			t.Fatalf("accepted %q as %+v", b, cf)
		}
		// A finish against any exchange must not panic.
		x := &scramExchange{nonce: cf.nonce, verifier: scramVerifier{storedKey: make([]byte, scramKeyLen), serverKey: make([]byte, scramKeyLen)}}
		_, _ = x.finish(b)
	})
}

func FuzzParseScramVerifier(f *testing.F) {
	v, _ := deriveScram("x", []byte("0123456789abcdef"), scramMinIter)
	f.Add(v.String())
	f.Add("sha256$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseScramVerifier(s)
		if err != nil {
			return
		}
		if back, err := parseScramVerifier(v.String()); err != nil || back.String() != v.String() {
			t.Fatalf("%q: round trip %q, %v", s, v.String(), err)
		}
	})
}

func FuzzSplitPlain(f *testing.F) {
	f.Add([]byte("\x00jilles\x00sesame"))
	f.Add([]byte("a\x00b\x00c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		z, c, p, err := splitPlain(b)
		if err != nil {
			return
		}
		if z+"\x00"+c+"\x00"+p != string(b) || c == "" {
			t.Fatalf("split %q into %q %q %q", b, z, c, p)
		}
	})
}

// A SCRAM login's proof check runs on the event loop: it must cost
// microseconds (a few HMACs), not a key derivation.
func BenchmarkScramFinish(b *testing.B) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := deriveScram(rfcPassword, salt, 4096)
	if err != nil {
		b.Fatal(err)
	}
	first, _ := parseClientFirst([]byte(rfcClientFirst))
	x := &scramExchange{first: first, serverFirst: rfcServerFirst, verifier: v, known: true,
		nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"}
	msg := []byte(rfcClientFinal)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.finish(msg); err != nil {
			b.Fatal(err)
		}
	}
}
