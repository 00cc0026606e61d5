package tenant

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/hsm/hsmtest"
	"github.com/strongroom/strongroom/seal"
)

// TestConcurrentInitLeavesOneKey: two nodes initialise one namespace at
// once; one init wins, and the loser's HSM key is destroyed, so the token
// holds exactly one key for the tenant, the one that opens it.
func TestConcurrentInitLeavesOneKey(t *testing.T) {
	ctx := context.Background()
	h := hsmtest.Open(t)
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	cfg := Config{HSM: h, HSMLabelPrefix: "master"}
	a := newNode(t, st, clk, &key, cfg)
	b := newNode(t, st, clk, &key, cfg)
	e, err := a.Create(ctx, "race", CreateInput{SealType: SealAuto})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return b.Has(ctx, "race") })
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
