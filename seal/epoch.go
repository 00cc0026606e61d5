package seal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Epoch kinds: what a node caches, by the kind of change that makes it
// stale. A write that changes something of a kind bumps the tenant's
// epoch of that kind in its own transaction; every node watches the
// epochs and drops what it caches of a kind when its epoch moves.
const (
	EpochTokens   = "tokens"   // token revocation, renewal and use counts
	EpochPolicies = "policies" // ACL policies
	EpochMounts   = "mounts"   // the mount and auth tables
	EpochTransit  = "transit"  // transit keys: create, rotate, config, delete, trim, restore
)

// EpochKinds are every kind, in the order WatchEpochs watches them.
var EpochKinds = []string{EpochTokens, EpochPolicies, EpochMounts, EpochTransit}

// epochKey is where the tenant's epoch of kind is stored: beside the seal
// records, not encrypted (it is a counter, and nodes read it while
// sealed too).
func (b *Barrier) epochKey(kind string) []byte {
	return append(bytes.Clone(b.prefix), tuple.Pack("epoch", kind)...)
}

// BumpEpoch increments the tenant's epoch of kind in this transaction, so
// that every node drops what it caches of that kind once it commits.
func (t *Tx) BumpEpoch(kind string) error {
	key := t.b.epochKey(kind)
	var n uint64
	raw, err := t.raw.Get(key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return err
	case len(raw) == 8:
		n = binary.BigEndian.Uint64(raw)
	}
	return t.raw.Set(key, binary.BigEndian.AppendUint64(nil, n+1))
}

// readEpoch returns the tenant's epoch of kind (0 before the first bump).
func (b *Barrier) readEpoch(ctx context.Context, kind string) (uint64, error) {
	var n uint64
	err := b.store.View(ctx, func(tx storage.ReadTx) error {
		raw, err := tx.Get(b.epochKey(kind))
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err == nil && len(raw) == 8 {
			n = binary.BigEndian.Uint64(raw)
		}
		return err
	})
	return n, err
}

// epochRetry is the pause before WatchEpochs tries again after a storage
// error.
const epochRetry = 250 * time.Millisecond

// WatchEpochs calls changed(kind) each time the tenant's epoch of kind
// moves, whichever node moved it (this one included), until ctx ends. It
// needs a store that implements storage.Watcher and returns at once
// without one. changed runs on the watching goroutine of its kind; it
// must not block for long.
func (b *Barrier) WatchEpochs(ctx context.Context, changed func(kind string)) {
	w, ok := b.store.(storage.Watcher)
	if !ok {
		return
	}
	for _, kind := range EpochKinds {
		go b.watchEpoch(ctx, w, kind, changed)
	}
}

func (b *Barrier) watchEpoch(ctx context.Context, w storage.Watcher, kind string, changed func(string)) {
	key := b.epochKey(kind)
	last, err := b.readEpoch(ctx, kind)
	for ctx.Err() == nil {
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// A storage error: the value is unknown, so what is cached
			// may be stale; drop it and read again.
			changed(kind)
			select {
			case <-ctx.Done():
				return
			case <-time.After(epochRetry):
			}
			last, err = b.readEpoch(ctx, kind)
			continue
		}
		// Watch, then re-read: a bump between the read above and the
		// watch is caught by the comparison.
		ch, werr := w.Watch(ctx, key)
		if werr != nil {
			err = werr
			continue
		}
		now, rerr := b.readEpoch(ctx, kind)
		if rerr == nil && now == last {
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			now, rerr = b.readEpoch(ctx, kind)
		}
		if rerr != nil {
			err = rerr
			continue
		}
		if now != last {
			last = now
			changed(kind)
		}
	}
}
