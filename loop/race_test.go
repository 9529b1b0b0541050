//go:build race

package loop

// raceEnabled: under the race detector sync.Pool drops items at random, so
// allocation counts of code using pools (crypto/tls's record buffers) vary.
const raceEnabled = true
