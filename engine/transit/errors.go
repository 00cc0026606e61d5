package transit

import (
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/engine"
)

// Vault's texts for the refusals clients and operators recognise.
const (
	// msgDecrypt is the one answer of decrypt and rewrap for a ciphertext
	// that no key of this mount can open: the key does not exist, the
	// ciphertext names a version the key does not hold, it was made under
	// another key, or it was truncated or tampered with. It is Go's AEAD
	// failure text, which Vault returns for a tampered ciphertext.
	msgDecrypt = "cipher: message authentication failed"
	// msgTooOld is keysutil.ErrTooOld.
	msgTooOld = "ciphertext or signature version is disallowed by policy (too old)"
	// msgMissingContext is keysutil's refusal of a derived key without context.
	msgMissingContext = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
	// msgSoftDeleted is keysutil.ErrSoftDeleted (OpenBao).
	msgSoftDeleted = "refusing to use soft-deleted key"
)

// errDecrypt is returned for every decryption that fails authentication;
// see msgDecrypt.
var errDecrypt = engine.Errorf(engine.ErrBadRequest, msgDecrypt)

// errKeyNotFound is the internal signal of a missing key inside a storage
// transaction; handlers turn it into the path's Vault message.
var errKeyNotFound = errors.New("transit: key not found")

// badRequest returns an engine.ErrBadRequest with the formatted reason.
func badRequest(format string, args ...any) error {
	return engine.Errorf(engine.ErrBadRequest, format, args...)
}

// isUserError reports whether err is a refusal of the request (400) rather
// than a failure of the server.
func isUserError(err error) bool { return errors.Is(err, engine.ErrBadRequest) }

// internalf returns an internal error (500); its text is not shown to
// clients by the front door.
func internalf(format string, args ...any) error {
	return fmt.Errorf("transit: "+format, args...)
}
