package main

import (
	"net"
	"sync"

	"laird/perf"
)

// Descriptors outside the IRC listener's budget (loop/fdbudget.go) must
// stay inside its reserve: the metrics listener holds at most
// loop.MetricsConns connections, and the store's open files are bounded
// by the budget's StoreFiles.

// limitListener accepts at most n connections at once; Accept waits for
// one to close (the kernel's backlog holds the rest).
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func newLimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// descriptorAlert fires while connections are being refused because open
// descriptors are near the limit. A configured rule of the same name
// replaces it.
var descriptorAlert = perf.AlertRule{
	Name:   "descriptors-exhausted",
	Metric: `per_second(laird_connections_refused_total{reason="descriptors"})`,
	Op:     ">",
}

// withBuiltinAlerts adds the built-in rules to the configured ones.
func withBuiltinAlerts(cfg perf.AlertConfig) perf.AlertConfig {
	for _, r := range cfg.Rules {
		if r.Name == descriptorAlert.Name {
			return cfg
		}
	}
	cfg.Rules = append([]perf.AlertRule{descriptorAlert}, cfg.Rules...)
	return cfg
}
