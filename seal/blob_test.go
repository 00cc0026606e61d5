package seal_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/sealtest"
	"github.com/strongroom/strongroom/storage/bolt"
)

// TestBlobs: a blob opens in its tenant for its purpose, after a keyring
// rotation too; another purpose, another tenant, a changed byte or garbage
// do not.
func TestBlobs(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := sealtest.UnsealedOn(t, st)
	other := seal.New(st, []byte("other"), seal.Options{})
	res, err := other.Init(ctx, seal.InitRequest{SecretShares: 1, SecretThreshold: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Unseal(ctx, res.Shares[0], false); err != nil {
		t.Fatal(err)
	}
	var blob []byte
	view := func(b *seal.Barrier, fn func(tx *seal.ReadTx) error) {
		t.Helper()
		if err := b.View(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	view(a, func(tx *seal.ReadTx) error {
		var err error
		blob, err = tx.SealBlob("p", []byte("hello"))
		return err
	})
	if _, err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	open := func(b *seal.Barrier, purpose string, blob []byte) ([]byte, error) {
		var pt []byte
		err := b.View(ctx, func(tx *seal.ReadTx) error {
			var err error
			pt, err = tx.OpenBlob(purpose, blob)
			return err
		})
		return pt, err
	}
	if pt, err := open(a, "p", blob); err != nil || string(pt) != "hello" {
		t.Fatalf("open after a rotation: %q %v", pt, err)
	}
	changed := append([]byte(nil), blob...)
	changed[len(changed)-1] ^= 1
	for name, tc := range map[string]struct {
		b       *seal.Barrier
		purpose string
		blob    []byte
	}{
		"other purpose": {a, "q", blob}, "other tenant": {other, "p", blob}, "changed": {a, "p", changed},
		"garbage": {a, "p", []byte("garbage")}, "empty": {a, "p", nil},
	} {
		if pt, err := open(tc.b, tc.purpose, tc.blob); !errors.Is(err, seal.ErrDecrypt) && !errors.Is(err, seal.ErrCorrupt) {
			t.Errorf("%s: %q %v", name, pt, err)
		}
	}
}
