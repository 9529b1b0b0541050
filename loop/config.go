package loop

import (
	"runtime"
	"time"

	"laird/perf"
)

// Config holds the network side's settings. Zero values mean the defaults
// noted on each field.
type Config struct {
	// Listen is a plain IRC listener's address, used when Listeners is
	// empty; default "127.0.0.1:6667".
	Listen string
	// Listeners are the addresses served and their transports (TLS,
	// WebSocket, PROXY); empty means one plain listener on Listen.
	Listeners []Listener
	// TLSHandshakeTimeout bounds a TLS handshake; default 10s.
	TLSHandshakeTimeout time.Duration
	// MaxHandshakes bounds the TLS handshakes in flight (each holds a
	// goroutine); connections past it are closed at once; default 1024.
	MaxHandshakes int
	// Loops is the number of event loops; default one per CPU (at most
	// GOMAXPROCS).
	Loops int
	// SendQ is the most output bytes queued for one client before it is
	// disconnected as a slow consumer; default 1 MiB.
	SendQ int
	// MailboxBytes bounds each (shard, loop) mailbox: past it the shard
	// waits for the loop before taking more work; default 8 MiB.
	MailboxBytes int
	// RecvQ is the most unprocessed input bytes held for one client before
	// it is disconnected for flooding; default 64 KiB.
	RecvQ int
	// RegistrationTimeout bounds the time from connect to the welcome
	// burst; default 30s.
	RegistrationTimeout time.Duration
	// PingInterval is the silence after which the server PINGs a client;
	// default 90s.
	PingInterval time.Duration
	// PingTimeout is how long a PINGed client has to answer; default 90s.
	PingTimeout time.Duration
	// TickInterval is the timer resolution (fakelag, timeouts); default 100ms.
	TickInterval time.Duration
	// Perf, when set, gives every event loop a latency recorder and
	// counters. Register every latency series before New.
	Perf *perf.Registry
	// FDs bounds the connections held by the open-files limit (see
	// MeasureFDBudget); the zero value bounds nothing.
	FDs FDBudget
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:6667"
	}
	if len(c.Listeners) == 0 {
		c.Listeners = []Listener{{Address: c.Listen}}
	}
	if c.TLSHandshakeTimeout <= 0 {
		c.TLSHandshakeTimeout = 10 * time.Second
	}
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = 1024
	}
	if c.Loops <= 0 {
		c.Loops = min(runtime.NumCPU(), runtime.GOMAXPROCS(0))
	}
	if c.SendQ <= 0 {
		c.SendQ = 1 << 20
	}
	if c.MailboxBytes <= 0 {
		c.MailboxBytes = 8 << 20
	}
	if c.RecvQ <= 0 {
		c.RecvQ = 64 << 10
	}
	if c.RegistrationTimeout <= 0 {
		c.RegistrationTimeout = 30 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 90 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 90 * time.Second
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 100 * time.Millisecond
	}
}
