package token

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// Cache keeps recent token lookups in memory, so a request does not read and
// decrypt its token's entry from storage each time. Entries are keyed by
// SHA-256 of the token (the token itself is not kept), live at most MaxAge,
// and are dropped at once by Forget (revocation) and Clear (seal). Expiry is
// still checked on every hit, against the entry's own TTL. A Cache is safe
// for concurrent use; the zero value is not usable, use NewCache.
type Cache struct {
	maxAge time.Duration
	max    int

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cached

	hits, misses atomic.Uint64
}

// Stats reports the cache's hits and misses since it was made.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

type cached struct {
	e  *Entry
	at time.Time
}

// NewCache returns a cache of at most max entries, each trusted for maxAge.
func NewCache(max int, maxAge time.Duration) *Cache {
	return &Cache{max: max, maxAge: maxAge, entries: make(map[[sha256.Size]byte]cached)}
}

// Get returns the cached entry of tok, if fresh and not expired at now.
func (c *Cache) Get(tok string, now time.Time) (*Entry, bool) {
	k := sha256.Sum256([]byte(tok))
	c.mu.RLock()
	v, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || now.Sub(v.at) > c.maxAge || v.e.Expired(now) {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return v.e, true
}

// Put caches the entry of tok. When full, the cache is emptied first: a
// simple bound that keeps memory flat under a flood of distinct tokens.
// An entry with a use limit (NumUses != 0) is not cached: each use must be
// counted in storage, and its revocation need not reach other nodes'
// caches (revokeOne relies on this).
func (c *Cache) Put(tok string, e *Entry, now time.Time) {
	if e.NumUses != 0 {
		return
	}
	k := sha256.Sum256([]byte(tok))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[k] = cached{e: e, at: now}
}

// Forget drops tok's entry.
func (c *Cache) Forget(tok string) {
	k := sha256.Sum256([]byte(tok))
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// Clear drops every entry.
func (c *Cache) Clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
