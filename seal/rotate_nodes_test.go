package seal

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// twoNodes returns two barriers of one tenant on one store (two nodes),
// both unsealed.
func twoNodes(t *testing.T) (*Barrier, *Barrier) {
	t.Helper()
	st, _ := openBolt(t)
	a := New(st, []byte("t1"), Options{})
	shares := initUnseal(t, a, 1, 1)
	b := New(st, []byte("t1"), Options{})
	if _, err := b.Unseal(context.Background(), shares[0], false); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestRotationSeenByOtherNode: records written under a term that node A
// added are read by node B, whose keyring did not have it, and B then
// writes under the new term too.
func TestRotationSeenByOtherNode(t *testing.T) {
	ctx := context.Background()
	a, b := twoNodes(t)
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, func(tx *Tx) error { return tx.Set([]byte("k"), []byte("v2")) }); err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := b.View(ctx, func(tx *ReadTx) error {
		var err error
		got, err = tx.Get([]byte("k"))
		return err
	}); err != nil || string(got) != "v2" {
		t.Fatalf("node B reading a record of the new term: %q %v", got, err)
	}
	terms, _, _ := b.KeyStatus()
	if len(terms) != 2 {
		t.Fatalf("node B has %d terms after reading a term-2 record", len(terms))
	}
}

// TestConcurrentRotationsOnTwoNodes: rotations through both nodes at once
// each add a term; a record written under any of them stays readable on
// both nodes (a lost term would make its records unreadable).
func TestConcurrentRotationsOnTwoNodes(t *testing.T) {
	ctx := context.Background()
	a, b := twoNodes(t)
	const rounds = 10
	var wg sync.WaitGroup
	for n, node := range []*Barrier{a, b} {
		wg.Go(func() {
			for i := range rounds {
				if _, err := node.Rotate(ctx); err != nil {
					t.Error(err)
					return
				}
				key := fmt.Appendf(nil, "n%d-%d", n, i)
				if err := node.Update(ctx, func(tx *Tx) error { return tx.Set(key, key) }); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, node := range []*Barrier{a, b} {
		for n := range 2 {
			for i := range rounds {
				key := fmt.Appendf(nil, "n%d-%d", n, i)
				err := node.View(ctx, func(tx *ReadTx) error {
					v, err := tx.Get(key)
					if err == nil && string(v) != string(key) {
						err = fmt.Errorf("value %q", v)
					}
					return err
				})
				if err != nil {
					t.Fatalf("reading %s: %v", key, err)
				}
			}
		}
	}
	if err := a.ReloadKeyring(ctx); err != nil {
		t.Fatal(err)
	}
	terms, _, _ := a.KeyStatus()
	if got := terms[len(terms)-1].Term; got != 1+2*rounds {
		t.Fatalf("active term %d after %d rotations, want %d", got, 2*rounds, 1+2*rounds)
	}
}

// TestKeyringEpochReload: a rotation on node A bumps the keyring epoch;
// node B, watching, loads the new keyring before reading any record.
func TestKeyringEpochReload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := twoNodes(t)
	b.WatchEpochs(ctx, func(kind string) {
		if kind == EpochKeyring {
			b.ReloadKeyring(ctx)
		}
	})
	time.Sleep(20 * time.Millisecond) // the watchers are set
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		terms, _, _ := b.KeyStatus()
		if len(terms) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("node B did not load the rotated keyring within 1 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
