package chat

import (
	"strconv"
	"strings"
	"time"

	"laird/codec"
	"laird/kv"
)

// handleAudit lets operators query the audit trail:
//
//	AUDIT [action=<a>] [actor=<nick>] [target=<t>] [since=<duration>] [limit=<n>]
//
// The query reads the store, so it runs off the event loop.
func handleAudit(o *op, m *codec.Message) {
	s, c := o.s, o.c
	if s.store == nil {
		r := c.replies()
		r.fail("AUDIT", "DISABLED", "", "No store")
		o.reply(r)
		return
	}
	q := kv.AuditQuery{Limit: 50}
	for _, p := range m.Params() {
		key, val, ok := strings.Cut(string(p), "=")
		if !ok {
			r := c.replies()
			r.fail("AUDIT", "INVALID_PARAMS", string(p), "Filters are key=value: action, actor, target, since, limit")
			o.reply(r)
			return
		}
		switch strings.ToLower(key) {
		case "action":
			q.Action = val
		case "actor":
			q.Actor = val
		case "target":
			q.Target = val
		case "since":
			if d, err := parseDuration(val); err == nil {
				q.Since = time.Now().Add(-d)
			}
		case "limit":
			if n, err := strconv.Atoi(val); err == nil && n > 0 && n <= 1000 {
				q.Limit = n
			}
		}
	}
	var (
		entries []kv.AuditEntry
		err     error
	)
	o.offload(auditPool, func() { entries, err = s.store.Audit(q) }, func() {
		r := o.replies()
		defer o.reply(r)
		if err != nil {
			r.fail("AUDIT", "TEMPORARILY_UNAVAILABLE", "", "Audit query failed: "+err.Error())
			return
		}
		for _, e := range entries {
			line := e.Time.UTC().Format(time.RFC3339) + " " + e.Actor + " " + e.Action + " " + e.Target
			if e.IP != "" {
				line += " from " + e.IP
			}
			if e.Reason != "" {
				line += " :" + e.Reason
			}
			r.cmd(s.name, "NOTICE", true, c.Nick(), "AUDIT "+line)
		}
		r.cmd(s.name, "NOTICE", true, c.Nick(), "AUDIT end: "+strconv.Itoa(len(entries))+" entries")
	})
}
