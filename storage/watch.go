package storage

import (
	"bytes"
	"context"
	"sync"
)

// Watcher is implemented by stores that can tell a caller that a key
// changed: FoundationDB's watches, and an in-process equivalent for the
// embedded store. Nodes watch per-tenant epoch keys to invalidate their
// caches when another node changes what they cached.
type Watcher interface {
	// Watch returns a channel that is closed once a transaction that
	// wrote key (Set, Delete, or a DeleteRange covering it) has committed
	// after the call, or when ctx ends or the store closes. A watch fires
	// once; watch again to keep watching. Writes that leave the value as
	// it was may fire it too (FDB's contract allows it), so a watcher
	// re-reads the key and compares.
	Watch(ctx context.Context, key []byte) (<-chan struct{}, error)
}

// watchers is the in-process watch registry of a wrapped store.
type watchers struct {
	mu   sync.Mutex
	keys map[string][]chan struct{}
	n    int // channels registered
}

func (w *watchers) add(key []byte) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.keys == nil {
		w.keys = map[string][]chan struct{}{}
	}
	w.keys[string(key)] = append(w.keys[string(key)], ch)
	w.n++
	w.mu.Unlock()
	return ch
}

// remove drops ch and closes it if it is still registered (the watcher
// gave up); a fired channel is already closed.
func (w *watchers) remove(key []byte, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.keys[string(key)]
	for i, c := range list {
		if c == ch {
			w.keys[string(key)] = append(list[:i], list[i+1:]...)
			w.n--
			if len(w.keys[string(key)]) == 0 {
				delete(w.keys, string(key))
			}
			close(ch)
			return
		}
	}
}

// fire closes the channels of the keys a committed transaction wrote.
func (w *watchers) fire(keys [][]byte, ranges [][2][]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		w.fireLocked(string(k))
	}
	for _, r := range ranges {
		for k := range w.keys {
			kb := []byte(k)
			if bytes.Compare(kb, r[0]) >= 0 && (r[1] == nil || bytes.Compare(kb, r[1]) < 0) {
				w.fireLocked(k)
			}
		}
	}
}

func (w *watchers) fireLocked(k string) {
	for _, ch := range w.keys[k] {
		close(ch)
		w.n--
	}
	delete(w.keys, k)
}

// closeAll fires every watch (the store is closing).
func (w *watchers) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.keys {
		w.fireLocked(k)
	}
}

// Watch implements Watcher for every wrapped store, in process: writes made
// through this Store fire the watches of this Store. When the raw backend
// is a Watcher too (FoundationDB, whose watches see every node's writes),
// its watch of the same key fires the channel as well.
func (s *store) Watch(ctx context.Context, key []byte) (<-chan struct{}, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var remote <-chan struct{} // nil, never ready, without a raw watcher
	if w, ok := s.raw.(Watcher); ok {
		r, err := w.Watch(ctx, key)
		if err != nil {
			cancel()
			return nil, err
		}
		remote = r
	}
	ch := s.watch.add(key)
	go func() {
		defer cancel() // ends the raw watch
		select {
		case <-ch:
		case <-remote:
			s.watch.remove(key, ch)
		case <-ctx.Done():
			s.watch.remove(key, ch)
		}
	}()
	return ch, nil
}

var _ Watcher = (*store)(nil)
