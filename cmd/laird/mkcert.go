package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// mkcertValidity is how long a certificate from `laird mkcert` is valid.
const mkcertValidity = 365 * 24 * time.Hour

// mkcert is `laird mkcert DIR`: a self-signed certificate for trying TLS
// on this machine, valid for 127.0.0.1, ::1 and localhost. It is its own
// CA, so a client can trust exactly it (cert.pem as the CA file). It never
// overwrites: an existing cert.pem or key.pem is an error.
func mkcert(args []string, std stdio) error {
	pos, err := positional("mkcert", args, std, 1, "laird mkcert DIR")
	if err != nil {
		return err
	}
	dir := pos[0]
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM, keyPEM, err := selfSigned(time.Now())
	if err != nil {
		return fmt.Errorf("mkcert: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkcert: %w", err)
	}
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("mkcert: %s already exists; remove it or choose another directory", p)
		}
	}
	// The key first, created private: it must never exist readable by others.
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("mkcert: %w", err)
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return fmt.Errorf("mkcert: %w", err)
	}
	_, err = fmt.Fprintf(std.out, "wrote %s and %s (self-signed for 127.0.0.1, ::1 and localhost, valid until %s)\n",
		certPath, keyPath, time.Now().Add(mkcertValidity).UTC().Format("2006-01-02"))
	return err
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// selfSigned returns a PEM certificate and PKCS#8 key (ECDSA P-256).
func selfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"laird mkcert"}, CommonName: "localhost (laird mkcert on " + host + ")"},
		NotBefore:             now.Add(-time.Hour), // tolerate a little clock skew
		NotAfter:              now.Add(mkcertValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if certPEM == nil || keyPEM == nil {
		return nil, nil, errors.New("PEM encoding failed")
	}
	return certPEM, keyPEM, nil
}
