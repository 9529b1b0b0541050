package kv

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The record encoding: a version byte, then the fields in a fixed order.
// Integers are varints, strings a uvarint length then the bytes, times a
// varint of Unix seconds then a uvarint of nanoseconds (so the zero time and
// times outside UnixNano's range round-trip), bools one byte 0 or 1. Lists
// are a uvarint count then the elements. Decoding is strict: an unknown
// version, a short or overlong input, or a bool other than 0/1 is an error.

// maxFieldLen bounds one string field so that a corrupt length cannot ask for
// a huge allocation; no legitimate record comes near it.
const maxFieldLen = 1 << 20

type encoder struct{ b []byte }

func (e *encoder) byte(v byte)        { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)       { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) time(t time.Time)   { e.varint(t.Unix()); e.uvarint(uint64(t.Nanosecond())) }
func (e *encoder) strs(list []string) { e.uvarint(uint64(len(list))); e.strList(list) }
func (e *encoder) strList(list []string) {
	for _, s := range list {
		e.str(s)
	}
}

func (e *encoder) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

// decoder reads fields until the first error, which then sticks: every later
// read returns a zero value, so decode functions read all fields and check
// the error once at the end.
//
// It works on one string copy of the whole value, so that the string fields
// are substrings of it: one allocation per record instead of one per field.
type decoder struct {
	s   string
	err error
}

func newDecoder(v []byte) decoder { return decoder{s: string(v)} }

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.s) == 0 {
		d.fail("short input")
		return 0
	}
	v := d.s[0]
	d.s = d.s[1:]
	return v
}

// uvarint decodes like binary.Uvarint, rejecting truncated and overlong
// encodings.
func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			d.s = d.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.fail("bad varint")
	return 0
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxFieldLen || n > uint64(len(d.s)) {
		d.fail("string length %d exceeds input", n)
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad bool")
	return false
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.fail("bad nanoseconds %d", nsec)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// count reads a list length and checks it against the bytes left, given the
// smallest encoded size of one element, so a corrupt count cannot make the
// caller allocate a huge slice.
func (d *decoder) count(minElem int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.s)/minElem) {
		d.fail("list length %d exceeds input", n)
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	list := make([]string, n)
	for i := range list {
		list[i] = d.str()
	}
	return list
}

// version reads the version byte and checks it.
func (d *decoder) version(what string, want byte) {
	if v := d.byte(); d.err == nil && v != want {
		d.fail("%s record version %d, want %d", what, v, want)
	}
}

// finish reports the first error, or an error if input is left over.
func (d *decoder) finish(what string) error {
	if d.err == nil && len(d.s) != 0 {
		d.fail("%d trailing bytes", len(d.s))
	}
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", what, d.err)
	}
	return nil
}
