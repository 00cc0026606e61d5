package tenant

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/hsm/hsmtest"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// TestConcurrentInitLeavesOneKey: two nodes initialise one namespace at
// once; one init wins, and the loser's HSM key is destroyed, so the token
// holds exactly one key for the tenant, the one that opens it.
func TestConcurrentInitLeavesOneKey(t *testing.T) {
	ctx := context.Background()
	h, _, a, b, e := twoHSMNodes(t, "race")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, m := range []*Manager{a, b} {
		wg.Go(func() {
			tn, err := m.Lookup(ctx, "race")
			if err == nil {
				_, err = tn.Sys.Init(ctx, sys.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
			}
			errs[i] = err
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, seal.ErrAlreadyInitialized):
			t.Fatalf("init: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d inits succeeded", won)
	}
	n, err := h.IndexNamedKeys(ctx, tenantKeyPrefix("master", e.TenantID)+"/")
	if err != nil || n != 1 {
		t.Fatalf("the token holds %d keys of the tenant (%v), want 1", n, err)
	}
	// Both nodes open the tenant with it.
	for _, m := range []*Manager{a, b} {
		tn, _ := m.Lookup(ctx, "race")
		tn.Stop()
		if ok, err := tn.Barrier.AutoUnseal(ctx); err != nil || !ok {
			t.Fatalf("auto-unseal after the race: %v %v", ok, err)
		}
	}
}

// twoHSMNodes starts two nodes on one store and one HSM token, and
// creates the auto-sealed namespace name on the first; the second sees it.
func twoHSMNodes(t *testing.T, name string) (h *hsm.HSM, st storage.Store, a, b *Manager, e *Entry) {
	t.Helper()
	h = hsmtest.Open(t)
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	cfg := Config{HSM: h, HSMLabelPrefix: "master"}
	a = newNode(t, st, clk, &key, cfg)
	b = newNode(t, st, clk, &key, cfg)
	e, err := a.Create(context.Background(), name, CreateInput{SealType: SealAuto})
	if err != nil {
		t.Fatal(err)
	}
	waitUntilWithin(t, 5*time.Second, func() bool { return b.Has(context.Background(), name) }) // setup, under whatever load
	return h, st, a, b, e
}

// tenantRecords counts the raw records under tenant id's prefix.
func tenantRecords(t *testing.T, st storage.Store, id []byte) int {
	t.Helper()
	n := 0
	err := st.View(context.Background(), func(tx storage.ReadTx) error {
		r := storage.PrefixRange(seal.TenantPrefix(id))
		r.KeysOnly = true
		kvs, err := tx.GetRange(r)
		n = len(kvs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInitAfterDeleteWritesNothing: a request that loaded a namespace's
// tenant before another node deleted the namespace, and initialises it
// after the deletion's purge finished, is refused (seal.ErrGone) and
// leaves no seal record and no HSM key behind. Without the seal guard the
// init succeeds and leaves both, with nothing left to remove them.
func TestInitAfterDeleteWritesNothing(t *testing.T) {
	ctx := context.Background()
	h, st, a, b, e := twoHSMNodes(t, "gone")
	tn, err := a.Lookup(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := b.Delete(ctx, "gone"); err != nil || s != DeleteDone {
		t.Fatalf("delete: %q %v", s, err)
	}
	_, err = tn.Sys.Init(ctx, sys.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
	if !errors.Is(err, seal.ErrGone) {
		t.Fatalf("init after the delete: %v, want seal.ErrGone", err)
	}
	if n := tenantRecords(t, st, tn.ID); n != 0 {
		t.Fatalf("the deleted tenant has %d records", n)
	}
	if n, err := h.IndexNamedKeys(ctx, tenantKeyPrefix("master", e.TenantID)+"/"); err != nil || n != 0 {
		t.Fatalf("the token holds %d keys of the deleted tenant (%v), want 0", n, err)
	}
}

// TestInitAfterRenameFindsTheEntry: a tenant loaded under its old name
// initialises after a rename; the guard finds its entry under the new one.
func TestInitAfterRenameFindsTheEntry(t *testing.T) {
	ctx := context.Background()
	h := hsmtest.Open(t)
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{HSM: h, HSMLabelPrefix: "master"})
	e, err := m.Create(ctx, "before", CreateInput{SealType: SealAuto})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := m.Lookup(ctx, "before")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rename(ctx, "before", "after"); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Sys.Init(ctx, sys.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1}); err != nil {
		t.Fatalf("init after the rename: %v", err)
	}
	if n, err := h.IndexNamedKeys(ctx, tenantKeyPrefix("master", e.TenantID)+"/"); err != nil || n != 1 {
		t.Fatalf("the token holds %d keys of the tenant (%v), want 1", n, err)
	}
	if got, err := m.Lookup(ctx, "after"); err != nil || got != tn {
		t.Fatalf("lookup after the rename: %v", err)
	}
}
