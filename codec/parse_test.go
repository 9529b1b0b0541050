package codec

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestParseTable runs the cases in testdata/parse.txt: an input line followed
// by its expected parse, so a new case is two lines of text.
func TestParseTable(t *testing.T) {
	f, err := os.Open("testdata/parse.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Cases are blocks separated by blank lines; '#' lines are comments.
	var blocks [][]string
	var cur []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			if cur != nil {
				blocks = append(blocks, cur)
			}
			cur = nil
		default:
			cur = append(cur, line)
		}
	}
	if cur != nil {
		blocks = append(blocks, cur)
	}
	if len(blocks) < 10 {
		t.Fatalf("only %d cases read", len(blocks))
	}
	for _, blk := range blocks {
		if len(blk) != 2 {
			t.Fatalf("malformed case %q: want input and expectation", blk)
		}
		in, want := blk[0], blk[1]
		var m Message
		err := m.Parse([]byte(in))
		if strings.HasPrefix(want, "error: ") {
			if err == nil || err.Error() != strings.TrimPrefix(want, "error: ") {
				t.Errorf("parse %q: err %v, want %s", in, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("parse %q: %v", in, err)
			continue
		}
		var ps []string
		for _, p := range m.Params() {
			ps = append(ps, string(p))
		}
		got := string(m.Tags) + "|" + string(m.Source) + "|" + string(m.Command) + "|" + strings.Join(ps, "\t")
		if got != want {
			t.Errorf("parse %q:\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"PRIVMSG #a :x\x00y", ErrControlChar},
		{"PRIVMSG #a :x\ry", ErrControlChar},
		{"PRIVMSG #a :" + strings.Repeat("x", 499), ErrLineTooLong},
		{"@" + strings.Repeat("a", MaxTagsLen) + " PING", ErrTagsTooLong},
		{"", ErrEmpty},
	}
	for _, tt := range tests {
		var m Message
		if err := m.Parse([]byte(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("Parse(%.40q) = %v, want %v", tt.in, err, tt.want)
		}
	}
	// Exactly at the limit is accepted.
	var m Message
	in := "PRIVMSG #a :" + strings.Repeat("x", MaxLineBody-len("PRIVMSG #a :"))
	if err := m.Parse([]byte(in)); err != nil {
		t.Fatalf("510-byte body rejected: %v", err)
	}
}

func TestParseStripsTerminators(t *testing.T) {
	for _, in := range []string{"PING x\r\n", "PING x\n", "PING x"} {
		var m Message
		if err := m.Parse([]byte(in)); err != nil || string(m.Param(0)) != "x" {
			t.Errorf("Parse(%q): %v, param %q", in, err, m.Param(0))
		}
	}
}

func TestSplitLine(t *testing.T) {
	buf := []byte("PING a\r\nPING b\nPART")
	line, n, err := SplitLine(buf)
	if err != nil || string(line) != "PING a" || n != 8 {
		t.Fatalf("first: %q %d %v", line, n, err)
	}
	line, n2, _ := SplitLine(buf[n:])
	if string(line) != "PING b" || n2 != 7 {
		t.Fatalf("second: %q %d", line, n2)
	}
	if _, n3, err := SplitLine(buf[n+n2:]); n3 != 0 || err != nil {
		t.Fatalf("partial line: %d %v", n3, err)
	}
	if _, _, err := SplitLine(bytes.Repeat([]byte("x"), MaxLine+1)); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("overlong partial line: %v", err)
	}
}

func TestTags(t *testing.T) {
	var m Message
	if err := m.Parse([]byte(`@a=1;b;+c=x\sy\:z\\;a=2 PING`)); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Tag("a"); !ok || string(v) != "2" {
		t.Errorf("a = %q %v, want last value 2", v, ok)
	}
	if v, ok := m.Tag("b"); !ok || v != nil {
		t.Errorf("b = %q %v, want present without value", v, ok)
	}
	v, _ := m.Tag("+c")
	if got := string(UnescapeTag(nil, v)); got != `x y;z\` {
		t.Errorf("unescaped +c = %q", got)
	}
	if got := string(AppendEscapedTag(nil, []byte("a b;c\\\r\n"))); got != `a\sb\:c\\\r\n` {
		t.Errorf("escape = %q", got)
	}
	if _, ok := m.Tag("zz"); ok {
		t.Error("missing tag found")
	}
	if n := ClientTagsLen(m.Tags); n != len(`+c=x\sy\:z\\`)+1 {
		t.Errorf("ClientTagsLen = %d", n)
	}
	for key, ok := range map[string]bool{"+draft/react": true, "example.com/x-y": true, "a": true, "+": false, "/x": false, "a b": false, "a/": false} {
		if ValidTagKey([]byte(key)) != ok {
			t.Errorf("ValidTagKey(%q) != %v", key, ok)
		}
	}
}

func TestEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PRIVMSG #a :hello world", "PRIVMSG #a :hello world\r\n"},
		{"PRIVMSG #a hello", "PRIVMSG #a :hello\r\n"}, // Trailing false but single word: kept plain
		{"MODE #a +o :nick", "MODE #a +o :nick\r\n"},
		{"PRIVMSG #a ::x", "PRIVMSG #a ::x\r\n"},
		{"PRIVMSG #a :", "PRIVMSG #a :\r\n"},
		{"@t=1 :s!u@h NOTICE n :x", "@t=1 :s!u@h NOTICE n :x\r\n"},
	}
	tests[1].want = "PRIVMSG #a hello\r\n"
	for _, tt := range tests {
		var m Message
		if err := m.Parse([]byte(tt.in)); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendMessage(nil, &m)); got != tt.want {
			t.Errorf("encode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := string(AppendParamString([]byte("X"), "a b", true, false)); got != "X :a b" {
		t.Errorf("AppendParamString = %q", got)
	}
}

func TestCasemapping(t *testing.T) {
	if RFC1459.Fold("Nick[]\\~") != "nick{}|^" {
		t.Errorf("rfc1459 fold = %q", RFC1459.Fold("Nick[]\\~"))
	}
	if ASCII.Fold("Nick[]") != "nick[]" {
		t.Errorf("ascii fold = %q", ASCII.Fold("Nick[]"))
	}
	if !RFC1459.Equal("FOO[", "foo{") || ASCII.Equal("FOO[", "foo{") {
		t.Error("Equal disagrees with Fold")
	}
	s := "already"
	if got := testing.AllocsPerRun(100, func() { _ = RFC1459.Fold(s) }); got != 0 {
		t.Errorf("folding a folded name allocates %v", got)
	}
	if _, err := CasemappingByName("utf8"); err == nil {
		t.Error("unknown casemapping accepted")
	}
}

func TestNames(t *testing.T) {
	nicks := map[string]bool{"alice": true, "[bot]": true, "a-1": true, "1abc": false, "-a": false, "a b": false, "a!": false, "a.b": false, "": false, "abcdefghijklmnopqrstuvwxyzabcdef": false}
	for n, ok := range nicks {
		if ValidNick([]byte(n), DefaultNickLen) != ok {
			t.Errorf("ValidNick(%q) != %v", n, ok)
		}
	}
	chans := map[string]bool{"#a": true, "&local": true, "#é": true, "#": false, "a": false, "#a,b": false, "#a b": false, "#a\a": false}
	for c, ok := range chans {
		if ValidChannel([]byte(c), DefaultChannelLen) != ok {
			t.Errorf("ValidChannel(%q) != %v", c, ok)
		}
	}
	users := map[string]bool{"~u": true, "u@h": false, "": false, ":u": false}
	for u, ok := range users {
		if ValidUser([]byte(u), DefaultUserLen) != ok {
			t.Errorf("ValidUser(%q) != %v", u, ok)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	line := []byte("@time=x;+typing=active :nick!user@host PRIVMSG #channel :hello there")
	var m Message
	if n := testing.AllocsPerRun(100, func() { _ = m.Parse(line) }); n != 0 {
		t.Fatalf("Parse allocates %v times", n)
	}
}
