package seal

import (
	"context"
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
