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
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("short input")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxFieldLen || n > uint64(len(d.b)) {
		d.fail("string length %d exceeds input", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
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
	if n > uint64(len(d.b)/minElem) {
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
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", what, d.err)
	}
	return nil
}
