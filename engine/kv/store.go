package kv

import (
	"context"

	"github.com/strongroom/strongroom/seal"
)

// reader is the read side of a transaction on the mount's view: the
// methods of *seal.ReadTx the engine uses. Get returns seal.ErrNotFound for
// a missing record; List returns keys only, never values.
type reader interface {
	Get(key []byte) ([]byte, error)
	GetDecoded(c *seal.DecodedCache, key []byte, decode func([]byte) (any, error)) (any, error)
	List(prefix, after []byte, limit int) ([][]byte, error)
}

// writer is a read-write transaction: the methods of *seal.Tx the engine
// uses.
type writer interface {
	reader
	Set(key, value []byte) error
	Delete(key []byte) error
	DeletePrefix(prefix []byte) error
}

// store is the narrow seam between the engine and its seal.View, so that
// tests can count what a request reads. Like seal.View, update and the fn
// of setLarge may run more than once: they must have no side effects
// outside the transaction except assigning results that a later run
// overwrites.
type store interface {
	view(ctx context.Context, fn func(r reader) error) error
	update(ctx context.Context, fn func(w writer) error) error
	// setLarge stores value (up to storage.MaxValueSize) at key and runs
	// fn in the transaction that makes it visible (seal.View.SetLarge).
	setLarge(ctx context.Context, key, value []byte, fn func(w writer) error) error
	// scrub overwrites what deleted records left in the store's files
	// (seal.View.Scrub): destroy and metadata delete call it, so destroyed
	// data is gone from the disk and not only unreachable.
	scrub(ctx context.Context) error
	// forget drops the mount's records from readCache (seal.View.ForgetDecoded).
	forget()
}

// sealStore is the store of a mount: its seal.View.
type sealStore struct{ v *seal.View }

func (s sealStore) view(ctx context.Context, fn func(r reader) error) error {
	return s.v.View(ctx, func(tx *seal.ReadTx) error { return fn(tx) })
}

func (s sealStore) update(ctx context.Context, fn func(w writer) error) error {
	return s.v.Update(ctx, func(tx *seal.Tx) error { return fn(tx) })
}

func (s sealStore) setLarge(ctx context.Context, key, value []byte, fn func(w writer) error) error {
	return s.v.SetLarge(ctx, key, value, func(tx *seal.Tx) error { return fn(tx) })
}

func (s sealStore) scrub(ctx context.Context) error { return s.v.Scrub(ctx) }

func (s sealStore) forget() { s.v.ForgetDecoded(readCache) }
