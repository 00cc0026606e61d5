package seal

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/awnumar/memguard"

	"github.com/strongroom/strongroom/storage"
)

// Wrapper is the HSM as the seal sees it: it wraps and unwraps key material
// with the master key, inside the token. hsm.HSM implements it.
type Wrapper interface {
	// Wrap encrypts plaintext (16 or 32 bytes of key material) bound to aad.
	Wrap(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	// Unwrap reverses Wrap; any failure means the blob cannot be opened.
	Unwrap(ctx context.Context, blob, aad []byte) ([]byte, error)
}

// Mode is how a tenant's root key is protected.
type Mode int

// The modes. The zero value is not a mode.
const (
	ModeUnknown Mode = iota
	// ModeShamir: the root key is wrapped by the unseal key, rebuilt from a
	// quorum of unseal key shares.
	ModeShamir
	// ModeAuto: the root key is wrapped by a seal key that the HSM unwraps
	// (pkcs11 auto-unseal). Recovery key shares authorise quorum operations.
	ModeAuto
	// ModeDual: the root key is wrapped by HKDF(seal key from the HSM ‖
	// unseal key from the shares): dual control, both are needed.
	ModeDual
)

// String names the mode as sys/seal-status reports its type.
func (m Mode) String() string {
	switch m {
	case ModeShamir:
		return TypeShamir
	case ModeAuto, ModeDual:
		return TypePKCS11
	}
	return "unknown"
}

// usesHSM reports whether the mode's root key needs the HSM.
func (m Mode) usesHSM() bool { return m == ModeAuto || m == ModeDual }

// TypePKCS11 is the seal type of ModeAuto and ModeDual.
const TypePKCS11 = "pkcs11"

// Options configures a Barrier.
type Options struct {
	// Mode is the configured seal. Zero means ModeShamir. When it differs
	// from the mode the tenant was initialised with, a seal migration is
	// pending: the next unseal must say migrate, and moves the tenant to Mode.
	Mode Mode
	// HSM is required for ModeAuto and ModeDual, and to migrate away from
	// them (Vault's `disabled = true` seal stanza).
	HSM Wrapper
	// PrepareHSM, if set, runs before the tenant's root key is first put
	// under the HSM: at Init, and at a migration onto the HSM. An error
	// aborts the operation with nothing written. The server uses it to find
	// or generate the HSM master key, so a key is generated then and never
	// because a label went missing on a store that depends on it.
	PrepareHSM func(ctx context.Context) error
	// AbandonHSM, if set, runs when an Init or a migration that ran
	// PrepareHSM fails for sure (nothing was written), so that what
	// PrepareHSM made can be removed. It is not run when the failure may
	// have committed (an error from the storage transaction other than
	// ErrAlreadyInitialized or one wrapping ErrGone).
	AbandonHSM func(ctx context.Context)
	// Guard, if set, runs first in the transaction that writes the
	// tenant's seal records (Init, and a migration), and again on every
	// retry of it. An error aborts the write; it should wrap ErrGone when
	// the tenant no longer exists. Reading in tx what says the tenant
	// exists makes an Init and the tenant's deletion serialise: without it
	// an Init that commits after the deletion's purge would leave seal
	// records, and an HSM key, that nothing will remove.
	Guard func(tx storage.ReadTx) error
}

// UsesHSM reports whether a stored configuration's root key is wrapped
// under the HSM.
func (c *Config) UsesHSM() bool { return c.mode().usesHSM() }

// Mode returns the mode a stored configuration describes (ModeUnknown for
// a configuration this version does not know).
func (c *Config) Mode() Mode { return c.mode() }

// mode returns the mode a stored configuration describes.
func (c *Config) mode() Mode {
	switch {
	case c.Type == TypeShamir:
		return ModeShamir
	case c.Type == TypePKCS11 && c.DualControl:
		return ModeDual
	case c.Type == TypePKCS11:
		return ModeAuto
	}
	return ModeUnknown
}

// quorum returns the shares and threshold of the keys a quorum operation
// (unseal, generate-root, rekey) takes in this mode: unseal keys, or
// recovery keys for ModeAuto.
func (c *Config) quorum() (shares, threshold int) {
	if c.mode() == ModeAuto {
		return c.RecoveryShares, c.RecoveryThreshold
	}
	return c.SecretShares, c.SecretThreshold
}

// dualInfo separates the dual-control key from every other use of HKDF.
const dualInfo = "strongroom/seal/dual-control/v1"

// wrappingKey returns the key that wraps the root key in mode m, from the
// HSM's seal key a (nil unless the mode uses the HSM) and the quorum key x
// (nil in ModeAuto). The caller destroys the result.
func (b *Barrier) wrappingKey(m Mode, a, x *memguard.LockedBuffer) (*memguard.LockedBuffer, error) {
	switch m {
	case ModeShamir:
		return memguard.NewBufferFromBytes(append([]byte(nil), x.Bytes()...)), nil
	case ModeAuto:
		return memguard.NewBufferFromBytes(append([]byte(nil), a.Bytes()...)), nil
	case ModeDual:
		ikm := memguard.NewBuffer(2 * keySize)
		defer ikm.Destroy()
		ikm.Copy(a.Bytes())
		ikm.CopyAt(keySize, x.Bytes())
		k, err := hkdf.Key(sha256.New, ikm.Bytes(), b.tenant, dualInfo, keySize)
		if err != nil {
			return nil, fmt.Errorf("seal: deriving the dual-control key: %w", err)
		}
		return memguard.NewBufferFromBytes(k), nil
	}
	return nil, fmt.Errorf("%w: unknown seal mode", ErrCorrupt)
}
