package guard

// Reconfiguring a running server (REHASH, SIGHUP).
//
// A Guard is never changed in place: its mechanisms are read without locks
// from every event loop. Reconfigure builds a new Guard for the caller to
// publish (an atomic pointer swap); the new one shares or takes over every
// piece of state the old one had learnt, so a reload forgets nothing that
// protects the server.

// Reconfigure returns a Guard that applies cfg from now on and keeps the
// state g has gathered:
//
//   - bans and suspensions are the same objects (shared);
//   - the per-block connection counts and throttle clocks carry over, so
//     every connection admitted before is still counted and released;
//   - a detector keeps its counts and offence history when its keying (window,
//     prefix lengths) and size are unchanged; otherwise it starts counting
//     afresh;
//   - a quota keeps its clocks under the same condition, and so does the
//     login throttle;
//   - flood classes, exemptions and text limits are the new ones. Budgets
//     hold their class: a connection whose class Flood.Owns no longer
//     reports must be classed again (its debt is kept).
//
// Settings that key or size the shared state cannot change under it. They
// keep g's values and are listed in kept, as TOML keys relative to [guard]:
// casemapping, connections.prefix_v4, connections.prefix_v6,
// connections.max_entries, bans.min_prefix_v4 and bans.min_prefix_v6. A
// restart applies them.
//
// An invalid cfg returns the error New would and leaves g as it was.
//
// One approximation: a connection admitted while its address was exempt
// from the connection limits and released after the exemption was removed
// (or the reverse) is not counted on one side; the count of its block is
// off by one until that block's connections close.
func (g *Guard) Reconfigure(cfg Config) (ng *Guard, kept []string, err error) {
	cm, err := CaseMappingByName(cfg.CaseMapping)
	if err != nil {
		return nil, nil, err
	}
	keep := func(key string, same bool) bool {
		if !same {
			kept = append(kept, key)
		}
		return !same
	}
	if keep("casemapping", cm == g.CaseMapping) {
		cfg.CaseMapping = g.CaseMapping.Name()
	}
	cc := &cfg.Connections
	if keep("connections.prefix_v4", cc.PrefixV4 == g.Conns.bits4) {
		cc.PrefixV4 = g.Conns.bits4
	}
	if keep("connections.prefix_v6", cc.PrefixV6 == g.Conns.bits6) {
		cc.PrefixV6 = g.Conns.bits6
	}
	keep("connections.max_entries", cc.MaxEntries >= numShards && perShardOf(cc.MaxEntries) == g.Conns.tab.perShard)
	if keep("bans.min_prefix_v4", cfg.Bans.MinPrefixV4 == g.Bans.minV4) {
		cfg.Bans.MinPrefixV4 = g.Bans.minV4
	}
	if keep("bans.min_prefix_v6", cfg.Bans.MinPrefixV6 == g.Bans.minV6) {
		cfg.Bans.MinPrefixV6 = g.Bans.minV6
	}

	// New validates every setting, the kept sizes included: a value that
	// would fail at the next start is refused now.
	ng, err = New(cfg)
	if err != nil {
		return nil, nil, err
	}
	ng.CaseMapping = g.CaseMapping
	ng.Bans = g.Bans
	ng.Suspensions = g.Suspensions
	ng.Logins.carry(g.Logins)
	ng.Conns.bans = g.Bans
	ng.Conns.tab = g.Conns.tab
	ng.Detect.carry(g.Detect)
	ng.Registrations.carry(g.Registrations)
	ng.Invites.carry(g.Invites)
	return ng, kept, nil
}

func perShardOf(maxEntries int) int { return max(1, maxEntries/numShards) }

// carry takes over old's tables for every kind keyed and sized as before:
// an entry's buckets are numbered in units of the rule's bucket width and
// its key is the address masked to the rule's prefix, so only then do the
// stored counts mean the same thing.
func (d *Detector) carry(old *Detector) {
	d.cm = old.cm
	for k := Kind(0); k < numKinds; k++ {
		n, o := &d.rules[k], &old.rules[k]
		if n.bucket != o.bucket {
			continue
		}
		if n.accountKey {
			if d.accts.perShard == old.accts.perShard {
				d.accts = old.accts
			}
			continue
		}
		if n.bits4 == o.bits4 && n.bits6 == o.bits6 && d.ips[k].perShard == old.ips[k].perShard {
			d.ips[k] = old.ips[k]
		}
	}
}

// carry takes over old's penalty clocks when both quotas are enabled and
// keyed and sized alike. A clock is an instant, so it stays meaningful under
// a new limit or window: the key simply refills at the new pace.
func (q *Quota) carry(old *Quota) {
	if q.interval == 0 || old.interval == 0 || q.bits4 != old.bits4 || q.bits6 != old.bits6 ||
		q.ips.perShard != old.ips.perShard {
		return
	}
	q.cm = old.cm
	q.ips, q.names = old.ips, old.names
}

// carry takes over old's tables when keyed and sized alike. Its clocks
// are instants, so they stay meaningful under new limits or a new window.
func (l *Logins) carry(old *Logins) {
	if l.bits4 != old.bits4 || l.bits6 != old.bits6 || l.pairs.perShard != old.pairs.perShard {
		return
	}
	l.cm = old.cm
	l.pairs, l.accts = old.pairs, old.accts
}

// Owns reports whether c is a class that f hands out. A Budget charging
// against another class was classed by a Flood that a Reconfigure has since
// replaced; the caller classes it again with For.
func (f *Flood) Owns(c *FloodClass) bool {
	return c == f.user || c == f.oper || c == f.exempt
}
