package bench

import (
	"strings"
	"testing"
)

func TestMarkerRoundTrip(t *testing.T) {
	m := Marker{Sender: 17, Seq: 123456, SentNs: 987654321012, LagNs: 4321}
	line := AppendMarker(nil, "#chan", m, 10)
	if !strings.HasSuffix(string(line), strings.Repeat("x", 10)+"\r\n") {
		t.Errorf("padding missing: %q", line)
	}
	var l Line
	if err := ParseLine(line, &l); err != nil {
		t.Fatal(err)
	}
	got, err := ParseMarker(l.Last())
	if err != nil || got != m {
		t.Errorf("ParseMarker = %+v, %v; want %+v", got, err, m)
	}
	for text, want := range map[string]Marker{
		"LB 1 2 3":        {Sender: 1, Seq: 2, SentNs: 3},
		"LB 1 2 3 4":      {Sender: 1, Seq: 2, SentNs: 3, LagNs: 4},
		"LB 1 2 3 xxxx":   {Sender: 1, Seq: 2, SentNs: 3},
		"LB 1 2 3 4 xxxx": {Sender: 1, Seq: 2, SentNs: 3, LagNs: 4},
	} {
		if got, err := ParseMarker([]byte(text)); err != nil || got != want {
			t.Errorf("%q = %+v, %v; want %+v", text, got, err, want)
		}
	}
}

func TestParseMarkerRejects(t *testing.T) {
	for _, s := range []string{"", "hello", "LB", "LB 1 2", "LB 1 2 x", "LB a 2 3", "LB 1  2 3", "LB 1 2 3x", "LB 1 2 3 4x",
		"LB 99999999999 1 1", "LB 1 2 1234567890123456789"} {
		if m, err := ParseMarker([]byte(s)); err == nil {
			t.Errorf("%q parsed as %+v", s, m)
		}
	}
}

func BenchmarkParseMarker(b *testing.B) {
	text := []byte("LB 12 3456 789012345 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMarker(text); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseMarker(f *testing.F) {
	f.Add([]byte("LB 1 2 3"))
	f.Add([]byte("LB 1 2 3 xxxx"))
	f.Add([]byte("LB 0 0 0"))
	f.Fuzz(func(t *testing.T, text []byte) {
		m, err := ParseMarker(text)
		if err != nil {
			return
		}
		if m.Sender < 0 || m.Seq < 0 || m.SentNs < 0 || m.LagNs < 0 {
			t.Fatalf("negative fields from %q: %+v", text, m)
		}
		line := AppendMarker(nil, "#c", m, 0)
		var l Line
		if err := ParseLine(line, &l); err != nil {
			t.Fatal(err)
		}
		again, err := ParseMarker(l.Last())
		if err != nil || again != m {
			t.Fatalf("round trip of %+v gave %+v, %v", m, again, err)
		}
	})
}
