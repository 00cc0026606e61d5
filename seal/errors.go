package seal

import "errors"

// Sentinel errors. The HTTP front door maps them to status codes; their texts
// follow Vault's where Vault has one, and none of them carries key material.
var (
	// ErrSealed is returned by every barrier operation while the tenant is sealed.
	//lint:ignore ST1005 Vault's exact text, which clients and operators match
	ErrSealed = errors.New("Vault is sealed")
	// ErrNotInitialized is returned by Unseal before Init.
	//lint:ignore ST1005 Vault's exact text, which clients and operators match
	ErrNotInitialized = errors.New("Vault is not initialized")
	// ErrAlreadyInitialized is returned by a second Init.
	//lint:ignore ST1005 Vault's exact text, which clients and operators match
	ErrAlreadyInitialized = errors.New("Vault is already initialized")
	// ErrInvalidConfig wraps the reason an Init request's seal configuration
	// is refused.
	ErrInvalidConfig = errors.New("invalid seal configuration")
	// ErrInvalidKey is returned when the unseal keys given do not open the
	// root key, or a key has the wrong length. The unseal attempt is reset.
	ErrInvalidKey = errors.New("unseal failed, invalid key")
	// ErrDuplicateShare is returned when an unseal key already given in the
	// current attempt is given again. Progress is kept.
	ErrDuplicateShare = errors.New("this unseal key was already provided in the current unseal attempt")
	// ErrDecrypt is the one error for a record that fails authentication:
	// tampered, truncated, moved to another key or tenant, or written under a
	// key this keyring does not hold.
	ErrDecrypt = errors.New("seal: record failed authentication")
	// ErrCorrupt is returned for seal records that cannot be parsed.
	ErrCorrupt = errors.New("seal: stored seal material is corrupt")
	// ErrNotFound is returned by Tx.Get for a missing record.
	ErrNotFound = errors.New("seal: record not found")
	// ErrGone is what an Options.Guard wraps when the tenant no longer
	// exists (its namespace was deleted): the seal records are not
	// written, and what PrepareHSM made is abandoned.
	ErrGone = errors.New("seal: the tenant no longer exists")
)
