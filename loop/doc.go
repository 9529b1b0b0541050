// Package loop runs laird's network side: the gnet engine, one event loop
// per core, the connection lifecycle, per-connection input framing and
// output buffering, timers, and the fan-out tasks that shards hand to loops.
//
// Invariants:
//   - A conn belongs to the event loop that accepted it. Every field of it,
//     and every call on its gnet.Conn except Close/Wake/AsyncWrite, happens on
//     that loop's goroutine: in a gnet callback or in a task run by Run.
//   - Nothing here blocks a loop: no disk, no locks held across I/O, no
//     channel send that can wait.
//   - Memory per connection is bounded by configuration: input beyond
//     RecvQ and output beyond SendQ disconnect that client only, with a
//     clear ERROR line.
//   - Output is gathered per connection and flushed once per callback or
//     task, so a drain that delivers many lines to one client costs one
//     write.
package loop
