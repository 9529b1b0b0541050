package main

import (
	"net"
	"testing"
	"time"

	"laird/perf"
)

// The metrics listener holds at most its share of the descriptor reserve:
// past n connections, Accept waits for one to close.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(inner, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	first.Close() // closing twice frees one slot only
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
	second.Close()
}

func TestBuiltinAlerts(t *testing.T) {
	cfg := withBuiltinAlerts(perf.AlertConfig{Rules: []perf.AlertRule{{Name: "mine", Metric: "p99(cmd.PING)"}}})
	if len(cfg.Rules) != 2 || cfg.Rules[0].Name != "descriptors-exhausted" || cfg.Rules[1].Name != "mine" {
		t.Fatalf("rules %+v", cfg.Rules)
	}
	own := perf.AlertRule{Name: "descriptors-exhausted", Metric: "sum(laird_connections_max)", Op: "<", Threshold: 1}
	if cfg := withBuiltinAlerts(perf.AlertConfig{Rules: []perf.AlertRule{own}}); len(cfg.Rules) != 1 || cfg.Rules[0] != own {
		t.Fatalf("a configured rule of the same name did not replace the built-in one: %+v", cfg.Rules)
	}
}
