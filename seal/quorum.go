package seal

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"sync"

	"github.com/awnumar/memguard"

	"github.com/strongroom/strongroom/seal/shamir"
)

// Quorum collects the key shares of one operation that needs a threshold of
// key holders (unseal, rekey, generate-root), with Vault's semantics: a nonce
// names the attempt, a share given twice is refused, and reaching the
// threshold yields the combined key. Shares live in memguard buffers and are
// wiped by Reset. A Quorum is safe for concurrent use.
type Quorum struct {
	mu    sync.Mutex
	parts []*memguard.LockedBuffer
	nonce string
}

// Progress returns how many shares were given and the attempt's nonce ("" if
// none is under way).
func (q *Quorum) Progress() (int, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.parts), q.nonce
}

// Add records one share of a key split threshold ways (threshold 1 means the
// share is the key itself, 32 bytes). It returns the combined key once the
// threshold is reached, and resets the attempt then; the caller destroys the
// key. Errors: ErrInvalidKey for a share of the wrong length (progress kept),
// ErrDuplicateShare for a share already given (progress kept), ErrInvalidKey
// when the shares do not combine (attempt reset).
func (q *Quorum) Add(share []byte, threshold int) (*memguard.LockedBuffer, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	want := keySize + shamir.ShareOverhead
	if threshold == 1 {
		want = keySize
	}
	if len(share) != want {
		return nil, fmt.Errorf("%w: keys of this seal are %d bytes, got %d", ErrInvalidKey, want, len(share))
	}
	for _, p := range q.parts {
		if subtle.ConstantTimeCompare(share, p.Bytes()) == 1 {
			return nil, ErrDuplicateShare
		}
	}
	if len(q.parts) == 0 {
		q.nonce = newNonce()
	}
	part := memguard.NewBufferFromBytes(bytes.Clone(share))
	part.Freeze()
	q.parts = append(q.parts, part)
	if len(q.parts) < threshold {
		return nil, nil
	}
	defer q.resetLocked()
	if threshold == 1 {
		return memguard.NewBufferFromBytes(bytes.Clone(q.parts[0].Bytes())), nil
	}
	shares := make([][]byte, len(q.parts))
	for i, p := range q.parts {
		shares[i] = p.Bytes()
	}
	combined, err := shamir.Combine(shares)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return memguard.NewBufferFromBytes(combined), nil
}

// Reset discards the shares given so far.
func (q *Quorum) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resetLocked()
}

func (q *Quorum) resetLocked() {
	for _, p := range q.parts {
		p.Destroy()
	}
	q.parts = nil
	q.nonce = ""
}

// splitKey splits key into shares (Vault's format); with one share, the
// share is the key itself.
func splitKey(key []byte, shares, threshold int) ([][]byte, error) {
	if shares == 1 {
		return [][]byte{bytes.Clone(key)}, nil
	}
	out, err := shamir.Split(key, shares, threshold)
	if err != nil {
		return nil, fmt.Errorf("seal: splitting a key: %w", err)
	}
	return out, nil
}
