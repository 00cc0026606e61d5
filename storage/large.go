package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// stagingTxBytes is how many value bytes SetLarge writes per staging
// transaction: 40 chunks, well under MaxTxSize. A value up to this size goes
// through one ordinary transaction.
const stagingTxBytes = 40 * MaxChunkSize

// gcBatch is how many staged blobs CollectGarbage removes per transaction.
const gcBatch = 100

// errCollected wraps ErrTimeout: the staged blob of a SetLarge was removed
// by CollectGarbage before SetLarge could link it.
var errCollected = fmt.Errorf("%w: staged value was garbage-collected before it was linked; staging outlived CollectGarbage's olderThan", ErrTimeout)

// SetLarge stores value, up to MaxValueSize bytes, under key, then runs fn
// in the same transaction that makes the value visible, so fn's writes and
// the new value commit atomically. fn may be nil; like an Update function it
// may run more than once. Inside fn, a Get of key returns the new value.
//
// A value larger than one transaction can hold is staged first: its chunks
// are written under a fresh blob id in as many transactions as needed (each
// about 4 MB), next to a staging record with a timestamp, and the final
// transaction links key to the blob, removes the staging record and runs fn.
// Until that commit, readers see the previous value of key. If any step
// fails (fn's error, a conflict that outlasts the retries, ctx), SetLarge
// returns that error unchanged or wrapped as Update does, the previous value
// stays, and it removes the staged chunks as best it can; CollectGarbage
// removes any it could not. A value up to about 4 MB is written by one
// ordinary Update instead.
//
// The previous value of key, if it was stored as a blob, is removed in the
// final transaction. Returns ErrInvalidKey, ErrKeyTooLarge, ErrValueTooLarge,
// ErrClosed, ErrTimeout (also when CollectGarbage removed the staged chunks
// first) and the errors of Update.
//
// s must come from Wrap (every backend's Open returns such a Store) for
// values over 4 MB; any other Store gets one Update with Tx.Set.
func SetLarge(ctx context.Context, s Store, key, value []byte, fn func(Tx) error) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrValueTooLarge, len(value), MaxValueSize)
	}
	ws, ok := s.(*store)
	if !ok || len(value) <= stagingTxBytes {
		return s.Update(ctx, func(tx Tx) error {
			if err := tx.Set(key, value); err != nil {
				return err
			}
			if fn == nil {
				return nil
			}
			return fn(tx)
		})
	}
	return ws.setLarge(ctx, key, value, fn)
}

func (s *store) setLarge(ctx context.Context, key, value []byte, fn func(Tx) error) error {
	id := newBlobID()
	ref := blobRef{id: id, length: uint64(len(value)), chunks: uint32(chunkCount(len(value)))}
	const perTx = stagingTxBytes / MaxChunkSize
	for first := uint32(0); first < ref.chunks; first += perTx {
		last := min(first+perTx, ref.chunks)
		err := s.update(ctx, func(w *writer) error {
			// The staging record is created by the first transaction and
			// must still be there in the next ones: CollectGarbage may
			// have removed the blob meanwhile. Each one renews its time.
			if first > 0 {
				if _, err := w.raw.Get(stagingKey(id)); err != nil {
					if errors.Is(err, ErrNotFound) {
						return errCollected
					}
					return err
				}
			}
			if err := w.set(stagingKey(id), stagingValue(time.Now().UnixNano())); err != nil {
				return err
			}
			for i := first; i < last; i++ {
				lo := int(i) * MaxChunkSize
				chunk := value[lo:min(lo+MaxChunkSize, len(value))]
				if err := w.set(chunkKey(id, i), bytes.Clone(chunk)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			if first > 0 {
				s.discardStaged(ctx, id)
			}
			return err
		}
	}
	err := s.update(ctx, func(w *writer) error {
		if _, err := w.raw.Get(stagingKey(id)); err != nil {
			if errors.Is(err, ErrNotFound) {
				return errCollected
			}
			return err
		}
		if err := w.clear(stagingKey(id)); err != nil {
			return err
		}
		w.written = append(w.written, bytes.Clone(key))
		if err := w.link(key, ref); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(w)
	})
	if err != nil {
		s.discardStaged(ctx, id)
	}
	return err
}

// discardStaged removes the staged blob id, if it is still staged, and
// ignores errors: CollectGarbage is the fallback. It checks the staging
// record in the same transaction, so it never removes a blob that a final
// transaction linked after all. It runs even when ctx is done, for at most
// MaxTxDuration.
func (s *store) discardStaged(ctx context.Context, id blobID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), MaxTxDuration)
	defer cancel()
	_ = s.update(ctx, func(w *writer) error {
		_, err := w.removeStaged(id, time.Time{})
		return err
	})
}

// removeStaged removes the blob id and its staging record if the record
// exists and, unless cutoff is zero, is not newer than cutoff. It reports
// whether it removed them.
func (w *writer) removeStaged(id blobID, cutoff time.Time) (bool, error) {
	v, err := w.raw.Get(stagingKey(id))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !cutoff.IsZero() {
		ts, err := decodeStaging(v)
		if err == nil && time.Unix(0, ts).After(cutoff) {
			return false, nil
		}
		// A record that does not decode is removed like an old one.
	}
	if err := w.clearRange(blobPrefix(id), blobEnd(id)); err != nil {
		return false, err
	}
	return true, w.clear(stagingKey(id))
}

// CollectGarbage removes the staged chunks of SetLarge calls that never
// linked them (the process died, or the cleanup after a failure failed)
// and whose staging record was last renewed more than olderThan ago. It
// returns how many staged values it removed.
//
// olderThan must be longer than any SetLarge takes between two of its
// transactions, with margin for clock skew between nodes: a SetLarge whose
// blob was collected fails with ErrTimeout and leaves nothing behind, but
// its work is lost. An hour is a safe choice; a node may run CollectGarbage
// at start and then periodically. A Store that does not come from Wrap has
// nothing to collect.
func CollectGarbage(ctx context.Context, s Store, olderThan time.Duration) (int, error) {
	ws, ok := s.(*store)
	if !ok {
		return 0, nil
	}
	cutoff := time.Now().Add(-olderThan)
	var ids []blobID
	err := ws.view(ctx, func(r *reader) error {
		ids = ids[:0]
		var bad error
		err := r.raw.Range(RawRange{Begin: []byte{areaStaging}, End: []byte{areaStaging + 1}}, func(k, v []byte) bool {
			id, err := decodeBlobID(k[1:])
			if err != nil {
				bad = err
				return false
			}
			if ts, err := decodeStaging(v); err != nil || !time.Unix(0, ts).After(cutoff) {
				ids = append(ids, id)
			}
			return true
		})
		if err != nil {
			return err
		}
		return bad
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for len(ids) > 0 {
		batch := ids[:min(gcBatch, len(ids))]
		ids = ids[len(batch):]
		n := 0
		err := ws.update(ctx, func(w *writer) error {
			n = 0
			for _, id := range batch {
				ok, err := w.removeStaged(id, cutoff)
				if err != nil {
					return err
				}
				if ok {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		removed += n
	}
	return removed, nil
}
