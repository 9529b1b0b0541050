package chat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitStored(t *testing.T) {
	got := splitStored("hello\n\nhow is everyone?")
	want := []mlLine{{text: "hello"}, {text: ""}, {text: "how is everyone?"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// A long line comes back as concatenated pieces that join to it, cut
	// at a space where there is one and never inside a character.
	long := strings.Repeat("word ", 100) + strings.Repeat("é", 400)
	pieces := splitStored(long)
	var sb strings.Builder
	for i, p := range pieces {
		if len(p.text) > replayLineLen || !utf8.ValidString(p.text) || p.concat != (i > 0) {
			t.Fatalf("piece %d: %d bytes, concat %v, valid %v", i, len(p.text), p.concat, utf8.ValidString(p.text))
		}
		sb.WriteString(p.text)
	}
	if sb.String() != long || !strings.HasSuffix(pieces[0].text, " ") {
		t.Fatalf("pieces do not join back, or the first was not cut at a space: %q", pieces[0].text)
	}
	mm := &multiMsg{lines: pieces}
	if mm.text() != long {
		t.Fatal("text() does not join concatenated pieces")
	}
}

func TestOneBatch(t *testing.T) {
	for out, want := range map[string]bool{
		":a BATCH +x draft/multiline #c\r\n@batch=x :a PRIVMSG #c :hi\r\n:a BATCH -x\r\n": true,
		":a BATCH +x t\r\n:a BATCH -y\r\n":                                                false,
		":a PRIVMSG #c :hi\r\n:a PRIVMSG #c :there\r\n":                                   false,
		":a BATCH +x t\r\n": false,
	} {
		if got := oneBatch([]byte(out)); got != want {
			t.Errorf("oneBatch(%q) = %v", out, got)
		}
	}
}

// FuzzSplitStored: a stored text always splits into pieces that fit a line
// and join back to it.
func FuzzSplitStored(f *testing.F) {
	for _, s := range []string{"", "a\nb", strings.Repeat("x ", 400), strings.Repeat("é", 300) + "\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := splitStored(text)
		mm := &multiMsg{lines: lines}
		if mm.text() != text {
			t.Fatalf("pieces of %q join to %q", text, mm.text())
		}
		for _, l := range lines {
			if len(l.text) > replayLineLen && utf8.ValidString(text) {
				t.Fatalf("a piece of %d bytes", len(l.text))
			}
		}
	})
}

func TestSplitStoredNotUTF8(t *testing.T) {
	text := strings.Repeat("\x80", 1000)
	if got := (&multiMsg{lines: splitStored(text)}).text(); got != text {
		t.Fatal("bytes lost")
	}
}
