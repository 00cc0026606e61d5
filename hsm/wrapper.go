package hsm

import "context"

// Wrapper protects key material with a key that never leaves the HSM. It is
// all that the seal package needs from this one; tests of seal may
// implement it without a token.
type Wrapper interface {
	// Wrap encrypts plaintext (16 or 32 bytes of key material) and binds
	// aad to the result. It returns a self-describing blob.
	Wrap(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	// Unwrap returns the plaintext of a blob made by Wrap with the same
	// aad. Any error means the blob cannot be opened now.
	Unwrap(ctx context.Context, blob, aad []byte) ([]byte, error)
}

var _ Wrapper = (*HSM)(nil)
