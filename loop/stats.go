package loop

import "sync/atomic"

// loopStats are one loop's counters: only that loop writes them (no
// contention on the hot path), any goroutine reads them. The padding keeps
// two loops' counters off one cache line.
type loopStats struct {
	accepted      atomic.Uint64
	open          atomic.Int64
	linesIn       atomic.Uint64
	bytesIn       atomic.Uint64
	bytesOut      atomic.Uint64
	slowConsumers atomic.Uint64
	floods        atomic.Uint64
	refused       atomic.Uint64
	_             [64]byte
}

// StatsSnapshot is the network side's counters, summed over the loops.
type StatsSnapshot struct {
	Accepted, LinesIn, BytesIn, BytesOut, SlowConsumers, Floods, Refused uint64
	Open                                                                 int64
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() StatsSnapshot {
	var out StatsSnapshot
	for i := range s.loops {
		el := s.loops[i].Load()
		if el == nil {
			continue
		}
		st := &el.stats
		out.Accepted += st.accepted.Load()
		out.Open += st.open.Load()
		out.LinesIn += st.linesIn.Load()
		out.BytesIn += st.bytesIn.Load()
		out.BytesOut += st.bytesOut.Load()
		out.SlowConsumers += st.slowConsumers.Load()
		out.Floods += st.floods.Load()
		out.Refused += st.refused.Load()
	}
	return out
}
