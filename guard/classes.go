package guard

import (
	"fmt"
	"net/netip"
	"strings"
)

// FloodConfig holds the flood-control connection classes.
type FloodConfig struct {
	// Classes by name. "user" applies to ordinary connections; "oper", if
	// present, to operators (otherwise operators are exempt). A class
	// given in a config file replaces the default of that name, but its
	// zero fields still take the DefaultFloodClass values.
	Classes map[string]FloodClassConfig `toml:"classes"`
	// Exempt lists IPs/CIDRs whose connections are never fakelagged
	// (trusted web gateways, bouncers). Operators are exempt through the
	// "oper" class.
	Exempt []string `toml:"exempt"`
}

// DefaultFloodClass returns the defaults for a class. The choice, against
// the servers we compared:
//   - RFC 2813 (5.8): 1 message per 2 s with a 10 s threshold (burst 5).
//   - InspIRCd <connect>: commandrate 1000 (1 line/s), threshold 10,
//     fakelag on; without fakelag it advises threshold >= 20.
//   - ergo fakelag: burst 5, then 2 per 1 s window, reset after 2 s idle.
//
// laird refills 2 points/s like ergo but allows a burst of 20: IRCv3
// clients send ten-odd lines while registering (CAP LS/REQ/END, NICK,
// USER, AUTHENTICATE...) and then a JOIN and a WHO per channel, and a
// fresh connection should not be lagged for that. A debt of 100 points
// (40 s of backlog past the burst) is a flood, not a paste: disconnect.
func DefaultFloodClass() FloodClassConfig {
	return FloodClassConfig{Burst: 20, Rate: 2, Disconnect: 100, DefaultCost: 1}
}

// DefaultCosts is the built-in price list, in points. Commands that fan
// out to many recipients or produce long replies cost more; per-target
// costs make "JOIN of 50 channels" dearer than a PING. QUIT is free: a
// client leaving should never wait.
func DefaultCosts() map[string]CommandCost {
	return map[string]CommandCost{
		"PRIVMSG":     {Base: 1, PerTarget: 1},
		"NOTICE":      {Base: 1, PerTarget: 1},
		"TAGMSG":      {Base: 1, PerTarget: 1},
		"JOIN":        {Base: 1, PerTarget: 0.5},
		"PART":        {Base: 1, PerTarget: 0.5},
		"KICK":        {Base: 1, PerTarget: 1},
		"NICK":        {Base: 2},
		"TOPIC":       {Base: 2},
		"INVITE":      {Base: 3},
		"KNOCK":       {Base: 5},
		"WHO":         {Base: 2},
		"WHOIS":       {Base: 2, PerTarget: 1},
		"WHOWAS":      {Base: 2},
		"NAMES":       {Base: 2, PerTarget: 1},
		"LIST":        {Base: 5},
		"MONITOR":     {Base: 1, PerTarget: 0.1},
		"ISON":        {Base: 1, PerTarget: 0.1},
		"USERHOST":    {Base: 1, PerTarget: 0.2},
		"CHATHISTORY": {Base: 2},
		"OPER":        {Base: 5},
		"REGISTER":    {Base: 5},
		"QUIT":        {Base: 0},
	}
}

// DefaultFloodConfig returns a "user" class with the defaults and an exempt
// "oper" class.
func DefaultFloodConfig() FloodConfig {
	return FloodConfig{Classes: map[string]FloodClassConfig{
		"user": DefaultFloodClass(),
		"oper": {Exempt: true},
	}}
}

// Flood is the compiled set of flood classes. Immutable; safe to share.
type Flood struct {
	classes    map[string]*FloodClass
	user       *FloodClass
	oper       *FloodClass
	exempt     *FloodClass
	exemptNets cidrSet[struct{}]
}

// NewFlood compiles cfg.
func NewFlood(cfg FloodConfig) (*Flood, error) {
	f := &Flood{classes: make(map[string]*FloodClass)}
	for name, cc := range cfg.Classes {
		c, err := NewFloodClass(name, cc)
		if err != nil {
			return nil, err
		}
		f.classes[strings.ToLower(name)] = c
	}
	f.exempt = mustClass("exempt", FloodClassConfig{Exempt: true})
	if f.user = f.classes["user"]; f.user == nil {
		f.user = defaultUserClass
	}
	if f.oper = f.classes["oper"]; f.oper == nil {
		f.oper = f.exempt
	}
	for _, s := range cfg.Exempt {
		p, err := ParseIPMask(s)
		if err != nil {
			return nil, fmt.Errorf("guard: flood exempt list: %w", err)
		}
		f.exemptNets.put(p, struct{}{})
	}
	return f, nil
}

// Class returns the named class.
func (f *Flood) Class(name string) (*FloodClass, bool) {
	c, ok := f.classes[strings.ToLower(name)]
	return c, ok
}

// For returns the class for a connection from addr: the oper class for
// operators, an exempt class for exempt addresses, else "user".
func (f *Flood) For(addr netip.Addr, oper bool) *FloodClass {
	if oper {
		return f.oper
	}
	if addr.IsValid() && f.exemptNets.contains(plainAddr(addr)) {
		return f.exempt
	}
	return f.user
}
