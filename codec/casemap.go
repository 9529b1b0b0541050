package codec

import (
	"fmt"
	"unsafe"
)

// Casemapping folds names so that two spellings of one nick or channel
// compare equal. It is an immutable byte table; the zero value is invalid,
// use ASCII or RFC1459.
type Casemapping struct {
	name  string
	lower [256]byte
}

var (
	// ASCII folds A-Z to a-z only.
	ASCII = newCasemapping("ascii", false)
	// RFC1459 also folds []\~ to {}|^, as RFC 1459 section 2.2 says.
	RFC1459 = newCasemapping("rfc1459", true)
)

func newCasemapping(name string, scandinavian bool) *Casemapping {
	cm := &Casemapping{name: name}
	for i := range cm.lower {
		cm.lower[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		cm.lower[c] = byte(c - 'A' + 'a')
	}
	if scandinavian {
		cm.lower['['] = '{'
		cm.lower[']'] = '}'
		cm.lower['\\'] = '|'
		cm.lower['~'] = '^'
	}
	return cm
}

// CasemappingByName returns the casemapping for its ISUPPORT name.
func CasemappingByName(name string) (*Casemapping, error) {
	switch name {
	case "ascii":
		return ASCII, nil
	case "rfc1459", "":
		return RFC1459, nil
	}
	return nil, fmt.Errorf("codec: unknown casemapping %q (want ascii or rfc1459)", name)
}

// Name returns the ISUPPORT CASEMAPPING token value.
func (cm *Casemapping) Name() string { return cm.name }

// Lower folds one byte.
func (cm *Casemapping) Lower(c byte) byte { return cm.lower[c] }

// AppendFold appends the folded form of s to dst.
func (cm *Casemapping) AppendFold(dst, s []byte) []byte {
	for _, c := range s {
		dst = append(dst, cm.lower[c])
	}
	return dst
}

// Fold returns the folded form of s. It allocates only when s is not
// already folded.
func (cm *Casemapping) Fold(s string) string {
	for i := 0; i < len(s); i++ {
		if cm.lower[s[i]] != s[i] {
			b := make([]byte, len(s))
			for j := 0; j < len(s); j++ {
				b[j] = cm.lower[s[j]]
			}
			return unsafe.String(&b[0], len(b))
		}
	}
	return s
}

// FoldBytes returns the folded form of b as a new string.
func (cm *Casemapping) FoldBytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = cm.lower[c]
	}
	return unsafe.String(&out[0], len(out))
}

// Equal reports whether a and b fold to the same name.
func (cm *Casemapping) Equal(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if cm.lower[a[i]] != cm.lower[b[i]] {
			return false
		}
	}
	return true
}
