package chat

// TransportInfo is what a connection's transport tells chat about it: TLS
// that laird terminates, the client certificate, WebSocket. Immutable once
// set.
type TransportInfo struct {
	// Name is the transport for metrics and logs: "tcp", "tls", "ws",
	// "wss", "unix".
	Name string
	// Secure: the client's connection is encrypted (TLS).
	Secure bool
	// CertFP is the SHA-256 fingerprint of the client's TLS certificate,
	// lower-case hex; "" without one.
	CertFP string
	// WebSocket: the IRCv3 WebSocket transport.
	WebSocket bool
}

// SetTransport records what the connection's transport knows. The loop
// calls it at Connect and again when a TLS handshake completes, before it
// hands chat the connection's first line. Loop only (read by any
// goroutine: WHOIS, +Z).
func (c *Client) SetTransport(ti TransportInfo) { c.transport.Store(&ti) }

// Transport returns what the connection's transport told chat; the zero
// value for plain TCP.
func (c *Client) Transport() TransportInfo {
	if p := c.transport.Load(); p != nil {
		return *p
	}
	return TransportInfo{}
}
