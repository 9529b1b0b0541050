package guard

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func newBans() *BanList { return NewBanList(DefaultBanConfig(), RFC1459) }

func mustAdd(t testing.TB, l *BanList, b Ban) Ban {
	t.Helper()
	stored, _, err := l.Add(b, t0)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

func TestDLineMatchAndExpiry(t *testing.T) {
	l := newBans()
	ip := netip.MustParseAddr("192.0.2.9")
	if _, ok := l.MatchIP(ip, t0); ok {
		t.Fatal("empty list matched")
	}
	wide := mustAdd(t, l, Ban{Kind: DLine, Mask: "192.0.2.0/24", Reason: "net", SetBy: "oper", SetAt: t0})
	narrow := mustAdd(t, l, Ban{Kind: DLine, Mask: "::ffff:192.0.2.9", Reason: "host", SetAt: t0, Expires: at(time.Hour)})
	if narrow.Mask != "192.0.2.9" || wide.Mask != "192.0.2.0/24" {
		t.Fatalf("canonical masks %q %q", narrow.Mask, wide.Mask)
	}
	if b, ok := l.MatchIP(ip, at(time.Minute)); !ok || b.Reason != "host" {
		t.Fatalf("most specific ban first: %+v %v", b, ok)
	}
	// After the host ban expires the /24 still applies; lazily, no Prune.
	if b, ok := l.MatchIP(ip, at(time.Hour)); !ok || b.Reason != "net" {
		t.Fatalf("after expiry: %+v %v", b, ok)
	}
	if _, ok := l.MatchIP(netip.MustParseAddr("192.0.3.1"), t0); ok {
		t.Fatal("outside the /24 matched")
	}
	if got := l.List(DLine, at(2*time.Hour)); len(got) != 1 || got[0].Mask != "192.0.2.0/24" {
		t.Fatalf("List hides expired: %+v", got)
	}
	if l.Len(DLine) != 2 {
		t.Fatalf("Len before prune = %d", l.Len(DLine))
	}
	pruned := l.Prune(at(2 * time.Hour))
	if len(pruned) != 1 || pruned[0].Mask != "192.0.2.9" || l.Len(DLine) != 1 {
		t.Fatalf("Prune returned %+v, left %d", pruned, l.Len(DLine))
	}
	if _, err := l.Remove(DLine, "192.0.2.77/24"); err != nil {
		t.Fatalf("remove by an equivalent mask: %v", err)
	}
	if _, ok := l.MatchIP(ip, t0); ok {
		t.Fatal("removed ban still matches")
	}
	if _, err := l.Remove(DLine, "192.0.2.0/24"); !errors.Is(err, ErrNoSuchBan) {
		t.Fatalf("second remove: %v", err)
	}
}

func TestDLineIPv6(t *testing.T) {
	l := newBans()
	mustAdd(t, l, Ban{Kind: DLine, Mask: "2001:db8:1:2::/64"})
	if _, ok := l.MatchIP(netip.MustParseAddr("2001:db8:1:2:ffff::1"), t0); !ok {
		t.Fatal("address in /64 not matched")
	}
	if _, ok := l.MatchIP(netip.MustParseAddr("2001:db8:1:3::1"), t0); ok {
		t.Fatal("address outside /64 matched")
	}
	// IPv4 bans never match IPv6 addresses and vice versa.
	mustAdd(t, l, Ban{Kind: DLine, Mask: "10.0.0.0/8"})
	if _, ok := l.MatchIP(netip.MustParseAddr("a00::1"), t0); ok {
		t.Fatal("v4 ban matched v6")
	}
}

func TestBanReplaceAndValidation(t *testing.T) {
	l := newBans()
	mustAdd(t, l, Ban{Kind: KLine, Mask: "*@*.Evil", Reason: "one"})
	stored, replaced, err := l.Add(Ban{Kind: KLine, Mask: "*!*@*.EVIL", Reason: "two"}, t0)
	if err != nil || !replaced || stored.Mask != "*@*.EVIL" {
		t.Fatalf("replace: %+v %v %v", stored, replaced, err)
	}
	if l.Len(KLine) != 1 {
		t.Fatalf("Len = %d after replace", l.Len(KLine))
	}
	if b, ok := l.MatchUserHost("n", "u", "x.evil", netip.Addr{}, t0); !ok || b.Reason != "two" {
		t.Fatalf("replaced ban: %+v %v", b, ok)
	}
	_, replaced, _ = l.Add(Ban{Kind: DLine, Mask: "192.0.2.1", Reason: "a"}, t0)
	_, replaced2, _ := l.Add(Ban{Kind: DLine, Mask: "192.0.2.1/32", Reason: "b"}, t0)
	if replaced || !replaced2 || l.Len(DLine) != 1 {
		t.Fatalf("dline replace: %v %v %d", replaced, replaced2, l.Len(DLine))
	}
	bad := []struct {
		b    Ban
		want error
	}{
		{Ban{Kind: DLine, Mask: "0.0.0.0/0"}, ErrMaskTooBroad},
		{Ban{Kind: DLine, Mask: "10.0.0.0/7"}, ErrMaskTooBroad},
		{Ban{Kind: DLine, Mask: "2000::/3"}, ErrMaskTooBroad},
		{Ban{Kind: DLine, Mask: "*"}, ErrMaskTooBroad},
		{Ban{Kind: KLine, Mask: "*@*"}, ErrMaskTooBroad},
		{Ban{Kind: KLine, Mask: "*@0.0.0.0/1"}, ErrMaskTooBroad},
		{Ban{Kind: KLine, Mask: "nohost"}, ErrBadMask},
		{Ban{Kind: DLine, Mask: "bad"}, ErrBadMask},
		{Ban{Kind: DLine, Mask: "192.0.2.1", Reason: "a\r\nQUIT"}, ErrBadBan},
		{Ban{Kind: DLine, Mask: "192.0.2.1", SetBy: "x\x00"}, ErrBadBan},
		{Ban{Kind: 9, Mask: "192.0.2.1"}, ErrBadBan},
		{Ban{Kind: DLine, Mask: "192.0.2.1", Expires: t0}, ErrBanExpired},
	}
	for _, tc := range bad {
		if _, _, err := l.Add(tc.b, t0); !errors.Is(err, tc.want) {
			t.Errorf("Add(%+v): err = %v, want %v", tc.b, err, tc.want)
		}
	}
}

func TestKLineMatch(t *testing.T) {
	l := newBans()
	mustAdd(t, l, Ban{Kind: KLine, Mask: "~bad@*", Reason: "ident"})
	mustAdd(t, l, Ban{Kind: KLine, Mask: "spam[bot]!*@*.example", Reason: "nick", Expires: at(time.Minute)})
	mustAdd(t, l, Ban{Kind: KLine, Mask: "*@198.51.100.0/24", Reason: "cidr"})
	v4 := netip.MustParseAddr("203.0.113.5")
	cases := []struct {
		nick, user, host string
		ip               netip.Addr
		reason           string // "" = no match
	}{
		{"n", "~BAD", "h.example", v4, "ident"},
		{"SPAM{BOT}", "u", "irc.example", v4, "nick"},
		{"spambot", "u", "irc.example", v4, ""},
		{"n", "u", "anything", netip.MustParseAddr("198.51.100.200"), "cidr"},
		{"n", "u", "198.51.100.200", netip.Addr{}, ""}, // CIDR hosts need the IP
		{"n", "good", "h", v4, ""},
	}
	for _, tc := range cases {
		b, ok := l.MatchUserHost(tc.nick, tc.user, tc.host, tc.ip, t0)
		if ok != (tc.reason != "") || b.Reason != tc.reason {
			t.Errorf("MatchUserHost(%s, %s, %s, %v) = %q %v, want %q", tc.nick, tc.user, tc.host, tc.ip, b.Reason, ok, tc.reason)
		}
	}
	if _, ok := l.MatchUserHost("spam[bot]", "u", "irc.example", v4, at(time.Minute)); ok {
		t.Fatal("expired kline matched")
	}
	list := l.List(KLine, t0)
	if len(list) != 3 || list[0].Mask != "*@198.51.100.0/24" || list[2].Mask != "~bad@*" || list[1].Mask != "spam[bot]!*@*.example" {
		t.Fatalf("List sorted by mask: %+v", list)
	}
	if _, err := l.Remove(KLine, "~BAD@*"); err != nil {
		t.Fatalf("remove case-insensitively: %v", err)
	}
	if got := l.Prune(at(time.Hour)); len(got) != 1 || got[0].Reason != "nick" {
		t.Fatalf("prune: %+v", got)
	}
	if l.Len(KLine) != 1 {
		t.Fatalf("left %d klines", l.Len(KLine))
	}
}

func TestBanMatchDoesNotAllocate(t *testing.T) {
	l := newBans()
	mustAdd(t, l, Ban{Kind: DLine, Mask: "192.0.2.0/24", Reason: "r"})
	mustAdd(t, l, Ban{Kind: KLine, Mask: "*@192.0.2.*", Reason: "r"})
	ip := netip.MustParseAddr("192.0.2.1")
	n := testing.AllocsPerRun(100, func() {
		if _, ok := l.MatchIP(ip, t0); !ok {
			t.Fatal("no match")
		}
		if _, ok := l.MatchUserHost("n", "u", "resolved.example", ip, t0); !ok {
			t.Fatal("no match")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func TestBanListConcurrent(t *testing.T) {
	l := newBans()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			mask := fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
			if _, _, err := l.Add(Ban{Kind: DLine, Mask: mask, Expires: at(time.Hour)}, t0); err != nil {
				t.Error(err)
				return
			}
			mustAdd(t, l, Ban{Kind: KLine, Mask: fmt.Sprintf("u%d@*", i)})
		}
		l.Prune(at(2 * time.Hour))
	}()
	ip := netip.MustParseAddr("10.0.5.1")
	for i := 0; i < 2000; i++ {
		l.MatchIP(ip, t0)
		l.MatchUserHost("n", "u5", "h", ip, t0)
	}
	<-done
	if l.Len(DLine) != 0 || l.Len(KLine) != 200 {
		t.Fatalf("after prune: %d dlines, %d klines", l.Len(DLine), l.Len(KLine))
	}
}

func benchBans(b *testing.B, n int) *BanList {
	l := newBans()
	for i := range n {
		// A realistic mix of host bans and /24s.
		mask := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if i%4 == 0 {
			mask = fmt.Sprintf("172.%d.%d.0/24", 16+i>>16&15, i>>8&255)
		}
		if _, _, err := l.Add(Ban{Kind: DLine, Mask: mask, Reason: "bench"}, t0); err != nil {
			b.Fatal(err)
		}
		if _, _, err := l.Add(Ban{Kind: KLine, Mask: fmt.Sprintf("*bot%d@*.host%d.example", i, i), Reason: "bench"}, t0); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

func BenchmarkMatchIP(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("dlines=%d", n), func(b *testing.B) {
			l := benchBans(b, n)
			ip := netip.MustParseAddr("192.0.2.1") // not banned: the common case
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := l.MatchIP(ip, now); ok {
					b.Fatal("matched")
				}
			}
		})
	}
}

func BenchmarkMatchUserHost(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("klines=%d", n), func(b *testing.B) {
			l := benchBans(b, n)
			ip := netip.MustParseAddr("192.0.2.1")
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := l.MatchUserHost("alice", "~alice", "cpe-192-0-2-1.isp.example", ip, now); ok {
					b.Fatal("matched")
				}
			}
		})
	}
}

func TestBanMatcher(t *testing.T) {
	l := newBans()
	d := mustAdd(t, l, Ban{Kind: DLine, Mask: "192.0.2.0/24"})
	k := mustAdd(t, l, Ban{Kind: KLine, Mask: "*@*.Evil"})
	dm, err := l.Matcher(d)
	if err != nil {
		t.Fatal(err)
	}
	km, err := l.Matcher(k)
	if err != nil {
		t.Fatal(err)
	}
	in, out := netip.MustParseAddr("::ffff:192.0.2.4"), netip.MustParseAddr("198.51.100.1")
	if !dm.Match("n", "u", "h", in) || dm.Match("n", "u", "h", out) || dm.Match("n", "u", "h", netip.Addr{}) {
		t.Fatal("DLINE matcher")
	}
	if !km.Match("n", "u", "x.EVIL", out) || km.Match("n", "u", "x.good", out) {
		t.Fatal("KLINE matcher")
	}
	if _, err := l.Matcher(Ban{Kind: 7}); !errors.Is(err, ErrBadBan) {
		t.Fatalf("bad kind: %v", err)
	}
}
