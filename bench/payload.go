package bench

import (
	"errors"
	"strconv"
	"time"
)

// epoch anchors every timestamp carried in message text. Sender and receivers live in the
// same process, so the monotonic clock read through time.Since is the right clock: wall
// clock steps cannot bend a latency.
var epoch = time.Now()

// now returns monotonic nanoseconds since epoch.
func now() int64 { return int64(time.Since(epoch)) }

// markerPrefix starts the text of every message the generator sends for measurement.
const markerPrefix = "LB "

// Marker is what a measured message carries in its text: who sent it, its sequence number
// for that sender, the time it was written to the socket in nanoseconds since the process
// epoch, and, in open-loop scenarios, how late that was against the schedule (LagNs), so a
// receiver can compute both the latency of the server and that of the schedule.
type Marker struct {
	Sender int
	Seq    int
	SentNs int64
	LagNs  int64
}

// ErrNoMarker means a message text was not produced by the load generator.
var ErrNoMarker = errors.New("bench: text carries no marker")

// AppendMarker appends "PRIVMSG target :LB sender seq sent lag pad" and CR LF to dst. pad
// is the number of filler bytes, so tests can size lines like real chat.
func AppendMarker(dst []byte, target string, m Marker, pad int) []byte {
	dst = append(dst, "PRIVMSG "...)
	dst = append(dst, target...)
	dst = append(dst, " :"+markerPrefix...)
	dst = strconv.AppendInt(dst, int64(m.Sender), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(m.Seq), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, m.SentNs, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, m.LagNs, 10)
	if pad > 0 {
		dst = append(dst, ' ')
		for i := 0; i < pad; i++ {
			dst = append(dst, 'x')
		}
	}
	return append(dst, '\r', '\n')
}

// ParseMarker reads the marker at the start of a message text: three numbers (sender, seq,
// sent) and an optional fourth (lag); anything after them is filler. It does not allocate.
func ParseMarker(text []byte) (Marker, error) {
	if len(text) < len(markerPrefix) || string(text[:len(markerPrefix)]) != markerPrefix {
		return Marker{}, ErrNoMarker
	}
	rest := text[len(markerPrefix):]
	var vals [4]int64
	for i := range vals {
		v, n, ok := parseUint(rest)
		if !ok {
			if i == 3 { // no lag: the rest is filler
				break
			}
			return Marker{}, ErrNoMarker
		}
		vals[i] = v
		rest = rest[n:]
		if len(rest) == 0 {
			if i < 2 {
				return Marker{}, ErrNoMarker
			}
			break
		}
		if rest[0] != ' ' {
			return Marker{}, ErrNoMarker
		}
		rest = rest[1:]
	}
	if vals[0] > int64(^uint32(0)>>1) || vals[1] > int64(^uint32(0)>>1) {
		return Marker{}, ErrNoMarker
	}
	return Marker{Sender: int(vals[0]), Seq: int(vals[1]), SentNs: vals[2], LagNs: vals[3]}, nil
}

// parseUint reads leading decimal digits (at most 18, so the value fits an int64).
func parseUint(b []byte) (v int64, n int, ok bool) {
	for n < len(b) && n < 18 && '0' <= b[n] && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	return v, n, n > 0
}
