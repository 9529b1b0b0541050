package chat

import (
	"fmt"
	"sort"
	"time"

	"laird/perf"
)

// Latency of every command is recorded by the client's event loop from
// parse to the last reply written: inline commands when the handler
// returns, shard-bound commands when their last shard operation completed
// (pendingCmd tracks those, in order). Each loop and each shard owns its
// perf.Recorder; nothing here takes a lock.

// commandOrder lists the command names sorted, fixing each command's index
// (and so its metric id) the same way in every Registry.
var commandOrder []string

func init() {
	for name, cmd := range commands {
		commandOrder = append(commandOrder, name)
		_ = cmd
	}
	sort.Strings(commandOrder)
	for i, name := range commandOrder {
		commands[name].index = i
	}
}

// RegisterMetrics registers the per-command latency series; call it before
// any perf.Recorder is created (the registry freezes then).
func RegisterMetrics(reg *perf.Registry) ([]perf.MetricID, error) {
	ids := make([]perf.MetricID, len(commandOrder))
	for i, name := range commandOrder {
		id, err := reg.Command(name)
		if err != nil {
			return nil, fmt.Errorf("chat: register metric for %s: %w", name, err)
		}
		ids[i] = id
	}
	return ids, nil
}

// SetPerf enables monitoring: cmdIDs from RegisterMetrics, and one shard
// recorder per shard created from reg. Call it before Start.
func (s *Server) SetPerf(reg *perf.Registry, cmdIDs []perf.MetricID) {
	s.perf = reg
	s.cmdIDs = cmdIDs
	for _, sh := range s.shards {
		sh.rec = reg.NewRecorder(perf.KindShard, fmt.Sprintf("shard%d", sh.id))
		sh.rec.Prepare(perf.ShardWait)
	}
	s.std = &reg.Std
}

// pendingCmd is a shard-bound command whose latency is recorded when its
// last operation completes.
type pendingCmd struct {
	metric perf.MetricID
	start  time.Time
	ops    int
}

// recordCommand runs after a handler on c's loop.
func (s *Server) recordCommand(c *Client, cmd *command, start time.Time, opsBefore int) {
	if c.rec == nil || s.cmdIDs == nil {
		return
	}
	id := s.cmdIDs[cmd.index]
	if ops := c.opsStarted - opsBefore; ops > 0 {
		c.pending = append(c.pending, pendingCmd{metric: id, start: start, ops: ops})
		return
	}
	c.rec.Record(id, time.Since(start))
}

// opFinished accounts one completed operation to the oldest pending
// command; operations complete in the order they started.
func (c *Client) opFinished() {
	if len(c.pending) == 0 {
		return
	}
	p := &c.pending[0]
	p.ops--
	if p.ops > 0 {
		return
	}
	if c.rec != nil {
		c.rec.Record(p.metric, time.Since(p.start))
	}
	c.pending[0] = pendingCmd{}
	c.pending = c.pending[1:]
}
