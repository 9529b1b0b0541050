package guard

import (
	"hash/maphash"
	"sync"
)

// numShards splits each shared table so that event loops on different
// cores rarely contend for one lock. A power of two: the shard is the top
// bits of the key's hash.
const (
	shardBits = 6
	numShards = 1 << shardBits
)

// table is a bounded map shared by all event loops: numShards maps, each
// behind its own mutex. Values are stored inline (no per-entry allocation);
// callers read-modify-write under the shard lock.
type table[K comparable, V any] struct {
	shards   [numShards]shard[K, V]
	perShard int
	hash     func(K) uint64
}

type shard[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
	// retryAt: after an eviction sweep found nothing to evict, inserts
	// fail fast until this tick instead of rescanning a full shard per
	// attempt (which an attacker could otherwise force).
	retryAt int64
	_       [40]byte // keep hot shards on separate cache lines
}

// evictFn classifies an entry when its shard is full: expired entries are
// dropped first; idle ones (holding no live resource) may be dropped to make
// room; others must stay.
type evictFn[V any] func(v *V, now int64) (expired, idle bool)

func newTable[K comparable, V any](maxEntries int, hash func(K) uint64) *table[K, V] {
	per := maxEntries / numShards
	if per < 1 {
		per = 1
	}
	return &table[K, V]{perShard: per, hash: hash}
}

// lock returns k's shard, locked.
func (t *table[K, V]) lock(k K) *shard[K, V] {
	s := &t.shards[t.hash(k)>>(64-shardBits)]
	s.mu.Lock()
	return s
}

// makeRoom ensures the locked shard can take one more key. It sweeps expired
// entries, or failing that evicts one idle entry; it reports false when
// every entry is live.
func (s *shard[K, V]) makeRoom(per int, now int64, evict evictFn[V]) bool {
	if s.m == nil {
		s.m = make(map[K]V)
	}
	if len(s.m) < per {
		return true
	}
	if now < s.retryAt {
		return false
	}
	var victim K
	haveVictim := false
	for k, v := range s.m {
		expired, idle := evict(&v, now)
		switch {
		case expired:
			delete(s.m, k)
		case idle && !haveVictim:
			victim, haveVictim = k, true
		}
	}
	if len(s.m) < per {
		return true
	}
	if haveVictim {
		delete(s.m, victim)
		return true
	}
	s.retryAt = now + 1e9
	return false
}

// prune deletes expired entries from every shard and returns how many.
func (t *table[K, V]) prune(now int64, evict evictFn[V]) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, v := range s.m {
			if expired, _ := evict(&v, now); expired {
				delete(s.m, k)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// len returns the number of entries (a moment's snapshot per shard).
func (t *table[K, V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func hashPrefixKey(k prefixKey) uint64 { return k.hash() }

var stringSeed = maphash.MakeSeed()

func hashString(s string) uint64 { return maphash.String(stringSeed, s) }
