package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"laird/loop"
)

// ListenConfig is one [[listen]] block: an address and its transport.
type ListenConfig struct {
	// Address is host:port, or the path of a Unix socket.
	Address string `toml:"address"`
	// TLSCert and TLSKey (PEM files, both set) make the listener TLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// WebSocket serves the IRCv3 WebSocket transport (over TLS when the
	// certificate is set).
	WebSocket bool `toml:"websocket"`
	// Origins allowed to open a WebSocket; empty accepts any.
	Origins []string `toml:"origins"`
	// ProxyFrom lists the proxies (CIDRs) trusted to send a PROXY protocol
	// header; non-empty makes the header required, from them only.
	ProxyFrom []string `toml:"proxy_from"`
}

// listeners returns what the server listens on: the [[listen]] blocks,
// plus a plain listener for -listen; with neither, [server] listen alone.
func (cfg *Config) listeners() []ListenConfig {
	out := append([]ListenConfig(nil), cfg.Listen...)
	if cfg.listenFlag != "" {
		out = append(out, ListenConfig{Address: cfg.listenFlag})
	}
	if len(out) == 0 {
		out = append(out, ListenConfig{Address: cfg.Server.Listen})
	}
	return out
}

// loopListeners converts the listeners for package loop.
func (cfg *Config) loopListeners() ([]loop.Listener, error) {
	var out []loop.Listener
	seen := make(map[string]bool)
	for i, l := range cfg.listeners() {
		where := fmt.Sprintf("listen[%d] %q", i, l.Address)
		if l.Address == "" {
			return nil, fmt.Errorf("listen[%d]: address is required", i)
		}
		if !strings.Contains(l.Address, "/") {
			if _, _, err := net.SplitHostPort(l.Address); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		if seen[l.Address] {
			return nil, fmt.Errorf("%s: listed twice", where)
		}
		seen[l.Address] = true
		if (l.TLSCert == "") != (l.TLSKey == "") {
			return nil, fmt.Errorf("%s: tls_cert and tls_key go together", where)
		}
		for _, f := range []string{l.TLSCert, l.TLSKey} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		if len(l.Origins) > 0 && !l.WebSocket {
			return nil, fmt.Errorf("%s: origins only apply with websocket = true", where)
		}
		ll := loop.Listener{Address: l.Address, TLSCert: l.TLSCert, TLSKey: l.TLSKey, WebSocket: l.WebSocket, Origins: l.Origins}
		for _, p := range l.ProxyFrom {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				addr, err2 := netip.ParseAddr(p)
				if err2 != nil {
					return nil, fmt.Errorf("%s: proxy_from %q: %w", where, p, err)
				}
				prefix = netip.PrefixFrom(addr, addr.BitLen())
			}
			ll.ProxyFrom = append(ll.ProxyFrom, prefix.Masked())
		}
		out = append(out, ll)
	}
	return out, nil
}

// tlsPort is the port of the first TLS listener that is not a WebSocket
// one (what STS points plaintext clients to), 0 when there is none.
func tlsPort(ls []loop.Listener) int {
	for _, l := range ls {
		if l.TLS() && !l.WebSocket {
			if ap, err := netip.ParseAddrPort(l.Address); err == nil {
				return int(ap.Port())
			}
			if _, port, err := net.SplitHostPort(l.Address); err == nil {
				var p int
				fmt.Sscan(port, &p)
				return p
			}
		}
	}
	return 0
}
