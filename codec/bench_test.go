package codec

import "testing"

var (
	benchPlain  = []byte(":alice!alice@127.0.0.1 PRIVMSG #laird :the quick brown fox jumps over the lazy dog\r\n")
	benchTagged = []byte("@time=2026-11-26T14:25:42.123Z;msgid=Zx8r4c1;+draft/reply=abc :alice!alice@127.0.0.1 PRIVMSG #laird :the quick brown fox jumps over the lazy dog\r\n")
)

func BenchmarkParsePrivmsg(b *testing.B) {
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPlain)))
	for b.Loop() {
		if err := m.Parse(benchPlain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePrivmsgTags(b *testing.B) {
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(benchTagged)))
	for b.Loop() {
		if err := m.Parse(benchTagged); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePrivmsg(b *testing.B) {
	var m Message
	_ = m.Parse(benchPlain)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessage(buf[:0], &m)
	}
}

func BenchmarkEncodePrivmsgTags(b *testing.B) {
	var m Message
	_ = m.Parse(benchTagged)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessage(buf[:0], &m)
	}
}
