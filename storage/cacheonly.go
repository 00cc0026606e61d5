package storage

import (
	"context"
	"errors"
)

// ErrCacheMiss is returned by a read in a View run under WithCacheOnly that
// the backend cannot answer from its read cache. The caller runs the View
// again without WithCacheOnly.
var ErrCacheMiss = errors.New("storage: not in the read cache")

type cacheOnlyKey struct{}

// WithCacheOnly returns a context under which a View may be served from
// the backend's read cache alone, without beginning a transaction: its
// point reads are answered from memory, and the first that cannot be (and
// every Range) fails with ErrCacheMiss. The reads such a View answers are
// all of one consistent snapshot, as a transaction's are; after an
// ErrCacheMiss the caller runs the View again without WithCacheOnly, so
// its function must be safe to run twice. A backend without a read cache
// runs the View as usual.
func WithCacheOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, cacheOnlyKey{}, true)
}

// CacheOnly reports whether ctx asks for a View from the read cache alone
// (WithCacheOnly).
func CacheOnly(ctx context.Context) bool {
	v, _ := ctx.Value(cacheOnlyKey{}).(bool)
	return v
}
