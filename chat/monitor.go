package chat

import (
	"strconv"
	"strings"

	"laird/codec"
)

// MONITOR (IRCv3): each client's list lives on its loop (Client.monitor);
// the reverse index, who watches a nick, lives on the shard owning that
// nick, which is also where the nick comes and goes, so notifications need
// no further coordination.

func handleMonitor(o *op, m *codec.Message) {
	s, c := o.s, o.c
	switch strings.ToUpper(string(m.Param(0))) {
	case "+":
		if m.NParams() < 2 {
			needMore(o, "MONITOR")
			return
		}
		monitorAdd(o, splitList(m.Param(1)))
	case "-":
		if m.NParams() < 2 {
			needMore(o, "MONITOR")
			return
		}
		for _, n := range splitList(m.Param(1)) {
			folded := s.cm.Fold(n)
			if _, ok := c.monitor[folded]; ok {
				delete(c.monitor, folded)
				s.monitors.Add(-1)
				s.post(s.shardOf(folded), func(sh *shard, _ *batch) { sh.unwatch(folded, c) })
			}
		}
	case "C":
		monitorClear(s, c)
	case "L":
		r := c.replies()
		var names []string
		for _, n := range c.monitor {
			names = append(names, n)
		}
		for _, chunk := range chunkJoin(names, 400) {
			r.numeric(codec.RPL_MONLIST, chunk)
		}
		r.numeric(codec.RPL_ENDOFMONLIST, "End of MONITOR list")
		o.reply(r)
	case "S":
		var folded []string
		for f := range c.monitor {
			folded = append(folded, f)
		}
		s.lookupNicks(o, folded, func(found map[string]*user) {
			r := o.replies()
			monitorStatus(r, c, folded, found)
			o.reply(r)
		})
	default:
		o.numeric(codec.ERR_UNKNOWNCOMMAND, "MONITOR", "Unknown MONITOR subcommand")
	}
}

func needMore(o *op, cmd string) {
	o.numeric(codec.ERR_NEEDMOREPARAMS, cmd, "Not enough parameters")
}

func monitorAdd(o *op, nicks []string) {
	s, c := o.s, o.c
	if c.monitor == nil {
		c.monitor = make(map[string]string)
	}
	var added []string
	var full []string
	for _, n := range nicks {
		if !codec.ValidNick([]byte(n), s.cfg.NickLen) {
			continue
		}
		folded := s.cm.Fold(n)
		if _, ok := c.monitor[folded]; ok {
			added = append(added, folded)
			continue
		}
		if len(c.monitor) >= s.cfg.MaxMonitor {
			full = append(full, n)
			continue
		}
		c.monitor[folded] = n
		s.monitors.Add(1)
		added = append(added, folded)
		s.post(s.shardOf(folded), func(sh *shard, _ *batch) { sh.watch(folded, c) })
	}
	if len(full) > 0 {
		o.numeric(codec.ERR_MONLISTFULL, strconv.Itoa(s.cfg.MaxMonitor), strings.Join(full, ","), "Monitor list is full.")
	}
	s.lookupNicks(o, added, func(found map[string]*user) {
		r := o.replies()
		monitorStatus(r, c, added, found)
		o.reply(r)
	})
}

func monitorStatus(r *replies, c *Client, folded []string, found map[string]*user) {
	var on, off []string
	for _, f := range folded {
		if t := found[f]; t != nil {
			on = append(on, t.Identity().Prefix)
		} else {
			off = append(off, c.monitor[f])
		}
	}
	for _, chunk := range chunkJoin(on, 400) {
		r.numeric(codec.RPL_MONONLINE, chunk)
	}
	for _, chunk := range chunkJoin(off, 400) {
		r.numeric(codec.RPL_MONOFFLINE, chunk)
	}
}

func monitorClear(s *Server, c *Client) {
	s.monitors.Add(-int64(len(c.monitor)))
	for folded := range c.monitor {
		s.post(s.shardOf(folded), func(sh *shard, _ *batch) { sh.unwatch(folded, c) })
	}
	c.monitor = nil
}

func (sh *shard) watch(folded string, c *Client) {
	w := sh.watchers[folded]
	if w == nil {
		w = make(map[*Client]struct{})
		sh.watchers[folded] = w
	}
	w[c] = struct{}{}
}

func (sh *shard) unwatch(folded string, c *Client) {
	if w := sh.watchers[folded]; w != nil {
		delete(w, c)
		if len(w) == 0 {
			delete(sh.watchers, folded)
		}
	}
}

// monitorNotify tells the watchers of folded that id came online or went
// offline. It posts to the nick's shard.
func (s *Server) monitorNotify(folded string, id *Identity, online bool) {
	if s.monitors.Load() == 0 {
		return // nobody monitors anything: no shard hop per connect and quit
	}
	s.post(s.shardOf(folded), func(sh *shard, b *batch) {
		w := sh.watchers[folded]
		if len(w) == 0 {
			return
		}
		// Each watcher's line names it (730/731 carry the recipient's
		// nick like any numeric), so it is encoded once per watcher.
		param, num := id.Nick, codec.RPL_MONOFFLINE
		if online {
			param, num = id.Prefix, codec.RPL_MONONLINE
		}
		for c := range w {
			off := int32(len(b.buf))
			b.buf = appendCmd(b.buf, s.name, num, true, c.Nick(), param)
			b.sendSpan(c, off, int32(len(b.buf)))
		}
	})
}

// chunkJoin joins items with commas into strings of at most room bytes.
func chunkJoin(items []string, room int) []string {
	var out []string
	cur := ""
	for _, it := range items {
		if cur != "" && len(cur)+1+len(it) > room {
			out = append(out, cur)
			cur = ""
		}
		if cur != "" {
			cur += ","
		}
		cur += it
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}
