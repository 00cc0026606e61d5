package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strongroom/strongroom/hsm/hsmtest"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

func getRecord(t *testing.T, b *Barrier, key string) (string, error) {
	t.Helper()
	var v []byte
	err := b.View(context.Background(), func(tx *ReadTx) error {
		var err error
		v, err = tx.Get([]byte(key))
		return err
	})
	return string(v), err
}

func putRecord(t *testing.T, b *Barrier, key, value string) {
	t.Helper()
	if err := b.Update(context.Background(), func(tx *Tx) error { return tx.Set([]byte(key), []byte(value)) }); err != nil {
		t.Fatal(err)
	}
}

// TestAutoUnseal: init returns recovery keys only and leaves the tenant
// unsealed; a restarted barrier unseals itself through the HSM with one
// PKCS#11 unwrap; recovery keys unseal it after a manual seal.
func TestAutoUnseal(t *testing.T) {
	h := hsmtest.Open(t)
	st, _ := openBolt(t)
	ctx := context.Background()
	opts := Options{Mode: ModeAuto, HSM: h}
	b := New(st, []byte("root"), opts)
	if _, err := b.Init(ctx, InitRequest{SecretShares: 5, SecretThreshold: 3}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("unseal key shares on an auto seal: %v", err)
	}
	res, err := b.Init(ctx, InitRequest{RecoveryShares: 5, RecoveryThreshold: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Shares) != 0 || len(res.RecoveryShares) != 5 || b.Sealed() {
		t.Fatalf("init: %d unseal keys, %d recovery keys, sealed=%v", len(res.Shares), len(res.RecoveryShares), b.Sealed())
	}
	status, _ := b.Status(ctx)
	if status.Type != "pkcs11" || !status.RecoverySeal || status.Threshold != 3 || status.Shares != 5 {
		t.Fatalf("status: %+v", status)
	}
	putRecord(t, b, "k", "v")

	restarted := New(st, []byte("root"), opts)
	before := h.Stats().Total()
	ok, err := restarted.AutoUnseal(ctx)
	if err != nil || !ok || restarted.Sealed() {
		t.Fatalf("AutoUnseal = %v, %v", ok, err)
	}
	calls := h.Stats().Total() - before
	t.Logf("PKCS#11 calls for one auto-unseal: %d", calls)
	if calls == 0 || calls > 4 {
		t.Fatalf("auto-unseal made %d PKCS#11 calls", calls)
	}
	if v, err := getRecord(t, restarted, "k"); err != nil || v != "v" {
		t.Fatalf("record after auto-unseal: %q %v", v, err)
	}
	// Reading and writing records makes no PKCS#11 call.
	before = h.Stats().Total()
	for range 1000 {
		putRecord(t, restarted, "k", "v2")
		getRecord(t, restarted, "k")
	}
	if n := h.Stats().Total() - before; n != 0 {
		t.Fatalf("1,000 barrier reads and writes made %d PKCS#11 calls", n)
	}

	// Manually sealed: recovery keys (and the HSM) unseal it again; a wrong
	// quorum does not.
	restarted.Seal()
	restarted.Unseal(ctx, res.RecoveryShares[0], false)
	restarted.Unseal(ctx, res.RecoveryShares[1], false)
	wrong := bytes.Clone(res.RecoveryShares[2])
	wrong[0] ^= 1
	if _, err := restarted.Unseal(ctx, wrong, false); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("wrong recovery quorum: %v", err)
	}
	for _, s := range res.RecoveryShares[2:] {
		if _, err := restarted.Unseal(ctx, s, false); err != nil {
			t.Fatal(err)
		}
	}
	if restarted.Sealed() {
		t.Fatal("recovery keys did not unseal")
	}
}

// TestDualControl: the HSM alone cannot unseal, the shares alone cannot
// unseal, both together can.
func TestDualControl(t *testing.T) {
	h := hsmtest.Open(t)
	st, path := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("root"), Options{Mode: ModeDual, HSM: h})
	res, err := b.Init(ctx, InitRequest{SecretShares: 3, SecretThreshold: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Sealed() || len(res.Shares) != 3 || len(res.RecoveryShares) != 0 {
		t.Fatalf("dual init: sealed=%v shares=%d", b.Sealed(), len(res.Shares))
	}
	// The HSM alone: a restarted node does not auto-unseal.
	if ok, err := b.AutoUnseal(ctx); ok || err != nil || !b.Sealed() {
		t.Fatalf("AutoUnseal under dual control = %v, %v", ok, err)
	}
	// The shares alone: a node configured without the HSM cannot use them.
	noHSM := New(st, []byte("root"), Options{Mode: ModeShamir})
	if _, err := noHSM.Unseal(ctx, res.Shares[0], false); !errors.Is(err, ErrMigrationRequired) {
		t.Fatalf("shares without the HSM, no migrate: %v", err)
	}
	noHSM.Unseal(ctx, res.Shares[0], true)
	if _, err := noHSM.Unseal(ctx, res.Shares[1], true); !errors.Is(err, ErrHSM) || !noHSM.Sealed() {
		t.Fatalf("shares without the HSM, migrate: %v", err)
	}
	// Nor can the shares open the root key directly: it is wrapped under
	// HKDF(seal key ‖ unseal key), not the unseal key.
	x, err := (&Quorum{}).Add(res.Shares[0], 2)
	if err != nil || x != nil {
		t.Fatal("quorum of one")
	}
	// Both: unsealed.
	b.Unseal(ctx, res.Shares[0], false)
	if _, err := b.Unseal(ctx, res.Shares[2], false); err != nil || b.Sealed() {
		t.Fatalf("dual unseal: %v", err)
	}
	putRecord(t, b, "k", "plain-secret-value-7f3a")
	st.Close()
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("plain-secret-value-7f3a")) {
		t.Fatal("plaintext in store")
	}
}

// TestMigration moves a tenant shamir → pkcs11 → dual → shamir, keeping its
// data and its key shares, and checks the refusals on the way.
func TestMigration(t *testing.T) {
	h := hsmtest.Open(t)
	st, _ := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("root"), Options{Mode: ModeShamir})
	res, err := b.Init(ctx, InitRequest{SecretShares: 3, SecretThreshold: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := res.Shares
	b.Unseal(ctx, keys[0], false)
	b.Unseal(ctx, keys[1], false)
	putRecord(t, b, "k", "kept")

	unsealWith := func(b *Barrier, migrate bool, shares ...[]byte) error {
		t.Helper()
		for _, s := range shares {
			if _, err := b.Unseal(ctx, s, migrate); err != nil {
				return err
			}
		}
		return nil
	}

	// shamir → pkcs11 (auto): the unseal keys become recovery keys.
	auto := New(st, []byte("root"), Options{Mode: ModeAuto, HSM: h})
	if s, _ := auto.Status(ctx); !s.Migration || s.Type != "shamir" {
		t.Fatalf("pending migration status: %+v", s)
	}
	if ok, _ := auto.AutoUnseal(ctx); ok {
		t.Fatal("auto-unsealed before the migration")
	}
	if err := unsealWith(auto, false, keys[0]); !errors.Is(err, ErrMigrationRequired) {
		t.Fatalf("unseal without migrate: %v", err)
	}
	// An interrupted migration (one key given, then the node stops) changes
	// nothing: the old configuration still unseals.
	unsealWith(auto, true, keys[0])
	old := New(st, []byte("root"), Options{Mode: ModeShamir})
	if err := unsealWith(old, false, keys[1], keys[2]); err != nil || old.Sealed() {
		t.Fatalf("rollback of an interrupted migration: %v", err)
	}
	old.Seal()
	if err := unsealWith(auto, true, keys[1]); err != nil || auto.Sealed() {
		t.Fatalf("migrate to pkcs11: %v", err)
	}
	if s, _ := auto.Status(ctx); s.Migration || s.Type != "pkcs11" || !s.RecoverySeal || s.Threshold != 2 {
		t.Fatalf("after migration: %+v", s)
	}
	again := New(st, []byte("root"), Options{Mode: ModeAuto, HSM: h})
	if ok, err := again.AutoUnseal(ctx); !ok || err != nil {
		t.Fatalf("auto-unseal after migration: %v %v", ok, err)
	}
	if v, err := getRecord(t, again, "k"); v != "kept" || err != nil {
		t.Fatalf("data after migration: %q %v", v, err)
	}

	// pkcs11 → dual control: the recovery keys become unseal keys.
	dual := New(st, []byte("root"), Options{Mode: ModeDual, HSM: h})
	if err := unsealWith(dual, true, keys[2], keys[0]); err != nil || dual.Sealed() {
		t.Fatalf("migrate to dual: %v", err)
	}
	if v, _ := getRecord(t, dual, "k"); v != "kept" {
		t.Fatal("data lost in migration to dual")
	}

	// dual → shamir (the HSM kept, disabled, for the migration).
	back := New(st, []byte("root"), Options{Mode: ModeShamir, HSM: h})
	if err := unsealWith(back, true, keys[1], keys[2]); err != nil || back.Sealed() {
		t.Fatalf("migrate back to shamir: %v", err)
	}
	plain := New(st, []byte("root"), Options{Mode: ModeShamir})
	if err := unsealWith(plain, false, keys[0], keys[2]); err != nil || plain.Sealed() {
		t.Fatalf("shamir unseal after migrating back: %v", err)
	}
	if v, _ := getRecord(t, plain, "k"); v != "kept" {
		t.Fatal("data lost migrating back")
	}
	if err := unsealWith(plain, true, keys[0]); !errors.Is(err, ErrNoMigration) {
		t.Fatalf("migrate with nothing to migrate: %v", err)
	}
}

// TestStoreHoldsNoKeyAuto scans the store of an auto-unsealed tenant for
// the root key, every keyring key and the HSM-wrapped seal key.
func TestStoreHoldsNoKeyAuto(t *testing.T) {
	h := hsmtest.Open(t)
	st, path := openBolt(t)
	ctx := context.Background()
	b := New(st, []byte("root"), Options{Mode: ModeAuto, HSM: h})
	if _, err := b.Init(ctx, InitRequest{RecoveryShares: 3, RecoveryThreshold: 2}, nil); err != nil {
		t.Fatal(err)
	}
	kr := b.keys.Load()
	secrets := [][]byte{bytes.Clone(kr.root.Bytes())}
	for i := 0; i < len(kr.buf.Bytes()); i += keySize {
		secrets = append(secrets, bytes.Clone(kr.buf.Bytes()[i:i+keySize]))
	}
	cfg, _ := b.Config(ctx)
	a, aErr := func() ([]byte, error) {
		var hb []byte
		err := st.View(ctx, func(tx storage.ReadTx) error {
			var err error
			hb, err = tx.Get(b.hsmKey())
			return err
		})
		if err != nil {
			return nil, err
		}
		return h.Unwrap(ctx, hb, b.ad(b.hsmKey()))
	}()
	if aErr != nil || cfg.mode() != ModeAuto {
		t.Fatal(aErr)
	}
	secrets = append(secrets, a)
	st.Close()
	raw, _ := os.ReadFile(path)
	for i, s := range secrets {
		if bytes.Contains(raw, s) {
			t.Errorf("store holds key %d in plaintext", i)
		}
	}
}

// BenchmarkAutoUnseal measures one auto-unseal through SoftHSM2: read the
// seal records, one PKCS#11 unwrap, open the root key and the keyring.
func BenchmarkAutoUnseal(b *testing.B) {
	h := hsmtest.Open(b)
	st, err := bolt.Open(filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	opts := Options{Mode: ModeAuto, HSM: h}
	if _, err := New(st, []byte("root"), opts).Init(ctx, InitRequest{RecoveryShares: 1, RecoveryThreshold: 1}, nil); err != nil {
		b.Fatal(err)
	}
	before := h.Stats().Total()
	b.ResetTimer()
	for b.Loop() {
		bar := New(st, []byte("root"), opts)
		if ok, err := bar.AutoUnseal(ctx); !ok || err != nil {
			b.Fatal(err)
		}
		bar.Seal()
	}
	b.ReportMetric(float64(h.Stats().Total()-before)/float64(b.N), "pkcs11-calls/op")
}

func openBoltB(b *testing.B) (storage.Store, error) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "s.db"))
	if err == nil {
		b.Cleanup(func() { st.Close() })
	}
	return st, err
}

// TestGuard: Options.Guard runs in the transaction of an Init and of a
// migration. A refusal wrapping ErrGone writes nothing and abandons what
// PrepareHSM made; any other refusal writes nothing and keeps it (the
// caller cannot know that nothing committed); a guard that allows changes
// nothing.
func TestGuard(t *testing.T) {
	h := hsmtest.Open(t)
	ctx := context.Background()
	other := errors.New("registry unreadable")
	for _, c := range []struct {
		name        string
		refuse      error
		wantAbandon bool
	}{
		{"gone", fmt.Errorf("namespace deleted: %w", ErrGone), true},
		{"other error", other, false},
		{"allowed", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _ := openBolt(t)
			var prepared, abandoned, guarded int
			opts := Options{
				Mode: ModeAuto, HSM: h,
				PrepareHSM: func(context.Context) error { prepared++; return nil },
				AbandonHSM: func(context.Context) { abandoned++ },
				Guard: func(tx storage.ReadTx) error {
					guarded++
					return c.refuse
				},
			}
			_, err := New(st, []byte("t1"), opts).Init(ctx, InitRequest{RecoveryShares: 1, RecoveryThreshold: 1}, nil)
			if !errors.Is(err, c.refuse) || (c.refuse == nil) != (err == nil) {
				t.Fatalf("init: %v, want %v", err, c.refuse)
			}
			if guarded != 1 || prepared != 1 || (abandoned == 1) != c.wantAbandon {
				t.Fatalf("guard ran %d times, prepare %d, abandon %d", guarded, prepared, abandoned)
			}
			if n := countKeys(t, st); (n == 0) != (c.refuse != nil) {
				t.Fatalf("%d records after init", n)
			}

			// The same guard on a migration from shamir onto the HSM.
			st2, _ := openBolt(t)
			res, err := New(st2, []byte("t2"), Options{}).Init(ctx, InitRequest{SecretShares: 1, SecretThreshold: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			before := countKeys(t, st2)
			prepared, abandoned, guarded = 0, 0, 0
			auto := New(st2, []byte("t2"), opts)
			_, err = auto.Unseal(ctx, res.Shares[0], true)
			if !errors.Is(err, c.refuse) || (c.refuse == nil) != (err == nil) {
				t.Fatalf("migration: %v, want %v", err, c.refuse)
			}
			if guarded != 1 || prepared != 1 || (abandoned == 1) != c.wantAbandon {
				t.Fatalf("migration: guard ran %d times, prepare %d, abandon %d", guarded, prepared, abandoned)
			}
			if s, _ := auto.Status(ctx); s.Migration != (c.refuse != nil) {
				t.Fatalf("migration pending = %v after the guard said %v", s.Migration, c.refuse)
			}
			if c.refuse != nil && countKeys(t, st2) != before {
				t.Fatal("a refused migration changed the store")
			}
		})
	}
}
