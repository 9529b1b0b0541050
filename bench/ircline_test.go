package bench

import (
	"errors"
	"testing"
)

func TestParseLine(t *testing.T) {
	cases := []struct {
		raw     string
		tags    string
		source  string
		command string
		params  []string
		err     error
	}{
		{raw: "PING :abc\r\n", command: "PING", params: []string{"abc"}},
		{raw: ":srv 001 nick :Welcome to IRC\r\n", source: "srv", command: "001", params: []string{"nick", "Welcome to IRC"}},
		{raw: "@batch=b1;msgid=42 :n!u@h PRIVMSG #c :LB 1 2 3\n", tags: "batch=b1;msgid=42", source: "n!u@h", command: "PRIVMSG", params: []string{"#c", "LB 1 2 3"}},
		{raw: ":srv 005 n A=1 B :are supported", source: "srv", command: "005", params: []string{"n", "A=1", "B", "are supported"}},
		{raw: "CMD  a   b  ", command: "CMD", params: []string{"a", "b"}},
		{raw: "CMD a :", command: "CMD", params: []string{"a", ""}},
		{raw: "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", command: "CMD",
			params: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15 16"}},
		{raw: "\r\n", err: ErrEmptyLine},
		{raw: ":srv", err: ErrNoCommand},
		{raw: "@a=b", err: ErrNoCommand},
	}
	for _, c := range cases {
		var l Line
		err := ParseLine([]byte(c.raw), &l)
		if !errors.Is(err, c.err) {
			t.Errorf("%q: err %v, want %v", c.raw, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if string(l.Tags) != c.tags || string(l.Source) != c.source || string(l.Command) != c.command {
			t.Errorf("%q: tags %q source %q command %q", c.raw, l.Tags, l.Source, l.Command)
		}
		if l.NParams() != len(c.params) {
			t.Errorf("%q: %d params, want %d", c.raw, l.NParams(), len(c.params))
			continue
		}
		for i, p := range c.params {
			if string(l.Param(i)) != p {
				t.Errorf("%q: param %d = %q, want %q", c.raw, i, l.Param(i), p)
			}
		}
	}
}

func TestLineTagAndIs(t *testing.T) {
	var l Line
	if err := ParseLine([]byte("@batch=x;flag;msgid=m1 :s privmsg #c :t"), &l); err != nil {
		t.Fatal(err)
	}
	if v, ok := l.Tag("msgid"); !ok || string(v) != "m1" {
		t.Errorf("msgid = %q %v", v, ok)
	}
	if v, ok := l.Tag("flag"); !ok || len(v) != 0 {
		t.Errorf("flag = %q %v", v, ok)
	}
	if _, ok := l.Tag("time"); ok {
		t.Error("absent tag found")
	}
	if !l.Is("PRIVMSG") || l.Is("PRIVMS") || l.Is("NOTICE") {
		t.Error("Is is not a case-insensitive exact match")
	}
	if string(l.Last()) != "t" || l.Param(5) != nil || l.Param(-1) != nil {
		t.Errorf("Last %q", l.Last())
	}
}

func BenchmarkParseLine(b *testing.B) {
	raw := []byte("@batch=b1;msgid=42 :nick!user@host PRIVMSG #channel :LB 12 3456 789012345 xxxxxxxxxxxxxxxx\r\n")
	b.ReportAllocs()
	var l Line
	for b.Loop() {
		if err := ParseLine(raw, &l); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"PING :x", ":a b c :d e", "@t=1;u :s CMD p", "", " : :", "@", "CMD " + string(make([]byte, 40))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var l Line
		if err := ParseLine(raw, &l); err != nil {
			return
		}
		if len(l.Command) == 0 {
			t.Fatal("parsed a line without a command")
		}
		if l.NParams() > maxParams {
			t.Fatalf("%d params", l.NParams())
		}
		for i := 0; i < l.NParams(); i++ {
			_ = l.Param(i)
		}
		_, _ = l.Tag("msgid")
	})
}
