package transit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"time"
)

// newEntry generates the key material of a new version of a key of type t,
// as keysutil's RotateInMemory does: a 32-byte HMAC key for every type, and
// the key itself. keySize is the HMAC key length of an HMAC key. convergent
// marks the entry with the current convergent nonce scheme. It is called
// outside storage transactions: an RSA-4096 key takes seconds.
func (b *Backend) newEntry(t keyType, keySize int, convergent bool) (storedKeyEntry, error) {
	now := b.now()
	e := storedKeyEntry{CreationTime: now, DeprecatedCreationTime: now.Unix()}
	var err error
	switch {
	case t.symmetricAEAD(), t == keyHMAC:
		n := t.symmetricKeySize()
		if t == keyHMAC {
			n = keySize
			if n < hmacMinKeySize || n > hmacMaxKeySize {
				return e, badRequest("invalid key size for HMAC key, must be between %d and %d bytes", hmacMinKeySize, hmacMaxKeySize)
			}
		}
		if e.Key, err = randomBytes(b.rand, n); err != nil {
			return e, err
		}
	case t.isECDSA():
		priv, err := ecdsa.GenerateKey(ecdsaCurve(t), b.rand)
		if err != nil {
			return e, internalf("generating ECDSA key: %v", err)
		}
		if err := setECDSA(&e, priv); err != nil {
			return e, err
		}
	case t == keyED25519:
		pub, priv, err := ed25519.GenerateKey(b.rand)
		if err != nil {
			return e, internalf("generating Ed25519 key: %v", err)
		}
		e.Key = priv
		e.FormattedPublicKey = base64.StdEncoding.EncodeToString(pub)
	case t.isRSA():
		priv, err := b.genRSA(b.rand, t.rsaBits())
		if err != nil {
			return e, internalf("generating RSA key: %v", err)
		}
		e.RSAKey = rsaToJSON(priv)
		e.RSAPublicKey = &rsaPublicJSON{N: priv.N, E: priv.E}
	default:
		return e, internalf("cannot generate a key of type %v", t)
	}
	if t == keyHMAC {
		e.HMACKey = e.Key
	} else if e.HMACKey, err = randomBytes(b.rand, 32); err != nil {
		return e, err
	}
	if convergent {
		e.ConvergentVersion = currentConvergentVersion
	}
	return e, nil
}

// setECDSA stores an ECDSA private key in keysutil's form: the scalar and
// the point as integers, and the public key as PEM.
func setECDSA(e *storedKeyEntry, priv *ecdsa.PrivateKey) error {
	d, err := priv.Bytes()
	if err != nil {
		return internalf("encoding ECDSA key: %v", err)
	}
	e.ECD = new(big.Int).SetBytes(d)
	clear(d)
	return setECDSAPublic(e, &priv.PublicKey)
}

// setECDSAPublic stores the public part of an ECDSA key.
func setECDSAPublic(e *storedKeyEntry, pub *ecdsa.PublicKey) error {
	pt, err := pub.Bytes()
	if err != nil {
		return internalf("encoding ECDSA public key: %v", err)
	}
	size := (len(pt) - 1) / 2
	e.ECX = new(big.Int).SetBytes(pt[1 : 1+size])
	e.ECY = new(big.Int).SetBytes(pt[1+size:])
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return internalf("marshaling public key: %v", err)
	}
	e.FormattedPublicKey = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return nil
}

// newPolicy returns the policy of a new key with its first version, as
// keysutil's lock manager creates it on upsert.
func (b *Backend) newPolicy(name string, t keyType, o keyOptions) (*storedPolicy, error) {
	switch {
	case t.symmetricAEAD():
		if o.convergent && !o.derived {
			return nil, badRequest("convergent encryption requires derivation to be enabled")
		}
	case t == keyED25519:
		if o.convergent {
			return nil, badRequest("convergent encryption not supported for keys of type %v", t)
		}
	case t.isECDSA(), t.isRSA(), t == keyHMAC:
		if o.derived || o.convergent {
			return nil, badRequest("key derivation and convergent encryption not supported for keys of type %v", t)
		}
	default:
		return nil, badRequest("unsupported key type %v", t)
	}
	p := &storedPolicy{
		Name: name, Type: typeToWire[t], Derived: o.derived, Exportable: o.exportable,
		AllowPlaintextBackup: o.allowPlaintextBackup, AutoRotatePeriod: o.autoRotate,
	}
	if t == keyHMAC {
		p.KeySize = o.keySize
		if p.KeySize == 0 {
			p.KeySize = 32
		}
	}
	if o.derived {
		p.KDF = kdfHKDFSHA256
		if o.convergent {
			p.ConvergentEncryption = true
			// The version lives in each key entry from version 3 on.
			p.ConvergentVersion = -1
		}
	}
	e, err := b.newEntry(t, p.KeySize, p.ConvergentEncryption)
	if err != nil {
		return nil, err
	}
	p.LatestVersion = 1
	p.MinDecryptionVersion = 1
	p.setEntry(1, e)
	return p, nil
}

// keyOptions are the creation parameters of a key.
type keyOptions struct {
	derived, convergent, exportable, allowPlaintextBackup bool
	autoRotate                                            time.Duration
	keySize                                               int
}
