package guard

// costTable maps command names to prices. Command names of up to 16 bytes
// pack, upper-cased, into two words; an open-addressed table on those words
// costs one multiply and usually one probe, against hashing a string and
// comparing it for a Go map. Built once per class, then read-only.
type costTable struct {
	slots []costSlot
	shift uint
}

type costSlot struct {
	key  cmdKey
	e    costEntry
	used bool
}

type costEntry struct{ base, perTarget Cost }

// cmdKey is a command name packed little-endian, upper case, zero-padded.
// Names are non-empty and NUL-free, so packing is injective.
type cmdKey [2]uint64

// maxCommandLen bounds priced command names; longer commands (there are no
// such IRC commands) take the default cost.
const maxCommandLen = 16

// packCommand folds and packs name; ok is false when it cannot be a key.
func packCommand[T Text](name T) (k cmdKey, ok bool) {
	if len(name) == 0 || len(name) > maxCommandLen {
		return k, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == 0 {
			return k, false
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		k[i>>3] |= uint64(c) << (8 * (i & 7))
	}
	return k, true
}

func (k cmdKey) hash() uint64 { return (k[0] ^ k[1]*0xff51afd7ed558ccd) * 0x9e3779b97f4a7c15 }

func newCostTable(n int) *costTable {
	size, bits := 16, uint(4)
	for size < 2*n {
		size, bits = size*2, bits+1
	}
	return &costTable{slots: make([]costSlot, size), shift: 64 - bits}
}

func (t *costTable) put(k cmdKey, e costEntry) {
	mask := uint64(len(t.slots) - 1)
	for i := k.hash() >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used || s.key == k {
			*s = costSlot{key: k, e: e, used: true}
			return
		}
	}
}

// get never loops forever: the table is at most half full.
func (t *costTable) get(k cmdKey) (costEntry, bool) {
	mask := uint64(len(t.slots) - 1)
	for i := k.hash() >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used {
			return costEntry{}, false
		}
		if s.key == k {
			return s.e, true
		}
	}
}
