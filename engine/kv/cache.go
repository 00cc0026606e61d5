package kv

import "sync"

// decodedCache remembers decoded secret records by the exact bytes they
// were decoded from. It is content-addressed, so it is never stale: a
// changed record has other bytes and misses. It serves the read paths only,
// which never modify the record they get; writers decode their own copy.
// When full it starts over, which bounds its memory.
type decodedCache struct {
	mu sync.RWMutex
	m  map[string]*secretRecord
}

// The cache holds at most decodedCacheMax records of at most
// decodedRecordMax bytes each (about 40 MB at worst): large metadata
// (many versions) is decoded each time instead.
const (
	decodedCacheMax  = 10_000
	decodedRecordMax = 4096
)

var readCache = &decodedCache{m: map[string]*secretRecord{}}

// loadSecretRO loads the secret at path for reading. The record returned
// may be shared: callers must not modify it.
func loadSecretRO(r reader, path string) (*secretRecord, error) {
	raw, err := r.Get(entryKey(path))
	if err != nil {
		return loadSecretRaw(raw, err)
	}
	readCache.mu.RLock()
	s, ok := readCache.m[string(raw)]
	readCache.mu.RUnlock()
	if ok {
		return s, nil
	}
	s, err = decodeSecret(raw)
	if err != nil || len(raw) > decodedRecordMax {
		return s, err
	}
	readCache.mu.Lock()
	if len(readCache.m) >= decodedCacheMax {
		clear(readCache.m)
	}
	readCache.m[string(raw)] = s
	readCache.mu.Unlock()
	return s, nil
}
