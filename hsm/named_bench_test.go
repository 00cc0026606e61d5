//go:build cgo && !nopkcs11

package hsm

import (
	"context"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// benchNamedKeys is the number of named keys on the token of
// BenchmarkNamedKeys: one per tenant of a large installation.
const benchNamedKeys = 10000

// BenchmarkNamedKeys measures the named-key operations on a SoftHSM2 token
// holding benchNamedKeys named keys (plus the master key). SoftHSM2 visits
// every object of the token in a search, so what a search costs grows with
// the token:
//
//   - Generate: GenerateNamedKey of a new label (search for duplicates,
//     master key check, C_GenerateKey);
//   - Create: CreateNamedKey of a new label (master key check,
//     C_GenerateKey; no search);
//   - UnwrapCold: UnwrapNamed with the handle cache emptied first, i.e. the
//     first request for one tenant among benchNamedKeys (search, key type,
//     C_DecryptInit, C_Decrypt);
//   - UnwrapWarm: UnwrapNamed with the handle cached (C_DecryptInit,
//     C_Decrypt), for comparison;
//   - Index: IndexNamedKeys of the benchNamedKeys labels, cache emptied
//     first (one search, one C_GetAttributeValue per key);
//   - UnwrapAfterIndex: the first UnwrapNamed of a label after a restart
//     (Close, which finalizes the module, then Open and IndexNamedKeys, not
//     timed): C_OpenSession for the pool, C_DecryptInit, C_Decrypt;
//   - Destroy: DestroyNamedKey of an existing key (search, C_DestroyObject);
//     the GenerateNamedKey that makes each key is not timed.
//
// Setting up the token takes a while (benchNamedKeys C_GenerateKey calls).
// Run it with:
//
//	go test -run '^$' -bench BenchmarkNamedKeys -benchtime 20x -timeout 30m ./hsm
func BenchmarkNamedKeys(b *testing.B) {
	tok := softhsmtest.New(b)
	ctx := context.Background()
	h := openTest(b, tok, nil)
	b.Cleanup(func() { _ = h.Close() }) // h is replaced by UnwrapAfterIndex
	if err := h.EnsureKey(ctx, true); err != nil {
		b.Fatal(err)
	}
	labels := populateNamedKeys(b, h, "bench-tenant-", benchNamedKeys)
	// Blobs of a spread of tenants, so that the cold unwraps do not all
	// look up the same label.
	const sample = 100
	blobs := make([][]byte, sample)
	for i := range blobs {
		var err error
		if blobs[i], err = h.WrapNamed(ctx, labels[i*len(labels)/sample], make([]byte, 32), nil); err != nil {
			b.Fatal(err)
		}
	}
	prefix := fmt.Sprintf("keys=%d/", benchNamedKeys)

	b.Run(prefix+"Generate", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := h.GenerateNamedKey(ctx, fmt.Sprintf("bench-new-%d", i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run(prefix+"Create", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := h.CreateNamedKey(ctx, fmt.Sprintf("bench-created-%d", i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	unwrap := func(b *testing.B, cold bool) {
		if !cold {
			for j := range blobs {
				if _, err := h.UnwrapNamed(ctx, labels[j*len(labels)/sample], blobs[j], nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		i := 0
		for b.Loop() {
			if cold {
				h.names.reset()
			}
			j := i % sample
			if _, err := h.UnwrapNamed(ctx, labels[j*len(labels)/sample], blobs[j], nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run(prefix+"UnwrapCold", func(b *testing.B) { unwrap(b, true) })
	b.Run(prefix+"UnwrapWarm", func(b *testing.B) { unwrap(b, false) })
	b.Run(prefix+"Index", func(b *testing.B) {
		for b.Loop() {
			h.names.reset()
			if n, err := h.IndexNamedKeys(ctx, "bench-tenant-"); err != nil || n != benchNamedKeys {
				b.Fatalf("IndexNamedKeys = %d, %v; want %d", n, err, benchNamedKeys)
			}
		}
	})
	b.Run(prefix+"UnwrapAfterIndex", func(b *testing.B) {
		cfg := h.cfg
		i := 0
		for b.Loop() {
			b.StopTimer()
			if err := h.Close(); err != nil {
				b.Fatal(err)
			}
			var err error
			if h, err = Open(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			if n, err := h.IndexNamedKeys(ctx, "bench-tenant-"); err != nil || n != benchNamedKeys {
				b.Fatalf("IndexNamedKeys = %d, %v; want %d", n, err, benchNamedKeys)
			}
			j := i % sample
			b.StartTimer()
			if _, err := h.UnwrapNamed(ctx, labels[j*len(labels)/sample], blobs[j], nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
		if s := h.Stats(); s.Calls["C_Initialize"] != 1 || s.Calls["C_FindObjectsInit"] != 2 {
			b.Errorf("the last HSM made %v: want a fresh C_Initialize and two searches (master key, index)", s.Calls)
		}
	})
	b.Run(prefix+"Destroy", func(b *testing.B) {
		i := 0
		for b.Loop() {
			b.StopTimer()
			label := fmt.Sprintf("bench-destroy-%d", i)
			if err := h.GenerateNamedKey(ctx, label); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := h.DestroyNamedKey(ctx, label); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// populateNamedKeys puts n named keys labelled prefix0 ... on h's token
// with C_GenerateKey alone (GenerateNamedKey would search the growing token
// before each) and returns their labels.
func populateNamedKeys(tb testing.TB, h *HSM, prefix string, n int) []string {
	tb.Helper()
	labels := make([]string, n)
	h.lock <- struct{}{}
	defer func() { <-h.lock }()
	st := h.state.Load()
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}
	for i := range labels {
		labels[i] = fmt.Sprintf("%s%d", prefix, i)
		id := []byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		if err := h.mod.call(&h.stats, "test", fnGenerateKey, st.gen, func() error {
			_, err := h.mod.ctx.GenerateKey(st.login, mech, masterKeyTemplate(labels[i], id))
			return err
		}); err != nil {
			tb.Fatalf("generating key %d: %v", i, err)
		}
	}
	return labels
}
