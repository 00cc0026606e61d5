package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/crypto/chacha20poly1305"
)

// Record format (DESIGN.md §2): version ‖ term ‖ nonce ‖ XChaCha20-Poly1305(value).
const (
	recordVersion = 1
	keySize       = chacha20poly1305.KeySize
	nonceSize     = chacha20poly1305.NonceSizeX
	headerSize    = 1 + 4 + nonceSize
	// Overhead is how many bytes a sealed record adds to its plaintext.
	Overhead = headerSize + chacha20poly1305.Overhead
)

// withAEAD builds an XChaCha20-Poly1305 instance from key (which stays in its
// memguard buffer), runs fn with it, and wipes the copy of the key the AEAD
// holds in ordinary memory before returning.
func withAEAD(key []byte, fn func(cipher.AEAD) ([]byte, error)) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	defer wipeAEAD(aead)
	return fn(aead)
}

// wipeAEAD zeroes the key that x/crypto's XChaCha20-Poly1305 copies into its
// struct (type xchacha20poly1305 struct{ key [32]byte }), so that no key bytes
// outlive the operation in garbage-collected memory. TestWipeAEAD fails if
// the library's layout ever changes.
func wipeAEAD(aead cipher.AEAD) {
	type iface struct{ typ, data unsafe.Pointer }
	p := (*iface)(unsafe.Pointer(&aead)).data
	clear((*[keySize]byte)(p)[:])
}

// sealRecord encrypts plaintext under key, recording term, with associated data ad.
func sealRecord(key []byte, term uint32, ad, plaintext []byte) ([]byte, error) {
	return withAEAD(key, func(aead cipher.AEAD) ([]byte, error) {
		out := make([]byte, headerSize, headerSize+len(plaintext)+aead.Overhead())
		out[0] = recordVersion
		binary.BigEndian.PutUint32(out[1:5], term)
		if _, err := rand.Read(out[5:headerSize]); err != nil {
			return nil, fmt.Errorf("seal: reading random nonce: %w", err)
		}
		return aead.Seal(out, out[5:headerSize], plaintext, ad), nil
	})
}

// recordTerm returns the keyring term a sealed record was written under.
func recordTerm(record []byte) (uint32, error) {
	if len(record) < Overhead || record[0] != recordVersion {
		return 0, ErrDecrypt
	}
	return binary.BigEndian.Uint32(record[1:5]), nil
}

// openRecord authenticates and decrypts a record made by sealRecord. Every
// failure is ErrDecrypt: callers cannot tell a wrong key from a tampered record.
func openRecord(key []byte, ad, record []byte) ([]byte, error) {
	if _, err := recordTerm(record); err != nil {
		return nil, err
	}
	return withAEAD(key, func(aead cipher.AEAD) ([]byte, error) {
		pt, err := aead.Open(nil, record[5:headerSize], record[headerSize:], ad)
		if err != nil {
			return nil, ErrDecrypt
		}
		return pt, nil
	})
}
