package loop

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
)

// The WebSocket transport (RFC 6455 as ircv3.net/specs/extensions/websocket
// uses it): this file is the opening handshake, wsframe.go the frames. Both
// are pure types over byte slices, driven by the connection that owns them
// on its event loop; nothing here does I/O.

// wsProto is the negotiated subprotocol, which fixes the type of the
// server's data frames.
type wsProto uint8

const (
	// wsProtoNone: the client offered neither IRCv3 subprotocol (a legacy
	// client). The spec leaves the fallback to the server: laird accepts
	// both frame types and answers in text frames, which every browser
	// client handles; non-UTF-8 bytes become U+FFFD.
	wsProtoNone wsProto = iota
	wsProtoBinary
	wsProtoText
)

// Names of the subprotocols (IRCv3 websocket).
const (
	wsBinaryName = "binary.ircv3.net"
	wsTextName   = "text.ircv3.net"
)

func (p wsProto) String() string {
	switch p {
	case wsProtoBinary:
		return wsBinaryName
	case wsProtoText:
		return wsTextName
	}
	return "none"
}

// wsDefaultMaxHeader bounds the upgrade request: request line and headers.
// Browsers send well under 2 KiB plus cookies for the host; 8 KiB is the
// per-request limit of common HTTP servers.
const wsDefaultMaxHeader = 8 << 10

// wsGUID is RFC 6455's fixed key suffix for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsUpgrader validates opening handshakes for one WebSocket listener. It is
// configuration only, so one value serves every connection of the listener
// from any goroutine.
type wsUpgrader struct {
	// origins lists the Origin values allowed, compared without regard to
	// ASCII case ("https://chat.example.org"); empty accepts any Origin.
	// A request without Origin is accepted too: it cannot come from a
	// browser, and anything else can send whatever Origin it likes, so the
	// list only keeps other sites' pages from connecting their visitors.
	origins []string
	// maxHeader bounds the request; 0 means wsDefaultMaxHeader.
	maxHeader int
}

// wsRequest is what a valid upgrade request leaves for the response.
type wsRequest struct {
	proto  wsProto
	accept [28]byte // Sec-WebSocket-Accept, base64 of a SHA-1
}

// wsHTTPError is a refused upgrade: status and reason make the HTTP
// response appendWSReject writes before the connection is closed.
type wsHTTPError struct {
	status int // 400, 403 or 426
	reason string
}

func (e *wsHTTPError) Error() string {
	return "websocket upgrade refused: " + strconv.Itoa(e.status) + " " + e.reason
}

// The refusals parse returns.
var (
	errWSMethod      = &wsHTTPError{400, "not a GET request"}
	errWSRequestLine = &wsHTTPError{400, "malformed request line"}
	errWSHTTPVersion = &wsHTTPError{400, "HTTP/1.1 required"}
	errWSTooLarge    = &wsHTTPError{400, "request header too large"}
	errWSHeader      = &wsHTTPError{400, "malformed header line"}
	errWSHost        = &wsHTTPError{400, "missing Host"}
	errWSKey         = &wsHTTPError{400, "missing or malformed Sec-WebSocket-Key"}
	errWSRepeated    = &wsHTTPError{400, "repeated WebSocket header"}
	errWSOrigin      = &wsHTTPError{403, "origin not allowed"}
	errWSNotUpgrade  = &wsHTTPError{426, "WebSocket upgrade required"}
	errWSVersion     = &wsHTTPError{426, "Sec-WebSocket-Version 13 required"}
)

// parse reads an upgrade request at the start of buf. It returns the
// request's length once buf holds the whole header block (bytes after it
// are the client's first frames); 0 and a nil error while more bytes are
// needed (call again with buf and what follows); or a *wsHTTPError to send
// back with appendWSReject. It rejects at once what cannot become a GET
// request (an IRC or TLS client on a WebSocket port). It never allocates:
// everything is checked on views into buf, which parse does not modify.
func (u *wsUpgrader) parse(buf []byte) (int, wsRequest, error) {
	const get = "GET "
	if k := min(len(buf), len(get)); string(buf[:k]) != get[:k] {
		return 0, wsRequest{}, errWSMethod
	}
	limit := u.maxHeader
	if limit <= 0 {
		limit = wsDefaultMaxHeader
	}
	end := headerEnd(buf[:min(len(buf), limit)])
	if end < 0 {
		if len(buf) >= limit {
			return 0, wsRequest{}, errWSTooLarge
		}
		return 0, wsRequest{}, nil
	}
	req, err := u.check(buf[:end])
	if err != nil {
		return 0, wsRequest{}, err
	}
	return end, req, nil
}

// headerEnd returns the length of the header block in b, through the empty
// line that ends it (CRLF CRLF, or bare LFs, which RFC 9112 lets a
// recipient accept), or -1 when b holds no empty line.
func headerEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// check validates a complete header block.
func (u *wsUpgrader) check(block []byte) (wsRequest, error) {
	line, rest := nextLine(block)
	// GET SP request-target SP HTTP/1.1 (parse checked the GET)
	target := line[len("GET "):]
	sp := bytes.IndexByte(target, ' ')
	if sp <= 0 || target[0] != '/' || !isVisibleASCII(target[:sp]) || bytes.IndexByte(target[sp+1:], ' ') >= 0 {
		// origin-form, what every client sends to a server
		return wsRequest{}, errWSRequestLine
	}
	if string(target[sp+1:]) != "HTTP/1.1" {
		return wsRequest{}, errWSHTTPVersion
	}

	var (
		req                               wsRequest
		host, upgrade, connUpgrade        bool
		version, key, origin              []byte
		seenVersion, seenKey, seenUpgrade bool
	)
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break // the empty line that ends the block
		}
		colon := bytes.IndexByte(line, ':')
		// No obsolete line folding, no space before the colon, a token
		// for a name (RFC 9112 section 5).
		if colon <= 0 || !isToken(line[:colon]) {
			return wsRequest{}, errWSHeader
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		if !isFieldValue(value) {
			return wsRequest{}, errWSHeader
		}
		switch {
		case asciiEqualFold(name, "Host"):
			host = true
		case asciiEqualFold(name, "Upgrade"):
			if seenUpgrade {
				return wsRequest{}, errWSRepeated
			}
			seenUpgrade = true
			upgrade = hasToken(value, "websocket")
		case asciiEqualFold(name, "Connection"):
			connUpgrade = connUpgrade || hasToken(value, "upgrade")
		case asciiEqualFold(name, "Sec-WebSocket-Version"):
			if seenVersion {
				return wsRequest{}, errWSRepeated
			}
			seenVersion, version = true, value
		case asciiEqualFold(name, "Sec-WebSocket-Key"):
			if seenKey {
				return wsRequest{}, errWSRepeated
			}
			seenKey, key = true, value
		case asciiEqualFold(name, "Origin"):
			origin = value
		case asciiEqualFold(name, "Sec-WebSocket-Protocol"):
			// The client lists its preferences first to last, possibly
			// over several header lines; the first one laird speaks wins.
			for v := value; len(v) > 0; {
				var tok []byte
				tok, v = nextListItem(v)
				if req.proto != wsProtoNone {
					continue
				}
				switch string(tok) {
				case wsBinaryName:
					req.proto = wsProtoBinary
				case wsTextName:
					req.proto = wsProtoText
				}
			}
		}
	}
	// A client that offered only other subprotocols gets a response
	// without the header, as the spec allows; a browser then gives up.
	switch {
	case !upgrade || !connUpgrade:
		return wsRequest{}, errWSNotUpgrade
	case string(version) != "13":
		return wsRequest{}, errWSVersion
	case !host:
		return wsRequest{}, errWSHost
	case !validKey(key):
		return wsRequest{}, errWSKey
	case !u.originAllowed(origin):
		return wsRequest{}, errWSOrigin
	}
	// Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), without allocating.
	var in [24 + len(wsGUID)]byte
	copy(in[:], key)
	copy(in[24:], wsGUID)
	sum := sha1.Sum(in[:])
	base64.StdEncoding.Encode(req.accept[:], sum[:])
	return req, nil
}

// originAllowed applies the Origin allowlist.
func (u *wsUpgrader) originAllowed(origin []byte) bool {
	if len(u.origins) == 0 || origin == nil {
		return true
	}
	for _, o := range u.origins {
		if asciiEqualFold(origin, o) {
			return true
		}
	}
	return false
}

// validKey reports whether k is base64 of 16 bytes: 22 characters of the
// alphabet and "==", as RFC 6455 requires of Sec-WebSocket-Key.
func validKey(k []byte) bool {
	if len(k) != 24 || k[22] != '=' || k[23] != '=' {
		return false
	}
	var out [18]byte
	n, err := base64.StdEncoding.Decode(out[:], k)
	return err == nil && n == 16
}

// nextLine splits b after its first LF; the line excludes CR LF or LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// nextListItem splits a comma-separated header list (RFC 9110 section
// 5.6.1) into its first non-empty element, trimmed, and the rest.
func nextListItem(v []byte) (item, rest []byte) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		if i < 0 {
			item, v = v, nil
		} else {
			item, v = v[:i], v[i+1:]
		}
		if item = bytes.Trim(item, " \t"); len(item) > 0 {
			return item, v
		}
	}
	return nil, nil
}

// hasToken reports whether the list v has the element tok, ignoring case.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		item, v = nextListItem(v)
		if asciiEqualFold(item, tok) {
			return true
		}
	}
	return false
}

// asciiEqualFold is bytes.EqualFold for a []byte and an ASCII string,
// without converting either.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 9110 token (a header name).
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return len(b) > 0
}

// isVisibleASCII reports whether b holds only printable ASCII, no space.
func isVisibleASCII(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b holds only visible characters, spaces,
// tabs and obs-text: no CR, NUL or other controls.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// appendWSAccept appends the 101 response that completes the handshake.
func appendWSAccept(dst []byte, req *wsRequest) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, req.accept[:]...)
	if req.proto != wsProtoNone {
		dst = append(dst, "\r\nSec-WebSocket-Protocol: "...)
		dst = append(dst, req.proto.String()...)
	}
	return append(dst, "\r\n\r\n"...)
}

// appendWSReject appends the HTTP response for a refused upgrade, its
// reason as a plain-text body; the connection is closed after it. A 426
// names what to upgrade to (RFC 6455 section 4.2.2).
func appendWSReject(dst []byte, e *wsHTTPError) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.status), 10)
	switch e.status {
	case 400:
		dst = append(dst, " Bad Request\r\n"...)
	case 403:
		dst = append(dst, " Forbidden\r\n"...)
	case 426:
		dst = append(dst, " Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"...)
	default:
		dst = append(dst, " Error\r\n"...)
	}
	dst = append(dst, "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.reason)+1), 10)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, e.reason...)
	return append(dst, '\n')
}
