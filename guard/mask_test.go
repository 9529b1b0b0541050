package guard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"?", "", false},
		{"?", "x", true},
		{"a*b", "ab", true},
		{"a*b", "axxxb", true},
		{"a*b", "axxxbc", false},
		{"a*b*c", "abbbcbc", true},
		{"*.example.com", "irc.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.EXAMPLE.com", "Irc.Example.COM", true},
		{"??x", "abx", true},
		{"??x", "ax", false},
		{"*a*a*a*a*b", strings.Repeat("a", 50), false},
		{"[foo]", "{FOO}", true}, // rfc1459 folding
		{"a\\b", "A|B", true},
		{"x~", "X^", true},
	}
	for _, tc := range cases {
		if got := RFC1459.Match(tc.pat, tc.s); got != tc.want {
			t.Errorf("RFC1459.Match(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
		if got := refMatch(RFC1459, tc.pat, tc.s); got != tc.want {
			t.Errorf("reference disagrees on (%q, %q)", tc.pat, tc.s)
		}
	}
	if ASCII.Match("[foo]", "{foo}") {
		t.Error("ascii casemapping must not fold brackets")
	}
	if !ASCII.Match("FOO", "foo") {
		t.Error("ascii casemapping must fold letters")
	}
}

// refMatch is the obviously-correct reference: dynamic programming over
// prefixes, dp[i][j] = pattern[:i] matches s[:j].
func refMatch(cm *CaseMapping, pat, s string) bool {
	dp := make([][]bool, len(pat)+1)
	for i := range dp {
		dp[i] = make([]bool, len(s)+1)
	}
	dp[0][0] = true
	for i := 1; i <= len(pat); i++ {
		c := pat[i-1]
		for j := 0; j <= len(s); j++ {
			switch {
			case c == '*':
				dp[i][j] = dp[i-1][j] || (j > 0 && dp[i][j-1])
			case j == 0:
			case c == '?' || cm.fold[c] == cm.fold[s[j-1]]:
				dp[i][j] = dp[i-1][j-1]
			}
		}
	}
	return dp[len(pat)][len(s)]
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("*a*b?", "xxaxxbz")
	f.Add("*.Example.COM", "irc.example.com")
	f.Add("[a]*", "{A}zz")
	f.Add("**?*", "")
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 64 || len(s) > 256 {
			return // the reference is quadratic in memory
		}
		for _, cm := range []*CaseMapping{ASCII, RFC1459} {
			got, want := cm.Match(pat, s), refMatch(cm, pat, s)
			if got != want {
				t.Fatalf("%s.Match(%q, %q) = %v, reference %v", cm.Name(), pat, s, got, want)
			}
			// The pre-folded path used by ban masks must agree.
			if folded := globMatch(&cm.fold, canonGlob(pat, cm), s, true); folded != want {
				t.Fatalf("folded match(%q, %q) = %v, want %v", pat, s, folded, want)
			}
		}
	})
}

func TestGlobMatchIsNotExponential(t *testing.T) {
	// Backtracking into every star would take ~n^k steps here.
	pat := strings.Repeat("*a", 40) + "*b"
	s := strings.Repeat("a", 400)
	n := testing.AllocsPerRun(10, func() {
		if RFC1459.Match(pat, s) {
			t.Fatal("must not match")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func TestParseIPMask(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{"192.0.2.77/24", "192.0.2.0/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:db8:1:2:3::/64", "2001:db8:1:2::/64"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"192.0.2.*", "192.0.2.0/24"},
		{"10.*", "10.0.0.0/8"},
		{"10.*.*.*", "10.0.0.0/8"},
		{"*", "0.0.0.0/0"},
	}
	for _, tc := range cases {
		p, err := ParseIPMask(tc.in)
		if err != nil {
			t.Errorf("ParseIPMask(%q): %v", tc.in, err)
			continue
		}
		if p.String() != tc.want {
			t.Errorf("ParseIPMask(%q) = %v, want %v", tc.in, p, tc.want)
		}
	}
	for _, in := range []string{"", "nope", "1.2.3", "1.2.3.4/33", "1.*.3.*", "1.2.3.4.*", "01.2.3.*",
		"256.*", "fe80::1%eth0", "::ffff:1.2.3.4/64", "1.2.3.4 ", strings.Repeat("1", 80)} {
		if _, err := ParseIPMask(in); !errors.Is(err, ErrBadMask) {
			t.Errorf("ParseIPMask(%q): err = %v, want ErrBadMask", in, err)
		}
	}
	if got := IPMaskString(netip.MustParsePrefix("192.0.2.1/32")); got != "192.0.2.1" {
		t.Errorf("IPMaskString single = %q", got)
	}
}

func FuzzParseIPMask(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "10.*", "2001:db8::/32", "::ffff:1.2.3.4/120", "1.2.3.4/24"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseIPMask(s)
		if err != nil {
			if !errors.Is(err, ErrBadMask) {
				t.Fatalf("error %v does not wrap ErrBadMask", err)
			}
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParseIPMask(%q) = %v: not a canonical prefix", s, p)
		}
		// The stored form parses back to the same prefix.
		q, err := ParseIPMask(IPMaskString(p))
		if err != nil || q != p {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, p, q, err)
		}
	})
}

func TestParseUserHostMask(t *testing.T) {
	cases := []struct{ in, canon string }{
		{"bad@*.Example.COM", "bad@*.Example.COM"},
		{"*!bad@host", "bad@host"},
		{"Nick[x]!*@*.evil", "Nick[x]!*@*.evil"},
		{"~u@h", "~u@h"},
		{"u***ser@h**", "u*ser@h*"},
		{"*@192.0.2.0/24", "*@192.0.2.0/24"},
		{"*@192.0.2.5/24", "*@192.0.2.0/24"},
	}
	for _, tc := range cases {
		m, err := ParseUserHostMask(tc.in, RFC1459)
		if err != nil {
			t.Errorf("ParseUserHostMask(%q): %v", tc.in, err)
			continue
		}
		if m.String() != tc.canon {
			t.Errorf("ParseUserHostMask(%q) = %q, want %q", tc.in, m.String(), tc.canon)
		}
	}
	for _, in := range []string{"", "host", "@host", "user@", "!u@h", "n!@h", "a@b@c", "n!u!x@h", "u@h!x",
		"u ser@h", "u@h\x00", "u@h,x", "*@1.2.3.4/99", strings.Repeat("x", 500) + "@h"} {
		if _, err := ParseUserHostMask(in, RFC1459); !errors.Is(err, ErrBadMask) {
			t.Errorf("ParseUserHostMask(%q): err = %v, want ErrBadMask", in, err)
		}
	}
}

func TestUserHostMaskMatch(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.55")
	cases := []struct {
		mask, nick, user, host string
		ip                     netip.Addr
		want                   bool
	}{
		{"*@*.example.com", "n", "u", "irc.EXAMPLE.com", ip, true},
		{"bad*@*", "n", "badger", "h", ip, true},
		{"bad*@*", "n", "good", "h", ip, false},
		{"troll!*@*", "TROLL", "u", "h", ip, true},
		{"troll!*@*", "troll2", "u", "h", ip, false},
		{"{x}!*@*", "[X]", "u", "h", ip, true},
		{"*@192.0.2.0/24", "n", "u", "some.host", ip, true},
		{"*@192.0.2.0/24", "n", "u", "some.host", netip.MustParseAddr("::ffff:192.0.2.1"), true},
		{"*@192.0.2.0/24", "n", "u", "192.0.2.1", netip.Addr{}, false},
		{"*@192.0.2.*", "n", "u", "resolved.example", ip, true}, // matched on the IP text
		{"*@192.0.3.*", "n", "u", "resolved.example", ip, false},
		{"*@2001:db8::*", "n", "u", "v6.example", netip.MustParseAddr("2001:db8::7"), true},
		{"*@*.example", "n", "u", "x.other", ip, false},
	}
	for _, tc := range cases {
		m, err := ParseUserHostMask(tc.mask, RFC1459)
		if err != nil {
			t.Fatalf("%q: %v", tc.mask, err)
		}
		if got := m.Match(tc.nick, tc.user, tc.host, tc.ip); got != tc.want {
			t.Errorf("%q.Match(%s, %s, %s, %v) = %v, want %v", tc.mask, tc.nick, tc.user, tc.host, tc.ip, got, tc.want)
		}
	}
}

func TestUserHostMaskBroad(t *testing.T) {
	for mask, broad := range map[string]bool{
		"*@*": true, "*!*@*": true, "*@*.*": true, "?*@*:*": true, "*@0.0.0.0/0": true,
		"x*@*": false, "*@*.com": false, "*@10.0.0.0/8": false, "nick!*@*": true,
	} {
		m, err := ParseUserHostMask(mask, RFC1459)
		if err != nil {
			t.Fatalf("%q: %v", mask, err)
		}
		if m.Broad() != broad {
			t.Errorf("%q.Broad() = %v, want %v", mask, m.Broad(), broad)
		}
	}
}

func FuzzParseUserHostMask(f *testing.F) {
	for _, s := range []string{"n!u@h", "*@*.example.com", "u@1.2.3.0/24", "[x]!~u@h", "a@b@c"} {
		f.Add(s, "nick", "user", "host.example", "192.0.2.1")
	}
	f.Fuzz(func(t *testing.T, mask, nick, user, host, ipText string) {
		m, err := ParseUserHostMask(mask, RFC1459)
		if err != nil {
			if !errors.Is(err, ErrBadMask) {
				t.Fatalf("error %v does not wrap ErrBadMask", err)
			}
			return
		}
		// Canonical form and key are fixed points.
		m2, err := ParseUserHostMask(m.String(), RFC1459)
		if err != nil || m2.String() != m.String() || m2.Key() != m.Key() {
			t.Fatalf("canonical %q of %q does not reparse to itself: %q, %v", m.String(), mask, m2.String(), err)
		}
		if m3, err := ParseUserHostMask(m.Key(), RFC1459); err != nil || m3.Key() != m.Key() {
			t.Fatalf("key %q of %q does not reparse to itself: %v", m.Key(), mask, err)
		}
		ip, _ := netip.ParseAddr(ipText)
		if m.Match(nick, user, host, ip) != m2.Match(nick, user, host, ip) {
			t.Fatalf("%q and its canonical form disagree", mask)
		}
	})
}

func TestCaseMappingByName(t *testing.T) {
	for name, want := range map[string]*CaseMapping{"ascii": ASCII, "RFC1459": RFC1459, "": RFC1459} {
		if got, err := CaseMappingByName(name); err != nil || got != want {
			t.Errorf("CaseMappingByName(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := CaseMappingByName("utf8"); err == nil {
		t.Error("unknown casemapping accepted")
	}
	if RFC1459.Fold("Nick[A]") != "nick{a}" || RFC1459.Fold("done") != "done" {
		t.Error("Fold")
	}
}
