// Package seal holds Strongroom's seal states, Shamir unseal keys, keyrings
// and the barrier, for the cluster (the root tenant) and for every tenant.
//
// Key hierarchy (DESIGN.md §2) for one tenant:
//
//	wrapping key ──wraps──▶ root key ──encrypts──▶ keyring (terms 1..n, hash key)
//	keyring term ──encrypts──▶ every record of the tenant (the barrier)
//
// The wrapping key depends on the mode (see Mode): the unseal key rebuilt
// from Shamir shares; a seal key unwrapped by the HSM master key; or, under
// dual control, HKDF of both.
//
// Every record is version ‖ term ‖ nonce ‖ XChaCha20-Poly1305(value), with
// the tenant id and the storage key as associated data, so a record copied
// under another key or into another tenant fails to decrypt.
package seal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awnumar/memguard"
	"github.com/google/uuid"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/tuple"
)

// TypeShamir is the seal type whose root key is wrapped by a key rebuilt
// from unseal key shares.
const TypeShamir = "shamir"

// Config is a tenant's seal configuration. It is stored in plaintext next to
// the wrapped root key: it holds no secret.
type Config struct {
	Type              string `json:"type"`
	DualControl       bool   `json:"dual_control,omitempty"`
	SecretShares      int    `json:"secret_shares"`
	SecretThreshold   int    `json:"secret_threshold"`
	RecoveryShares    int    `json:"recovery_shares,omitempty"`
	RecoveryThreshold int    `json:"recovery_threshold,omitempty"`
}

// InitRequest asks for a tenant's first keys. Unseal key shares apply to
// ModeShamir and ModeDual, recovery key shares to ModeAuto.
type InitRequest struct {
	// Mode, if set, is the mode to initialise the tenant in instead of the
	// configured one (Options.Mode), which it replaces: a tenant chooses
	// its seal at init. The HSM modes need Options.HSM.
	Mode              Mode
	SecretShares      int
	SecretThreshold   int
	RecoveryShares    int
	RecoveryThreshold int
}

// validateShares applies Vault's rules (vault/seal.go SealConfig.Validate
// and ValidateRecovery), with Vault's messages.
func validateShares(shares, threshold int, allowNone bool) error {
	switch {
	case allowNone && shares == 0 && threshold == 0:
		return nil
	case shares < 1:
		return fmt.Errorf("%w: shares must be at least one", ErrInvalidConfig)
	case threshold < 1:
		return fmt.Errorf("%w: threshold must be at least one", ErrInvalidConfig)
	case shares > 1 && threshold < 2:
		return fmt.Errorf("%w: threshold must be greater than one for multiple shares", ErrInvalidConfig)
	case shares > 255:
		return fmt.Errorf("%w: shares must be less than 256", ErrInvalidConfig)
	case threshold > 255:
		return fmt.Errorf("%w: threshold must be less than 256", ErrInvalidConfig)
	case threshold > shares:
		return fmt.Errorf("%w: threshold cannot be larger than shares", ErrInvalidConfig)
	}
	return nil
}

// Validate checks the request for a tenant sealed in mode m: the shares of
// the other kind must be absent, as Vault's validateInitParameters demands.
func (r InitRequest) Validate(m Mode) error {
	if m == ModeAuto {
		if r.SecretShares != 0 || r.SecretThreshold != 0 {
			return fmt.Errorf("%w: parameters secret_shares,secret_threshold not applicable to seal type pkcs11", ErrInvalidConfig)
		}
		return validateShares(r.RecoveryShares, r.RecoveryThreshold, true)
	}
	if r.RecoveryShares != 0 || r.RecoveryThreshold != 0 {
		return fmt.Errorf("%w: parameters recovery_shares,recovery_threshold not applicable to seal type %s", ErrInvalidConfig, m)
	}
	return validateShares(r.SecretShares, r.SecretThreshold, false)
}

// InitResult carries the keys Init made. The caller hands them out once and
// wipes them with Wipe.
type InitResult struct {
	Shares         [][]byte // unseal key shares (ModeShamir, ModeDual)
	RecoveryShares [][]byte // recovery key shares (ModeAuto)
}

// Wipe zeroes the keys.
func (r *InitResult) Wipe() {
	for _, s := range append(r.Shares, r.RecoveryShares...) {
		clear(s)
	}
}

// Status is a tenant's seal status, as sys/seal-status reports it.
type Status struct {
	Type         string
	Initialized  bool
	Sealed       bool
	Threshold    int // of the keys sys/unseal takes: unseal keys, or recovery keys in ModeAuto
	Shares       int
	Progress     int
	Nonce        string
	RecoverySeal bool
	Migration    bool
}

// Barrier is one tenant's seal and encrypted view of storage. The zero value
// is not usable; use New. A Barrier is safe for concurrent use.
type Barrier struct {
	store  storage.Store
	tenant []byte
	prefix []byte // every key of the tenant starts with it
	// dataPrefix starts every data record's key; adPrefix every record's
	// associated data (the packed tenant id). Both are computed once.
	dataPrefix, adPrefix []byte
	opts                 Options
	now                  func() time.Time
	// mode is the configured Mode; Init may set it for a tenant that
	// chooses its seal (InitRequest.Mode).
	mode atomic.Int32

	// keys is the unsealed key material, nil while sealed. It is an
	// immutable snapshot swapped atomically; readers take it without locks.
	keys atomic.Pointer[keyring]

	unseal Quorum

	mu       sync.Mutex // serialises seal state changes and guards cfgCache
	cfgCache *Config

	own ownBumps // epoch values this node wrote (epoch.go)
}

// New returns the barrier of tenant tenantID over store. It starts sealed.
func New(store storage.Store, tenantID []byte, opts Options) *Barrier {
	if opts.Mode == ModeUnknown {
		opts.Mode = ModeShamir
	}
	id := bytes.Clone(tenantID)
	b := &Barrier{store: store, tenant: id, prefix: TenantPrefix(id), opts: opts, now: time.Now}
	b.dataPrefix = append(bytes.Clone(b.prefix), tuple.Pack("d")...)
	b.adPrefix = tuple.Pack(id)
	b.mode.Store(int32(opts.Mode))
	return b
}

// TenantPrefix is the storage prefix under which every key of a tenant lives.
// Deleting the range of this prefix removes the tenant entirely.
func TenantPrefix(tenantID []byte) []byte { return tuple.Pack("t", tenantID) }

// The seal records of a tenant, and the subspace of its data records.
func (b *Barrier) sealKey(name string) []byte {
	return append(bytes.Clone(b.prefix), tuple.Pack("seal", name)...)
}
func (b *Barrier) configKey() []byte         { return b.sealKey("config") }
func (b *Barrier) rootKeyKey() []byte        { return b.sealKey("root") }
func (b *Barrier) keyringKey() []byte        { return b.sealKey("keyring") }
func (b *Barrier) hsmKey() []byte            { return b.sealKey("hsm") }
func (b *Barrier) recoveryKey() []byte       { return b.sealKey("recovery") }
func (b *Barrier) dataKey(key []byte) []byte { return b.dataKey2(nil, key) }

// dataKey2 is dataKey of sub ‖ key, in one allocation.
func (b *Barrier) dataKey2(sub, key []byte) []byte {
	k := make([]byte, 0, len(b.dataPrefix)+len(sub)+len(key))
	return append(append(append(k, b.dataPrefix...), sub...), key...)
}

// recoveryCheck is what the recovery record encrypts: opening it proves a
// recovery key.
var recoveryCheck = []byte("strongroom recovery key check v1")

// ad is the associated data of a record: the tenant id and the full storage key.
func (b *Barrier) ad(storageKey []byte) []byte {
	// tuple.Pack(b.tenant, storageKey) in one allocation: the code byte,
	// the key with an 0xFF after each 0x00, and the terminator.
	n := len(b.adPrefix) + 1 + len(storageKey) + bytes.Count(storageKey, []byte{0}) + 1
	ad := make([]byte, 0, n)
	return tuple.AppendBytes(append(ad, b.adPrefix...), storageKey)
}

// TenantID returns the tenant's storage id.
func (b *Barrier) TenantID() []byte { return bytes.Clone(b.tenant) }

// Sealed reports whether the tenant is sealed.
func (b *Barrier) Sealed() bool { return b.keys.Load() == nil }

// Mode returns the configured seal mode.
func (b *Barrier) Mode() Mode { return Mode(b.mode.Load()) }

// Config returns the stored seal configuration, nil before Init.
func (b *Barrier) Config(ctx context.Context) (*Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.configLocked(ctx)
}

func (b *Barrier) configLocked(ctx context.Context) (*Config, error) {
	if b.cfgCache != nil {
		c := *b.cfgCache
		return &c, nil
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
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.mode() == ModeUnknown {
		return nil, ErrCorrupt
	}
	b.cfgCache = &cfg
	c := cfg
	return &c, nil
}

// Initialized reports whether Init has completed for the tenant.
func (b *Barrier) Initialized(ctx context.Context) (bool, error) {
	cfg, err := b.Config(ctx)
	return cfg != nil, err
}

// Status returns the tenant's seal status.
func (b *Barrier) Status(ctx context.Context) (Status, error) {
	cfg, err := b.Config(ctx)
	if err != nil {
		return Status{}, err
	}
	progress, nonce := b.unseal.Progress()
	mode := b.Mode()
	st := Status{Type: mode.String(), Sealed: b.Sealed(), Progress: progress, Nonce: nonce,
		RecoverySeal: mode == ModeAuto}
	if cfg != nil {
		st.Initialized = true
		st.Type = cfg.mode().String()
		st.RecoverySeal = cfg.mode() == ModeAuto
		st.Shares, st.Threshold = cfg.quorum()
		st.Migration = cfg.mode() != mode
	}
	return st, nil
}

// Init creates the tenant's root key, keyring and keys for the configured
// mode, and runs fn to write the tenant's first records (its root token)
// through the new barrier. Everything is written in one storage transaction,
// so an interrupted Init leaves the tenant uninitialised. In ModeAuto the
// tenant is unsealed afterwards; otherwise it stays sealed, as Vault does.
// Returns ErrAlreadyInitialized, an error wrapping ErrInvalidConfig, or the
// HSM's error (nothing is written then).
func (b *Barrier) Init(ctx context.Context, req InitRequest, fn func(tx *Tx) error) (*InitResult, error) {
	mode := b.Mode()
	if req.Mode != ModeUnknown {
		mode = req.Mode
	}
	if err := req.Validate(mode); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cfg, err := b.configLocked(ctx); err != nil {
		return nil, err
	} else if cfg != nil {
		return nil, ErrAlreadyInitialized
	}

	if err := b.prepareHSM(ctx, mode); err != nil {
		return nil, err
	}
	// If Init fails for sure (before its transaction, or because another
	// init won), what PrepareHSM made is abandoned; after any other
	// transaction error the write may have committed, so it is kept.
	abandon := mode.usesHSM() && b.opts.AbandonHSM != nil
	defer func() {
		if abandon {
			b.opts.AbandonHSM(context.WithoutCancel(ctx))
		}
	}()
	cfg := Config{Type: mode.String(), DualControl: mode == ModeDual}
	shares, threshold := req.SecretShares, req.SecretThreshold
	if mode == ModeAuto {
		shares, threshold = req.RecoveryShares, req.RecoveryThreshold
		cfg.RecoveryShares, cfg.RecoveryThreshold = shares, threshold
	} else {
		cfg.SecretShares, cfg.SecretThreshold = shares, threshold
	}

	quorumKey := memguard.NewBufferRandom(keySize) // unseal key, or recovery key in ModeAuto
	defer quorumKey.Destroy()
	root := memguard.NewBufferRandom(keySize)
	root.Freeze()
	kr := newKeyring(root, b.now())
	installed := false
	defer func() {
		if !installed {
			kr.destroy()
		}
	}()

	records, err := b.sealRecords(ctx, cfg, quorumKey, nil, root.Bytes())
	if err != nil {
		return nil, err
	}
	if records[string(b.keyringKey())], err = b.sealKeyring(kr); err != nil {
		return nil, err
	}

	// Split before writing: once the store holds the wrapped root key, the
	// shares must exist.
	var out [][]byte
	if shares > 0 {
		if out, err = splitKey(quorumKey.Bytes(), shares, threshold); err != nil {
			return nil, err
		}
	}
	res := &InitResult{}
	if mode == ModeAuto {
		res.RecoveryShares = out
	} else {
		res.Shares = out
	}
	err = b.store.Update(ctx, func(stx storage.Tx) error {
		if err := b.guard(stx); err != nil {
			return err
		}
		if _, err := stx.Get(b.configKey()); err == nil {
			return ErrAlreadyInitialized
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := writeRecords(stx, records); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(&Tx{ReadTx: ReadTx{raw: stx, b: b, kr: kr}, raw: stx})
	})
	if err != nil {
		res.Wipe()
		abandon = abandon && (errors.Is(err, ErrAlreadyInitialized) || errors.Is(err, ErrGone))
		return nil, err
	}
	abandon = false
	b.cfgCache = &cfg
	b.mode.Store(int32(mode))
	if mode == ModeAuto {
		b.keys.Store(kr)
		installed = true
	}
	return res, nil
}

// guard runs Options.Guard, if set, in tx.
func (b *Barrier) guard(tx storage.ReadTx) error {
	if b.opts.Guard == nil {
		return nil
	}
	return b.opts.Guard(tx)
}

// ReadIn returns a reader of b's records in raw, a transaction on b's
// store that another barrier opened (an Options.Guard's), with b's current
// keys: ErrSealed while b is sealed. It is valid while raw is.
func (b *Barrier) ReadIn(raw storage.ReadTx) *ReadTx { return &ReadTx{raw: raw, b: b} }

// prepareHSM runs Options.PrepareHSM before mode m first uses the HSM.
func (b *Barrier) prepareHSM(ctx context.Context, m Mode) error {
	if !m.usesHSM() || b.opts.PrepareHSM == nil {
		return nil
	}
	if err := b.opts.PrepareHSM(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrHSM, err)
	}
	return nil
}

// sealRecords computes the seal records of cfg's mode: the config, the root
// key wrapped for that mode, the HSM-wrapped seal key (reusing sealKeyA when
// given, else a new one) and the recovery check. A nil value means the record
// must be deleted. quorumKey is the unseal key, or the recovery key in
// ModeAuto (nil when there are no recovery keys).
func (b *Barrier) sealRecords(ctx context.Context, cfg Config, quorumKey, sealKeyA *memguard.LockedBuffer, root []byte) (map[string][]byte, error) {
	mode := cfg.mode()
	records := map[string][]byte{string(b.hsmKey()): nil, string(b.recoveryKey()): nil}
	var err error
	if records[string(b.configKey())], err = json.Marshal(cfg); err != nil {
		return nil, err
	}
	if mode.usesHSM() {
		if b.opts.HSM == nil {
			return nil, fmt.Errorf("seal: mode %v needs an HSM", mode)
		}
		if sealKeyA == nil {
			sealKeyA = memguard.NewBufferRandom(keySize)
			defer sealKeyA.Destroy()
		}
		blob, err := b.opts.HSM.Wrap(ctx, sealKeyA.Bytes(), b.ad(b.hsmKey()))
		if err != nil {
			return nil, fmt.Errorf("seal: wrapping the seal key in the HSM: %w", err)
		}
		records[string(b.hsmKey())] = blob
	}
	if mode == ModeAuto && cfg.RecoveryShares > 0 {
		if records[string(b.recoveryKey())], err = sealRecord(quorumKey.Bytes(), 0, b.ad(b.recoveryKey()), recoveryCheck); err != nil {
			return nil, err
		}
	}
	var x *memguard.LockedBuffer
	if mode != ModeAuto {
		x = quorumKey
	}
	k, err := b.wrappingKey(mode, sealKeyA, x)
	if err != nil {
		return nil, err
	}
	defer k.Destroy()
	if records[string(b.rootKeyKey())], err = sealRecord(k.Bytes(), 0, b.ad(b.rootKeyKey()), root); err != nil {
		return nil, err
	}
	return records, nil
}

// writeRecords sets every record, deleting those whose value is nil.
func writeRecords(tx storage.Tx, records map[string][]byte) error {
	for k, v := range records {
		var err error
		if v == nil {
			err = tx.Delete([]byte(k))
		} else {
			err = tx.Set([]byte(k), v)
		}
		if err != nil {
			return err
		}
	}
	return nil
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

// ResetUnseal discards the unseal keys given so far.
func (b *Barrier) ResetUnseal() { b.unseal.Reset() }

// Seal seals the tenant: it wipes the root key and the keyring from memory,
// waiting for operations in flight, and discards any unseal progress.
func (b *Barrier) Seal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unseal.Reset()
	if kr := b.keys.Swap(nil); kr != nil {
		kr.destroy()
	}
}

// Rotate adds a new keyring term, which encrypts every record written from
// now on. Older terms keep decrypting. The new term is added to the
// keyring as stored, in one transaction, so rotations through several
// nodes at once each add a term and none is lost; other nodes load the
// new keyring when they meet a record of the new term (and when the
// keyring epoch moves).
func (b *Barrier) Rotate(ctx context.Context) (Term, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.keys.Load()
	if cur == nil {
		return Term{}, ErrSealed
	}
	var next *keyring
	err := b.store.Update(ctx, func(tx storage.Tx) error {
		if next != nil { // a retried attempt
			next.destroy()
			next = nil
		}
		raw, err := tx.Get(b.keyringKey())
		if err != nil {
			return err
		}
		stored, err := cur.reopen(b.ad(b.keyringKey()), raw)
		if err != nil {
			return err
		}
		n, err := stored.rotated(b.now())
		stored.destroy()
		if err != nil {
			return err
		}
		next = n
		sealed, err := b.sealKeyring(next)
		if err != nil {
			return err
		}
		if err := tx.Set(b.keyringKey(), sealed); err != nil {
			return err
		}
		return (&Tx{ReadTx: ReadTx{raw: tx, b: b}, raw: tx}).BumpEpoch(EpochKeyring)
	})
	if err != nil {
		if next != nil {
			next.destroy()
		}
		return Term{}, err
	}
	b.keys.Store(next)
	cur.destroy()
	return next.terms[len(next.terms)-1], nil
}

// ReloadKeyring loads the keyring as stored, if it has more terms than the
// one in memory (another node rotated it). It is a no-op while sealed.
func (b *Barrier) ReloadKeyring(ctx context.Context) error {
	var raw []byte
	err := b.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		raw, err = tx.Get(b.keyringKey())
		return err
	})
	if err != nil {
		return err
	}
	return b.installKeyring(raw)
}

// installKeyring installs the stored keyring record raw if it is newer
// than the keyring in memory. It takes no lock (a transaction reading a
// record may call it while a Rotate holding b.mu waits for the store): the
// swap is a compare-and-swap, and a seal or a rotation in between wins.
func (b *Barrier) installKeyring(raw []byte) error {
	cur := b.keys.Load()
	if cur == nil {
		return nil
	}
	next, err := cur.reopen(b.ad(b.keyringKey()), raw)
	if errors.Is(err, ErrSealed) && b.keys.Load() != cur {
		return nil // replaced meanwhile (a rotation or a seal): the caller retries with what is there
	}
	if err != nil {
		return err
	}
	if next.activeTerm() <= cur.activeTerm() || !b.keys.CompareAndSwap(cur, next) {
		next.destroy()
		return nil
	}
	cur.destroy()
	return nil
}

// KeyStatus reports the keyring's terms, newest (active) last, and how
// many records the active term encrypted since this node loaded the keyring.
func (b *Barrier) KeyStatus() ([]Term, uint64, error) {
	kr := b.keys.Load()
	if kr == nil {
		return nil, 0, ErrSealed
	}
	return append([]Term(nil), kr.terms...), kr.encryptions.Load(), nil
}

// newNonce returns a random UUID, the nonce of a quorum attempt.
func newNonce() string { return uuid.NewString() }
