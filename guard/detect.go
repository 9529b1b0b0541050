package guard

import (
	"fmt"
	"net/netip"
	"time"
)

// Kind names a detector: the abuse pattern an observation reports.
type Kind uint8

const (
	// AuthFailIP: a failed SASL/PASS/OPER authentication, keyed by IP.
	AuthFailIP Kind = iota
	// AuthFailAccount: a failed authentication, keyed by account name.
	AuthFailAccount
	// FloodDisconnect: a connection closed for Excess Flood, keyed by IP.
	FloodDisconnect
	// ConnStorm: a connection attempt (admitted or not), keyed by IP; the
	// rule's prefix usually groups a whole CIDR.
	ConnStorm
	// RegTimeout: a connection that never completed registration, by IP.
	RegTimeout
	numKinds
)

var kindNames = [numKinds]string{"auth-fail-ip", "auth-fail-account", "flood-disconnect", "conn-storm", "reg-timeout"}

var kindReasons = [numKinds]string{
	"Too many failed authentication attempts",
	"Too many failed authentication attempts for this account",
	"Repeated flooding",
	"Too many connections from your network",
	"Too many incomplete registrations",
}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Action is what the caller must do when a detector fires.
type Action uint8

const (
	// ActionNotice: only tell the operators.
	ActionNotice Action = iota
	// ActionDLine: add a temporary DLINE on Response.Net, disconnect the
	// clients it matches, audit it, and tell the operators if Notify.
	ActionDLine
)

func (a Action) String() string {
	switch a {
	case ActionNotice:
		return "notice"
	case ActionDLine:
		return "dline"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// RuleConfig configures one detector. It fires when Threshold observations
// for one key fall within Window (a sliding window in eighths of Window).
type RuleConfig struct {
	// Threshold observations within Window fire the rule; 0 disables it.
	Threshold int           `toml:"threshold"`
	Window    time.Duration `toml:"window"`
	// Action: "dline" (address rules) or "notice".
	Action string `toml:"action"`
	// Durations of the DLINE for the 1st, 2nd, ... offence within Memory;
	// the last one repeats.
	Durations []time.Duration `toml:"durations"`
	// Memory is how long an offence counts towards escalation.
	Memory time.Duration `toml:"memory"`
	// Prefix lengths grouping IP keys (the DLINE covers the same block).
	// 0 means the connection limiter's prefix ([guard.connections]), so
	// that no detector bans a wider block than one customer's unless
	// configured to.
	PrefixV4 int `toml:"prefix_v4"`
	PrefixV6 int `toml:"prefix_v6"`
	// Notify operators when the rule fires.
	Notify bool `toml:"notify"`
}

// DetectConfig configures every detector.
type DetectConfig struct {
	AuthFailIP      RuleConfig `toml:"auth_fail_ip"`
	AuthFailAccount RuleConfig `toml:"auth_fail_account"`
	FloodDisconnect RuleConfig `toml:"flood_disconnect"`
	ConnStorm       RuleConfig `toml:"conn_storm"`
	RegTimeout      RuleConfig `toml:"reg_timeout"`
	// MaxEntries caps the keys each detector tracks.
	MaxEntries int `toml:"max_entries"`
}

// DefaultDetectConfig: bans escalate 10m, 1h, 24h within a day of memory,
// and cover the connection limiter's block (one IPv4 address, one IPv6
// /64) unless a rule sets its own prefix.
//   - 20 failed logins from one address in 10 minutes: DLINE (the case in
//     issue 7). ergo merely throttles logins (3 a minute per account);
//     a ban stops a guessing bot from using its connections elsewhere.
//   - 10 failures on one account in 10 minutes: tell the operators. The
//     account itself is protected by the login throttle (Logins), which
//     slows guesses down instead of locking the owner out: a lockout let
//     anyone lock anyone out with ten wrong passwords (issue 15).
//   - 3 flood disconnects in 10 minutes: DLINE.
//   - 50 connection attempts in a minute from one address: DLINE
//     (InspIRCd's connectban bans at 10 per hour from one address; the
//     per-address throttle already refuses most of those). A /24 was the
//     default once: 60 connections from a loopback gateway banned all of
//     127.0.0.0/24 (issue 15).
//   - 10 registration timeouts in 10 minutes: DLINE (scanners, bots).
func DefaultDetectConfig() DetectConfig {
	bans := []time.Duration{10 * time.Minute, time.Hour, 24 * time.Hour}
	ip := func(threshold int, window time.Duration) RuleConfig {
		return RuleConfig{Threshold: threshold, Window: window, Action: "dline", Durations: bans,
			Memory: 24 * time.Hour, Notify: true}
	}
	return DetectConfig{
		AuthFailIP:      ip(20, 10*time.Minute),
		AuthFailAccount: RuleConfig{Threshold: 10, Window: 10 * time.Minute, Action: "notice", Memory: 24 * time.Hour, Notify: true},
		FloodDisconnect: ip(3, 10*time.Minute),
		ConnStorm:       ip(50, time.Minute),
		RegTimeout:      ip(10, 10*time.Minute),
		MaxEntries:      1 << 16,
	}
}

func (c *DetectConfig) rule(k Kind) *RuleConfig {
	switch k {
	case AuthFailIP:
		return &c.AuthFailIP
	case AuthFailAccount:
		return &c.AuthFailAccount
	case FloodDisconnect:
		return &c.FloodDisconnect
	case ConnStorm:
		return &c.ConnStorm
	default:
		return &c.RegTimeout
	}
}

// Key identifies what an observation is about: an address (IPKey) or an
// account (AccountKey).
type Key struct {
	addr netip.Addr
	name string
}

// IPKey keys an observation by client address.
func IPKey(addr netip.Addr) Key { return Key{addr: plainAddr(addr)} }

// AccountKey keys an observation by account name.
func AccountKey(account string) Key { return Key{name: account} }

// Response tells the caller how to react to a fired detector. The caller
// applies it: adds the DLINE to the BanList (mask IPMaskString(Net),
// reason Reason(), expiry now+Duration), disconnects matching clients,
// writes the audit record, notifies operators.
type Response struct {
	Kind     Kind
	Action   Action
	Net      netip.Prefix  // ActionDLine: the block to ban
	Account  string        // account rules: the account, as observed
	Duration time.Duration // DLINE duration
	Offence  int           // 1 for a first offence within the memory period
	Events   int           // observations in the window when it fired
	Notify   bool
}

// Reason is the ban or notice text for the response.
func (r *Response) Reason() string { return kindReasons[r.Kind] }

// Detector counts abuse observations per key and decides responses. Shared
// by all goroutines; each kind's keys live in a bounded sharded table.
// Exempt addresses are not observed, and no D-line it decides covers one.
type Detector struct {
	cm     *CaseMapping
	exempt *Exemptions
	rules  [numKinds]rule
	ips    [numKinds]*table[prefixKey, detEntry]
	accts  *table[string, detEntry]
}

type rule struct {
	threshold  int
	bucket     int64 // window / numBuckets, ticks
	action     Action
	durations  []time.Duration
	memory     int64
	bits4      int
	bits6      int
	notify     bool
	accountKey bool
}

const numBuckets = 8

// detEntry is one key's sliding window (numBuckets counters, the newest
// at index head%numBuckets) and its offence history.
type detEntry struct {
	counts      [numBuckets]uint16
	head        int64 // bucket number (tick / bucket width) of the newest bucket
	offences    int32
	lastOffence int64
	expires     int64 // tick after which the entry carries no information
}

// NewDetector compiles cfg. conns, when not nil, supplies the exempt
// blocks and the prefix lengths of rules that leave theirs at 0; without
// it nothing is exempt and those rules count one IPv4 address or IPv6 /64.
func NewDetector(cfg DetectConfig, cm *CaseMapping, conns *ConnLimiter) (*Detector, error) {
	if cm == nil {
		cm = RFC1459
	}
	if cfg.MaxEntries < numShards {
		return nil, fmt.Errorf("guard: detect max_entries %d below %d", cfg.MaxEntries, numShards)
	}
	d := &Detector{cm: cm}
	def4, def6 := 32, 64
	if conns != nil {
		d.exempt = conns.Exempt()
		def4, def6 = conns.Prefixes()
	}
	for k := Kind(0); k < numKinds; k++ {
		rc := cfg.rule(k)
		r := rule{threshold: rc.Threshold, memory: int64(rc.Memory), bits4: rc.PrefixV4, bits6: rc.PrefixV6,
			notify: rc.Notify, accountKey: k == AuthFailAccount, durations: append([]time.Duration(nil), rc.Durations...)}
		if r.bits4 == 0 {
			r.bits4 = def4
		}
		if r.bits6 == 0 {
			r.bits6 = def6
		}
		if r.threshold < 0 || r.threshold > 1<<15 {
			return nil, fmt.Errorf("guard: detector %v: threshold %d outside [0, 32768]", k, r.threshold)
		}
		if r.threshold > 0 {
			if rc.Window < numBuckets {
				return nil, fmt.Errorf("guard: detector %v: window %v too short", k, rc.Window)
			}
			r.bucket = int64(rc.Window) / numBuckets
			switch rc.Action {
			case "notice":
				r.action = ActionNotice
			case "dline":
				r.action = ActionDLine
			case "lockout":
				return nil, fmt.Errorf("guard: detector %v: action \"lockout\" was removed (it let anyone lock an owner out of their account); [guard.logins] throttles guessing instead: use \"notice\"", k)
			default:
				return nil, fmt.Errorf("guard: detector %v: unknown action %q", k, rc.Action)
			}
			if r.action == ActionDLine && r.accountKey {
				return nil, fmt.Errorf("guard: detector %v: action %q does not apply to its key", k, rc.Action)
			}
			if r.action != ActionNotice && len(r.durations) == 0 {
				return nil, fmt.Errorf("guard: detector %v: action %q needs durations", k, rc.Action)
			}
			for _, du := range r.durations {
				if du <= 0 {
					return nil, fmt.Errorf("guard: detector %v: durations must be positive", k)
				}
			}
			if !r.accountKey && (r.bits4 < 1 || r.bits4 > 32 || r.bits6 < 1 || r.bits6 > 128) {
				return nil, fmt.Errorf("guard: detector %v: prefix lengths %d/%d out of range", k, r.bits4, r.bits6)
			}
		}
		d.rules[k] = r
		if r.accountKey {
			d.accts = newTable[string, detEntry](cfg.MaxEntries, hashString)
		} else {
			d.ips[k] = newTable[prefixKey, detEntry](cfg.MaxEntries, hashPrefixKey)
		}
	}
	return d, nil
}

// maxAccountKey bounds the stored account key; longer names are cut, which
// only merges counters of absurdly long names.
const maxAccountKey = 64

// Observe records one event of the kind for key at now. When the rule's
// threshold is reached it resets that key's window, counts an offence, and
// returns the response to apply. An IP kind ignores a key without an
// address or with an exempt one, and narrows a D-line's block until it
// covers no exempt address; the account kind ignores a key without a
// name. Observations of a disabled rule are ignored. It does not
// allocate, except to fold an account name that is not already in folded
// form.
func (d *Detector) Observe(kind Kind, key Key, now time.Time) (Response, bool) {
	if kind >= numKinds {
		return Response{}, false
	}
	r := &d.rules[kind]
	if r.threshold == 0 {
		return Response{}, false
	}
	t := ticks(now)
	if r.accountKey {
		if key.name == "" {
			return Response{}, false
		}
		name := key.name
		if len(name) > maxAccountKey {
			name = name[:maxAccountKey]
		}
		name = d.cm.Fold(name)
		s := d.accts.lock(name)
		defer s.mu.Unlock()
		resp, ok := observeIn(kind, r, s, d.accts.perShard, name, t)
		if ok {
			resp.Account = key.name
		}
		return resp, ok
	}
	if !key.addr.IsValid() || d.exempt.Contains(key.addr) {
		return Response{}, false
	}
	k := keyOf(key.addr, r.bits4, r.bits6)
	s := d.ips[kind].lock(k)
	resp, ok := observeIn(kind, r, s, d.ips[kind].perShard, k, t)
	s.mu.Unlock()
	if ok {
		bits := r.bits6
		if key.addr.Is4() {
			bits = r.bits4
		}
		resp.Net = d.exempt.Narrow(netip.PrefixFrom(key.addr, bits).Masked(), key.addr)
	}
	return resp, ok
}

// observeIn updates key k's entry in the locked shard s.
func observeIn[K comparable](kind Kind, r *rule, s *shard[K, detEntry], per int, k K, t int64) (Response, bool) {
	b := floorDiv(t, r.bucket)
	e, ok := s.m[k]
	if !ok {
		if !s.makeRoom(per, t, detEvict) {
			return Response{}, false
		}
		e.head = b
	}
	n := e.advance(b) + 1
	e.counts[e.head&(numBuckets-1)]++ // cannot wrap: a bucket holds < threshold <= 1<<15
	e.expires = max(e.expires, (e.head+numBuckets)*r.bucket)
	if n < r.threshold {
		s.m[k] = e
		return Response{}, false
	}
	// Fired: start a fresh window so the next response needs a fresh
	// burst, and escalate if the last offence is still remembered.
	e.counts = [numBuckets]uint16{}
	if e.offences > 0 && t-e.lastOffence > r.memory {
		e.offences = 0
	}
	e.offences++
	e.lastOffence = t
	e.expires = max(e.expires, t+r.memory)
	s.m[k] = e
	resp := Response{Kind: kind, Action: r.action, Offence: int(e.offences), Events: n, Notify: r.notify}
	if len(r.durations) > 0 {
		resp.Duration = r.durations[min(int(e.offences), len(r.durations))-1]
	}
	return resp, true
}

// advance moves the window to bucket b, clearing buckets that fell out of
// it, and returns the count of the window.
func (e *detEntry) advance(b int64) int {
	if gap := b - e.head; gap > 0 {
		if gap >= numBuckets {
			e.counts = [numBuckets]uint16{}
		} else {
			for i := e.head + 1; i <= b; i++ {
				e.counts[i&(numBuckets-1)] = 0
			}
		}
		e.head = b
	}
	n := 0
	for _, c := range e.counts {
		n += int(c)
	}
	return n
}

// detEvict: detector entries hold no live resource, so any may be evicted
// when a shard is full (losing one key's count); expired ones go first.
func detEvict(e *detEntry, now int64) (expired, idle bool) { return now >= e.expires, true }

// Reset forgets a key's window (not its offence history), for example after
// a successful login from that address or to that account.
func (d *Detector) Reset(kind Kind, key Key) {
	if kind >= numKinds {
		return
	}
	r := &d.rules[kind]
	if r.accountKey {
		name := key.name
		if len(name) > maxAccountKey {
			name = name[:maxAccountKey]
		}
		name = d.cm.Fold(name)
		s := d.accts.lock(name)
		defer s.mu.Unlock()
		if e, ok := s.m[name]; ok {
			e.counts = [numBuckets]uint16{}
			s.m[name] = e
		}
		return
	}
	if !key.addr.IsValid() {
		return
	}
	k := keyOf(key.addr, r.bits4, r.bits6)
	s := d.ips[kind].lock(k)
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		e.counts = [numBuckets]uint16{}
		s.m[k] = e
	}
}

// Prune drops keys whose window and offence memory have both lapsed; call
// it from a timer. Returns how many were dropped.
func (d *Detector) Prune(now time.Time) int {
	t := ticks(now)
	n := d.accts.prune(t, detEvict)
	for _, tab := range d.ips {
		if tab != nil {
			n += tab.prune(t, detEvict)
		}
	}
	return n
}

// Len returns the number of keys tracked by a kind.
func (d *Detector) Len(kind Kind) int {
	if kind >= numKinds {
		return 0
	}
	if d.rules[kind].accountKey {
		return d.accts.len()
	}
	return d.ips[kind].len()
}

// floorDiv divides rounding towards minus infinity, so that bucket
// boundaries stay evenly spaced for times before the package epoch.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}
