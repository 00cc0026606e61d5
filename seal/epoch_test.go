package seal

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// TestWatchEpochs: two barriers of one tenant over one store stand for two
// nodes. A bump made through node 2 reaches node 1's watcher within a
// second, for the kind bumped only; a single bump made through node 1
// itself does not (its caches are current), but a burst that mixes both
// nodes' bumps does.
func TestWatchEpochs(t *testing.T) {
	st, _ := openBolt(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n1 := New(st, []byte("tenant-a"), Options{})
	initUnseal(t, n1, 1, 1)
	n2 := New(st, []byte("tenant-a"), Options{})
	var mu sync.Mutex
	got := map[string]int{}
	n1.WatchEpochs(ctx, func(kind string) {
		mu.Lock()
		got[kind]++
		mu.Unlock()
	})
	count := func(kind string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[kind]
	}
	time.Sleep(50 * time.Millisecond) // the watchers read their first values
	bump := func(b *Barrier, kind string) {
		t.Helper()
		// n2 is sealed: bump through the raw transaction, as a node's
		// engine does inside its own write.
		err := b.store.Update(ctx, func(raw storage.Tx) error {
			return (&Tx{ReadTx: ReadTx{raw: raw, b: b}, raw: raw}).BumpEpoch(kind)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitCount := func(kind string, want int) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for count(kind) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s invalidations: %d, want %d", kind, count(kind), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	bump(n2, EpochTransit)
	waitCount(EpochTransit, 1)
	if c := count(EpochTokens); c != 0 {
		t.Fatalf("a transit bump invalidated tokens %d times", c)
	}
	bump(n1, EpochPolicies)
	time.Sleep(100 * time.Millisecond)
	if c := count(EpochPolicies); c != 0 {
		t.Fatalf("node 1's own bump invalidated its policies %d times", c)
	}
	bump(n2, EpochPolicies)
	waitCount(EpochPolicies, 1)
	// Node 1 and node 2 in one burst: at least one invalidation.
	bump(n1, EpochMounts)
	bump(n2, EpochMounts)
	deadline := time.Now().Add(time.Second)
	for count(EpochMounts) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a burst with another node's bump was not invalidated")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkEpochPropagation measures the time from another node's bump
// committing to this node's invalidation callback (one shared bolt store;
// the bolt commit, with its fsync, is inside the measured time).
func BenchmarkEpochPropagation(b *testing.B) {
	st, err := openBoltB(b)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n1 := New(st, []byte("tenant-a"), Options{})
	n2 := New(st, []byte("tenant-a"), Options{})
	fired := make(chan struct{}, 1)
	n1.WatchEpochs(ctx, func(kind string) {
		if kind == EpochTransit {
			fired <- struct{}{}
		}
	})
	time.Sleep(50 * time.Millisecond)
	for b.Loop() {
		err := n2.store.Update(ctx, func(raw storage.Tx) error {
			return (&Tx{ReadTx: ReadTx{raw: raw, b: n2}, raw: raw}).BumpEpoch(EpochTransit)
		})
		if err != nil {
			b.Fatal(err)
		}
		<-fired
	}
}

// countingWatcher is a real store whose watches are counted: how many are
// open at once, and on which keys.
type countingWatcher struct {
	storage.Store
	mu       sync.Mutex
	open     int
	maxOpen  int
	keys     map[string]bool
	watchers storage.Watcher
}

func (c *countingWatcher) Watch(ctx context.Context, key []byte) (<-chan struct{}, error) {
	ch, err := c.watchers.Watch(ctx, key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.open++
	c.maxOpen = max(c.maxOpen, c.open)
	c.keys[string(key)] = true
	c.mu.Unlock()
	out := make(chan struct{})
	go func() {
		<-ch
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
		close(out)
	}()
	return out, nil
}

// TestWatchEpochsHoldsOneWatch: a node watching every kind of a tenant
// holds one storage watch, not one per kind (FoundationDB bounds a
// client's watches), and still sees each kind's bumps from another node.
func TestWatchEpochsHoldsOneWatch(t *testing.T) {
	st, _ := openBolt(t)
	cw := &countingWatcher{Store: st, watchers: st.(storage.Watcher), keys: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n1 := New(cw, []byte("tenant-a"), Options{})
	initUnseal(t, n1, 1, 1)
	n2 := New(st, []byte("tenant-a"), Options{})
	var mu sync.Mutex
	got := map[string]int{}
	n1.WatchEpochKinds(ctx, append(slices.Clone(EpochKinds), EpochSeal), func(kind string) {
		mu.Lock()
		got[kind]++
		mu.Unlock()
	})
	// Bump only once the watcher has read the epochs and holds its watch.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		cw.mu.Lock()
		open := cw.open
		cw.mu.Unlock()
		if open > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no watch opened")
		}
	}
	for _, kind := range append(slices.Clone(EpochKinds), EpochSeal) {
		err := st.Update(ctx, func(raw storage.Tx) error {
			return (&Tx{ReadTx: ReadTx{raw: raw, b: n2}, raw: raw}).BumpEpoch(kind)
		})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			mu.Lock()
			n := got[kind]
			mu.Unlock()
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d invalidations, want 1", kind, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.maxOpen != 1 || len(cw.keys) != 1 {
		t.Fatalf("%d watches open at most, on %d keys; want 1 on 1", cw.maxOpen, len(cw.keys))
	}
}
