// Package sealtest gives other packages' tests an unsealed barrier on a
// real bbolt store in the test's temporary directory.
package sealtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

// Unsealed returns the barrier of tenant "root" on a fresh bbolt store,
// initialised with one Shamir share and unsealed with it. The store is
// closed when the test ends.
func Unsealed(t testing.TB) *seal.Barrier {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return UnsealedOn(t, st)
}

// UnsealedOn is Unsealed on the caller's store st.
func UnsealedOn(t testing.TB, st storage.Store) *seal.Barrier {
	t.Helper()
	ctx := context.Background()
	b := seal.New(st, []byte("root"), seal.Options{})
	res, err := b.Init(ctx, seal.InitRequest{SecretShares: 1, SecretThreshold: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unseal(ctx, res.Shares[0], false); err != nil {
		t.Fatal(err)
	}
	return b
}
