package bolt

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// The read cache keeps values that read transactions loaded, by physical
// key, so that a point read of a warm key skips bbolt's B-tree descent and
// bucket lookup. It holds what the file holds (storage.Wrap's records, which
// the barrier has sealed), never more.
//
// It stays coherent because every write of the file goes through this DB
// (bbolt locks the file against other processes) and is announced twice:
// commitStarting, before bbolt makes the commit visible, and commitEnded,
// after. Between the two the written keys are pending: their entries were
// removed and none may be added. Ending a commit advances gen.
//
// A read transaction reads gen before it begins (g0). An entry stored at
// generation e is served to it only if e <= g0: the entry's value was the
// latest committed value from the moment it was stored until now (a commit
// touching the key would have removed it), and every commit that had ended
// by e had ended before the transaction began, so its snapshot holds that
// same value. An entry stored later is not served (the transaction may be
// older than the value). A transaction stores what it read only while gen
// is still g0 and the key is not pending: then no commit has ended since
// its snapshot was taken and none touching the key is under way, so its
// value is the latest one.
//
// Point reads only: ranges always read the B-tree. A clear of a range
// empties the cache (they are rare: whole mounts, tenants, chunked values).
//
// A value is kept the second time it is missed, not the first (a
// "doorkeeper": only the hashes of keys missed once are remembered, at
// most seenMax of them), so records read once and then held elsewhere, a
// transit key loaded into its engine for one, take no room.
type readCache struct {
	gen atomic.Uint64

	mu         sync.RWMutex
	m          map[string]*cacheEntry
	bytes      int // keys, values and an estimate of the overhead
	max        int
	pending    map[string]int // keys written by commits under way
	pendingAll int            // commits under way that clear a range
	seen       map[uint64]struct{}
	seed       maphash.Seed

	misses, stored atomic.Uint64
}

type cacheEntry struct {
	v   []byte
	gen uint64
}

// DefaultReadCacheSize is the most bytes the read cache holds.
const DefaultReadCacheSize = 32 << 20

// maxCachedValue is the largest value the cache keeps: a chunk of a large
// value is read once when the value is, and would only crowd out records.
const maxCachedValue = 16 << 10

// entryOverhead estimates the memory of one entry beyond its key and value.
const entryOverhead = 96

// seenMax bounds the doorkeeper's memory (about 1.5 MB when full; it is
// then forgotten at once).
const seenMax = 1 << 16

func newReadCache(maxBytes int) *readCache {
	return &readCache{m: map[string]*cacheEntry{}, pending: map[string]int{}, max: maxBytes,
		seen: map[uint64]struct{}{}, seed: maphash.MakeSeed()}
}

// get returns the cached value of key for a transaction that began after
// reading generation g0. The slice is shared and must not be modified. The
// caller counts a miss it reads from the file (misses).
func (c *readCache) get(key []byte, g0 uint64) ([]byte, bool) {
	c.mu.RLock()
	e := c.m[string(key)]
	c.mu.RUnlock()
	if e == nil || e.gen > g0 {
		return nil, false
	}
	return e.v, true
}

// put offers v, the value of key read by a transaction that began after
// reading generation g0. It is kept (copied) only when it is still the
// latest value (see readCache).
func (c *readCache) put(key, v []byte, g0 uint64) {
	if len(v) > maxCachedValue || c.gen.Load() != g0 {
		return
	}
	size := len(key) + len(v) + entryOverhead
	if size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != g0 || c.pendingAll > 0 || c.pending[string(key)] > 0 {
		return
	}
	if _, ok := c.m[string(key)]; ok {
		return
	}
	h := maphash.Bytes(c.seed, key)
	if _, ok := c.seen[h]; !ok {
		if len(c.seen) >= seenMax {
			clear(c.seen)
		}
		c.seen[h] = struct{}{}
		return
	}
	delete(c.seen, h)
	if c.bytes+size > c.max {
		c.shrink(c.max - size)
	}
	c.m[string(key)] = &cacheEntry{v: bytes.Clone(v), gen: g0}
	c.bytes += size
	c.stored.Add(1)
}

// shrink drops entries, in the map's (unspecified) order, until the cache
// holds at most target bytes. c.mu is held.
func (c *readCache) shrink(target int) {
	for k, e := range c.m {
		if c.bytes <= target {
			return
		}
		delete(c.m, k)
		c.bytes -= len(k) + len(e.v) + entryOverhead
	}
}

// commitStarting is called before a commit holding the writes of logs
// becomes visible: their keys become pending and lose their entries. Every
// call is followed by one commitEnded with the same logs, whether or not
// the commit succeeded.
func (c *readCache) commitStarting(logs [][]op) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, log := range logs {
		for _, o := range log {
			if o.kind == opClearRange {
				c.pendingAll++
				clear(c.m)
				c.bytes = 0
				continue
			}
			c.pending[string(o.a)]++
			c.drop(o.a)
		}
	}
}

// commitEnded is called once the commit announced by commitStarting(logs)
// is visible, or failed.
func (c *readCache) commitEnded(logs [][]op) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, log := range logs {
		for _, o := range log {
			if o.kind == opClearRange {
				c.pendingAll--
				continue
			}
			if n := c.pending[string(o.a)]; n > 1 {
				c.pending[string(o.a)] = n - 1
			} else {
				delete(c.pending, string(o.a))
			}
		}
	}
	c.gen.Add(1)
}

// drop removes the entry of key. c.mu is held.
func (c *readCache) drop(key []byte) {
	if e, ok := c.m[string(key)]; ok {
		c.bytes -= len(key) + len(e.v) + entryOverhead
		delete(c.m, string(key))
	}
}

// CacheStats describes the read cache of a DB.
type CacheStats struct {
	// Misses counts the point reads of read transactions that the cache
	// could not serve (hits are not counted: a shared counter would cost
	// every read).
	Misses uint64
	// Stored counts the values added to the cache.
	Stored uint64
	// Entries and Bytes are what the cache holds now (Bytes includes an
	// estimate of each entry's overhead).
	Entries, Bytes int
}

func (c *readCache) stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CacheStats{
		Misses: c.misses.Load(), Stored: c.stored.Load(),
		Entries: len(c.m), Bytes: c.bytes,
	}
}
