package seal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/strongroom/strongroom/seal/shamir"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

func openBolt(t *testing.T) (storage.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// initUnseal initialises b with shares/threshold and unseals it.
func initUnseal(t *testing.T, b *Barrier, shares, threshold int) [][]byte {
	t.Helper()
	ctx := context.Background()
	res, err := b.Init(ctx, InitRequest{SecretShares: shares, SecretThreshold: threshold}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Sealed() {
		t.Fatal("unsealed right after init")
	}
	for _, s := range res.Shares[:threshold] {
		if _, err := b.Unseal(ctx, s, false); err != nil {
			t.Fatal(err)
		}
	}
	if b.Sealed() {
		t.Fatal("still sealed after threshold keys")
	}
	return res.Shares
}

func TestRoundTripAndRestart(t *testing.T) {
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("tenant-a"), Options{})
	shares := initUnseal(t, b, 5, 3)
	if err := b.Update(ctx, func(tx *Tx) error { return tx.Set([]byte("k"), []byte("v1")) }); err != nil {
		t.Fatal(err)
	}
	// A second Barrier on the same store (a restarted node) starts sealed
	// and reads the record after unsealing with another subset.
	b2 := New(st, []byte("tenant-a"), Options{})
	if !b2.Sealed() {
		t.Fatal("new barrier not sealed")
	}
	if err := b2.View(ctx, func(tx *ReadTx) error { return nil }); !errors.Is(err, ErrSealed) {
		t.Fatalf("View while sealed: %v", err)
	}
	for _, s := range shares[2:] {
		if _, err := b2.Unseal(ctx, s, false); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	if err := b2.View(ctx, func(tx *ReadTx) error {
		var err error
		got, err = tx.Get([]byte("k"))
		return err
	}); err != nil || string(got) != "v1" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

// TestRecordBoundToKeyAndTenant copies a sealed record under another key
// and into another tenant: both must fail to decrypt, as must a tampered one.
func TestRecordBoundToKeyAndTenant(t *testing.T) {
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("A"), Options{})
	initUnseal(t, b, 1, 1)
	if err := b.Update(ctx, func(tx *Tx) error { return tx.Set([]byte("one"), []byte("secret")) }); err != nil {
		t.Fatal(err)
	}
	var rec []byte
	st.View(ctx, func(tx storage.ReadTx) error {
		var err error
		rec, err = tx.Get(b.dataKey([]byte("one")))
		return err
	})
	if bytes.Contains(rec, []byte("secret")) {
		t.Fatal("record holds plaintext")
	}
	put := func(key []byte, v []byte) {
		if err := st.Update(ctx, func(tx storage.Tx) error { return tx.Set(key, v) }); err != nil {
			t.Fatal(err)
		}
	}
	get := func(b *Barrier, key string) error {
		return b.View(ctx, func(tx *ReadTx) error { _, err := tx.Get([]byte(key)); return err })
	}
	put(b.dataKey([]byte("two")), rec)
	if err := get(b, "two"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("record moved to another key: %v, want ErrDecrypt", err)
	}
	tampered := bytes.Clone(rec)
	tampered[len(tampered)-1] ^= 1
	put(b.dataKey([]byte("three")), tampered)
	if err := get(b, "three"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered record: %v, want ErrDecrypt", err)
	}
	// Tenant B holds its own keys; even the same storage key in B fails.
	other := New(st, []byte("B"), Options{})
	initUnseal(t, other, 1, 1)
	put(other.dataKey([]byte("one")), rec)
	if err := get(other, "one"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("record moved to another tenant: %v, want ErrDecrypt", err)
	}
	if err := get(b, "one"); err != nil {
		t.Fatalf("original record: %v", err)
	}
}

// failingCommit is a fault injector on top of the real store: every Update
// runs the closure on bolt, then fails as a lost commit would, so bolt rolls
// the transaction back.
type failingCommit struct{ storage.Store }

var errCommit = errors.New("injected commit failure")

func (f failingCommit) Update(ctx context.Context, fn func(storage.Tx) error) error {
	return f.Store.Update(ctx, func(tx storage.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCommit
	})
}

func countKeys(t *testing.T, st storage.Store) int {
	t.Helper()
	var n int
	st.View(context.Background(), func(tx storage.ReadTx) error {
		kvs, err := tx.GetRange(storage.Range{Begin: []byte{0x00}, End: []byte{0xff}, KeysOnly: true})
		n = len(kvs)
		return err
	})
	return n
}

func TestInitIsAtomic(t *testing.T) {
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(failingCommit{st}, []byte("root"), Options{})
	if _, err := b.Init(ctx, InitRequest{SecretShares: 5, SecretThreshold: 3}, func(tx *Tx) error {
		return tx.Set([]byte("token"), []byte("x"))
	}); !errors.Is(err, errCommit) {
		t.Fatalf("Init over a failing commit: %v", err)
	}
	if n := countKeys(t, st); n != 0 {
		t.Fatalf("interrupted init left %d keys", n)
	}
	// A failure inside the caller's part of init leaves nothing either.
	b = New(st, []byte("root"), Options{})
	boom := errors.New("boom")
	if _, err := b.Init(ctx, InitRequest{SecretShares: 1, SecretThreshold: 1}, func(tx *Tx) error {
		if err := tx.Set([]byte("token"), []byte("x")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Init with failing fn: %v", err)
	}
	if ok, err := b.Initialized(ctx); ok || err != nil {
		t.Fatalf("Initialized after failed init = %v, %v", ok, err)
	}
	if n := countKeys(t, st); n != 0 {
		t.Fatalf("failed init left %d keys", n)
	}
	// And the tenant can still be initialised afterwards.
	initUnseal(t, b, 1, 1)
	if _, err := b.Init(ctx, InitRequest{SecretShares: 1, SecretThreshold: 1}, nil); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("second init: %v", err)
	}
}

func TestInitValidation(t *testing.T) {
	cases := []struct {
		shares, threshold int
		ok                bool
	}{
		{5, 3, true}, {1, 1, true}, {255, 255, true}, {2, 2, true},
		{0, 0, false}, {5, 0, false}, {3, 5, false}, {256, 3, false}, {5, 1, false}, {300, 256, false}, {-1, 1, false},
	}
	for _, c := range cases {
		err := InitRequest{SecretShares: c.shares, SecretThreshold: c.threshold}.Validate(ModeShamir)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("Validate(%d/%d) = %v", c.shares, c.threshold, err)
		}
	}
}

func TestUnsealRefusals(t *testing.T) {
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("root"), Options{})
	if _, err := b.Unseal(ctx, make([]byte, 33), false); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("unseal before init: %v", err)
	}
	res, err := b.Init(ctx, InitRequest{SecretShares: 3, SecretThreshold: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unseal(ctx, res.Shares[0][:10], false); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := b.Unseal(ctx, res.Shares[0], false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unseal(ctx, res.Shares[0], false); !errors.Is(err, ErrDuplicateShare) {
		t.Fatalf("duplicate: %v", err)
	}
	// A share from another split: combines to a wrong key.
	foreign, _ := shamir.Split(bytes.Repeat([]byte{7}, 32), 3, 2)
	foreign[0][32] = res.Shares[1][32] ^ 0x55 // a distinct x coordinate
	if foreign[0][32] == res.Shares[0][32] {
		foreign[0][32] ^= 0x0f
	}
	if _, err := b.Unseal(ctx, foreign[0], false); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("foreign share: %v", err)
	}
	if st, _ := b.Status(ctx); st.Progress != 0 || !st.Sealed {
		t.Fatalf("after wrong key: %+v", st)
	}
}

// TestSealWipesKeys checks that Seal destroys the memguard buffers and that
// operations racing with Seal fail cleanly with ErrSealed.
func TestSealWipesKeys(t *testing.T) {
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("root"), Options{})
	initUnseal(t, b, 1, 1)
	kr := b.keys.Load()
	if !kr.buf.IsAlive() || !kr.root.IsAlive() {
		t.Fatal("keys not alive while unsealed")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				errs <- b.Update(ctx, func(tx *Tx) error { return tx.Set([]byte{byte(i), byte(j)}, []byte("v")) })
			}
		}()
	}
	b.Seal()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, ErrSealed) {
			t.Fatalf("operation racing with Seal: %v", err)
		}
	}
	if kr.buf.IsAlive() || kr.root.IsAlive() || len(kr.buf.Bytes()) != 0 {
		t.Fatal("Seal left key buffers alive")
	}
	if err := b.Update(ctx, func(tx *Tx) error { return nil }); !errors.Is(err, ErrSealed) {
		t.Fatalf("Update after Seal: %v", err)
	}
}

func TestRotate(t *testing.T) {
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("root"), Options{})
	shares := initUnseal(t, b, 1, 1)
	b.Update(ctx, func(tx *Tx) error { return tx.Set([]byte("old"), []byte("1")) })
	term, err := b.Rotate(ctx)
	if err != nil || term.Term != 2 {
		t.Fatalf("Rotate = %+v, %v", term, err)
	}
	b.Update(ctx, func(tx *Tx) error { return tx.Set([]byte("new"), []byte("2")) })
	var rec []byte
	st.View(ctx, func(tx storage.ReadTx) error { rec, _ = tx.Get(b.dataKey([]byte("new"))); return nil })
	if tm, _ := recordTerm(rec); tm != 2 {
		t.Fatalf("new record written under term %d", tm)
	}
	// After a reseal the stored keyring has both terms.
	b.Seal()
	if _, err := b.Unseal(ctx, shares[0], false); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"old": "1", "new": "2"} {
		var got []byte
		if err := b.View(ctx, func(tx *ReadTx) error { var err error; got, err = tx.Get([]byte(k)); return err }); err != nil || string(got) != want {
			t.Fatalf("%s = %q, %v", k, got, err)
		}
	}
	if terms, _, _ := b.KeyStatus(); len(terms) != 2 {
		t.Fatalf("terms = %v", terms)
	}
}

// TestStoreHoldsNoKey scans the raw bolt file for the root key, the hash key
// and every keyring term after init, unseal and a rotation.
func TestStoreHoldsNoKey(t *testing.T) {
	st, path := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("root"), Options{})
	initUnseal(t, b, 5, 3)
	if _, err := b.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	kr := b.keys.Load()
	secrets := [][]byte{bytes.Clone(kr.root.Bytes())}
	all := kr.buf.Bytes()
	for i := 0; i < len(all); i += keySize {
		secrets = append(secrets, bytes.Clone(all[i:i+keySize]))
	}
	st.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range secrets {
		if len(s) != keySize {
			t.Fatalf("secret %d has %d bytes", i, len(s))
		}
		if bytes.Contains(raw, s) {
			t.Errorf("store file contains key %d", i)
		}
	}
}

// TestWipeAEAD pins the layout wipeAEAD relies on: after the wipe, the AEAD
// encrypts as one made from an all-zero key.
func TestWipeAEAD(t *testing.T) {
	key := bytes.Repeat([]byte{0xA5}, keySize)
	aead, _ := chacha20poly1305.NewX(key)
	wipeAEAD(aead)
	zero, _ := chacha20poly1305.NewX(make([]byte, keySize))
	nonce := make([]byte, nonceSize)
	if !bytes.Equal(aead.Seal(nil, nonce, []byte("x"), nil), zero.Seal(nil, nonce, []byte("x"), nil)) {
		t.Fatal("wipeAEAD did not clear the key held by the AEAD")
	}
}
