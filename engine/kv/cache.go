package kv

import "github.com/strongroom/strongroom/seal"

// The decoded secret records of the read paths, by storage key and stored
// bytes (seal.DecodedCache): a read of an unchanged secret neither opens
// nor decodes its metadata record again. Metadata (versions, times,
// custom_metadata) may stay in ordinary memory; a secret's data never goes
// through it. The read paths never modify the record they get; writers
// decode their own copy.
var readCache = seal.NewDecodedCache(decodedCacheMax, decodedRecordMax)

// The cache holds at most decodedCacheMax records of at most
// decodedRecordMax bytes each (about 40 MB at worst): large metadata
// (many versions) is decoded each time instead.
const (
	decodedCacheMax  = 10_000
	decodedRecordMax = 4096
)

// loadSecretRO loads the secret at path for reading. The record returned
// may be shared: callers must not modify it.
func loadSecretRO(r reader, path string) (*secretRecord, error) {
	v, err := r.GetDecoded(readCache, entryKey(path), func(raw []byte) (any, error) { return decodeSecret(raw) })
	if err != nil {
		return noSecret(err)
	}
	return v.(*secretRecord), nil
}
