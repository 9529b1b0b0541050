package chat

import (
	"strings"

	"laird/codec"
	"laird/guard"
	"laird/perf"
)

// RPL_STATSDEBUG carries free-form STATS lines (as ircu and InspIRCd use
// it).
const rplStatsDebug = "249"

// handleStats implements STATS. STATS L is laird's latency table (the
// same numbers as /debug/status): p50/p99/p99.9 per command, for
// operators; STATS u is uptime for everyone.
func handleStats(o *op, m *codec.Message) {
	s, c := o.s, o.c
	letter := string(m.Param(0))
	r := c.replies()
	defer o.reply(r)
	switch letter {
	case "L", "l":
		if c.Identity().Modes&UModeOper == 0 {
			r.numeric(codec.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
			return
		}
		if s.perf == nil {
			r.numeric(rplStatsDebug, "L", "monitoring is disabled ([metrics] enabled = false)")
			break
		}
		for _, line := range perf.LatencyLines(s.perf.Snapshot(), 30) {
			r.numeric(rplStatsDebug, "L", strings.TrimRight(line, " "))
		}
	case "k", "K":
		if c.Identity().Modes&UModeOper == 0 {
			r.numeric(codec.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
			return
		}
		s.statsBans(r, guard.KLine)
	case "d", "D":
		if c.Identity().Modes&UModeOper == 0 {
			r.numeric(codec.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
			return
		}
		s.statsBans(r, guard.DLine)
	case "u":
		up := timeSince(s.cfg.Created)
		r.numeric(codec.RPL_STATSUPTIME, "Server Up "+up)
	}
	r.numeric(codec.RPL_ENDOFSTATS, orStar(letter), "End of /STATS report")
}
