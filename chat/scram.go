package chat

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SCRAM-SHA-256 (RFC 5802, RFC 7677) as a SASL mechanism. The account
// record keeps a verifier (salt, iteration count, StoredKey, ServerKey),
// never the password, so a stolen store does not reveal passwords and the
// server never needs them at login: a login costs a few HMACs and runs on
// the event loop. Deriving the verifier (PBKDF2) is the expensive part and
// runs only when a password is set, off the loops.
//
// Channel binding is not supported (laird has no TLS yet): a client-first
// message asking for it ("p=...") is refused. SASLprep is not applied:
// names and passwords are compared as the UTF-8 bytes the client sent,
// which is what clients in practice send for ASCII and NFC input.

const (
	scramSaltLen  = 16
	scramKeyLen   = sha256.Size
	scramNonceLen = 18 // random bytes of the server nonce, base64-encoded
	// scramMinIter is RFC 7677's minimum. A stored verifier with fewer
	// iterations is refused as corrupt.
	scramMinIter = 4096
	scramMaxIter = 1 << 24
)

// errScram is returned for malformed SCRAM messages and verifiers.
var errScram = errors.New("scram: malformed message")

// scramVerifier is what the store keeps for SCRAM-SHA-256.
type scramVerifier struct {
	salt      []byte
	iter      int
	storedKey []byte
	serverKey []byte
}

// newScramVerifier derives a verifier for password with a fresh salt. It is
// CPU-bound (PBKDF2): never call it on an event loop.
func newScramVerifier(password string, iter int) (scramVerifier, error) {
	salt := make([]byte, scramSaltLen)
	rand.Read(salt)
	return deriveScram(password, salt, iter)
}

func deriveScram(password string, salt []byte, iter int) (scramVerifier, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, scramKeyLen)
	if err != nil {
		return scramVerifier{}, fmt.Errorf("scram: derive key: %w", err)
	}
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	return scramVerifier{
		salt:      salt,
		iter:      iter,
		storedKey: stored[:],
		serverKey: hmacSHA256(salted, []byte("Server Key")),
	}, nil
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// String encodes the verifier for kv.Account.Scram:
// "sha256$<iter>$<salt>$<StoredKey>$<ServerKey>", base64 (standard) fields.
func (v scramVerifier) String() string {
	b64 := base64.StdEncoding.EncodeToString
	return "sha256$" + strconv.Itoa(v.iter) + "$" + b64(v.salt) + "$" + b64(v.storedKey) + "$" + b64(v.serverKey)
}

// parseScramVerifier decodes what String produced.
func parseScramVerifier(s string) (scramVerifier, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 || parts[0] != "sha256" {
		return scramVerifier{}, fmt.Errorf("%w: verifier format", errScram)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < scramMinIter || iter > scramMaxIter {
		return scramVerifier{}, fmt.Errorf("%w: verifier iteration count %q", errScram, parts[1])
	}
	var v scramVerifier
	v.iter = iter
	dec := base64.StdEncoding.DecodeString
	if v.salt, err = dec(parts[2]); err != nil || len(v.salt) == 0 {
		return scramVerifier{}, fmt.Errorf("%w: verifier salt", errScram)
	}
	if v.storedKey, err = dec(parts[3]); err != nil || len(v.storedKey) != scramKeyLen {
		return scramVerifier{}, fmt.Errorf("%w: verifier stored key", errScram)
	}
	if v.serverKey, err = dec(parts[4]); err != nil || len(v.serverKey) != scramKeyLen {
		return scramVerifier{}, fmt.Errorf("%w: verifier server key", errScram)
	}
	return v, nil
}

// clientFirst is a parsed client-first-message.
type clientFirst struct {
	gs2Header string // "n,," or "y,,a=..." as sent, for the c= check
	authzid   string
	user      string
	nonce     string
	bare      string // client-first-message-bare, part of AuthMessage
}

// parseClientFirst parses "gs2-header client-first-message-bare".
func parseClientFirst(msg []byte) (clientFirst, error) {
	var cf clientFirst
	s := string(msg)
	// gs2-header = cbind-flag "," [authzid] ","
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return cf, fmt.Errorf("%w: no gs2 header", errScram)
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return cf, fmt.Errorf("%w: channel binding is not supported", errScram)
	default:
		return cf, fmt.Errorf("%w: bad channel binding flag", errScram)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, fmt.Errorf("%w: no gs2 header", errScram)
	}
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, fmt.Errorf("%w: bad authzid", errScram)
		}
		name, err := decodeSaslname(v)
		if err != nil {
			return cf, err
		}
		cf.authzid = name
	}
	cf.gs2Header = s[:len(flag)+1+len(authz)+1]
	cf.bare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || strings.HasPrefix(attrs[0], "m=") {
		return cf, fmt.Errorf("%w: client-first-message-bare", errScram)
	}
	user, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return cf, fmt.Errorf("%w: no username", errScram)
	}
	name, err := decodeSaslname(user)
	if err != nil {
		return cf, err
	}
	if name == "" {
		return cf, fmt.Errorf("%w: empty username", errScram)
	}
	cf.user = name
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(nonce) {
		return cf, fmt.Errorf("%w: bad client nonce", errScram)
	}
	cf.nonce = nonce
	return cf, nil
}

// validNonce: printable ASCII except ',' (RFC 5802 "printable").
func validNonce(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x21 || n[i] > 0x7e || n[i] == ',' {
			return false
		}
	}
	return true
}

// decodeSaslname undoes the "=2C" / "=3D" escaping of ',' and '='.
func decodeSaslname(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			sb.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			sb.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			sb.WriteByte('=')
		default:
			return "", fmt.Errorf("%w: bad escape in name", errScram)
		}
		i += 2
	}
	return sb.String(), nil
}

// clientFinal is a parsed client-final-message.
type clientFinal struct {
	binding      string // the c= attribute, still base64
	nonce        string
	proof        []byte
	withoutProof string // client-final-message-without-proof, part of AuthMessage
}

func parseClientFinal(msg []byte) (clientFinal, error) {
	var cf clientFinal
	s := string(msg)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return cf, fmt.Errorf("%w: no proof", errScram)
	}
	cf.withoutProof = s[:i]
	proof, err := base64.StdEncoding.DecodeString(s[i+3:])
	if err != nil || len(proof) != scramKeyLen {
		return cf, fmt.Errorf("%w: bad proof", errScram)
	}
	cf.proof = proof
	attrs := strings.Split(cf.withoutProof, ",")
	if len(attrs) < 2 {
		return cf, fmt.Errorf("%w: client-final-message", errScram)
	}
	var ok bool
	if cf.binding, ok = strings.CutPrefix(attrs[0], "c="); !ok {
		return cf, fmt.Errorf("%w: no channel binding attribute", errScram)
	}
	if cf.nonce, ok = strings.CutPrefix(attrs[1], "r="); !ok || !validNonce(cf.nonce) {
		return cf, fmt.Errorf("%w: bad nonce", errScram)
	}
	return cf, nil
}

// scramExchange is the server side of one SCRAM-SHA-256 authentication.
type scramExchange struct {
	first       clientFirst
	serverFirst string
	nonce       string // client nonce + server nonce
	verifier    scramVerifier
	// known is false when the account does not exist or has no verifier:
	// the exchange then runs with a decoy salt (so that a prober cannot
	// tell) and always fails.
	known bool
}

// newScramExchange builds the server-first-message for a parsed
// client-first-message. v is the account's verifier when known is true;
// otherwise decoySalt names a salt to show.
func newScramExchange(first clientFirst, v scramVerifier, known bool, decoySalt []byte) *scramExchange {
	nb := make([]byte, scramNonceLen)
	rand.Read(nb)
	x := &scramExchange{first: first, verifier: v, known: known}
	x.nonce = first.nonce + base64.RawStdEncoding.EncodeToString(nb)
	salt, iter := v.salt, v.iter
	if !known {
		salt, iter = decoySalt, scramMinIter
	}
	x.serverFirst = "r=" + x.nonce + ",s=" + base64.StdEncoding.EncodeToString(salt) + ",i=" + strconv.Itoa(iter)
	return x
}

// finish checks a client-final-message and returns the
// server-final-message ("v=...") on success.
func (x *scramExchange) finish(msg []byte) (string, error) {
	cf, err := parseClientFinal(msg)
	if err != nil {
		return "", err
	}
	wantBinding := base64.StdEncoding.EncodeToString([]byte(x.first.gs2Header))
	if cf.binding != wantBinding {
		return "", fmt.Errorf("%w: channel binding mismatch", errScram)
	}
	if subtle.ConstantTimeCompare([]byte(cf.nonce), []byte(x.nonce)) != 1 {
		return "", fmt.Errorf("%w: nonce mismatch", errScram)
	}
	auth := []byte(x.first.bare + "," + x.serverFirst + "," + cf.withoutProof)
	stored := x.verifier.storedKey
	if !x.known {
		stored = make([]byte, scramKeyLen) // never matches a hash of a key
	}
	sig := hmacSHA256(stored, auth)
	clientKey := make([]byte, scramKeyLen)
	for i := range clientKey {
		clientKey[i] = cf.proof[i] ^ sig[i]
	}
	got := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(got[:], stored) != 1 || !x.known {
		return "", errBadCredentials
	}
	return "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(x.verifier.serverKey, auth)), nil
}

// decoySalt returns a salt for an unknown account that stays the same for
// that name during the server's life, so repeated probes see a stable
// answer.
func decoySalt(folded string) []byte {
	return hmacSHA256(decoyKey[:], []byte(folded))[:scramSaltLen]
}

var decoyKey = func() (k [32]byte) {
	rand.Read(k[:])
	return k
}()

// splitPlain splits a SASL PLAIN message: authzid NUL authcid NUL passwd.
func splitPlain(msg []byte) (authzid, authcid, passwd string, err error) {
	parts := bytes.SplitN(msg, []byte{0}, 3)
	if len(parts) != 3 || len(parts[1]) == 0 || bytes.IndexByte(parts[2], 0) >= 0 {
		return "", "", "", errors.New("sasl: malformed PLAIN message")
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}
