package seal

import (
	"strings"
	"sync"
)

// DecodedCache remembers, for records read often and rewritten rarely
// (an engine's metadata), what each decoded to, so that ReadTx.GetDecoded
// skips opening and decoding a record it has seen. An entry is keyed by
// the record's full storage key (tenant and subspace included) and holds
// the record's stored bytes: it serves only the very bytes that were
// authenticated under that key, so it is never stale and a record moved
// to another key is still opened (and refused). What it holds is decoded
// plaintext in ordinary memory: only for records whose plaintext may stay
// there, never a secret's value or key material. When full it starts over,
// which bounds its memory. It is safe for concurrent use.
type DecodedCache struct {
	mu        sync.RWMutex
	m         map[string]decodedEntry
	entries   int
	recordMax int
}

type decodedEntry struct {
	sealed string
	v      any
}

// NewDecodedCache returns a cache of at most entries records of at most
// recordMax stored bytes each (larger ones are decoded every time).
func NewDecodedCache(entries, recordMax int) *DecodedCache {
	return &DecodedCache{m: map[string]decodedEntry{}, entries: entries, recordMax: recordMax}
}

func (c *DecodedCache) get(sk, sealed []byte) (any, bool) {
	c.mu.RLock()
	e, ok := c.m[string(sk)]
	c.mu.RUnlock()
	if !ok || e.sealed != string(sealed) {
		return nil, false
	}
	return e.v, true
}

func (c *DecodedCache) put(sk, sealed []byte, v any) {
	if len(sealed) > c.recordMax {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.entries {
		clear(c.m)
	}
	c.m[string(sk)] = decodedEntry{sealed: string(sealed), v: v}
}

// Clear forgets every record, for when what they decoded to must leave
// memory (the keys that opened them are gone).
func (c *DecodedCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// forgetPrefix forgets the records whose storage keys start with p.
func (c *DecodedCache) forgetPrefix(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if strings.HasPrefix(k, string(p)) {
			delete(c.m, k)
		}
	}
}

// Len reports how many records c holds.
func (c *DecodedCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
