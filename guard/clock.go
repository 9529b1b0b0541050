package guard

import "time"

// epoch is the origin of the package's internal int64 clock. Reading it
// with time.Now keeps a monotonic reading, so ticks(time.Now()) is immune to
// wall-clock steps; fake clocks (times without a monotonic reading) are
// compared by wall time instead, which is what tests want.
var epoch = time.Now()

// ticks converts now to nanoseconds since epoch. Every stored timestamp in
// the package uses this scale so that hot paths do int64 arithmetic only.
func ticks(now time.Time) int64 { return int64(now.Sub(epoch)) }
