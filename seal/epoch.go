package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
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
	EpochAudit    = "audit"    // the audit table
	EpochKeyring  = "keyring"  // the barrier keyring: a rotation (sys/rotate)
	// EpochNamespaces moves when the cluster's tenant registry changes
	// (create, rename, delete); only the root tenant bumps it.
	EpochNamespaces = "namespaces"
	// EpochSeal moves when a namespace's operator seals it: every node
	// seals it too (a namespace is sealed everywhere at once; the
	// cluster's own seal stays per node, as Vault's).
	EpochSeal = "seal"
)

// EpochKinds are every kind, in the order WatchEpochs watches them.
var EpochKinds = []string{EpochTokens, EpochPolicies, EpochMounts, EpochTransit, EpochAudit, EpochKeyring}

// epochMarkerKey is rewritten, with the new epoch record, by every bump
// of any kind: the one key a node watches per tenant. It is written
// blindly (never read in the bumping transaction), so bumps of different
// kinds do not conflict on it.
func (b *Barrier) epochMarkerKey() []byte {
	return append(bytes.Clone(b.prefix), tuple.Pack("epochs")...)
}

// epochKey is where the tenant's epoch of kind is stored: beside the seal
// records, not encrypted (it is a counter, and nodes read it while
// sealed too).
func (b *Barrier) epochKey(kind string) []byte {
	return append(bytes.Clone(b.prefix), tuple.Pack("epoch", kind)...)
}

// An epoch record is 16 bytes: the counter, big-endian, then a random
// nonce that names the transaction attempt which wrote it, so a node can
// tell its own bumps (ownBumps) from other nodes' without trusting the
// counter alone.
const epochRecordLen = 16

// ownBumps remembers the epoch records this node's transactions wrote. An
// attempt that did not commit leaves a record nobody will ever read, so
// the set is bounded by dropping it whole (which only costs extra
// invalidations).
type ownBumps struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

const maxOwnBumps = 4096

func (o *ownBumps) add(rec []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil || len(o.seen) >= maxOwnBumps {
		o.seen = map[string]struct{}{}
	}
	o.seen[string(rec)] = struct{}{}
}

// take reports whether rec was written by this node, forgetting it.
func (o *ownBumps) take(rec []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.seen[string(rec)]
	delete(o.seen, string(rec))
	return ok
}

// BumpEpoch increments the tenant's epoch of kind in this transaction, so
// that every other node drops what it caches of that kind once it commits
// (this node has already updated its own caches).
func (t *Tx) BumpEpoch(kind string) error {
	key := t.b.epochKey(kind)
	raw, err := t.raw.Get(key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	rec := make([]byte, epochRecordLen)
	binary.BigEndian.PutUint64(rec, epochCounter(raw)+1)
	if _, err := rand.Read(rec[8:]); err != nil {
		return err
	}
	if err := t.raw.Set(key, rec); err != nil {
		return err
	}
	if err := t.raw.Set(t.b.epochMarkerKey(), rec); err != nil {
		return err
	}
	t.b.own.add(rec)
	return nil
}

// epochCounter is the counter of an epoch record (0 for none).
func epochCounter(rec []byte) uint64 {
	if len(rec) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(rec)
}

// readEpochs returns the tenant's epoch records of kinds, in order (nil
// for a kind never bumped), read in one transaction.
func (b *Barrier) readEpochs(ctx context.Context, kinds []string) ([][]byte, error) {
	recs := make([][]byte, len(kinds))
	err := b.store.View(ctx, func(tx storage.ReadTx) error {
		for i, kind := range kinds {
			raw, err := tx.Get(b.epochKey(kind))
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			recs[i] = raw
		}
		return nil
	})
	return recs, err
}

// EpochCounter returns how many times the tenant's epoch of kind has been
// bumped (0 if never). Tests use it to see which changes reach other
// nodes' caches.
func (b *Barrier) EpochCounter(ctx context.Context, kind string) (uint64, error) {
	recs, err := b.readEpochs(ctx, []string{kind})
	if err != nil {
		return 0, err
	}
	return epochCounter(recs[0]), nil
}

// epochRetry is the pause before WatchEpochs tries again after a storage
// error.
const epochRetry = 250 * time.Millisecond

// WatchEpochs calls changed(kind) each time another node moves the
// tenant's epoch of kind, until ctx ends; a single bump by this node is
// skipped (the node updated its own caches as it made the change). It
// needs a store that implements storage.Watcher and returns at once
// without one. changed runs on the watching goroutine; it must not block
// for long.
func (b *Barrier) WatchEpochs(ctx context.Context, changed func(kind string)) {
	b.WatchEpochKinds(ctx, EpochKinds, changed)
}

// WatchEpochKinds is WatchEpochs for the given kinds. It holds one storage
// watch, on the tenant's epoch marker (every bump rewrites it), whatever
// the number of kinds: FoundationDB bounds the watches of a client (10,000
// by default), and a node watches every loaded namespace.
func (b *Barrier) WatchEpochKinds(ctx context.Context, kinds []string, changed func(kind string)) {
	w, ok := b.store.(storage.Watcher)
	if !ok || len(kinds) == 0 {
		return
	}
	go b.watchEpochs(ctx, w, slices.Clone(kinds), changed)
}

func (b *Barrier) watchEpochs(ctx context.Context, w storage.Watcher, kinds []string, changed func(string)) {
	marker := b.epochMarkerKey()
	all := func() {
		for _, kind := range kinds {
			changed(kind)
		}
	}
	last, err := b.readEpochs(ctx, kinds)
	for ctx.Err() == nil {
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// A storage error: the values are unknown, so what is cached
			// may be stale; drop it and read again.
			all()
			select {
			case <-ctx.Done():
				return
			case <-time.After(epochRetry):
			}
			last, err = b.readEpochs(ctx, kinds)
			continue
		}
		// Watch, then re-read: a bump between the read above and the
		// watch is caught by the comparison.
		ch, werr := w.Watch(ctx, marker)
		if werr != nil {
			err = werr
			continue
		}
		now, rerr := b.readEpochs(ctx, kinds)
		if rerr == nil && slices.EqualFunc(now, last, bytes.Equal) {
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			now, rerr = b.readEpochs(ctx, kinds)
		}
		if rerr != nil {
			err = rerr
			continue
		}
		for i, kind := range kinds {
			if bytes.Equal(now[i], last[i]) {
				continue
			}
			// One step, written by this node: its caches are current.
			// Anything else (another node's bump, several bumps) is
			// invalidated.
			if !(epochCounter(now[i]) == epochCounter(last[i])+1 && b.own.take(now[i])) {
				changed(kind)
			}
		}
		last = now
	}
}

// holdKey marks a tenant its operator sealed: beside the seal records,
// plaintext (it is read while the tenant is sealed), holding no secret.
func (b *Barrier) holdKey() []byte { return append(bytes.Clone(b.prefix), tuple.Pack("hold")...) }

// HoldSealed records, in this transaction, that the tenant's operator
// sealed it: Held reports it on every node until ReleaseHold, so nothing
// unseals the tenant without its operator (an auto-unseal tenant is not
// auto-unsealed while held).
func (t *Tx) HoldSealed() error { return t.raw.Set(t.b.holdKey(), []byte{1}) }

// Held reports whether the tenant is held sealed (see HoldSealed).
func (b *Barrier) Held(ctx context.Context) (bool, error) {
	var held bool
	err := b.store.View(ctx, func(tx storage.ReadTx) error {
		_, err := tx.Get(b.holdKey())
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		held = err == nil
		return err
	})
	return held, err
}

// ReleaseHold clears the hold once the tenant's operator unsealed it.
func (b *Barrier) ReleaseHold(ctx context.Context) error {
	return b.store.Update(ctx, func(tx storage.Tx) error { return tx.Delete(b.holdKey()) })
}
