// Package shamir implements Shamir's secret sharing over GF(2^8), producing
// and consuming shares in the same byte format as HashiCorp Vault's shamir
// package (vault/shamir), so a Vault operator's unseal-key habits carry over.
//
// # Field
//
// Arithmetic is in GF(2^8) with the AES reduction polynomial
// x^8 + x^4 + x^3 + x + 1 (0x11b). Multiplication is a fixed eight-round
// shift-and-add loop driven by masks, and inversion is a^254 by a fixed
// square-and-multiply chain, so neither branches on nor indexes memory by a
// secret value.
//
// # Share format
//
// Every byte of the secret is the constant term of its own random polynomial
// of degree threshold-1. A share for a secret of n bytes is n+1 bytes long:
//
//	share = y_0 || y_1 || ... || y_{n-1} || x
//
// where x is the share's x-coordinate (one byte, never 0, distinct across the
// shares of one split) and y_i is polynomial i evaluated at x. Split chooses
// the x-coordinates as the first parts entries of a uniformly random
// permutation of 1..255, as Vault does (Vault shuffles with math/rand; Split
// draws from the same cryptographic source as the coefficients).
//
// # Constant time
//
// Split and Combine run in time that depends only on public quantities: the
// secret length, parts and threshold for Split; the number of shares, their
// length and their x-coordinates for Combine. The secret bytes, the
// polynomial coefficients and the y-values of shares only ever pass through
// the constant-time field operations. (Choosing the x-coordinates uses
// rejection sampling, whose timing depends on random bytes that end up in
// the public x-coordinates and nowhere else.)
//
// # Memory
//
// The caller owns the secret passed to Split, the shares it returns, the
// shares passed to Combine and the secret it returns, and should wipe each of
// them (for example with clear) once it no longer needs them. The package
// wipes its own temporary copies of secret material (polynomial coefficients,
// buffered random bytes, decoded bytes in ParseShare on failure) before
// returning. Go strings cannot be wiped, so a share that arrives as a string
// (ParseShare's input) stays in memory until the garbage collector reuses it.
//
// # Errors
//
// Every refusal wraps or is one of the exported Err* sentinels, suitable for
// errors.Is and for mapping to a client error (HTTP 400). No error message
// contains any byte of a secret or a share.
package shamir

import (
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
)

const (
	// ShareOverhead is how many bytes longer each share is than the secret:
	// the one trailing x-coordinate byte.
	ShareOverhead = 1

	// MaxParts is the largest number of shares Split can produce: there are
	// 255 non-zero x-coordinates in GF(2^8).
	MaxParts = 255
)

// Refusals from Split.
var (
	// ErrPartsTooFew: parts is less than threshold.
	ErrPartsTooFew = errors.New("shamir: parts cannot be less than threshold")
	// ErrTooManyParts: parts is greater than MaxParts (255).
	ErrTooManyParts = errors.New("shamir: parts cannot exceed 255")
	// ErrThresholdTooSmall: threshold is less than 2.
	ErrThresholdTooSmall = errors.New("shamir: threshold must be at least 2")
	// ErrEmptySecret: the secret has no bytes.
	ErrEmptySecret = errors.New("shamir: cannot split an empty secret")
)

// Refusals from Combine.
var (
	// ErrTooFewShares: fewer than two shares were given.
	ErrTooFewShares = errors.New("shamir: at least two shares are required to reconstruct the secret")
	// ErrShareLength: a share is shorter than two bytes, or the shares are
	// not all the same length. Returned errors wrap it with the reason.
	ErrShareLength = errors.New("shamir: invalid share length")
	// ErrDuplicateShare: two shares have the same x-coordinate (last byte).
	ErrDuplicateShare = errors.New("shamir: duplicate share (two shares have the same x-coordinate)")
)

var (
	errShareTooShort  = fmt.Errorf("%w: shares must be at least two bytes", ErrShareLength)
	errShareMismatch  = fmt.Errorf("%w: all shares must be the same length", ErrShareLength)
	errRandomnessRead = errors.New("shamir: reading randomness")
)

// Split divides secret into parts shares, any threshold of which recover it
// with Combine and fewer than threshold of which reveal nothing about it.
// It draws randomness from crypto/rand.
//
// Requirements, checked in this order (as Vault does): parts >= threshold
// (ErrPartsTooFew), parts <= 255 (ErrTooManyParts), threshold >= 2
// (ErrThresholdTooSmall), len(secret) > 0 (ErrEmptySecret). A 1-of-1 "split"
// is refused; callers that want it must handle it themselves.
//
// Each returned share is len(secret)+ShareOverhead bytes in the format
// described in the package documentation, and has its own backing array.
// Split does not retain or modify secret. The caller owns secret and the
// shares and should wipe them when done.
func Split(secret []byte, parts, threshold int) ([][]byte, error) {
	return SplitWithRand(cryptorand.Reader, secret, parts, threshold)
}

// SplitWithRand is Split with an explicit source of randomness, for tests
// that need reproducible output. Production code should call Split. A nil
// rand means crypto/rand.Reader.
//
// The output is a deterministic function of the bytes read from rand, which
// are consumed in this order (a golden test pins it, so changing it changes
// the output for a given reader):
//
//  1. The x-coordinates: a partial Fisher–Yates shuffle of the values 1..255.
//     For i = 0..parts-1, an index j is drawn uniformly from [i, 254] and
//     positions i and j are swapped; share i gets the value at position i.
//     Each uniform draw from a range of size m > 1 reads single bytes until
//     one is below 256 - 256%m and takes it modulo m (rejection sampling, so
//     there is no modulo bias); a range of size 1 reads nothing.
//  2. The coefficients: for each secret byte in order, threshold-1 bytes
//     giving the coefficients of x^1 .. x^(threshold-1).
//
// If rand fails, SplitWithRand returns a nil slice and an error wrapping the
// reader's error; nothing partial is returned.
func SplitWithRand(rand io.Reader, secret []byte, parts, threshold int) ([][]byte, error) {
	if parts < threshold {
		return nil, ErrPartsTooFew
	}
	if parts > MaxParts {
		return nil, ErrTooManyParts
	}
	if threshold < 2 {
		return nil, ErrThresholdTooSmall
	}
	if len(secret) == 0 {
		return nil, ErrEmptySecret
	}
	if rand == nil {
		rand = cryptorand.Reader
	}

	src := &byteSource{r: rand}
	defer src.wipe()

	// Partial Fisher–Yates over 1..255: the first parts entries of perm form
	// a uniformly random sequence of distinct non-zero x-coordinates.
	var perm [MaxParts]byte
	for i := range perm {
		perm[i] = byte(i + 1)
	}
	for i := range parts {
		j, err := src.uniform(MaxParts - i)
		if err != nil {
			return nil, err
		}
		j += i
		perm[i], perm[j] = perm[j], perm[i]
	}

	out := make([][]byte, parts)
	for i := range out {
		out[i] = make([]byte, len(secret)+ShareOverhead)
		out[i][len(secret)] = perm[i]
	}

	// coeffs[0] is the intercept (the secret byte); coeffs[1:] are random.
	coeffs := make([]byte, threshold)
	defer clear(coeffs)
	for idx, s := range secret {
		coeffs[0] = s
		if err := src.read(coeffs[1:]); err != nil {
			for _, share := range out {
				clear(share)
			}
			return nil, err
		}
		for i := range out {
			out[i][idx] = evaluate(coeffs, perm[i])
		}
	}
	return out, nil
}

// evaluate returns the polynomial with the given coefficients (lowest degree
// first) at x, by Horner's rule. It takes the same time for every value of
// the coefficients.
func evaluate(coeffs []byte, x byte) byte {
	degree := len(coeffs) - 1
	y := coeffs[degree]
	for i := degree - 1; i >= 0; i-- {
		y = add(mul(y, x), coeffs[i])
	}
	return y
}

// Combine reconstructs a secret from shares produced by Split (or by
// Vault's shamir.Split). It needs at least threshold distinct shares of the
// same split; given fewer, or shares of different splits, it returns
// garbage rather than an error, because the format carries no checksum.
// Callers must verify the result (for example by using it to decrypt
// something authenticated).
//
// Refusals, checked in this order (as Vault does): fewer than two shares
// (ErrTooFewShares); the first share shorter than two bytes, or any share of
// a different length (ErrShareLength); two shares with the same
// x-coordinate (ErrDuplicateShare). As in Vault, an x-coordinate of 0 is not
// refused; such a share's y-values are the secret itself.
//
// The secret is recovered byte by byte by Lagrange interpolation at x = 0,
// in constant time with respect to the y-values. Combine does not retain or
// modify parts. The returned secret is a new slice of len(share)-1 bytes
// owned by the caller, who should wipe it, and the shares, when done.
func Combine(parts [][]byte) ([]byte, error) {
	if len(parts) < 2 {
		return nil, ErrTooFewShares
	}
	shareLen := len(parts[0])
	if shareLen < 2 {
		return nil, errShareTooShort
	}
	for _, p := range parts[1:] {
		if len(p) != shareLen {
			return nil, errShareMismatch
		}
	}

	// x-coordinates are public: a lookup table indexed by them leaks nothing.
	var seen [256]bool
	xs := make([]byte, len(parts))
	for i, p := range parts {
		x := p[shareLen-1]
		if seen[x] {
			return nil, ErrDuplicateShare
		}
		seen[x] = true
		xs[i] = x
	}

	// The Lagrange basis polynomials at 0 depend only on the x-coordinates,
	// so compute their values once:
	//
	//	w_i = prod_{j != i} (0 - x_j) / (x_i - x_j) = prod x_j / prod (x_i ^ x_j)
	//
	// The denominator is never 0 because the x-coordinates are distinct.
	ws := make([]byte, len(parts))
	for i := range xs {
		num, den := byte(1), byte(1)
		for j := range xs {
			if j == i {
				continue
			}
			num = mul(num, xs[j])
			den = mul(den, add(xs[i], xs[j]))
		}
		ws[i] = mul(num, inv(den))
	}

	secret := make([]byte, shareLen-ShareOverhead)
	for idx := range secret {
		var s byte
		for i, p := range parts {
			s = add(s, mul(p[idx], ws[i]))
		}
		secret[idx] = s
	}
	return secret, nil
}

// byteSource reads from an io.Reader through a small buffer, so choosing
// x-coordinates does not cost one Read per byte. Bytes are handed out
// strictly in the order they were read, so the output of SplitWithRand
// depends only on the reader's byte stream, not on how it chunks Reads.
type byteSource struct {
	r   io.Reader
	buf [64]byte
	pos int // next unread byte in buf
	end int // buf[pos:end] is unread
}

// fill refills the empty buffer with at least one byte. It does not insist
// on a full buffer, so a reader holding exactly the bytes SplitWithRand
// needs is enough.
func (s *byteSource) fill() error {
	n, err := io.ReadAtLeast(s.r, s.buf[:], 1)
	if err != nil {
		clear(s.buf[:n])
		return fmt.Errorf("%w: %w", errRandomnessRead, err)
	}
	s.pos, s.end = 0, n
	return nil
}

// read fills p entirely.
func (s *byteSource) read(p []byte) error {
	for len(p) > 0 {
		if s.pos == s.end {
			if err := s.fill(); err != nil {
				return err
			}
		}
		n := copy(p, s.buf[s.pos:s.end])
		clear(s.buf[s.pos : s.pos+n])
		s.pos += n
		p = p[n:]
	}
	return nil
}

// uniform returns a uniformly distributed integer in [0, m) for
// 1 <= m <= 256, by rejection sampling single bytes.
func (s *byteSource) uniform(m int) (int, error) {
	if m == 1 {
		return 0, nil
	}
	limit := 256 - 256%m // largest multiple of m not above 256
	var b [1]byte
	for {
		if err := s.read(b[:]); err != nil {
			return 0, err
		}
		if int(b[0]) < limit {
			return int(b[0]) % m, nil
		}
	}
}

// wipe clears any buffered random bytes.
func (s *byteSource) wipe() {
	clear(s.buf[:])
	s.pos, s.end = 0, 0
}
