package shamir

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MaxShareLen is the longest decoded share ParseShare accepts, in bytes
// (a secret of up to 255 bytes plus the x-coordinate byte).
const MaxShareLen = 256

// maxEncodedShareLen bounds the trimmed input to ParseShare before any
// decoding, so an oversized request body cannot cause a large allocation.
// Hex of MaxShareLen bytes needs 512 characters and base64 344; the slack
// admits line breaks, which the base64 decoder skips.
const maxEncodedShareLen = 4 * MaxShareLen

// ErrMalformedShare: ParseShare could not decode its input into a share.
// Returned errors wrap it with the reason; they never quote the input.
var ErrMalformedShare = errors.New("shamir: malformed share")

var (
	errShareEmpty    = fmt.Errorf("%w: share is empty", ErrMalformedShare)
	errShareTooLong  = fmt.Errorf("%w: share is too long", ErrMalformedShare)
	errShareEncoding = fmt.Errorf("%w: share must be a valid hex or base64 string", ErrMalformedShare)
)

// ParseShare decodes a share as typed by an operator, the way Vault's
// sys/unseal handler reads its "key" field: surrounding whitespace is
// trimmed, then the text is decoded as hex (either case) and, if that fails,
// as standard padded base64 (RFC 4648, with Go's usual leniency: line breaks
// are skipped and unused trailing bits are ignored).
//
// As in Vault, hex wins: a base64 string that happens to consist of an even
// number of hex digits is decoded as hex. This cannot happen for the base64
// form of a share whose length is not a multiple of 3 bytes, since that
// contains '=' padding, and is vanishingly unlikely for random shares
// otherwise; operators who want certainty should use the hex form. The
// reverse also holds: a mistyped hex share whose length is a multiple of 4
// may be valid base64 and decode to a wrong share without error (not so for
// the 66-digit hex form of a 32-byte key's shares). Nothing in the format
// detects a wrong share; see Combine.
//
// The result must be 2 to MaxShareLen bytes long (an x-coordinate plus at
// least one y-value). ParseShare checks only the encoding and the length;
// whether the share belongs to a split is discovered only by Combine and by
// using its result. Every refusal wraps ErrMalformedShare, and no message
// contains any part of the input.
//
// The returned share is a new slice owned by the caller, who should wipe it
// when done. On failure ParseShare wipes whatever it decoded.
func ParseShare(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errShareEmpty
	}
	if len(s) > maxEncodedShareLen {
		return nil, errShareTooLong
	}

	// Decode from a private copy of the text, wiped on return: the input is
	// itself a secret share.
	src := []byte(s)
	defer clear(src)

	dst := make([]byte, hex.DecodedLen(len(src)))
	n, err := hex.Decode(dst, src)
	if err != nil {
		clear(dst)
		dst = make([]byte, base64.StdEncoding.DecodedLen(len(src)))
		n, err = base64.StdEncoding.Decode(dst, src)
		if err != nil {
			clear(dst)
			return nil, errShareEncoding
		}
	}
	share := dst[:n:n]
	if n < 2 || n > MaxShareLen {
		clear(dst)
		return nil, fmt.Errorf("%w: decoded share is %d bytes, want 2 to %d", ErrMalformedShare, n, MaxShareLen)
	}
	// dst[n:] (base64 over-allocates) was never written: nothing to wipe.
	return share, nil
}
