package chat

import (
	"slices"
	"strings"

	"laird/kv"
)

// metaList is a set of metadata keys and values, sorted by key. It is
// never modified in place: with and without return new lists, so a list
// published through an atomic pointer (a user's metadata) can be read by
// any goroutine.
type metaList []metaEntry

type metaEntry struct {
	key, value string
}

func (l metaList) find(key string) (int, bool) {
	return slices.BinarySearchFunc(l, key, func(e metaEntry, k string) int { return strings.Compare(e.key, k) })
}

// get returns key's value.
func (l metaList) get(key string) (string, bool) {
	if i, ok := l.find(key); ok {
		return l[i].value, true
	}
	return "", false
}

// with returns the list with key set to value.
func (l metaList) with(key, value string) metaList {
	i, ok := l.find(key)
	out := make(metaList, 0, len(l)+1)
	out = append(out, l[:i]...)
	out = append(out, metaEntry{key, value})
	if ok {
		i++
	}
	return append(out, l[i:]...)
}

// without returns the list without key.
func (l metaList) without(key string) metaList {
	i, ok := l.find(key)
	if !ok {
		return l
	}
	out := make(metaList, 0, len(l)-1)
	out = append(out, l[:i]...)
	return append(out, l[i+1:]...)
}

// merged returns l with every entry of over set on top.
func (l metaList) merged(over metaList) metaList {
	for _, e := range over {
		l = l.with(e.key, e.value)
	}
	return l
}

// validMetaKey reports whether key is a metadata key name laird accepts:
// a-z, 0-9 and "_./-" (draft/metadata-2), at most metaKeyLen bytes so that
// a key and its value fit one line.
func validMetaKey(key string) bool {
	if key == "" || len(key) > metaKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

const metaKeyLen = 64

// fromKVMeta converts stored metadata (ordered by key) to a metaList.
func fromKVMeta(l []kv.MetadataEntry) metaList {
	if len(l) == 0 {
		return nil
	}
	out := make(metaList, len(l))
	for i, e := range l {
		out[i] = metaEntry{e.Key, e.Value}
	}
	return out
}
