package codec

import (
	"bytes"
	"testing"
)

// FuzzParse checks that no input panics and that parse -> encode -> parse is
// stable: the re-parsed message equals the first parse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"PRIVMSG #chan :hello world",
		"@a=b;+c :n!u@h CMD p1 p2 :trail ing",
		":src NICK x",
		"a b c d e f g h i j k l m n o p q r",
		"@;;; PING",
		"PRIVMSG #a ::",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var m1 Message
		if err := m1.Parse(in); err != nil {
			return
		}
		// A middle parameter that needs a trailing marker cannot be encoded;
		// Parse never produces one, so the round trip must hold.
		out := AppendMessage(nil, &m1)
		var m2 Message
		if err := m2.Parse(out); err != nil {
			if len(out) > MaxLineBody+MaxTagsLen+2 {
				return
			}
			t.Fatalf("re-parse of %q (from %q): %v", out, in, err)
		}
		if !bytes.Equal(m1.Tags, m2.Tags) || !bytes.Equal(m1.Source, m2.Source) || !bytes.Equal(m1.Command, m2.Command) || m1.NParams() != m2.NParams() {
			t.Fatalf("round trip changed %q -> %q", in, out)
		}
		for i := 0; i < m1.NParams(); i++ {
			if !bytes.Equal(m1.Param(i), m2.Param(i)) {
				t.Fatalf("param %d changed: %q -> %q (%q)", i, m1.Param(i), m2.Param(i), out)
			}
		}
	})
}

// FuzzTagEscape checks that unescape(escape(v)) == v for every value.
func FuzzTagEscape(f *testing.F) {
	f.Add([]byte("a b;c\\d\r\n"))
	f.Fuzz(func(t *testing.T, v []byte) {
		esc := AppendEscapedTag(nil, v)
		if bytes.ContainsAny(esc, " ;\r\n\x00") && !bytes.Contains(v, []byte{0}) {
			t.Fatalf("escaped value %q has a forbidden byte", esc)
		}
		if got := UnescapeTag(nil, esc); !bytes.Equal(got, v) {
			t.Fatalf("unescape(escape(%q)) = %q", v, got)
		}
	})
}
