package seal

import (
	"context"
	"errors"
	"fmt"

	"github.com/awnumar/memguard"

	"github.com/strongroom/strongroom/storage"
)

// Migration errors, with Vault's messages.
var (
	// ErrMigrationRequired: the configured seal differs from the stored one,
	// and the unseal request did not say migrate.
	ErrMigrationRequired = errors.New("migrate option not provided and seal migration is pending")
	// ErrNoMigration: migrate was given but no migration is pending.
	ErrNoMigration = errors.New("can't perform a seal migration, no migration seal found")
	// ErrNoRecoveryKeys: the tenant was initialised without recovery keys.
	ErrNoRecoveryKeys = errors.New("no recovery keys are configured")
	// ErrHSM wraps every failure of the HSM during a seal operation.
	ErrHSM = errors.New("seal: HSM operation failed")
)

// Unseal records one key share: an unseal key, or a recovery key in
// ModeAuto. When the threshold is reached it rebuilds the key, opens the root
// key and the keyring, and unseals the tenant; with migrate it first moves
// the tenant's seal to the configured mode (see Options.Mode), keeping the
// same key shares: unseal keys become recovery keys and back.
//
// Errors: ErrNotInitialized; ErrMigrationRequired and ErrNoMigration;
// ErrInvalidKey (wrong length: progress kept; wrong keys: attempt reset);
// ErrDuplicateShare (progress kept); an error wrapping ErrHSM when the HSM
// fails (attempt reset, nothing changed). Unsealing an unsealed tenant is a
// no-op.
func (b *Barrier) Unseal(ctx context.Context, share []byte, migrate bool) (Status, error) {
	if err := b.unsealShare(ctx, share, migrate); err != nil {
		return Status{}, err
	}
	return b.Status(ctx)
}

func (b *Barrier) unsealShare(ctx context.Context, share []byte, migrate bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg, err := b.configLocked(ctx)
	if err != nil {
		return err
	}
	if cfg == nil {
		return ErrNotInitialized
	}
	pending := cfg.mode() != b.Mode()
	switch {
	case pending && !migrate:
		return ErrMigrationRequired
	case !pending && migrate:
		return ErrNoMigration
	}
	if b.keys.Load() != nil {
		return nil
	}
	_, threshold := cfg.quorum()
	if threshold == 0 {
		return ErrNoRecoveryKeys
	}
	x, err := b.unseal.Add(share, threshold)
	if err != nil || x == nil {
		return err
	}
	defer x.Destroy()
	kr, a, err := b.openKeys(ctx, cfg, x)
	if err != nil {
		return err
	}
	if a != nil {
		defer a.Destroy()
	}
	if pending {
		if err := b.migrate(ctx, cfg, x, a, kr); err != nil {
			kr.destroy()
			return err
		}
	}
	b.keys.Store(kr)
	return nil
}

// AutoUnseal unseals a ModeAuto tenant through the HSM, with no key shares.
// It reports false, with no error, when the tenant is not initialised, is
// already unsealed, is not in ModeAuto, or awaits a seal migration.
// HSM failures are returned wrapping ErrHSM; the caller retries.
func (b *Barrier) AutoUnseal(ctx context.Context) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg, err := b.configLocked(ctx)
	if err != nil || cfg == nil || b.keys.Load() != nil {
		return false, err
	}
	if cfg.mode() != ModeAuto || b.Mode() != ModeAuto {
		return false, nil
	}
	kr, a, err := b.openKeys(ctx, cfg, nil)
	if err != nil {
		return false, err
	}
	a.Destroy()
	b.keys.Store(kr)
	return true, nil
}

// unwrapSealKey asks the HSM for the seal key of a tenant in a mode that
// uses it. The caller destroys the result.
func (b *Barrier) unwrapSealKey(ctx context.Context, blob []byte) (*memguard.LockedBuffer, error) {
	if b.opts.HSM == nil {
		return nil, fmt.Errorf("%w: no HSM is configured, but this tenant's root key is wrapped by the HSM (add the pkcs11 seal, with disabled = true to migrate away from it)", ErrHSM)
	}
	a, err := b.opts.HSM.Unwrap(ctx, blob, b.ad(b.hsmKey()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHSM, err)
	}
	if len(a) != keySize {
		clear(a)
		return nil, ErrCorrupt
	}
	return memguard.NewBufferFromBytes(a), nil
}

// openKeys opens the tenant's root key and keyring under the stored mode,
// from the quorum key x (the unseal key; the recovery key in ModeAuto, where
// it is only checked, and may be nil for an auto-unseal). It returns the
// keyring and, when the mode uses the HSM, the seal key (caller destroys).
func (b *Barrier) openKeys(ctx context.Context, cfg *Config, x *memguard.LockedBuffer) (*keyring, *memguard.LockedBuffer, error) {
	mode := cfg.mode()
	var wrappedRoot, sealedKeyring, hsmBlob, recovery []byte
	err := b.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if wrappedRoot, err = tx.Get(b.rootKeyKey()); err != nil {
			return err
		}
		if sealedKeyring, err = tx.Get(b.keyringKey()); err != nil {
			return err
		}
		if mode.usesHSM() {
			if hsmBlob, err = tx.Get(b.hsmKey()); err != nil {
				return err
			}
		}
		if mode == ModeAuto && x != nil {
			recovery, err = tx.Get(b.recoveryKey())
		}
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrCorrupt
	}
	if err != nil {
		return nil, nil, err
	}
	if mode == ModeAuto && x != nil {
		if _, err := openRecord(x.Bytes(), b.ad(b.recoveryKey()), recovery); err != nil {
			return nil, nil, ErrInvalidKey
		}
	}
	var a *memguard.LockedBuffer
	if mode.usesHSM() {
		if a, err = b.unwrapSealKey(ctx, hsmBlob); err != nil {
			return nil, nil, err
		}
	}
	fail := func(err error) (*keyring, *memguard.LockedBuffer, error) {
		if a != nil {
			a.Destroy()
		}
		return nil, nil, err
	}
	k, err := b.wrappingKey(mode, a, x)
	if err != nil {
		return fail(err)
	}
	rootBytes, err := openRecord(k.Bytes(), b.ad(b.rootKeyKey()), wrappedRoot)
	k.Destroy()
	if err != nil {
		if mode == ModeAuto {
			return fail(ErrCorrupt) // the HSM opened the seal key, which does not open the root key
		}
		return fail(ErrInvalidKey)
	}
	root := memguard.NewBufferFromBytes(rootBytes)
	root.Freeze()
	plain, err := openRecord(root.Bytes(), b.ad(b.keyringKey()), sealedKeyring)
	if err != nil {
		root.Destroy()
		return fail(ErrCorrupt)
	}
	kr, err := parseKeyring(root, plain)
	if err != nil {
		root.Destroy()
		return fail(err)
	}
	return kr, a, nil
}

// migrate moves the tenant from the stored mode to the configured one, in
// one transaction: the root key is rewrapped, and the quorum key x carries
// over with its share counts (unseal keys become recovery keys or back). The
// HSM seal key a is reused when the old mode had one.
func (b *Barrier) migrate(ctx context.Context, old *Config, x, a *memguard.LockedBuffer, kr *keyring) error {
	to := b.Mode()
	abandon := false // see Init
	if !old.mode().usesHSM() {
		if err := b.prepareHSM(ctx, to); err != nil {
			return err
		}
		abandon = to.usesHSM() && b.opts.AbandonHSM != nil
		defer func() {
			if abandon {
				b.opts.AbandonHSM(context.WithoutCancel(ctx))
			}
		}()
	}
	shares, threshold := old.quorum()
	cfg := Config{Type: to.String(), DualControl: to == ModeDual}
	if to == ModeAuto {
		cfg.RecoveryShares, cfg.RecoveryThreshold = shares, threshold
	} else {
		cfg.SecretShares, cfg.SecretThreshold = shares, threshold
	}
	var records map[string][]byte
	err := kr.withRoot(func(root []byte) error {
		var err error
		records, err = b.sealRecords(ctx, cfg, x, a, root)
		return err
	})
	if err != nil {
		return err
	}
	err = b.store.Update(ctx, func(tx storage.Tx) error {
		if err := b.guard(tx); err != nil {
			return err
		}
		return writeRecords(tx, records)
	})
	// Only a guard's refusal is sure to have written nothing.
	abandon = abandon && errors.Is(err, ErrGone)
	if err != nil {
		return err
	}
	b.cfgCache = &cfg
	return nil
}

// VerifyQuorumKey checks that x, a key rebuilt from a quorum of shares, is
// the tenant's current unseal key (recovery key in ModeAuto). Generate-root
// uses it. Returns ErrInvalidKey, or an error wrapping ErrHSM.
func (b *Barrier) VerifyQuorumKey(ctx context.Context, x *memguard.LockedBuffer) error {
	cfg, err := b.Config(ctx)
	if err != nil {
		return err
	}
	if cfg == nil {
		return ErrNotInitialized
	}
	kr, a, err := b.openKeys(ctx, cfg, x)
	if err != nil {
		return err
	}
	kr.destroy()
	if a != nil {
		a.Destroy()
	}
	return nil
}

// Rekey replaces the tenant's unseal keys (recovery keys in ModeAuto) with
// new shares of a new key, given the current key x rebuilt from a quorum. The
// root key and the keyring do not change. It returns the new shares, which
// the caller hands out once and wipes.
func (b *Barrier) Rekey(ctx context.Context, x *memguard.LockedBuffer, shares, threshold int) ([][]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg, err := b.configLocked(ctx)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, ErrNotInitialized
	}
	if err := validateShares(shares, threshold, false); err != nil {
		return nil, err
	}
	kr, a, err := b.openKeys(ctx, cfg, x)
	if err != nil {
		return nil, err
	}
	defer kr.destroy()
	if a != nil {
		defer a.Destroy()
	}
	next := *cfg
	if cfg.mode() == ModeAuto {
		next.RecoveryShares, next.RecoveryThreshold = shares, threshold
	} else {
		next.SecretShares, next.SecretThreshold = shares, threshold
	}
	fresh := memguard.NewBufferRandom(keySize)
	defer fresh.Destroy()
	var records map[string][]byte
	err = kr.withRoot(func(root []byte) error {
		var err error
		records, err = b.sealRecords(ctx, next, fresh, a, root)
		return err
	})
	if err != nil {
		return nil, err
	}
	out, err := splitKey(fresh.Bytes(), shares, threshold)
	if err != nil {
		return nil, err
	}
	if err := b.store.Update(ctx, func(tx storage.Tx) error { return writeRecords(tx, records) }); err != nil {
		for _, s := range out {
			clear(s)
		}
		return nil, err
	}
	b.cfgCache = &next
	b.unseal.Reset()
	return out, nil
}
