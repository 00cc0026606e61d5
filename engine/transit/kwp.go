package transit

// AES Key Wrap with Padding (RFC 5649), the KWP of Vault's BYOK import
// (tink-go's kwp/subtle, which Vault uses): the target key is wrapped by an
// ephemeral AES-256 key.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// kwpAIV is the first half of RFC 5649's alternative initial value.
var kwpAIV = [4]byte{0xA6, 0x59, 0x59, 0xA6}

// errKWP is the one error of a wrapped key that does not unwrap.
var errKWP = errors.New("transit: key unwrapping failed")

// kwpWrap wraps p under kek.
func kwpWrap(kek, p []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 || len(p) > 1<<31 {
		return nil, errors.New("transit: invalid key length to wrap")
	}
	var a [8]byte
	copy(a[:4], kwpAIV[:])
	binary.BigEndian.PutUint32(a[4:], uint32(len(p)))
	padded := make([]byte, (len(p)+7)/8*8)
	copy(padded, p)
	if len(padded) == 8 {
		out := make([]byte, 16)
		copy(out, a[:])
		copy(out[8:], padded)
		block.Encrypt(out, out)
		return out, nil
	}
	n := len(padded) / 8
	out := make([]byte, 8+len(padded))
	copy(out[8:], padded)
	var buf [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(buf[:8], a[:])
			copy(buf[8:], out[8*i:8*i+8])
			block.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(buf[:8])^t)
			copy(out[8*i:], buf[8:])
		}
	}
	copy(out[:8], a[:])
	return out, nil
}

// kwpUnwrap unwraps c under kek and checks its integrity value and padding.
func kwpUnwrap(kek, c []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(c) < 16 || len(c)%8 != 0 {
		return nil, errKWP
	}
	var a [8]byte
	var p []byte
	if len(c) == 16 {
		var b [16]byte
		block.Decrypt(b[:], c)
		copy(a[:], b[:8])
		p = append([]byte(nil), b[8:]...)
		clear(b[:])
	} else {
		a, p = unwrapBlocks(block, c)
	}
	n := len(p)
	mli := int(binary.BigEndian.Uint32(a[4:]))
	ok := subtle.ConstantTimeCompare(a[:4], kwpAIV[:]) == 1 && mli > n-8 && mli <= n
	if ok {
		var nonzero byte
		for _, x := range p[mli:] {
			nonzero |= x
		}
		ok = nonzero == 0
	}
	if !ok {
		clear(p)
		return nil, errKWP
	}
	return p[:mli], nil
}

// unwrapBlocks is RFC 3394's unwrapping process W⁻¹.
func unwrapBlocks(block cipher.Block, c []byte) ([8]byte, []byte) {
	var a [8]byte
	n := len(c)/8 - 1
	copy(a[:], c[:8])
	r := append([]byte(nil), c[8:]...)
	var buf [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(buf[8:], r[8*(i-1):8*i])
			block.Decrypt(buf[:], buf[:])
			copy(a[:], buf[:8])
			copy(r[8*(i-1):], buf[8:])
		}
	}
	clear(buf[:])
	return a, r
}
