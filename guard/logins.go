package guard

import (
	"fmt"
	"net/netip"
	"time"
)

// LoginConfig throttles password guessing without handing attackers a way
// to lock owners out of their accounts. Guesses are limited per (account,
// address block): an attacker's block runs out of attempts on an account
// while the owner, from another block, does not. Across all blocks an
// account under attack is only slowed: every attempt on it waits before
// its answer, the right password included, and none is refused for that.
type LoginConfig struct {
	// PerAddress failed logins to one account from one address block are
	// allowed at once; then one more every Window/PerAddress. Past that,
	// attempts from the block on the account are refused without checking
	// the password. 0 disables the throttle.
	PerAddress int           `toml:"per_address"`
	Window     time.Duration `toml:"window"`
	// SlowAfter failed logins to one account, counted in a bucket that
	// drains SlowAfter per Window, make every further attempt on it wait
	// Delay before it is checked, doubling with each further failure up to
	// MaxDelay. 0 disables the slow-down.
	SlowAfter int           `toml:"slow_after"`
	Delay     time.Duration `toml:"delay"`
	MaxDelay  time.Duration `toml:"max_delay"`
	// Prefix lengths grouping addresses; 0 means the connection
	// limiter's ([guard.connections]).
	PrefixV4 int `toml:"prefix_v4"`
	PrefixV6 int `toml:"prefix_v6"`
	// MaxEntries caps the accounts and the (account, block) pairs tracked.
	MaxEntries int `toml:"max_entries"`
}

// DefaultLoginConfig: 5 failures per account from one address, then one
// every 2 minutes (ergo allows 3 a minute per account, refusing everyone
// after that, the owner included); past 5 failures on an account within
// 10 minutes, attempts wait 1s, 2s, 4s, 8s, then 10s each.
func DefaultLoginConfig() LoginConfig {
	return LoginConfig{
		PerAddress: 5, Window: 10 * time.Minute,
		SlowAfter: 5, Delay: time.Second, MaxDelay: 10 * time.Second,
		MaxEntries: 1 << 16,
	}
}

// LoginVerdict is what Check decided about one login attempt.
type LoginVerdict struct {
	// Refused: this block has used its attempts on the account; do not
	// check the password. RetryIn says when the next attempt is allowed.
	Refused bool
	RetryIn time.Duration
	// Delay: the account is under attack; answer no sooner than this.
	Delay time.Duration
}

// Logins keeps the login throttle's state, in memory and bounded by
// MaxEntries; shared by all goroutines. (How many logins failed since the
// owner's last one is the caller's to store: it must outlive restarts.)
//
// Password logins call Check first, then Failed or Succeeded with the
// outcome. A certificate login cannot be guessed: it skips Check and
// calls only Succeeded.
type Logins struct {
	cm       *CaseMapping
	pairGap  int64 // per-address throttle: ticks per failure (GCRA)
	window   int64
	bits4    int
	bits6    int
	slowGap  int64 // account bucket: ticks one failure takes to drain
	slowN    int64 // failures in the bucket from which attempts are slowed
	delay    time.Duration
	maxDelay time.Duration
	pairs    *table[loginPair, int64]
	accts    *table[string, int64] // the slow-down bucket's clock per account
}

// loginPair is an (account, address block) key; the account is folded
// and cut to maxAccountKey.
type loginPair struct {
	acct string
	net  prefixKey
}

// NewLogins compiles cfg. conns, when not nil, supplies the prefix
// lengths that cfg leaves at 0 (else one IPv4 address, one IPv6 /64).
func NewLogins(cfg LoginConfig, cm *CaseMapping, conns *ConnLimiter) (*Logins, error) {
	if cm == nil {
		cm = RFC1459
	}
	if cfg.PerAddress < 0 || cfg.SlowAfter < 0 || cfg.Delay < 0 || cfg.MaxDelay < 0 {
		return nil, fmt.Errorf("guard: logins: limits must not be negative")
	}
	if (cfg.PerAddress > 0 || cfg.SlowAfter > 0) && cfg.Window <= 0 {
		return nil, fmt.Errorf("guard: logins: window must be positive")
	}
	if cfg.MaxEntries < numShards {
		return nil, fmt.Errorf("guard: logins: max_entries %d below %d", cfg.MaxEntries, numShards)
	}
	l := &Logins{cm: cm, window: int64(cfg.Window), bits4: cfg.PrefixV4, bits6: cfg.PrefixV6,
		delay: cfg.Delay, maxDelay: max(cfg.MaxDelay, cfg.Delay)}
	def4, def6 := 32, 64
	if conns != nil {
		def4, def6 = conns.Prefixes()
	}
	if l.bits4 == 0 {
		l.bits4 = def4
	}
	if l.bits6 == 0 {
		l.bits6 = def6
	}
	if l.bits4 < 1 || l.bits4 > 32 || l.bits6 < 1 || l.bits6 > 128 {
		return nil, fmt.Errorf("guard: logins: prefix lengths %d/%d out of range", l.bits4, l.bits6)
	}
	if cfg.PerAddress > 0 {
		l.pairGap = max(1, l.window/int64(cfg.PerAddress))
	}
	if cfg.SlowAfter > 0 {
		l.slowGap = max(1, l.window/int64(cfg.SlowAfter))
		l.slowN = int64(cfg.SlowAfter)
	}
	l.pairs = newTable[loginPair, int64](cfg.MaxEntries, func(k loginPair) uint64 { return hashString(k.acct) ^ k.net.hash() })
	l.accts = newTable[string, int64](cfg.MaxEntries, hashString)
	return l, nil
}

func (l *Logins) fold(account string) string {
	if len(account) > maxAccountKey {
		account = account[:maxAccountKey]
	}
	return l.cm.Fold(account)
}

func (l *Logins) pair(acct string, addr netip.Addr) loginPair {
	return loginPair{acct: acct, net: keyOf(plainAddr(addr), l.bits4, l.bits6)}
}

// Check decides on a password attempt on account from addr, before the
// password is looked at. It changes nothing: only outcomes are counted.
func (l *Logins) Check(account string, addr netip.Addr, now time.Time) LoginVerdict {
	t := ticks(now)
	acct := l.fold(account)
	var v LoginVerdict
	if l.pairGap > 0 && addr.IsValid() {
		k := l.pair(acct, addr)
		s := l.pairs.lock(k)
		tat, ok := s.m[k]
		s.mu.Unlock()
		// The next failure would push the clock past the window: this
		// block has no attempt left until one interval drains.
		if over := tat + l.pairGap - t - l.window; ok && over > 0 {
			return LoginVerdict{Refused: true, RetryIn: time.Duration(over)}
		}
	}
	if l.slowGap > 0 {
		s := l.accts.lock(acct)
		tat, ok := s.m[acct]
		s.mu.Unlock()
		// Failures still in the bucket, each partly drained one counted.
		if n := (tat - t + l.slowGap - 1) / l.slowGap; ok && n >= l.slowN {
			v.Delay = l.delayFor(int(n - l.slowN))
		}
	}
	return v
}

// delayFor is Delay doubled for each failure past the threshold, capped.
func (l *Logins) delayFor(extra int) time.Duration {
	d := l.delay
	for range min(extra, 32) {
		if d >= l.maxDelay {
			break
		}
		d *= 2
	}
	return min(d, l.maxDelay)
}

// Failed records a wrong password for account from addr. Every name
// counts alike, existing or not, so that the throttle's answers do not
// tell which accounts exist.
func (l *Logins) Failed(account string, addr netip.Addr, now time.Time) {
	t := ticks(now)
	acct := l.fold(account)
	if l.pairGap > 0 && addr.IsValid() {
		k := l.pair(acct, addr)
		s := l.pairs.lock(k)
		gcraAdd(s, l.pairs.perShard, k, t, l.pairGap, 0)
		s.mu.Unlock()
	}
	if l.slowGap > 0 {
		// The bucket holds at most 32 failures past the threshold: more
		// than MaxDelay needs, and it drains in bounded time.
		s := l.accts.lock(acct)
		gcraAdd(s, l.accts.perShard, acct, t, l.slowGap, (l.slowN+32)*l.slowGap)
		s.mu.Unlock()
	}
}

// gcraAdd advances k's clock in the locked shard s by gap (from now at
// the earliest), to at most now+limit when limit > 0. Only drained keys
// make room, so a flood of new names cannot wipe out the throttle of an
// attack in progress; a key that finds none is not tracked: the throttle
// fails open rather than refuse logins for want of memory, and the
// auth-fail-ip detector still counts.
func gcraAdd[K comparable](s *shard[K, int64], per int, k K, now, gap, limit int64) {
	tat, ok := s.m[k]
	if !ok {
		if !s.makeRoom(per, now, drainedEvict) {
			return
		}
		tat = now
	}
	tat = max(tat, now) + gap
	if limit > 0 {
		tat = min(tat, now+limit)
	}
	s.m[k] = tat
}

// Succeeded records a successful login to account from addr (addr may be
// invalid for logins that have none): that block's failures on the
// account are forgotten. The account's slow-down stays: an attack in
// progress goes on.
func (l *Logins) Succeeded(account string, addr netip.Addr) {
	if l.pairGap == 0 || !addr.IsValid() {
		return
	}
	k := l.pair(l.fold(account), addr)
	s := l.pairs.lock(k)
	delete(s.m, k)
	s.mu.Unlock()
}

// Prune drops drained entries and returns how many.
func (l *Logins) Prune(now time.Time) int {
	t := ticks(now)
	return l.pairs.prune(t, drainedEvict) + l.accts.prune(t, drainedEvict)
}

// drainedEvict: a key whose clock has drained carries nothing; no other
// may be evicted.
func drainedEvict(tat *int64, now int64) (expired, idle bool) { return *tat <= now, *tat <= now }
