package guard

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	l := DefaultLimits()
	l.MessageLen = 10
	cases := []struct {
		f    Field
		s    string
		want error
	}{
		{FieldMessage, "hello", nil},
		{FieldMessage, "", NewTextError(FieldMessage, RuleEmpty)},
		{FieldMessage, "0123456789x", NewTextError(FieldMessage, RuleTooLong)},
		{FieldMessage, "a\x00b", NewTextError(FieldMessage, RuleControl)},
		{FieldMessage, "a\rb", NewTextError(FieldMessage, RuleControl)},
		{FieldMessage, "a\nb", NewTextError(FieldMessage, RuleControl)},
		{FieldMessage, "\x02bold\x0f", nil}, // formatting codes are fine
		{FieldMessage, "\x01ACTION\x01", nil},
		{FieldMessage, "h\xc3\xa9", nil},
		{FieldMessage, "h\xe9", NewTextError(FieldMessage, RuleUTF8)},
		{FieldRealname, "", NewTextError(FieldRealname, RuleEmpty)},
		{FieldRealname, strings.Repeat("r", 151), NewTextError(FieldRealname, RuleTooLong)},
		{FieldAway, "", nil},
		{FieldTopic, "", nil},
		{FieldTopic, strings.Repeat("t", 390), nil},
		{FieldTopic, strings.Repeat("t", 391), NewTextError(FieldTopic, RuleTooLong)},
		{FieldKick, "bye\x00", NewTextError(FieldKick, RuleControl)},
		{FieldReason, "\xff", NewTextError(FieldReason, RuleUTF8)},
		{FieldTags, "+draft/react=\xff", nil}, // tag values are escaped, not text
		{FieldTags, strings.Repeat("a", 4095), NewTextError(FieldTags, RuleTooLong)},
		{FieldTags, "a=b\nc", NewTextError(FieldTags, RuleControl)},
	}
	for _, tc := range cases {
		if got := Check(&l, tc.f, tc.s); got != tc.want {
			t.Errorf("Check(%v, %q) = %v, want %v", tc.f, tc.s, got, tc.want)
		}
		if got := Check(&l, tc.f, []byte(tc.s)); got != tc.want {
			t.Errorf("Check(%v, []byte %q) = %v, want %v", tc.f, tc.s, got, tc.want)
		}
	}
	l.UTF8Only = false
	if err := Check(&l, FieldMessage, "h\xe9"); err != nil {
		t.Errorf("latin-1 without UTF8ONLY: %v", err)
	}
}

func TestTextError(t *testing.T) {
	err := Check(&Limits{TopicLen: 1}, FieldTopic, "ab")
	var te TextError
	if !errors.As(err, &te) || te.Field() != FieldTopic || te.Rule() != RuleTooLong {
		t.Fatalf("errors.As: %v %v", te.Field(), te.Rule())
	}
	if !errors.Is(err, NewTextError(FieldTopic, RuleTooLong)) {
		t.Fatal("errors.Is")
	}
	if err.Error() != "guard: topic: too long" {
		t.Fatalf("message %q", err.Error())
	}
	for f := FieldMessage; f < numFields; f++ {
		for r := RuleEmpty; r < numRules; r++ {
			e := NewTextError(f, r)
			if e.Field() != f || e.Rule() != r || strings.Contains(e.Error(), "?") {
				t.Fatalf("round trip %v %v: %v", f, r, e)
			}
		}
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	l := DefaultLimits()
	good := []byte("héllo wörld")
	bad := []byte("bad\x00")
	n := testing.AllocsPerRun(1000, func() {
		if Check(&l, FieldMessage, good) != nil || Check(&l, FieldMessage, bad) == nil {
			t.Fatal("wrong verdict")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

// refScan is the obvious byte-at-a-time definition scanText must equal.
func refScan(s string) Rule {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] == '\r' || s[i] == '\n' {
			return RuleControl
		}
	}
	if !utf8.ValidString(s) {
		return RuleUTF8
	}
	return 0
}

func FuzzScanText(f *testing.F) {
	for _, s := range []string{"", "ascii only, long enough for words", "h\xc3\xa9llo w\xc3\xb6rld!!", "\x02bold\x02 \x0304colour",
		"12345678\x00", "1234567\n", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		want := refScan(s)
		if got := scanText(s); got != want {
			t.Fatalf("scanText(%q) = %v, want %v", s, got, want)
		}
		l := Limits{UTF8Only: true}
		var wantErr error
		if want != 0 {
			wantErr = NewTextError(FieldAway, want)
		}
		if got := Check(&l, FieldAway, b); got != wantErr {
			t.Fatalf("Check([]byte %q) = %v, want %v", s, got, wantErr)
		}
		if got := Check(&l, FieldAway, s); got != wantErr {
			t.Fatalf("Check(%q) = %v, want %v", s, got, wantErr)
		}
		if ValidUTF8(b) != utf8.Valid(b) {
			t.Fatalf("ValidUTF8(%q)", s)
		}
	})
}

func BenchmarkCheckMessage(b *testing.B) {
	l := DefaultLimits()
	msg := []byte("a typical chat line with a bit of ünïcödé in it, around eighty bytes long....")
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if Check(&l, FieldMessage, msg) != nil {
			b.Fatal("refused")
		}
	}
}
