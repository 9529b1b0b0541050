package chat

import (
	"strconv"
	"time"
)

// STSPolicy is the IRCv3 Strict Transport Security policy
// (https://ircv3.net/specs/extensions/sts): the sts capability tells a
// client on plaintext which port serves TLS (port=, and duration=, which
// such a client ignores), and one on TLS how long to keep to TLS
// (duration=, preload). It is offered only to clients that negotiate CAP
// 302 (the policy is in the value), never on WebSocket (browsers have
// their own), and cannot be requested (CAP REQ sts is refused, as the
// specification allows).
type STSPolicy struct {
	// Port is the TLS port plaintext clients are sent to; 0 advertises no
	// policy (no TLS listener, or STS turned off).
	Port int
	// Duration is how long a client keeps to TLS after it saw the policy
	// on TLS; 0 tells clients to forget a policy they keep.
	Duration time.Duration
	// Preload allows the policy in clients' preload lists.
	Preload bool
}

// stsValue is the sts capability's value for c, "" when c is not offered
// one.
func (s *Server) stsValue(c *Client) string {
	p := s.liveConfig().STS
	ti := c.Transport()
	if p.Port <= 0 || ti.WebSocket {
		return ""
	}
	duration := "duration=" + strconv.FormatInt(int64(p.Duration/time.Second), 10)
	if !ti.Secure {
		return "port=" + strconv.Itoa(p.Port) + "," + duration
	}
	if p.Preload {
		duration += ",preload"
	}
	return duration
}
