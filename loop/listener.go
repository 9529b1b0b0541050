package loop

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"laird/perf"
)

// Listener is one address laird serves IRC on and the transport stack of
// its connections: TLS when a certificate is set, the IRCv3 WebSocket
// transport when WebSocket is set (over TLS or plain), and the PROXY
// protocol first when ProxyFrom is set.
type Listener struct {
	// Address is host:port, or the path of a Unix socket.
	Address string
	// TLSCert and TLSKey are PEM files; both set: TLS on this listener.
	// They are read at start and again at Reload, without dropping a
	// connection.
	TLSCert, TLSKey string
	// WebSocket serves the IRCv3 WebSocket transport.
	WebSocket bool
	// Origins allowed to open a WebSocket (compared without ASCII case);
	// empty accepts any.
	Origins []string
	// ProxyFrom lists the proxies trusted to send a PROXY protocol header
	// (v1 or v2); non-empty makes the header required, from them only.
	// The address in the header then stands for the client everywhere
	// (limits, bans, detectors, WHOIS).
	ProxyFrom []netip.Prefix
}

// TLS reports whether the listener is TLS.
func (l *Listener) TLS() bool { return l.TLSCert != "" || l.TLSKey != "" }

// unix reports whether the address is a Unix socket path.
func (l *Listener) unix() bool { return strings.Contains(l.Address, "/") }

// Transport names the listener's transport for metrics and chat.
func (l *Listener) Transport() string {
	switch {
	case l.unix():
		return "unix"
	case l.WebSocket && l.TLS():
		return "wss"
	case l.WebSocket:
		return "ws"
	case l.TLS():
		return "tls"
	}
	return "tcp"
}

// gnetAddr is the listener's address as gnet takes it.
func (l *Listener) gnetAddr() string {
	if l.unix() {
		return "unix://" + l.Address
	}
	return "tcp://" + l.Address
}

// listener is a Listener at run time.
type listener struct {
	Listener
	tcp      netip.AddrPort // the TCP address; invalid for a Unix socket
	cert     atomic.Pointer[tls.Certificate]
	tlsConf  *tls.Config    // nil without TLS
	upgrader *wsUpgrader    // nil without WebSocket
	proxies  []netip.Prefix // trusted PROXY senders
	conns    *perf.Gauge    // laird_connections{transport}; nil without monitoring
}

func newListener(l Listener) (*listener, error) {
	ln := &listener{Listener: l, proxies: l.ProxyFrom}
	if !l.unix() {
		ap, err := netip.ParseAddrPort(l.Address)
		if err != nil {
			host, port, err2 := net.SplitHostPort(l.Address)
			if err2 != nil {
				return nil, fmt.Errorf("listener %q: %w", l.Address, err)
			}
			p, err3 := strconv.ParseUint(port, 10, 16)
			if err3 != nil || (host != "" && host != "localhost") {
				return nil, fmt.Errorf("listener %q: want ip:port or a Unix socket path: %w", l.Address, err)
			}
			addr := netip.IPv4Unspecified()
			if host == "localhost" {
				addr = netip.MustParseAddr("127.0.0.1")
			}
			ap = netip.AddrPortFrom(addr, uint16(p))
			ln.Address = ap.String()
		}
		ln.tcp = ap
	}
	if l.TLS() {
		if l.TLSCert == "" || l.TLSKey == "" {
			return nil, fmt.Errorf("listener %s: tls_cert and tls_key go together", l.Address)
		}
		if err := ln.loadCert(); err != nil {
			return nil, err
		}
		ln.tlsConf = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return ln.cert.Load(), nil
			},
			// Client certificates are optional and self-signed as a rule
			// (SASL EXTERNAL and CERT ADD match their fingerprint), so
			// they are requested but not verified against a CA.
			ClientAuth: tls.RequestClientCert,
		}
	}
	if l.WebSocket {
		ln.upgrader = &wsUpgrader{origins: l.Origins}
	}
	return ln, nil
}

// loadCert reads the certificate and key and installs them for new
// handshakes; connections already up keep theirs.
func (ln *listener) loadCert() error {
	cert, err := tls.LoadX509KeyPair(ln.TLSCert, ln.TLSKey)
	if err != nil {
		return fmt.Errorf("listener %s: %w", ln.Address, err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
			cert.Leaf = leaf
		}
	}
	ln.cert.Store(&cert)
	return nil
}

// matches reports whether a connection whose local address is local was
// accepted by this listener.
func (ln *listener) matches(local net.Addr) bool {
	switch a := local.(type) {
	case *net.TCPAddr:
		if !ln.tcp.IsValid() || int(ln.tcp.Port()) != a.Port {
			return false
		}
		if ln.tcp.Addr().IsUnspecified() {
			return true
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		return ok && ip.Unmap() == ln.tcp.Addr().Unmap()
	case *net.UnixAddr:
		return ln.unix() && (a.Name == ln.Address || strings.HasPrefix(a.Name, ln.Address))
	}
	return false
}

// trusted reports whether ip may send a PROXY header here.
func (ln *listener) trusted(ip netip.Addr) bool {
	for _, p := range ln.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ErrAddressInUse is returned by Serve when a listener's address is served
// already (by another laird, say): SO_REUSEPORT would otherwise let both
// bind it and split new connections between them.
var ErrAddressInUse = errors.New("address already in use")

// checkFree fails when the listener's address is served already. A TCP
// address is bound for a moment without SO_REUSEPORT; a Unix socket path
// is dialled (a stale file nobody answers on is removed).
func (ln *listener) checkFree() error {
	if ln.unix() {
		if _, err := os.Stat(ln.Address); err != nil {
			return nil
		}
		if c, err := net.Dial("unix", ln.Address); err == nil {
			c.Close()
			return fmt.Errorf("listener %s: %w", ln.Address, ErrAddressInUse)
		}
		return os.Remove(ln.Address)
	}
	l, err := net.Listen("tcp", ln.Address)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listener %s: %w", ln.Address, ErrAddressInUse)
		}
		return fmt.Errorf("listener %s: %w", ln.Address, err)
	}
	return l.Close()
}
