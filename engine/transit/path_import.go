package transit

// wrapping_key, keys/<name>/import and keys/<name>/import_version: Vault's
// path_wrapping_key.go and path_import.go (bring your own key).
//
// GET wrapping_key answers the PEM public key of the mount's RSA-4096
// wrapping key, made on first use. An imported key arrives as
// ciphertext = RSA-OAEP(wrapping key, hash_function, no label)(ephemeral
// AES-256 key) ‖ AES-KWP (RFC 5649)(ephemeral key)(target key), base64;
// hash_function is SHA1, SHA224, SHA256 (default), SHA384 or SHA512. The
// target is the raw key of a symmetric or HMAC key, or the PKCS #8 DER of
// an RSA, ECDSA or Ed25519 private key. Asymmetric keys may instead be
// imported as a PEM public_key, and their private key added later with
// import_version and version. import creates a key (type, derived,
// exportable, allow_plaintext_backup, auto_rotate_period, allow_rotation)
// and refuses an existing name; import_version adds a version to an
// imported key. Both answer 204.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// wrappingKeyName is the name of the wrapping key, as in Vault.
const wrappingKeyName = "import/wrapping-key"

// encryptedKeyBytes is the length of the RSA-4096 wrapped ephemeral key.
const encryptedKeyBytes = 512

func (b *Backend) pathWrappingKey(ctx context.Context, _ *engine.Request) (*engine.Response, error) {
	w, err := b.wrappingKey(ctx)
	if err != nil {
		return nil, err
	}
	defer w.release()
	v := w.version(w.latest())
	return &engine.Response{Data: map[string]any{"public_key": pemPublicKey(v.pub, true)}}, nil
}

// wrappingKey returns the mount's wrapping key acquired, making it on
// first use.
func (b *Backend) wrappingKey(ctx context.Context) (*keyring, error) {
	if w := b.wrapping.Load(); w != nil && w.acquire() {
		return w, nil
	}
	b.wrapMu.Lock()
	defer b.wrapMu.Unlock()
	if w := b.wrapping.Load(); w != nil && w.acquire() {
		return w, nil
	}
	read := func() (*storedPolicy, error) {
		var p *storedPolicy
		err := b.view.View(ctx, func(tx *seal.ReadTx) error {
			raw, err := tx.Get(wrappingKeyRecord)
			if errors.Is(err, seal.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			defer clear(raw)
			p, err = decodePolicy(raw)
			return err
		})
		return p, err
	}
	p, err := read()
	if err != nil {
		return nil, err
	}
	if p == nil {
		// Generated outside the transaction: an RSA-4096 key takes seconds.
		fresh, err := b.newPolicy(wrappingKeyName, keyRSA4096, keyOptions{})
		if err != nil {
			return nil, err
		}
		var existing *storedPolicy
		err = b.update(ctx, func(tx *seal.Tx) error {
			existing.wipe()
			existing = nil
			raw, err := tx.Get(wrappingKeyRecord)
			if err == nil {
				defer clear(raw)
				existing, err = decodePolicy(raw)
				return err
			}
			if !errors.Is(err, seal.ErrNotFound) {
				return err
			}
			enc, err := encodePolicy(fresh)
			if err != nil {
				return err
			}
			defer clear(enc)
			return tx.Set(wrappingKeyRecord, enc)
		})
		if err != nil {
			fresh.wipe()
			return nil, err
		}
		p = fresh
		if existing != nil {
			fresh.wipe()
			p = existing
		}
	}
	defer p.wipe()
	w, err := buildKeyring(b.arena, p)
	if err != nil {
		return nil, err
	}
	w.refs.Add(1)
	if old := b.wrapping.Swap(w); old != nil {
		old.retire()
	}
	return w, nil
}

// importRequest is the body of keys/<name>/import and import_version.
type importRequest struct {
	Type                 flexString      `json:"type"`
	Ciphertext           *string         `json:"ciphertext"`
	PublicKey            *string         `json:"public_key"`
	HashFunction         flexString      `json:"hash_function"`
	AllowRotation        flexBool        `json:"allow_rotation"`
	Derived              flexBool        `json:"derived"`
	Exportable           flexBool        `json:"exportable"`
	AllowPlaintextBackup flexBool        `json:"allow_plaintext_backup"`
	AutoRotatePeriod     engine.Duration `json:"auto_rotate_period"`
	ConvergentEncryption *json1          `json:"convergent_encryption"`
	Version              *flexInt        `json:"version"`
}

// json1 notes that a field was present, whatever its value.
type json1 struct{}

func (*json1) UnmarshalJSON([]byte) error { return nil }

func (b *Backend) pathImport(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in importRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	if in.ConvergentEncryption != nil {
		return nil, badRequest("import cannot be used on keys with convergent encryption enabled")
	}
	period := time.Duration(in.AutoRotatePeriod) * time.Second
	if period > 0 && !in.AllowRotation {
		return nil, badRequest("allow_rotation must be set to true if auto-rotation is enabled")
	}
	if period != 0 && period < time.Hour {
		return nil, badRequest("auto rotate period must be 0 to disable or at least an hour")
	}
	isPrivate, err := in.keyFields()
	if err != nil {
		return nil, err
	}
	typName := strings.ToLower(string(in.Type))
	if typName == "" {
		typName = "aes256-gcm96"
	}
	t := parseKeyType(typName)
	if t == keyUnknown {
		return nil, badRequest("unknown key type: %v", string(in.Type))
	}
	if existing, err := b.acquire(ctx, name); err != nil {
		return nil, err
	} else if existing != nil {
		existing.release()
		return nil, badRequest("the import path cannot be used with an existing key; use import-version to rotate an existing imported key")
	}
	material, err := b.importMaterial(ctx, &in, t, isPrivate)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	p := &storedPolicy{
		Name: name, Type: typeToWire[t], Derived: bool(in.Derived), Exportable: bool(in.Exportable),
		AllowPlaintextBackup: bool(in.AllowPlaintextBackup), AutoRotatePeriod: period,
		AllowImportedKeyRotation: bool(in.AllowRotation), Imported: true,
	}
	if p.Derived {
		if !t.derivationSupported() {
			return nil, badRequest("key derivation and convergent encryption not supported for keys of type %v", t)
		}
		p.KDF = kdfHKDFSHA256
	}
	if err := b.importVersion(p, t, material, isPrivate, 0); err != nil {
		return nil, err
	}
	defer p.wipe()
	k, created, err := b.insert(ctx, name, p, false)
	if err != nil {
		return nil, err
	}
	k.release()
	if !created {
		return nil, badRequest("the import path cannot be used with an existing key; use import-version to rotate an existing imported key")
	}
	return nil, nil
}

func (b *Backend) pathImportVersion(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in importRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	isPrivate, err := in.keyFields()
	if err != nil {
		return nil, err
	}
	cur, err := b.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, badRequest("no key found with name %s; to import a new key, use the import/ endpoint", name)
	}
	t := cur.typ
	cur.release()
	material, err := b.importMaterial(ctx, &in, t, isPrivate)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	version := 0
	if in.Version != nil {
		version = int(*in.Version)
		if version <= 0 {
			return nil, badRequest("no such key version")
		}
	}
	k, err := b.mutate(ctx, name, func(p *storedPolicy) error {
		if !p.Imported {
			return badRequest("the import_version endpoint can only be used with an imported key")
		}
		if p.ConvergentEncryption {
			return badRequest("import_version cannot be used on keys with convergent encryption enabled")
		}
		if p.SoftDeleted {
			return badRequest(msgSoftDeleted)
		}
		return b.importVersion(p, p.keyType(), cloneBytes(material), isPrivate, version)
	})
	if errors.Is(err, errKeyNotFound) {
		return nil, badRequest("no key found with name %s; to import a new key, use the import/ endpoint", name)
	}
	if err != nil {
		return nil, err
	}
	k.release()
	return nil, nil
}

// keyFields reports whether the request carries a wrapped private key
// (ciphertext) rather than a public key.
func (in *importRequest) keyFields() (bool, error) {
	switch {
	case in.Ciphertext != nil && in.PublicKey != nil:
		return false, badRequest("only one of the following fields, ciphertext and public_key, can be set")
	case in.Ciphertext != nil:
		return true, nil
	case in.PublicKey != nil:
		return false, nil
	}
	return false, badRequest("one of the fields ciphertext or public_key must be set")
}

// importMaterial unwraps the ciphertext, or returns the public key PEM.
func (b *Backend) importMaterial(ctx context.Context, in *importRequest, t keyType, isPrivate bool) ([]byte, error) {
	if !isPrivate {
		if !t.importPublicKeySupported() {
			return nil, badRequest("provided type does not support public_key import")
		}
		return []byte(*in.PublicKey), nil
	}
	h, err := parseHashFn(string(in.HashFunction))
	if err != nil {
		return nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(*in.Ciphertext)
	if err != nil {
		return nil, badRequest("failed to decode ciphertext: %v", err)
	}
	if len(ct) <= encryptedKeyBytes {
		return nil, badRequest("provided ciphertext is too short")
	}
	w, err := b.wrappingKey(ctx)
	if err != nil {
		return nil, err
	}
	defer w.release()
	priv := w.version(w.latest()).priv.(*rsa.PrivateKey)
	eph, err := rsa.DecryptOAEP(h, b.rand, priv, ct[:encryptedKeyBytes], []byte{})
	if err != nil {
		return nil, badRequest("failed to unwrap the ephemeral key: decryption error")
	}
	defer clear(eph)
	if len(eph) != 32 {
		return nil, badRequest("expected ephemeral AES key to be 256-bit")
	}
	key, err := kwpUnwrap(eph, ct[encryptedKeyBytes:])
	if err != nil {
		return nil, badRequest("failed to unwrap the target key: %v", err)
	}
	return key, nil
}

// parseHashFn is Vault's parseHashFn.
func parseHashFn(s string) (hash.Hash, error) {
	switch strings.ToUpper(s) {
	case "SHA1":
		return sha1.New(), nil
	case "SHA224":
		return sha256.New224(), nil
	case "", "SHA256":
		return sha256.New(), nil
	case "SHA384":
		return sha512.New384(), nil
	case "SHA512":
		return sha512.New(), nil
	}
	return nil, badRequest("unknown hash function: %s", s)
}

// importVersion is keysutil's ImportPublicOrPrivate (version 0) and
// ImportPrivateKeyForVersion (version n): it adds the imported material
// to p as a new version, or completes a version that has only its public
// key.
func (b *Backend) importVersion(p *storedPolicy, t keyType, material []byte, isPrivate bool, version int) error {
	if version > 0 {
		e, ok := p.entry(version)
		if !ok {
			return badRequest("no such key version")
		}
		if !t.importPublicKeySupported() {
			return badRequest("provided type does not support importing key versions")
		}
		if e.hasPrivate() {
			return badRequest("private key imported, key version cannot be updated")
		}
		if !isPrivate {
			return badRequest("cannot add a public key to a key version that already has a public key set")
		}
		return completeVersion(p, t, version, e, material)
	}
	if isPrivate && p.LatestVersion > 0 {
		if e, ok := p.entry(p.LatestVersion); ok && !e.hasPrivate() {
			if completeVersion(p, t, p.LatestVersion, e, material) == nil {
				return nil
			}
		}
	}
	now := b.now()
	e := storedKeyEntry{CreationTime: now, DeprecatedCreationTime: now.Unix()}
	if t == keyED25519 && p.Derived && !isPrivate {
		return badRequest("unable to import only public key for derived Ed25519 key: imported key should not be an Ed25519 key pair but is instead an HKDF key")
	}
	switch {
	case t.symmetricAEAD():
		if len(material) != t.symmetricKeySize() {
			return badRequest("invalid key size %d bytes for key type %s", len(material), t)
		}
		e.Key = cloneBytes(material)
	case t == keyHMAC:
		if len(material) < hmacMinKeySize || len(material) > hmacMaxKeySize {
			return badRequest("invalid key size %d bytes for key type %s", len(material), t)
		}
		e.Key = cloneBytes(material)
		e.HMACKey = e.Key
		p.KeySize = len(material)
	default:
		parsed, err := parseImportedKey(material, isPrivate)
		if err != nil {
			return err
		}
		if err := setParsedKey(&e, t, parsed); err != nil {
			return err
		}
	}
	if t != keyHMAC {
		hk, err := randomBytes(b.rand, 32)
		if err != nil {
			return err
		}
		e.HMACKey = hk
	}
	p.LatestVersion++
	p.setEntry(p.LatestVersion, e)
	if p.MinDecryptionVersion == 0 {
		p.MinDecryptionVersion = 1
	}
	return nil
}

// completeVersion adds the private key to a version imported as a public
// key, if the two match.
func completeVersion(p *storedPolicy, t keyType, version int, e storedKeyEntry, material []byte) error {
	parsed, err := parseImportedKey(material, true)
	if err != nil {
		return err
	}
	var match bool
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		if t.isECDSA() && e.ECX != nil && e.ECY != nil {
			pub, err := ecdsaPublicFromXY(ecdsaCurve(t), e.ECX, e.ECY)
			match = err == nil && pub.Equal(&k.PublicKey)
		}
	case *rsa.PrivateKey:
		match = e.RSAPublicKey != nil && e.RSAPublicKey.N != nil &&
			k.PublicKey.Equal(&rsa.PublicKey{N: e.RSAPublicKey.N, E: e.RSAPublicKey.E})
	case ed25519.PrivateKey:
		raw, err := base64.StdEncoding.DecodeString(e.FormattedPublicKey)
		match = err == nil && ed25519.PublicKey(raw).Equal(k.Public())
	}
	if !match {
		return badRequest("cannot import key, key pair does not match")
	}
	if err := setParsedKey(&e, t, parsed); err != nil {
		return err
	}
	p.setEntry(version, e)
	return nil
}

// parseImportedKey parses a PKCS #8 DER private key or a PEM public key.
func parseImportedKey(material []byte, isPrivate bool) (any, error) {
	if isPrivate {
		k, err := x509.ParsePKCS8PrivateKey(material)
		if err != nil {
			return nil, badRequest("error parsing asymmetric key: %v", err)
		}
		return k, nil
	}
	block, _ := pem.Decode(material)
	if block == nil {
		return nil, badRequest("error parsing public key: not in PEM format")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, badRequest("error parsing public key: %v", err)
	}
	return k, nil
}

// setParsedKey is keysutil's KeyEntry.parseFromKey.
func setParsedKey(e *storedKeyEntry, t keyType, parsed any) error {
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		if !t.isECDSA() {
			return badRequest("invalid key type: expected %s, got %T", t, parsed)
		}
		curve := ecdsaCurve(t)
		if priv, ok := k.(*ecdsa.PrivateKey); ok {
			if priv.Curve != curve {
				return badRequest("invalid curve: expected %s, got %s", curve.Params().Name, priv.Curve.Params().Name)
			}
			return setECDSA(e, priv)
		}
		pub := k.(*ecdsa.PublicKey)
		if pub.Curve != curve {
			return badRequest("invalid curve: expected %s, got %s", curve.Params().Name, pub.Curve.Params().Name)
		}
		return setECDSAPublic(e, pub)
	case ed25519.PrivateKey:
		if t != keyED25519 {
			return badRequest("invalid key type: expected %s, got %T", t, parsed)
		}
		e.Key = cloneBytes(k)
		e.FormattedPublicKey = base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
	case ed25519.PublicKey:
		if t != keyED25519 {
			return badRequest("invalid key type: expected %s, got %T", t, parsed)
		}
		e.FormattedPublicKey = base64.StdEncoding.EncodeToString(k)
	case *rsa.PrivateKey, *rsa.PublicKey:
		if !t.isRSA() {
			return badRequest("invalid key type: expected %s, got %T", t, parsed)
		}
		want := t.rsaBits() / 8
		if priv, ok := k.(*rsa.PrivateKey); ok {
			if priv.Size() != want {
				return badRequest("invalid key size: expected %d bytes, got %d bytes", want, priv.Size())
			}
			e.RSAKey = rsaToJSON(priv)
			e.RSAPublicKey = &rsaPublicJSON{N: priv.N, E: priv.E}
			return nil
		}
		pub := k.(*rsa.PublicKey)
		if pub.Size() != want {
			return badRequest("invalid key size: expected %d bytes, got %d bytes", want, pub.Size())
		}
		e.RSAPublicKey = &rsaPublicJSON{N: pub.N, E: pub.E}
	default:
		return badRequest("invalid key type: expected %s, got %s", t, fmt.Sprintf("%T", parsed))
	}
	return nil
}
