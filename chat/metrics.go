package chat

import (
	"fmt"

	"laird/perf"
)

// Latency of every command is recorded by the client's event loop from
// parse to the op's completion (queue.go), under the command's name; a
// PRIVMSG to a service is recorded as that service's command (NICKSERV,
// CHANSERV), not as PRIVMSG. Each loop and each shard owns its
// perf.Recorder; nothing here takes a lock.

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
