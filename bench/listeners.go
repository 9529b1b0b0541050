package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// benchListeners returns the [[listen]] blocks laird gets under the benchmark besides
// its plain -listen address: TLS with a certificate written into dir (ECDSA P-256,
// self-signed, as `laird mkcert` makes) and WebSocket, each on a free loopback port,
// and those addresses by transport name.
func benchListeners(dir string) (string, map[string]string, error) {
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := writeSelfSigned(cert, key); err != nil {
		return "", nil, err
	}
	tlsAddr, err := freeLoopbackAddr()
	if err != nil {
		return "", nil, err
	}
	wsAddr, err := freeLoopbackAddr()
	if err != nil {
		return "", nil, err
	}
	blocks := fmt.Sprintf(`
[[listen]]
address = %q
tls_cert = %q
tls_key = %q

[[listen]]
address = %q
websocket = true
`, tlsAddr, cert, key, wsAddr)
	return blocks, map[string]string{TransportTLS: tlsAddr, TransportWS: wsAddr}, nil
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func writeSelfSigned(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "laird-bench"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
}
