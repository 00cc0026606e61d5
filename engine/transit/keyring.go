package transit

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// keyring is the in-memory form of one named key, built once from its
// stored policy and served from the cache until the key changes. It is
// immutable: a change builds a new keyring and retires this one.
//
// It holds the versions that can be used (min_decryption_version to
// latest_version), as Vault's policy does after archiving: raw key bytes
// in the arena, and the objects built from them (AEADs of non-derived
// keys, signers, public keys).
//
// A keyring is reference counted. The cache holds one reference; each
// request acquires one for as long as it uses the keyring's key bytes.
// When the keyring is retired (replaced, evicted, deleted, purged) and its
// last reference is released, its arena secrets are wiped and freed.
type keyring struct {
	refs     atomic.Int64
	retired  atomic.Bool
	freed    atomic.Bool
	lastUsed atomic.Int64 // unix seconds, for the bounded cache
	arena    *arena

	name string
	typ  keyType
	// meta is the stored policy without its key entries (Keys is nil).
	meta *storedPolicy
	// versions[i] is version base+i.
	versions []*keyVersion
	base     int
	// tplPrefix and tplSep split the version template around {{version}}.
	tplPrefix, tplSep string
}

// keyVersion is one loaded version of a key.
type keyVersion struct {
	n           int
	created     time.Time
	createdUnix int64
	// sec holds the key bytes followed by the HMAC key bytes. The key bytes
	// are the raw symmetric or HMAC key, the 64-byte Ed25519 private key,
	// the ECDSA scalar, or the PKCS #1 DER of an RSA key; empty when only
	// the public key was imported.
	sec     secret
	keyLen  int
	hmacLen int
	// aead is the cipher of a non-derived AEAD key.
	aead cipher.AEAD
	// priv signs (ECDSA, RSA, non-derived Ed25519); nil without a private key.
	priv crypto.Signer
	// pub is the public key of an asymmetric key.
	pub crypto.PublicKey
	// publicKey is the public key as Vault formats it in keys/<name>.
	publicKey  string
	prefix     string // version prefix, "vault:v<n>:"
	convergent int
	certChain  [][]byte
}

// key returns the version's key bytes, aliasing locked memory.
func (v *keyVersion) key() []byte { return v.sec.bytes()[:v.keyLen] }

// hmacKey returns the version's HMAC key, aliasing locked memory.
func (v *keyVersion) hmacKey() []byte { return v.sec.bytes()[v.keyLen : v.keyLen+v.hmacLen] }

// hasPrivate reports whether the version holds private key material.
func (v *keyVersion) hasPrivate() bool { return v.keyLen > 0 }

// buildKeyring loads p into memory. p is left unchanged; the caller wipes it.
func buildKeyring(a *arena, p *storedPolicy) (*keyring, error) {
	typ := p.keyType()
	if typ == keyUnknown {
		return nil, internalf("key %q has an unsupported type %d", p.Name, p.Type)
	}
	tpl := p.VersionTemplate
	if tpl == "" {
		tpl = defaultVersionTemplate
	}
	parts := strings.Split(tpl, "{{version}}")
	if len(parts) != 2 {
		return nil, internalf("key %q has an invalid version template", p.Name)
	}
	meta := *p
	meta.Keys, meta.Key = nil, nil
	k := &keyring{arena: a, name: p.Name, typ: typ, meta: &meta, tplPrefix: parts[0], tplSep: parts[1]}
	k.refs.Store(1)
	k.lastUsed.Store(time.Now().Unix())
	lo := max(p.MinDecryptionVersion, p.MinAvailableVersion, 1)
	k.base = lo
	for n := lo; n <= p.LatestVersion; n++ {
		e, ok := p.entry(n)
		if !ok {
			k.free()
			return nil, internalf("key %q is missing version %d", p.Name, n)
		}
		v, err := k.loadVersion(p, n, &e)
		if err != nil {
			k.free()
			return nil, err
		}
		k.versions = append(k.versions, v)
	}
	return k, nil
}

// loadVersion builds version n from its stored entry.
func (k *keyring) loadVersion(p *storedPolicy, n int, e *storedKeyEntry) (*keyVersion, error) {
	v := &keyVersion{
		n: n, created: e.CreationTime, createdUnix: e.DeprecatedCreationTime,
		prefix: k.versionPrefix(n), convergent: p.convergentVersion(n), certChain: e.CertificateChain,
	}
	if v.created.IsZero() {
		v.created = time.Unix(e.DeprecatedCreationTime, 0)
	}
	var keyBytes []byte
	var wipe bool
	switch t := k.typ; {
	case t.symmetricAEAD(), t == keyHMAC:
		keyBytes = e.Key
		if t.symmetricAEAD() && len(keyBytes) != t.symmetricKeySize() && !(p.Derived && p.KDF == kdfHMACSHA256Counter) {
			return nil, internalf("key %q version %d has a key of %d bytes", p.Name, n, len(keyBytes))
		}
	case t == keyED25519:
		keyBytes = e.Key
		if len(keyBytes) != 0 && len(keyBytes) != ed25519.PrivateKeySize {
			return nil, internalf("key %q version %d has an invalid Ed25519 key", p.Name, n)
		}
		v.publicKey = e.FormattedPublicKey
		if raw, err := base64.StdEncoding.DecodeString(e.FormattedPublicKey); err == nil && len(raw) == ed25519.PublicKeySize {
			v.pub = ed25519.PublicKey(raw)
		} else if len(keyBytes) != 0 {
			v.pub = ed25519.PrivateKey(keyBytes).Public()
		}
	case t.isECDSA():
		curve := ecdsaCurve(t)
		if e.ECD != nil {
			d := make([]byte, (curve.Params().BitSize+7)/8)
			e.ECD.FillBytes(d)
			priv, err := ecdsa.ParseRawPrivateKey(curve, d)
			if err != nil {
				clear(d)
				return nil, internalf("key %q version %d has an invalid ECDSA key: %v", p.Name, n, err)
			}
			keyBytes, wipe = d, true
			v.priv, v.pub = priv, &priv.PublicKey
		} else {
			if e.ECX == nil || e.ECY == nil {
				return nil, internalf("key %q version %d has no ECDSA key", p.Name, n)
			}
			pub, err := ecdsaPublicFromXY(curve, e.ECX, e.ECY)
			if err != nil {
				return nil, internalf("key %q version %d has an invalid ECDSA public key: %v", p.Name, n, err)
			}
			v.pub = pub
		}
		v.publicKey = e.FormattedPublicKey
		if v.publicKey == "" {
			v.publicKey = pemPublicKey(v.pub, false)
		}
	case t.isRSA():
		switch {
		case e.RSAKey != nil:
			priv, err := rsaFromJSON(e.RSAKey)
			if err != nil {
				return nil, err
			}
			if priv.N.BitLen() != t.rsaBits() {
				return nil, internalf("key %q version %d is not a %d-bit RSA key", p.Name, n, t.rsaBits())
			}
			keyBytes, wipe = x509.MarshalPKCS1PrivateKey(priv), true
			v.priv, v.pub = priv, &priv.PublicKey
		case e.RSAPublicKey != nil && e.RSAPublicKey.N != nil:
			v.pub = &rsa.PublicKey{N: cloneBig(e.RSAPublicKey.N), E: e.RSAPublicKey.E}
		default:
			return nil, internalf("key %q version %d has no RSA key", p.Name, n)
		}
		v.publicKey = pemPublicKey(v.pub, true)
	}
	hk := e.HMACKey
	if k.typ == keyHMAC {
		hk = nil // the HMAC key of an HMAC key is its key
	}
	buf := make([]byte, 0, len(keyBytes)+len(hk))
	buf = append(append(buf, keyBytes...), hk...)
	v.sec = k.arena.alloc(buf)
	clear(buf)
	if wipe {
		clear(keyBytes)
	}
	v.keyLen, v.hmacLen = len(keyBytes), len(hk)
	if k.typ == keyHMAC {
		v.hmacLen = 0
	}
	switch t := k.typ; {
	case t.symmetricAEAD() && !p.Derived:
		aead, err := newAEAD(t, v.key())
		if err != nil {
			k.arena.free(v.sec)
			return nil, err
		}
		v.aead = aead
	case t == keyED25519 && !p.Derived && v.keyLen > 0:
		// A heap copy: crypto/ed25519 caches its expanded key under a weak
		// pointer to the key, which locked (non-Go) memory cannot carry.
		v.priv = ed25519.PrivateKey(bytes.Clone(v.key()))
	}
	return v, nil
}

// hmacKeyOf returns the HMAC key of v: the key itself for an HMAC key.
func (k *keyring) hmacKeyOf(v *keyVersion) []byte {
	if k.typ == keyHMAC {
		return v.key()
	}
	return v.hmacKey()
}

// ecdsaPublicFromXY builds a public key from keysutil's coordinates.
func ecdsaPublicFromXY(curve elliptic.Curve, x, y *big.Int) (*ecdsa.PublicKey, error) {
	size := (curve.Params().BitSize + 7) / 8
	if x.Sign() < 0 || y.Sign() < 0 || x.BitLen() > size*8 || y.BitLen() > size*8 {
		return nil, errors.New("coordinates out of range")
	}
	pt := make([]byte, 1+2*size)
	pt[0] = 4
	x.FillBytes(pt[1 : 1+size])
	y.FillBytes(pt[1+size:])
	return ecdsa.ParseUncompressedPublicKey(curve, pt)
}

// newAEAD returns the cipher of a symmetric key type.
func newAEAD(t keyType, key []byte) (cipher.AEAD, error) {
	switch t {
	case keyAES128GCM96, keyAES256GCM96:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, internalf("%v", err)
		}
		return cipher.NewGCM(block)
	case keyChaCha20Poly1305:
		return chacha20poly1305.New(key)
	case keyXChaCha20Poly1305:
		return chacha20poly1305.NewX(key)
	}
	return nil, internalf("no cipher for key type %v", t)
}

func ecdsaCurve(t keyType) elliptic.Curve {
	switch t {
	case keyECDSAP384:
		return elliptic.P384()
	case keyECDSAP521:
		return elliptic.P521()
	}
	return elliptic.P256()
}

// pemPublicKey encodes pub as a PKIX PEM block, with the trailing newline
// when keep is set (Vault keeps it for RSA keys).
func pemPublicKey(pub crypto.PublicKey, keep bool) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	s := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if !keep {
		s = strings.TrimSpace(s)
	}
	return s
}

// versionPrefix renders the version template for version n.
func (k *keyring) versionPrefix(n int) string {
	return k.tplPrefix + strconv.Itoa(n) + k.tplSep
}

// version returns loaded version n, or nil.
func (k *keyring) version(n int) *keyVersion {
	i := n - k.base
	if i < 0 || i >= len(k.versions) {
		return nil
	}
	return k.versions[i]
}

// latest returns the latest version's number.
func (k *keyring) latest() int { return k.meta.LatestVersion }

// acquire takes a reference for a request. It fails once the keyring is
// retired; the caller then looks the key up again.
func (k *keyring) acquire() bool {
	k.refs.Add(1)
	if k.retired.Load() {
		k.release()
		return false
	}
	return true
}

// release drops a reference taken by acquire.
func (k *keyring) release() {
	if k.refs.Add(-1) == 0 && k.retired.Load() {
		k.free()
	}
}

// retire drops the cache's reference: the keyring is freed when its last
// request releases it.
func (k *keyring) retire() {
	if k.retired.Swap(true) {
		return
	}
	k.release()
}

// touch records a use for the bounded cache, writing only when the second
// changed so that concurrent requests do not contend on the cache line.
func (k *keyring) touch(now int64) {
	if k.lastUsed.Load() != now {
		k.lastUsed.Store(now)
	}
}

// free wipes and frees the key bytes, once.
func (k *keyring) free() {
	if k.freed.Swap(true) {
		return
	}
	for _, v := range k.versions {
		k.arena.free(v.sec)
		if ed, ok := v.priv.(ed25519.PrivateKey); ok {
			clear(ed)
		}
		v.aead, v.priv = nil, nil
	}
}
