package main

import (
	"fmt"
	"time"

	"laird/chat"
)

// STSConfig is the [sts] section: the IRCv3 Strict Transport Security
// policy (chat.STSPolicy). It is advertised once there is a TLS listener
// that is not a WebSocket one: plaintext clients are sent to its port,
// TLS clients told how long to keep to TLS. A reload applies it.
type STSConfig struct {
	// Enabled advertises the policy when there is a TLS port.
	Enabled bool `toml:"enabled"`
	// Duration is how long clients keep to TLS; "0s" tells them to forget
	// the policy (the way to withdraw it: clients that saw it keep to TLS
	// until it expires, so advertise 0 for that long before turning STS
	// off).
	Duration duration `toml:"duration"`
	// Port is the TLS port advertised; 0 (default) is the port of the
	// first TLS [[listen]] block that is not a WebSocket one. Set it when
	// TLS is served elsewhere (a proxy terminating TLS): then the policy
	// is advertised without a TLS listener of laird's own.
	Port int `toml:"port"`
	// Preload allows clients to ship the policy in their preload lists.
	Preload bool `toml:"preload"`
}

func defaultSTS() STSConfig {
	return STSConfig{Enabled: true, Duration: duration{30 * 24 * time.Hour}}
}

func (s STSConfig) validate() error {
	if s.Duration.Duration < 0 || s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("sts.duration %v and sts.port %d: want a duration of 0 or more and a port up to 65535", s.Duration.Duration, s.Port)
	}
	return nil
}

// stsPolicy is the policy chat advertises: none when STS is off or no
// TLS port is known. The listeners are as validated (a listener that does
// not validate gives no port; validateConfig reports it).
func (cfg *Config) stsPolicy() chat.STSPolicy {
	if !cfg.STS.Enabled {
		return chat.STSPolicy{}
	}
	port := cfg.STS.Port
	if port == 0 {
		ls, err := cfg.loopListeners()
		if err != nil {
			return chat.STSPolicy{}
		}
		port = tlsPort(ls)
	}
	if port == 0 {
		return chat.STSPolicy{}
	}
	return chat.STSPolicy{Port: port, Duration: cfg.STS.Duration.Duration, Preload: cfg.STS.Preload}
}
