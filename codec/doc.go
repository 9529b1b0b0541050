// Package codec frames, parses and encodes IRC protocol lines.
//
// A line is `[@tags] [:source] COMMAND [params...] [:trailing]` terminated by
// LF or CRLF (Modern IRC, IRCv3 message-tags). Parsing is zero-copy: a parsed
// Message holds slices of the caller's input and is valid only as long as that
// input is unchanged. The event loops parse straight out of gnet's read buffer
// and copy exactly once when a message leaves the loop (see Message.CloneInto).
//
// Invariants:
//   - Parse never allocates and never panics, whatever the input; every
//     rejection is one of the sentinel errors below so callers can map it to a
//     numeric (417 for ErrLineTooLong/ErrTagsTooLong, a silent drop for
//     ErrEmpty, ERROR for ErrControlChar).
//   - ProxyHeader.Parse reads the PROXY protocol header (v1 and v2) a trusted
//     load balancer puts before the IRC stream, under the same rules: no
//     allocation, no panic, bounded (MaxProxyV1, MaxProxyV2), incremental
//     (0, nil means "send more"), every rejection a ProxyError.
//   - Tag values stay escaped in the Message; UnescapeTag unescapes on request.
//   - Append* functions only append to the caller's buffer, so one buffer can
//     collect many lines and be written with one syscall.
//   - Casemapping tables are immutable after package init; all functions here
//     are safe for concurrent use.
package codec
