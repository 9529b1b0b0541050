package loop

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// chromeUpgrade is the shape of a browser's upgrade request (Chromium's
// header order; Firefox differs in "Connection: keep-alive, Upgrade").
const chromeUpgrade = "GET /webirc HTTP/1.1\r\n" +
	"Host: irc.example.org\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: https://chat.example.org\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"Sec-WebSocket-Protocol: text.ircv3.net, binary.ircv3.net\r\n" +
	"\r\n"

// upgradeWith returns chromeUpgrade with header lines replaced (name:
// value) or removed (name: "" with remove true).
func upgradeWith(set map[string]string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(chromeUpgrade, "\r\n\r\n"), "\r\n") {
		name, _, _ := strings.Cut(line, ":")
		if v, ok := set[name]; ok {
			if v != "" {
				out = append(out, name+": "+v)
			}
			delete(set, name)
			continue
		}
		out = append(out, line)
	}
	for name, v := range set {
		out = append(out, name+": "+v)
	}
	return strings.Join(out, "\r\n") + "\r\n\r\n"
}

func TestWSUpgradeAccepts(t *testing.T) {
	var u wsUpgrader
	in := chromeUpgrade + "\x81\x85"
	n, req, err := u.parse([]byte(in))
	if err != nil || n != len(chromeUpgrade) {
		t.Fatalf("parse = %d, %v; want %d", n, err, len(chromeUpgrade))
	}
	if req.proto != wsProtoText {
		t.Errorf("proto = %v, want the client's first choice text.ircv3.net", req.proto)
	}
	// RFC 6455 section 1.3's example key and accept value.
	if got := string(req.accept[:]); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept = %s", got)
	}
	resp := appendWSAccept(nil, &req)
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
	if string(resp) != want {
		t.Errorf("response:\n%q\nwant\n%q", resp, want)
	}
	// net/http reads it as the 101 a client expects.
	hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hr.StatusCode != 101 || hr.Header.Get("Upgrade") != "websocket" || hr.Header.Get("Sec-WebSocket-Protocol") != "text.ircv3.net" {
		t.Errorf("net/http reads %d %v", hr.StatusCode, hr.Header)
	}
}

func TestWSSubprotocol(t *testing.T) {
	tests := []struct {
		offer []string // Sec-WebSocket-Protocol header lines
		want  wsProto
	}{
		{nil, wsProtoNone},
		{[]string{"binary.ircv3.net"}, wsProtoBinary},
		{[]string{"text.ircv3.net"}, wsProtoText},
		{[]string{"binary.ircv3.net, text.ircv3.net"}, wsProtoBinary},
		{[]string{"text.ircv3.net,binary.ircv3.net"}, wsProtoText},
		{[]string{"chat, , binary.ircv3.net"}, wsProtoBinary},
		{[]string{"xmpp", "text.ircv3.net"}, wsProtoText},
		{[]string{"text.ircv3.net", "binary.ircv3.net"}, wsProtoText},
		{[]string{"xmpp, mqtt"}, wsProtoNone},
		// subprotocol names are case-sensitive (RFC 6455 section 4.1)
		{[]string{"Binary.IRCv3.net"}, wsProtoNone},
	}
	var u wsUpgrader
	for _, tt := range tests {
		in := upgradeWith(map[string]string{"Sec-WebSocket-Protocol": ""})
		in = strings.TrimSuffix(in, "\r\n")
		for _, o := range tt.offer {
			in += "Sec-WebSocket-Protocol: " + o + "\r\n"
		}
		in += "\r\n"
		_, req, err := u.parse([]byte(in))
		if err != nil || req.proto != tt.want {
			t.Errorf("offer %q: %v, %v; want %v", tt.offer, req.proto, err, tt.want)
			continue
		}
		resp := string(appendWSAccept(nil, &req))
		if has := strings.Contains(resp, "Sec-WebSocket-Protocol:"); has != (tt.want != wsProtoNone) {
			t.Errorf("offer %q: response %q", tt.offer, resp)
		}
	}
}

func TestWSUpgradeRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *wsHTTPError
	}{
		{"IRC client", "NICK alice\r\n", errWSMethod},
		{"TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", errWSMethod},
		{"POST", strings.Replace(chromeUpgrade, "GET", "POST", 1), errWSMethod},
		{"lower-case method", strings.Replace(chromeUpgrade, "GET", "get", 1), errWSMethod},
		{"HTTP/1.0", strings.Replace(chromeUpgrade, "HTTP/1.1", "HTTP/1.0", 1), errWSHTTPVersion},
		{"no HTTP version", strings.Replace(chromeUpgrade, " HTTP/1.1", "", 1), errWSRequestLine},
		{"extra word", strings.Replace(chromeUpgrade, "/webirc", "/web irc", 1), errWSRequestLine},
		{"empty target", strings.Replace(chromeUpgrade, "GET /webirc", "GET ", 1), errWSRequestLine},
		{"control in target", strings.Replace(chromeUpgrade, "/webirc", "/web\x01irc", 1), errWSRequestLine},
		{"folded header", strings.Replace(chromeUpgrade, "Pragma: no-cache\r\n", "Pragma: no-cache\r\n  more\r\n", 1), errWSHeader},
		{"space before colon", strings.Replace(chromeUpgrade, "Pragma:", "Pragma :", 1), errWSHeader},
		{"no colon", strings.Replace(chromeUpgrade, "Pragma: no-cache", "Pragma no-cache", 1), errWSHeader},
		{"NUL in value", strings.Replace(chromeUpgrade, "no-cache\r\nCache", "no\x00cache\r\nCache", 1), errWSHeader},
		{"bare CR in value", strings.Replace(chromeUpgrade, "no-cache\r\nCache", "no\rcache\r\nCache", 1), errWSHeader},
		{"no Upgrade", upgradeWith(map[string]string{"Upgrade": ""}), errWSNotUpgrade},
		{"Upgrade h2c", upgradeWith(map[string]string{"Upgrade": "h2c"}), errWSNotUpgrade},
		{"no Connection", upgradeWith(map[string]string{"Connection": ""}), errWSNotUpgrade},
		{"Connection keep-alive", upgradeWith(map[string]string{"Connection": "keep-alive"}), errWSNotUpgrade},
		{"plain HTTP GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", errWSNotUpgrade},
		{"version 8", upgradeWith(map[string]string{"Sec-WebSocket-Version": "8"}), errWSVersion},
		{"no version", upgradeWith(map[string]string{"Sec-WebSocket-Version": ""}), errWSVersion},
		{"two versions", upgradeWith(map[string]string{"Sec-WebSocket-Version": "13\r\nSec-WebSocket-Version: 13"}), errWSRepeated},
		{"no Host", upgradeWith(map[string]string{"Host": ""}), errWSHost},
		{"no key", upgradeWith(map[string]string{"Sec-WebSocket-Key": ""}), errWSKey},
		{"short key", upgradeWith(map[string]string{"Sec-WebSocket-Key": "dGhlIHNhbXBsZQ=="}), errWSKey},
		{"key not base64", upgradeWith(map[string]string{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25j!Q=="}), errWSKey},
		{"two keys", upgradeWith(map[string]string{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}), errWSRepeated},
		{"two Upgrade headers", upgradeWith(map[string]string{"Upgrade": "websocket\r\nUpgrade: websocket"}), errWSRepeated},
		{"too large", "GET / HTTP/1.1\r\nCookie: " + strings.Repeat("a", wsDefaultMaxHeader), errWSTooLarge},
	}
	var u wsUpgrader
	for _, tt := range tests {
		n, _, err := u.parse([]byte(tt.in))
		if err != tt.want || n != 0 {
			t.Errorf("%s: parse = %d, %v; want %v", tt.name, n, err, tt.want)
		}
		var he *wsHTTPError
		if !errors.As(err, &he) {
			continue
		}
		// Each refusal is an HTTP response a client can read.
		resp := appendWSReject(nil, he)
		hr, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
		if rerr != nil {
			t.Fatalf("%s: response %q: %v", tt.name, resp, rerr)
		}
		body, _ := io.ReadAll(hr.Body)
		if hr.StatusCode != he.status || string(body) != he.reason+"\n" || !hr.Close {
			t.Errorf("%s: response read as %d %q close=%v", tt.name, hr.StatusCode, body, hr.Close)
		}
		if he.status == 426 && (hr.Header.Get("Sec-WebSocket-Version") != "13" || hr.Header.Get("Upgrade") != "websocket") {
			t.Errorf("%s: 426 without what to upgrade to: %v", tt.name, hr.Header)
		}
	}
}

func TestWSUpgradeLenient(t *testing.T) {
	// Header names and the tokens in Upgrade and Connection ignore case;
	// the method, the version and the base64 key do not.
	lower := strings.ToLower(chromeUpgrade)
	for _, keep := range []string{"GET ", "HTTP/1.1", "dGhlIHNhbXBsZSBub25jZQ=="} {
		lower = strings.Replace(lower, strings.ToLower(keep), keep, 1)
	}
	tests := []struct {
		name string
		in   string
	}{
		{"Firefox Connection", upgradeWith(map[string]string{"Connection": "keep-alive, Upgrade"})},
		{"lower case", lower},
		{"bare LF", strings.ReplaceAll(chromeUpgrade, "\r\n", "\n")},
		{"tabs around value", strings.Replace(chromeUpgrade, "Upgrade: websocket", "Upgrade:\twebsocket \t", 1)},
		{"Upgrade list", upgradeWith(map[string]string{"Upgrade": "foo/2, WebSocket"})},
	}
	var u wsUpgrader
	for _, tt := range tests {
		n, req, err := u.parse([]byte(tt.in))
		if err != nil || n != len(tt.in) || string(req.accept[:]) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Errorf("%s: parse = %d, %v (len %d)", tt.name, n, err, len(tt.in))
		}
	}
}

func TestWSOrigin(t *testing.T) {
	u := wsUpgrader{origins: []string{"https://chat.example.org", "http://localhost:8080"}}
	tests := []struct {
		origin string // "" removes the header
		ok     bool
	}{
		{"https://chat.example.org", true},
		{"HTTPS://Chat.Example.ORG", true},
		{"http://localhost:8080", true},
		{"https://evil.example.net", false},
		{"https://chat.example.org.evil.net", false},
		{"http://chat.example.org", false},
		{"null", false},
		// no Origin: not a browser, which could claim any Origin anyway
		{"", true},
	}
	for _, tt := range tests {
		_, _, err := u.parse([]byte(upgradeWith(map[string]string{"Origin": tt.origin})))
		if (err == nil) != tt.ok || err != nil && err != errWSOrigin {
			t.Errorf("Origin %q: %v, want ok %v", tt.origin, err, tt.ok)
		}
	}
	// An empty allowlist accepts any Origin.
	var any wsUpgrader
	if _, _, err := any.parse([]byte(upgradeWith(map[string]string{"Origin": "https://evil.example.net"}))); err != nil {
		t.Errorf("empty allowlist: %v", err)
	}
}

func TestWSUpgradeSizeCap(t *testing.T) {
	u := wsUpgrader{maxHeader: 1024}
	pad := func(n int) string {
		base := upgradeWith(map[string]string{"X-Pad": "x"})
		return strings.Replace(base, "X-Pad: x", "X-Pad: "+strings.Repeat("x", n-len(base)+1), 1)
	}
	exact := pad(1024)
	if len(exact) != 1024 {
		t.Fatalf("padded to %d", len(exact))
	}
	if n, _, err := u.parse([]byte(exact)); n != 1024 || err != nil {
		t.Errorf("request of exactly the cap: %d, %v", n, err)
	}
	over := pad(1025)
	if _, _, err := u.parse([]byte(over)); err != errWSTooLarge {
		t.Errorf("request one byte over the cap: %v", err)
	}
	// Rejected as soon as the cap is reached, not when the end arrives.
	if _, _, err := u.parse([]byte(over[:1024])); err != errWSTooLarge {
		t.Errorf("cap reached without the end: %v", err)
	}
	if n, _, err := u.parse([]byte(over[:1023])); n != 0 || err != nil {
		t.Errorf("below the cap without the end: %d, %v", n, err)
	}
}

// TestWSUpgradeIncremental feeds requests byte by byte: each prefix needs
// more or fails as the whole does, and parse leaves its input unchanged.
func TestWSUpgradeIncremental(t *testing.T) {
	var u wsUpgrader
	for _, in := range []string{
		chromeUpgrade,
		upgradeWith(map[string]string{"Sec-WebSocket-Version": "8"}),
		"NICK a\r\n",
		strings.ReplaceAll(chromeUpgrade, "\r\n", "\n"),
	} {
		n, _, err := u.parse([]byte(in))
		checkUpgradePrefixes(t, &u, []byte(in), n, err)
	}
}

func checkUpgradePrefixes(t *testing.T, u *wsUpgrader, in []byte, n int, err error) {
	t.Helper()
	orig := bytes.Clone(in)
	decided := false
	for k := 0; k <= len(in); k++ {
		nk, _, errk := u.parse(in[:k])
		switch {
		case nk == 0 && errk == nil:
			if decided {
				t.Fatalf("parse(%q) needs more after a shorter prefix was decided", in[:k])
			}
		case errk != nil:
			if errk != err {
				t.Fatalf("parse(%q) = %v; the whole %q gives %d, %v", in[:k], errk, in, n, err)
			}
			decided = true
		default:
			if nk != n || err != nil || nk > k {
				t.Fatalf("parse(%q) = %d; the whole %q gives %d, %v", in[:k], nk, in, n, err)
			}
			decided = true
		}
	}
	if !bytes.Equal(in, orig) {
		t.Fatalf("parse modified its input")
	}
}

func TestWSUpgradeNoAllocs(t *testing.T) {
	u := wsUpgrader{origins: []string{"https://other.example", "https://chat.example.org"}}
	in := []byte(chromeUpgrade)
	resp := make([]byte, 0, 512)
	if allocs := testing.AllocsPerRun(100, func() {
		n, req, err := u.parse(in)
		if n == 0 || err != nil {
			t.Fatal(n, err)
		}
		resp = appendWSAccept(resp[:0], &req)
	}); allocs != 0 {
		t.Errorf("%v allocations per upgrade", allocs)
	}
}

func BenchmarkWSUpgrade(b *testing.B) {
	var u wsUpgrader
	in := []byte(chromeUpgrade)
	resp := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		_, req, err := u.parse(in)
		if err != nil {
			b.Fatal(err)
		}
		resp = appendWSAccept(resp[:0], &req)
	}
}
