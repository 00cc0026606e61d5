// Package seal holds Strongroom's seal states, Shamir unseal keys, keyrings
// and the barrier, for the cluster (the root tenant) and for every tenant.
//
// Key hierarchy (DESIGN.md §2) for one tenant:
//
//	unseal key (Shamir-split; later: the HSM)  ──wraps──▶ root key
//	root key ──encrypts──▶ keyring (terms 1..n and the tenant's hash key)
//	keyring term ──encrypts──▶ every record of the tenant (the barrier)
//
// Every record is version ‖ term ‖ nonce ‖ XChaCha20-Poly1305(value), with
// the tenant id and the storage key as associated data, so a record copied
// under another key or into another tenant fails to decrypt.
package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awnumar/memguard"
	"github.com/strongroom/strongroom/seal/shamir"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/tuple"
)

// TypeShamir is the seal type whose root key is wrapped by a key rebuilt
// from unseal key shares.
const TypeShamir = "shamir"

// Config is a tenant's seal configuration. It is stored in plaintext next to
// the wrapped root key: it holds no secret.
type Config struct {
	Type            string `json:"type"`
	SecretShares    int    `json:"secret_shares"`
	SecretThreshold int    `json:"secret_threshold"`
}

// InitRequest asks for a tenant's first keys.
type InitRequest struct {
	SecretShares    int
	SecretThreshold int
}

// Validate applies Vault's rules (vault/seal.go SealConfig.Validate), with
// Vault's messages.
func (r InitRequest) Validate() error {
	switch {
	case r.SecretShares < 1:
		return fmt.Errorf("%w: shares must be at least one", ErrInvalidConfig)
	case r.SecretThreshold < 1:
		return fmt.Errorf("%w: threshold must be at least one", ErrInvalidConfig)
	case r.SecretShares > 1 && r.SecretThreshold < 2:
		return fmt.Errorf("%w: threshold must be greater than one for multiple shares", ErrInvalidConfig)
	case r.SecretShares > 255:
		return fmt.Errorf("%w: shares must be less than 256", ErrInvalidConfig)
	case r.SecretThreshold > 255:
		return fmt.Errorf("%w: threshold must be less than 256", ErrInvalidConfig)
	case r.SecretThreshold > r.SecretShares:
		return fmt.Errorf("%w: threshold cannot be larger than shares", ErrInvalidConfig)
	}
	return nil
}

// InitResult carries the unseal keys Init made. The caller hands them out
// once and wipes them with Wipe.
type InitResult struct {
	Shares [][]byte
}

// Wipe zeroes the unseal keys.
func (r *InitResult) Wipe() {
	for _, s := range r.Shares {
		clear(s)
	}
}

// Status is a tenant's seal status, as sys/seal-status reports it.
type Status struct {
	Type        string
	Initialized bool
	Sealed      bool
	Threshold   int
	Shares      int
	Progress    int
	Nonce       string
}

// Barrier is one tenant's seal and encrypted view of storage. The zero value
// is not usable; use New. A Barrier is safe for concurrent use.
type Barrier struct {
	store  storage.Store
	tenant []byte
	prefix []byte // every key of the tenant starts with it
	now    func() time.Time

	// keys is the unsealed key material, nil while sealed. It is an
	// immutable snapshot swapped atomically; readers take it without locks.
	keys atomic.Pointer[keyring]

	mu       sync.Mutex // serialises seal state changes and guards the fields below
	parts    []*memguard.LockedBuffer
	nonce    string
	cfgCache *Config
}

// New returns the barrier of tenant tenantID over store. It starts sealed.
func New(store storage.Store, tenantID []byte) *Barrier {
	id := bytes.Clone(tenantID)
	return &Barrier{store: store, tenant: id, prefix: TenantPrefix(id), now: time.Now}
}

// TenantPrefix is the storage prefix under which every key of a tenant lives.
// Deleting the range of this prefix removes the tenant entirely.
func TenantPrefix(tenantID []byte) []byte { return tuple.Pack("t", tenantID) }

// The seal records of a tenant, and the subspace of its data records.
func (b *Barrier) configKey() []byte {
	return append(bytes.Clone(b.prefix), tuple.Pack("seal", "config")...)
}
func (b *Barrier) rootKeyKey() []byte {
	return append(bytes.Clone(b.prefix), tuple.Pack("seal", "root")...)
}
func (b *Barrier) keyringKey() []byte {
	return append(bytes.Clone(b.prefix), tuple.Pack("seal", "keyring")...)
}
func (b *Barrier) dataKey(key []byte) []byte {
	return append(append(bytes.Clone(b.prefix), tuple.Pack("d")...), key...)
}

// ad is the associated data of a record: the tenant id and the full storage key.
func (b *Barrier) ad(storageKey []byte) []byte { return tuple.Pack(b.tenant, storageKey) }

// TenantID returns the tenant's storage id.
func (b *Barrier) TenantID() []byte { return bytes.Clone(b.tenant) }

// Sealed reports whether the tenant is sealed.
func (b *Barrier) Sealed() bool { return b.keys.Load() == nil }

func (b *Barrier) config(ctx context.Context) (*Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.configLocked(ctx)
}

func (b *Barrier) configLocked(ctx context.Context) (*Config, error) {
	if b.cfgCache != nil {
		return b.cfgCache, nil
	}
	var raw []byte
	err := b.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		raw, err = tx.Get(b.configKey())
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.SecretThreshold < 1 {
		return nil, ErrCorrupt
	}
	b.cfgCache = &cfg
	return &cfg, nil
}

// Initialized reports whether Init has completed for the tenant.
func (b *Barrier) Initialized(ctx context.Context) (bool, error) {
	cfg, err := b.config(ctx)
	return cfg != nil, err
}

// Status returns the tenant's seal status.
func (b *Barrier) Status(ctx context.Context) (Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg, err := b.configLocked(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{Type: TypeShamir, Sealed: b.keys.Load() == nil, Progress: len(b.parts), Nonce: b.nonce}
	if cfg != nil {
		st.Initialized = true
		st.Type = cfg.Type
		st.Threshold = cfg.SecretThreshold
		st.Shares = cfg.SecretShares
	}
	return st, nil
}

// Init creates the tenant's root key, keyring and unseal keys, and runs fn to
// write the tenant's first records (its root token) through the new barrier.
// Everything is written in one storage transaction, so an interrupted Init
// leaves the tenant uninitialised. The tenant stays sealed afterwards, as
// Vault does. Returns ErrAlreadyInitialized, or an error wrapping
// ErrInvalidConfig.
func (b *Barrier) Init(ctx context.Context, req InitRequest, fn func(tx *Tx) error) (*InitResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()

	unsealKey := memguard.NewBufferRandom(keySize)
	defer unsealKey.Destroy()
	root := memguard.NewBufferRandom(keySize)
	root.Freeze()
	kr := newKeyring(root, b.now())
	defer kr.destroy()

	cfg := Config{Type: TypeShamir, SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	wrappedRoot, err := sealRecord(unsealKey.Bytes(), 0, b.ad(b.rootKeyKey()), root.Bytes())
	if err != nil {
		return nil, err
	}
	sealedKeyring, err := b.sealKeyring(kr)
	if err != nil {
		return nil, err
	}

	err = b.store.Update(ctx, func(stx storage.Tx) error {
		if _, err := stx.Get(b.configKey()); err == nil {
			return ErrAlreadyInitialized
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := stx.Set(b.configKey(), cfgJSON); err != nil {
			return err
		}
		if err := stx.Set(b.rootKeyKey(), wrappedRoot); err != nil {
			return err
		}
		if err := stx.Set(b.keyringKey(), sealedKeyring); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(&Tx{ReadTx: ReadTx{raw: stx, b: b, kr: kr}, raw: stx})
	})
	if err != nil {
		return nil, err
	}
	b.cfgCache = &cfg

	res := &InitResult{}
	if req.SecretShares == 1 {
		res.Shares = [][]byte{bytes.Clone(unsealKey.Bytes())}
	} else {
		res.Shares, err = shamir.Split(unsealKey.Bytes(), req.SecretShares, req.SecretThreshold)
		if err != nil {
			// The split has no failure mode for validated parameters; if it
			// ever failed, the tenant would be initialised without keys.
			return nil, fmt.Errorf("seal: splitting the unseal key: %w", err)
		}
	}
	return res, nil
}

// sealKeyring encrypts the keyring under its root key.
func (b *Barrier) sealKeyring(kr *keyring) ([]byte, error) {
	plain, err := kr.marshal()
	if err != nil {
		return nil, err
	}
	defer plain.Destroy()
	var out []byte
	err = kr.withRoot(func(root []byte) error {
		var err error
		out, err = sealRecord(root, 0, b.ad(b.keyringKey()), plain.Bytes())
		return err
	})
	return out, err
}

// Unseal records one unseal key. When the threshold is reached it rebuilds
// the unseal key, opens the root key and the keyring, and unseals the tenant.
// A wrong set of keys returns ErrInvalidKey and resets the attempt; a key given
// twice returns ErrDuplicateShare and keeps the progress. Unsealing an
// unsealed tenant is a no-op.
func (b *Barrier) Unseal(ctx context.Context, share []byte) (Status, error) {
	err := b.unseal(ctx, share)
	if err != nil {
		return Status{}, err
	}
	return b.Status(ctx)
}

func (b *Barrier) unseal(ctx context.Context, share []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg, err := b.configLocked(ctx)
	if err != nil {
		return err
	}
	if cfg == nil {
		return ErrNotInitialized
	}
	if b.keys.Load() != nil {
		return nil
	}
	want := keySize + 1
	if cfg.SecretThreshold == 1 {
		want = keySize
	}
	if len(share) != want {
		return fmt.Errorf("%w: unseal keys of this seal are %d bytes, got %d", ErrInvalidKey, want, len(share))
	}
	for _, p := range b.parts {
		if subtle.ConstantTimeCompare(share, p.Bytes()) == 1 {
			return ErrDuplicateShare
		}
	}
	if len(b.parts) == 0 {
		b.nonce = newNonce()
	}
	part := memguard.NewBufferFromBytes(bytes.Clone(share))
	part.Freeze()
	b.parts = append(b.parts, part)
	if len(b.parts) < cfg.SecretThreshold {
		return nil
	}
	defer b.resetLocked()

	var unsealKey *memguard.LockedBuffer
	if cfg.SecretThreshold == 1 {
		unsealKey = memguard.NewBufferFromBytes(bytes.Clone(b.parts[0].Bytes()))
	} else {
		shares := make([][]byte, len(b.parts))
		for i, p := range b.parts {
			shares[i] = p.Bytes()
		}
		combined, err := shamir.Combine(shares)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		unsealKey = memguard.NewBufferFromBytes(combined)
	}
	defer unsealKey.Destroy()

	kr, err := b.openKeys(ctx, unsealKey.Bytes())
	if err != nil {
		return err
	}
	b.keys.Store(kr)
	return nil
}

// openKeys reads and opens the tenant's wrapped root key and keyring.
func (b *Barrier) openKeys(ctx context.Context, unsealKey []byte) (*keyring, error) {
	var wrappedRoot, sealedKeyring []byte
	err := b.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if wrappedRoot, err = tx.Get(b.rootKeyKey()); err != nil {
			return err
		}
		sealedKeyring, err = tx.Get(b.keyringKey())
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrCorrupt
	}
	if err != nil {
		return nil, err
	}
	rootBytes, err := openRecord(unsealKey, b.ad(b.rootKeyKey()), wrappedRoot)
	if err != nil {
		return nil, ErrInvalidKey
	}
	root := memguard.NewBufferFromBytes(rootBytes)
	root.Freeze()
	plain, err := openRecord(root.Bytes(), b.ad(b.keyringKey()), sealedKeyring)
	if err != nil {
		root.Destroy()
		return nil, ErrCorrupt
	}
	kr, err := parseKeyring(root, plain)
	if err != nil {
		root.Destroy()
		return nil, err
	}
	return kr, nil
}

// ResetUnseal discards the unseal keys given so far.
func (b *Barrier) ResetUnseal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resetLocked()
}

func (b *Barrier) resetLocked() {
	for _, p := range b.parts {
		p.Destroy()
	}
	b.parts = nil
	b.nonce = ""
}

// Seal seals the tenant: it wipes the root key and the keyring from memory,
// waiting for operations in flight, and discards any unseal progress.
func (b *Barrier) Seal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resetLocked()
	if kr := b.keys.Swap(nil); kr != nil {
		kr.destroy()
	}
}

// Rotate adds a new keyring term, which encrypts every record written from
// now on. Older terms keep decrypting.
func (b *Barrier) Rotate(ctx context.Context) (Term, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.keys.Load()
	if old == nil {
		return Term{}, ErrSealed
	}
	next, err := old.rotated(b.now())
	if err != nil {
		return Term{}, err
	}
	sealed, err := b.sealKeyring(next)
	if err == nil {
		err = b.store.Update(ctx, func(tx storage.Tx) error { return tx.Set(b.keyringKey(), sealed) })
	}
	if err != nil {
		next.destroy()
		return Term{}, err
	}
	b.keys.Store(next)
	old.destroy()
	return next.terms[len(next.terms)-1], nil
}

// KeyStatus reports the keyring's terms, newest last.
func (b *Barrier) KeyStatus() ([]Term, error) {
	kr := b.keys.Load()
	if kr == nil {
		return nil, ErrSealed
	}
	return append([]Term(nil), kr.terms...), nil
}

// newNonce returns a random UUID, the nonce of an unseal attempt.
func newNonce() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
