package seal

import (
	"context"
	"testing"
)

// BenchmarkBarrierRead measures a barrier read of a 1 KiB record from bolt:
// the storage read and one XChaCha20-Poly1305 open, no PKCS#11 call.
func BenchmarkBarrierRead(b *testing.B) {
	bar := benchBarrier(b)
	ctx := context.Background()
	val := make([]byte, 1024)
	if err := bar.Update(ctx, func(tx *Tx) error { return tx.Set([]byte("k"), val) }); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(val)))
	for b.Loop() {
		if err := bar.View(ctx, func(tx *ReadTx) error { _, err := tx.Get([]byte("k")); return err }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyringSealOpen measures the record cipher alone on 1 KiB.
func BenchmarkKeyringSealOpen(b *testing.B) {
	bar := benchBarrier(b)
	kr := bar.keys.Load()
	ad := []byte("tenant/key")
	val := make([]byte, 1024)
	b.SetBytes(int64(len(val)))
	for b.Loop() {
		rec, err := kr.encrypt(ad, val)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kr.decrypt(ad, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func benchBarrier(b *testing.B) *Barrier {
	b.Helper()
	st, err := openBoltB(b)
	if err != nil {
		b.Fatal(err)
	}
	bar := New(st, []byte("root"), Options{})
	res, err := bar.Init(context.Background(), InitRequest{SecretShares: 1, SecretThreshold: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bar.Unseal(context.Background(), res.Shares[0], false); err != nil {
		b.Fatal(err)
	}
	return bar
}
