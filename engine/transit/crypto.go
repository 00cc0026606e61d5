package transit

// The symmetric and RSA encryption of keysutil.Policy (EncryptWithFactory,
// DecryptWithFactory, SymmetricEncryptRaw, SymmetricDecryptRaw, DeriveKey),
// byte for byte: a ciphertext is "vault:v<N>:" followed by the standard
// base64 of nonce ‖ ciphertext ‖ tag (12-byte nonce for AES-GCM and
// ChaCha20-Poly1305, 24 bytes for XChaCha20-Poly1305), or of the RSA-OAEP
// (SHA-256, no label) ciphertext for RSA keys.

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"strconv"
	"strings"
	"unsafe"
)

// deriveKey is keysutil's DeriveKey: the key of version v for context, n
// bytes long. HKDF-SHA256 (kdf 1) takes the version's key as secret, no
// salt and the context as info; for Ed25519 the first 32 bytes are the
// seed of the derived key pair, returned as its 64-byte private key. The
// legacy NIST SP 800-108 counter mode with HMAC-SHA256 (kdf 0) always
// gives 32 bytes.
func (k *keyring) deriveKey(v *keyVersion, context []byte, n int) ([]byte, error) {
	if !k.typ.derivationSupported() {
		return nil, badRequest("derivation not supported for key type %v", k.typ)
	}
	if len(context) == 0 {
		return nil, badRequest(msgMissingContext)
	}
	switch k.meta.KDF {
	case kdfHKDFSHA256:
		if k.typ == keyED25519 {
			seed, err := hkdf.Key(sha256.New, v.key(), nil, string(context), 32)
			if err != nil {
				return nil, internalf("deriving key: %v", err)
			}
			defer clear(seed)
			return ed25519.NewKeyFromSeed(seed), nil
		}
		out, err := hkdf.Key(sha256.New, v.key(), nil, string(context), n)
		if err != nil {
			return nil, internalf("deriving key: %v", err)
		}
		return out, nil
	case kdfHMACSHA256Counter:
		in := make([]byte, 4+len(context)+4)
		copy(in[4:], context)
		binary.BigEndian.PutUint32(in[4+len(context):], 256)
		m := hmac.New(sha256.New, v.key())
		m.Write(in)
		return m.Sum(nil), nil
	}
	return nil, internalf("unsupported key derivation mode %d", k.meta.KDF)
}

// resolveEncryptVersion applies keysutil's rules for the version an
// encryption (or a signature) uses; 0 means the latest.
func (k *keyring) resolveEncryptVersion(ver int, what string) (int, error) {
	switch {
	case ver == 0:
		return k.latest(), nil
	case ver < 0:
		return 0, badRequest("requested version for %s is negative", what)
	case ver > k.latest():
		return 0, badRequest("requested version for %s is higher than the latest key version", what)
	case ver < k.meta.MinEncryptionVersion:
		return 0, badRequest("requested version for %s is less than the minimum encryption key version", what)
	}
	return ver, nil
}

// encrypt encrypts the base64 plaintext b64 with version ver (0 for the
// latest) and returns the ciphertext and the version used. context is the
// derivation context of a derived key; ad the associated data of an AEAD.
// Errors are engine.ErrBadRequest refusals, or internal failures.
func (k *keyring) encrypt(ver int, context, ad []byte, b64 string, rnd io.Reader) (string, int, error) {
	if k.meta.SoftDeleted {
		return "", 0, badRequest(msgSoftDeleted)
	}
	if !k.typ.encryptionSupported() {
		return "", 0, badRequest("message encryption not supported for key type %v", k.typ)
	}
	enc := base64.StdEncoding
	maxPT := enc.DecodedLen(len(b64))
	ver, err := k.resolveEncryptVersion(ver, "encryption")
	if err != nil {
		// keysutil decodes the plaintext first: report a bad plaintext first.
		if _, derr := enc.DecodeString(b64); derr != nil {
			return "", 0, badRequest("%v", derr)
		}
		return "", 0, err
	}
	v := k.version(ver)
	if v == nil {
		return "", 0, badRequest("no such key version")
	}
	if k.typ.isRSA() {
		pt, err := enc.DecodeString(b64)
		if err != nil {
			return "", 0, badRequest("%v", err)
		}
		defer clear(pt)
		ct, err := rsa.EncryptOAEP(sha256.New(), rnd, v.pub.(*rsa.PublicKey), pt, nil)
		if err != nil {
			return "", 0, badRequest("failed to RSA encrypt the plaintext: %v", err)
		}
		return encodeVersioned(v.prefix, ct), ver, nil
	}

	aead := v.aead
	var hmacKey []byte
	cv := v.convergent
	if k.meta.ConvergentEncryption && cv > 0 && cv < currentConvergentVersion {
		return "", 0, badRequest("refusing to support decryption with old convergent encryption key: version %d", cv)
	}
	if k.meta.Derived {
		n := k.typ.symmetricKeySize()
		if cv > 2 {
			n += 32
		}
		dk, err := k.deriveKey(v, context, n)
		if err != nil {
			return "", 0, err
		}
		defer clear(dk)
		if len(dk) < n {
			return "", 0, internalf("could not derive key, length too small")
		}
		encKey := dk[:k.typ.symmetricKeySize()]
		hmacKey = dk[len(encKey):n]
		if aead, err = newAEAD(k.typ, encKey); err != nil {
			return "", 0, err
		}
	} else if cv > 2 {
		return "", 0, internalf("could not derive key, length too small")
	}

	// One buffer: nonce, then the plaintext, sealed in place.
	ns := aead.NonceSize()
	buf := make([]byte, ns+maxPT+aead.Overhead())
	n, err := enc.Decode(buf[ns:ns+maxPT], unsafe.Slice(unsafe.StringData(b64), len(b64)))
	if err != nil {
		return "", 0, badRequest("%v", err)
	}
	nonce, pt := buf[:ns], buf[ns:ns+n]
	if cv > 2 {
		m := hmac.New(sha256.New, hmacKey)
		m.Write(pt)
		copy(nonce, m.Sum(nil))
	} else if _, err := io.ReadFull(rnd, nonce); err != nil {
		return "", 0, internalf("reading randomness: %v", err)
	}
	sealed := aead.Seal(pt[:0], nonce, pt, ad)
	return encodeVersioned(v.prefix, buf[:ns+len(sealed)]), ver, nil
}

// encodeVersioned returns prefix followed by the standard base64 of b, in
// one allocation.
func encodeVersioned(prefix string, b []byte) string {
	out := make([]byte, 0, len(prefix)+base64.StdEncoding.EncodedLen(len(b)))
	out = append(out, prefix...)
	out = base64.StdEncoding.AppendEncode(out, b)
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// versioned is a parsed "vault:v<N>:<base64>" value.
type versioned struct {
	ver  int
	body string
}

// parseVersioned splits s by the version template (prefix, separator)
// as keysutil does, naming what (ciphertext, signature) in its refusals.
func parseVersioned(s, prefix, sep, what string) (versioned, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return versioned{}, badRequest("invalid %s: no prefix", what)
	}
	num, body, ok := strings.Cut(rest, sep)
	if !ok {
		return versioned{}, badRequest("invalid %s: wrong number of fields", what)
	}
	ver, err := strconv.Atoi(num)
	if err != nil {
		return versioned{}, badRequest("invalid %s: version number could not be decoded", what)
	}
	return versioned{ver: ver, body: body}, nil
}

// parseCiphertext parses a ciphertext of the default template and
// decodes its payload. These are the checks that do not depend on the key,
// made before any that do, so that a missing key and an existing one
// answer a malformed ciphertext alike.
func parseCiphertext(s, prefix, sep string) (int, []byte, error) {
	pv, err := parseVersioned(s, prefix, sep, "ciphertext")
	if err != nil {
		return 0, nil, err
	}
	if pv.ver < 0 {
		// Vault calls a negative version "too old", which would tell an
		// existing key from a missing one; no key has one.
		return 0, nil, badRequest("invalid ciphertext: version number could not be decoded")
	}
	raw, err := base64.StdEncoding.DecodeString(pv.body)
	if err != nil {
		return 0, nil, badRequest("invalid ciphertext: could not decode base64")
	}
	if pv.ver == 0 {
		pv.ver = 1 // keys numbered from zero before Vault 0.3
	}
	return pv.ver, raw, nil
}

// decrypt opens a ciphertext parsed by parseCiphertext and returns the
// plaintext, which the caller owns and should wipe. Every failure of
// authentication, and a version this key does not hold, is errDecrypt.
func (k *keyring) decrypt(ver int, raw, context, ad []byte, rnd io.Reader) ([]byte, error) {
	if k.meta.SoftDeleted {
		return nil, badRequest(msgSoftDeleted)
	}
	if !k.typ.encryptionSupported() {
		return nil, badRequest("message decryption not supported for key type %v", k.typ)
	}
	if ver > k.latest() {
		return nil, errDecrypt
	}
	if k.meta.MinDecryptionVersion > 0 && ver < k.meta.MinDecryptionVersion {
		return nil, badRequest(msgTooOld)
	}
	v := k.version(ver)
	if v == nil {
		return nil, errDecrypt
	}
	if k.typ.isRSA() {
		priv, ok := v.priv.(*rsa.PrivateKey)
		if !ok {
			return nil, badRequest("cannot decrypt ciphertext, key version does not have a private counterpart")
		}
		pt, err := rsa.DecryptOAEP(sha256.New(), rnd, priv, raw, nil)
		if err != nil {
			return nil, errDecrypt
		}
		return pt, nil
	}
	if cv := v.convergent; k.meta.ConvergentEncryption && cv > 0 && cv < currentConvergentVersion {
		return nil, badRequest("refusing to support decryption with old convergent encryption key: version %d", cv)
	}
	aead := v.aead
	if k.meta.Derived {
		dk, err := k.deriveKey(v, context, k.typ.symmetricKeySize())
		if err != nil {
			return nil, err
		}
		if len(dk) < k.typ.symmetricKeySize() {
			clear(dk)
			return nil, internalf("could not derive enc key, length not correct")
		}
		aead, err = newAEAD(k.typ, dk[:k.typ.symmetricKeySize()])
		clear(dk)
		if err != nil {
			return nil, err
		}
	}
	ns := aead.NonceSize()
	if len(raw) < ns {
		return nil, errDecrypt
	}
	pt, err := aead.Open(raw[ns:ns], raw[:ns], raw[ns:], ad)
	if err != nil {
		return nil, errDecrypt
	}
	return pt, nil
}

// randomBytes returns n bytes from rnd.
func randomBytes(rnd io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, internalf("reading randomness: %v", err)
	}
	return b, nil
}
