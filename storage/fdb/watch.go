package fdb

import (
	"context"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// Watch implements storage.Watcher on logical keys (the keys of
// storage.Tx), with a FoundationDB watch on the key's head record: the
// physical key storage.Wrap writes, clears or replaces for every Set,
// Delete, DeleteRange and SetLarge of the key (storage/layout.go: the area
// byte 0x01, then the key escaped and terminated). Unlike the in-process
// watches of storage.Wrap, it sees the writes of every node on the
// cluster.
//
// The returned channel is closed once, as storage.Wrap's and bolt's are:
//
//   - when a transaction committed after the call changed the record.
//     FoundationDB compares values: a write that leaves the record as it
//     was may not fire (the watch contract lets a watcher re-read and
//     compare anyway), and a change that is undone at once may be missed;
//   - when ctx ends, or the DB closes;
//   - after a short pause, when the FoundationDB watch fails once set (too
//     many watches, the cluster recovering...): a spurious wake-up, which
//     the watcher handles by re-reading, and the pause keeps a watcher that
//     watches again at once from spinning.
//
// Watch reads the record before it returns, in the watch's transaction:
// that fixes the read version the watch compares against, so a change
// committed after Watch returns is never missed. That read takes a round
// trip to the cluster; when it fails (the cluster does not answer within
// MaxTxTimeout), Watch returns the translated error. Watch returns
// storage.ErrClosed on a closed DB, storage.ErrInvalidKey for an empty key
// and storage.ErrKeyTooLarge for one over storage.MaxKeySize. A key too
// long to be stored under FoundationDB's limits never changes: its channel
// closes only with ctx or the DB.
//
// The watch's transaction has no writes; its commit only starts the watch.
// The FoundationDB watch is cancelled when the channel closes, so a watch
// that ended counts no longer against the client's limit (10,000 by
// default).
func (d *DB) Watch(ctx context.Context, key []byte) (<-chan struct{}, error) {
	switch {
	case len(key) == 0:
		return nil, fmt.Errorf("%w: empty key", storage.ErrInvalidKey)
	case len(key) > storage.MaxKeySize:
		return nil, fmt.Errorf("%w: %d bytes", storage.ErrKeyTooLarge, len(key))
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, storage.ErrClosed
	}
	d.watchers.Add(1)
	d.mu.Unlock()
	ch := make(chan struct{})
	pk := d.key(headKey(key))
	if len(pk) > d.tune.keyLimit {
		go func() {
			defer d.watchers.Done()
			defer close(ch)
			d.wait(ctx, nil)
		}()
		return ch, nil
	}
	tr, f, err := d.startWatch(ctx, pk)
	if err != nil {
		d.watchers.Done()
		select {
		case <-ctx.Done():
		case <-d.closing:
		default:
			return nil, err
		}
		close(ch) // ended with its context or the DB, as the contract says
		return ch, nil
	}
	go func() {
		defer d.watchers.Done()
		defer close(ch)
		if err := d.awaitChange(ctx, tr, f); err != nil {
			d.wait(ctx, time.After(d.tune.watchPause))
		}
	}()
	return ch, nil
}

// startWatch creates the watch of pk in a new transaction, after reading
// pk in it (see Watch). The read is abandoned when ctx ends, d closes or
// tune.txTimeout passes.
func (d *DB) startWatch(ctx context.Context, pk []byte) (transaction, future, error) {
	tr, err := d.db.createTransaction()
	if err != nil {
		return nil, nil, translate(ctx, "watch", err, false)
	}
	timer := time.AfterFunc(d.tune.txTimeout, tr.cancel)
	stopCtx := context.AfterFunc(ctx, tr.cancel)
	stopClose := make(chan struct{})
	go func() {
		select {
		case <-d.closing:
			tr.cancel()
		case <-stopClose:
		}
	}()
	_, err = tr.get(pk)
	close(stopClose)
	live := timer.Stop()
	live = stopCtx() && live
	if err == nil && !live {
		err = &CodeError{Code: 1025} // cancelled just after the read
	}
	if err != nil {
		tr.cancel()
		return nil, nil, translate(ctx, "watch", err, false)
	}
	return tr, tr.watch(pk), nil
}

// wait returns when ctx ends, d closes, or timer fires.
func (d *DB) wait(ctx context.Context, timer <-chan time.Time) {
	select {
	case <-ctx.Done():
	case <-d.closing:
	case <-timer:
	}
}

// awaitChange commits the watch's transaction and waits until the watch
// fires (nil), fails (its error), or ctx ends or d closes (nil; the watch
// is cancelled).
func (d *DB) awaitChange(ctx context.Context, tr transaction, f future) error {
	done := make(chan error, 1)
	go func() {
		err := tr.commit()
		if err == nil {
			err = f.get()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	case <-d.closing:
	}
	f.cancel()
	tr.cancel()
	<-done
	return nil
}

// headKey returns the raw key of the head record of logical key k, as
// storage.Wrap lays it out (storage/layout.go, frozen by its golden file):
// 0x01, then k with each 0x00 byte followed by 0xFF, then 0x00. The tests
// check it against the keys Wrap writes.
func headKey(k []byte) []byte {
	out := make([]byte, 0, len(k)+2+len(k)/8)
	out = append(out, 0x01)
	for _, c := range k {
		out = append(out, c)
		if c == 0x00 {
			out = append(out, 0xff)
		}
	}
	return append(out, 0x00)
}
