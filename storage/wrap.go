package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Retry policy of Update.
const (
	// MaxAttempts is the number of times Update runs a transaction that
	// keeps conflicting before it gives up with ErrConflict.
	MaxAttempts = 10
	// minBackoff and maxBackoff bound the pause before a retry; it doubles
	// from minBackoff after each conflict and is jittered down to half.
	minBackoff = time.Millisecond
	maxBackoff = 100 * time.Millisecond
)

// Wrap returns the Store over a raw backend. It adds, for every backend:
//
//   - the logical keyspace: keys are 1 to MaxKeySize bytes (ErrInvalidKey,
//     ErrKeyTooLarge), stored under the physical layout described in
//     layout.go, which keeps their order;
//   - chunking: a value of MaxChunkSize bytes or more is stored as chunks of
//     at most MaxChunkSize bytes and reassembled on reads; range Limits
//     count logical keys;
//   - the FoundationDB transaction limits: an Update that writes more than
//     MaxTxSize bytes (physical keys and values set, keys cleared, bounds of
//     ranges cleared) fails with ErrTxTooLarge, and one that runs longer than
//     MaxTxDuration with ErrTimeout; neither commits anything, even if fn
//     ignored the error;
//   - retries: when fn or the commit fails with an error matching
//     ErrConflict, Update reruns fn in a fresh transaction after a short
//     jittered pause, at most MaxAttempts times in all;
//   - contexts: a ctx that is done before an attempt, during a pause, or
//     when fn returns makes Update and View return an error matching both
//     ErrTimeout and ctx.Err() (context.Canceled or
//     context.DeadlineExceeded), and nothing is committed;
//   - ErrClosed from every call after Close.
//
// View does not retry. A transaction function must not call Update or View
// on the same Store (the embedded backend serialises writers and would
// deadlock), and must not keep its Tx after it returns. Large values that do
// not fit one transaction go through SetLarge.
//
// Wrap takes ownership of raw: closing the Store closes raw.
func Wrap(raw RawStore) Store {
	return &store{raw: raw}
}

// store is the Store returned by Wrap.
type store struct {
	raw    RawStore
	closed atomic.Bool
	watch  watchers
	stats  txCounters
}

var _ Store = (*store)(nil)

// Snapshot implements Snapshotter when the backend does.
func (s *store) Snapshot(w io.Writer) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	if sn, ok := s.raw.(Snapshotter); ok {
		return sn.Snapshot(w)
	}
	return 0, fmt.Errorf("%w: this backend cannot take snapshots", ErrUnavailable)
}

// Scrub implements Scrubber when the backend does.
func (s *store) Scrub(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if sc, ok := s.raw.(Scrubber); ok {
		return sc.Scrub(ctx)
	}
	return nil
}

// Update implements Store; see Wrap for the details.
func (s *store) Update(ctx context.Context, fn func(tx Tx) error) error {
	return s.update(ctx, func(w *writer) error { return fn(w) })
}

// update runs fn with the retry loop of Update. fn gets the writer itself,
// so that package code can reach the physical areas through it.
func (s *store) update(ctx context.Context, fn func(w *writer) error) error {
	start := time.Now()
	defer func() { s.stats.update.observe(time.Since(start)) }()
	for attempt := 1; ; attempt++ {
		if s.closed.Load() {
			return ErrClosed
		}
		if err := ContextErr(ctx); err != nil {
			return err
		}
		var last *writer
		err := s.raw.Update(ctx, func(rtx RawTx) error {
			w := &writer{reader: reader{raw: rtx, start: time.Now()}, raw: rtx}
			last = w
			defer func() { w.done = true }()
			if err := fn(w); err != nil {
				return err
			}
			if err := w.check(); err != nil {
				return err
			}
			return ContextErr(ctx)
		})
		if err == nil && last != nil {
			s.watch.fire(last.written, last.ranges)
		}
		if err == nil || !errors.Is(err, ErrConflict) {
			return err
		}
		s.stats.conflicts.Add(1)
		if attempt == MaxAttempts {
			s.stats.gaveUp.Add(1)
			return fmt.Errorf("storage: gave up after %d attempts: %w", attempt, err)
		}
		if err := pause(ctx, backoff(attempt)); err != nil {
			return err
		}
		s.stats.retries.Add(1)
	}
}

// View implements Store; see Wrap for the details.
func (s *store) View(ctx context.Context, fn func(tx ReadTx) error) error {
	return s.view(ctx, func(r *reader) error { return fn(r) })
}

func (s *store) view(ctx context.Context, fn func(r *reader) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ContextErr(ctx); err != nil {
		return err
	}
	start := time.Now()
	defer func() { s.stats.view.observe(time.Since(start)) }()
	return s.raw.View(ctx, func(rtx RawReadTx) error {
		// The transaction's age counts from before it began: one clock
		// read serves both.
		r := &reader{raw: rtx, start: start}
		defer func() { r.done = true }()
		return fn(r)
	})
}

// Close implements Store. The first call closes the raw backend, which may
// wait for transactions in progress, and returns its error; later calls
// return nil.
func (s *store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.watch.closeAll()
	return s.raw.Close()
}

// ContextErr returns nil while ctx is live, and an error matching both
// ErrTimeout and ctx.Err() once it is done: how every backend reports a
// context that ended.
func ContextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return nil
}

// backoff returns the pause before retry number attempt (1 for the first
// retry): exponential from minBackoff, capped at maxBackoff, jittered
// uniformly over its upper half.
func backoff(attempt int) time.Duration {
	d := maxBackoff
	if attempt < 20 {
		d = min(minBackoff<<(attempt-1), maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// pause sleeps for d or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ContextErr(ctx)
	}
}
