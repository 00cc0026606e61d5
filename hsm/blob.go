package hsm

import "fmt"

// Blob format, version 1. Blobs are stored, so this layout is frozen; a new
// layout takes a new version byte.
//
//	AES-GCM: 0x01 ‖ 0x01 ‖ iv[12] ‖ ciphertext ‖ tag[16]
//	AES-KWP: 0x01 ‖ 0x02 ‖ RFC 5649 output (plaintext length + 8 bytes)
//
// For AES-GCM the associated data given to the token is the two header
// bytes followed by the caller's aad, so a blob's header cannot be altered
// either.
const (
	blobVersion = 0x01
	headerLen   = 2
	gcmIVLen    = 12
	gcmTagLen   = 16
	gcmTagBits  = gcmTagLen * 8
	kwpOverhead = 8
)

// validKeyLen reports whether n is a length Wrap accepts: 16 or 32 bytes of
// key material. The KWP mechanism of SoftHSM2 zero-pads other lengths
// instead of using RFC 5649's length indicator correctly, so the package
// refuses them for every mechanism rather than let blobs depend on it.
func validKeyLen(n int) bool { return n == 16 || n == 32 }

// blob is a parsed wrapped key.
type blob struct {
	mech Mechanism
	iv   []byte // AES-GCM only
	body []byte // AES-GCM: ciphertext ‖ tag; AES-KWP: wrapped key
}

// header returns the two header bytes for m.
func header(m Mechanism) []byte { return []byte{blobVersion, byte(m)} }

// gcmAAD returns the associated data the token authenticates: the blob
// header followed by the caller's aad.
func gcmAAD(aad []byte) []byte {
	out := make([]byte, 0, headerLen+len(aad))
	out = append(out, header(MechanismAESGCM)...)
	return append(out, aad...)
}

// parseBlob checks b's version, mechanism and length. Every failure matches
// ErrUnwrap. It does no PKCS#11 call.
func parseBlob(b []byte) (blob, error) {
	if len(b) < headerLen {
		return blob{}, fmt.Errorf("%w: blob too short (%d bytes)", ErrUnwrap, len(b))
	}
	if b[0] != blobVersion {
		return blob{}, fmt.Errorf("%w: unknown blob version %d", ErrUnwrap, b[0])
	}
	body := b[headerLen:]
	switch m := Mechanism(b[1]); m {
	case MechanismAESGCM:
		if !validKeyLen(len(body) - gcmIVLen - gcmTagLen) {
			return blob{}, fmt.Errorf("%w: AES-GCM blob has bad length %d", ErrUnwrap, len(b))
		}
		return blob{mech: m, iv: body[:gcmIVLen], body: body[gcmIVLen:]}, nil
	case MechanismKWP:
		if !validKeyLen(len(body) - kwpOverhead) {
			return blob{}, fmt.Errorf("%w: AES-KWP blob has bad length %d", ErrUnwrap, len(b))
		}
		return blob{mech: m, body: body}, nil
	default:
		return blob{}, fmt.Errorf("%w: unknown blob mechanism %d", ErrUnwrap, b[1])
	}
}
