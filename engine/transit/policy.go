package transit

// This file holds the stored form of a transit key: the JSON of Vault's
// keysutil.Policy and keysutil.KeyEntry (sdk/helper/keysutil/policy.go),
// field for field with the same tags, so that a backup taken by Vault or
// OpenBao restores here and a backup taken here restores there.

import (
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"strconv"
	"time"
)

// keyType is a transit key type. The zero value is unknown and refused.
type keyType uint8

const (
	keyUnknown keyType = iota
	keyAES128GCM96
	keyAES256GCM96
	keyChaCha20Poly1305
	keyXChaCha20Poly1305
	keyED25519
	keyECDSAP256
	keyECDSAP384
	keyECDSAP521
	keyRSA2048
	keyRSA3072
	keyRSA4096
	keyHMAC
)

// keyTypeNames maps each type to its API name.
var keyTypeNames = map[keyType]string{
	keyAES128GCM96:       "aes128-gcm96",
	keyAES256GCM96:       "aes256-gcm96",
	keyChaCha20Poly1305:  "chacha20-poly1305",
	keyXChaCha20Poly1305: "xchacha20-poly1305",
	keyED25519:           "ed25519",
	keyECDSAP256:         "ecdsa-p256",
	keyECDSAP384:         "ecdsa-p384",
	keyECDSAP521:         "ecdsa-p521",
	keyRSA2048:           "rsa-2048",
	keyRSA3072:           "rsa-3072",
	keyRSA4096:           "rsa-4096",
	keyHMAC:              "hmac",
}

// String is the API name, or "[unknown]" as keysutil prints it.
func (t keyType) String() string {
	if s, ok := keyTypeNames[t]; ok {
		return s
	}
	return "[unknown]"
}

// parseKeyType returns the type named s, or keyUnknown.
func parseKeyType(s string) keyType {
	for t, n := range keyTypeNames {
		if n == s {
			return t
		}
	}
	return keyUnknown
}

// Wire numbers of keysutil.KeyType. Vault and OpenBao agree on 0 to 9.
// They differ above: HashiCorp Vault has 10 managed key and 11 HMAC;
// OpenBao has 10 HMAC and 11 XChaCha20-Poly1305. Strongroom writes
// OpenBao's numbering and reads both (see wireToType).
var typeToWire = map[keyType]int{
	keyAES256GCM96:       0,
	keyECDSAP256:         1,
	keyED25519:           2,
	keyRSA2048:           3,
	keyRSA4096:           4,
	keyChaCha20Poly1305:  5,
	keyECDSAP384:         6,
	keyECDSAP521:         7,
	keyAES128GCM96:       8,
	keyRSA3072:           9,
	keyHMAC:              10,
	keyXChaCha20Poly1305: 11,
}

// wireToType reads a stored type number. An HMAC key always has a key_size
// (keysutil sizes HMAC keys from it) and an XChaCha20 key never does, which
// tells the two numberings apart: 11 with a key size is HashiCorp's HMAC,
// 10 without one is HashiCorp's managed key, which has no key material and
// is refused.
func wireToType(n, keySize int) keyType {
	switch {
	case n == 10 && keySize == 0, n < 0:
		return keyUnknown
	case n == 11 && keySize != 0:
		return keyHMAC
	}
	for t, w := range typeToWire {
		if w == n {
			return t
		}
	}
	return keyUnknown
}

func (t keyType) symmetricAEAD() bool {
	switch t {
	case keyAES128GCM96, keyAES256GCM96, keyChaCha20Poly1305, keyXChaCha20Poly1305:
		return true
	}
	return false
}

func (t keyType) isECDSA() bool { return t == keyECDSAP256 || t == keyECDSAP384 || t == keyECDSAP521 }
func (t keyType) isRSA() bool   { return t == keyRSA2048 || t == keyRSA3072 || t == keyRSA4096 }

// The capabilities, as keysutil.KeyType reports them.
func (t keyType) encryptionSupported() bool { return t.symmetricAEAD() || t.isRSA() }
func (t keyType) signingSupported() bool    { return t == keyED25519 || t.isECDSA() || t.isRSA() }
func (t keyType) hashSignatureInput() bool  { return t.isECDSA() || t.isRSA() }
func (t keyType) derivationSupported() bool { return t.symmetricAEAD() || t == keyED25519 }
func (t keyType) associatedDataSupported() bool {
	return t.symmetricAEAD()
}
func (t keyType) importPublicKeySupported() bool {
	return t == keyED25519 || t.isECDSA() || t.isRSA()
}

// symmetricKeySize is the key length in bytes of an AEAD type.
func (t keyType) symmetricKeySize() int {
	if t == keyAES128GCM96 {
		return 16
	}
	return 32
}

// rsaBits is the modulus size of an RSA type.
func (t keyType) rsaBits() int {
	switch t {
	case keyRSA3072:
		return 3072
	case keyRSA4096:
		return 4096
	}
	return 2048
}

// KDF modes (keysutil Kdf_*).
const (
	kdfHMACSHA256Counter = 0
	kdfHKDFSHA256        = 1
)

// HMAC key sizes (keysutil HmacMinKeySize, HmacMaxKeySize).
const (
	hmacMinKeySize = 32
	hmacMaxKeySize = 512
)

// currentConvergentVersion is the convergent nonce scheme of new keys:
// version 3, the nonce is an HMAC of the plaintext.
const currentConvergentVersion = 3

// defaultVersionTemplate prefixes ciphertexts, signatures and HMACs.
const defaultVersionTemplate = "vault:v{{version}}:"

// versionTime is keysutil's BackupInfo and RestoreInfo.
type versionTime struct {
	Time    time.Time `json:"time"`
	Version int       `json:"version"`
}

// storedPolicy is keysutil.Policy as JSON. The stored record of a key holds
// every available version (min_available_version to latest_version) in
// Keys; a backup splits them into the policy and its archive as Vault does.
type storedPolicy struct {
	Name                 string                    `json:"name"`
	Key                  []byte                    `json:"key,omitempty"` // before versioned keys
	KeySize              int                       `json:"key_size,omitempty"`
	Keys                 map[string]storedKeyEntry `json:"keys"`
	Derived              bool                      `json:"derived"`
	KDF                  int                       `json:"kdf"`
	ConvergentEncryption bool                      `json:"convergent_encryption"`
	Exportable           bool                      `json:"exportable"`
	MinDecryptionVersion int                       `json:"min_decryption_version"`
	MinEncryptionVersion int                       `json:"min_encryption_version"`
	LatestVersion        int                       `json:"latest_version"`
	ArchiveVersion       int                       `json:"archive_version"`
	ArchiveMinVersion    int                       `json:"archive_min_version"`
	MinAvailableVersion  int                       `json:"min_available_version"`
	DeletionAllowed      bool                      `json:"deletion_allowed"`
	ConvergentVersion    int                       `json:"convergent_version"`
	Type                 int                       `json:"type"`
	BackupInfo           *versionTime              `json:"backup_info"`
	RestoreInfo          *versionTime              `json:"restore_info"`
	AllowPlaintextBackup bool                      `json:"allow_plaintext_backup"`
	VersionTemplate      string                    `json:"version_template"`
	StoragePrefix        string                    `json:"storage_prefix"`
	AutoRotatePeriod     time.Duration             `json:"auto_rotate_period"`
	// keysutil has no tags on these two: encoding/json names them so.
	Imported                 bool   `json:"Imported"`
	AllowImportedKeyRotation bool   `json:"AllowImportedKeyRotation"`
	SoftDeleted              bool   `json:"soft_deleted"`
	ManagedKeyName           string `json:"managed_key_name,omitempty"`
}

// storedKeyEntry is keysutil.KeyEntry as JSON.
type storedKeyEntry struct {
	Key                    []byte          `json:"key"`
	HMACKey                []byte          `json:"hmac_key"`
	CreationTime           time.Time       `json:"time"`
	ECX                    *big.Int        `json:"ec_x"`
	ECY                    *big.Int        `json:"ec_y"`
	ECD                    *big.Int        `json:"ec_d"`
	RSAKey                 *rsaPrivateJSON `json:"rsa_key"`
	RSAPublicKey           *rsaPublicJSON  `json:"rsa_public_key"`
	FormattedPublicKey     string          `json:"public_key"`
	ConvergentVersion      int             `json:"convergent_version"`
	DeprecatedCreationTime int64           `json:"creation_time"`
	CertificateChain       [][]byte        `json:"certificate_chain"`
	ManagedKeyUUID         string          `json:"managed_key_id,omitempty"`
}

// rsaPublicJSON is encoding/json's form of *rsa.PublicKey.
type rsaPublicJSON struct {
	N *big.Int `json:"N"`
	E int      `json:"E"`
}

// rsaPrivateJSON is encoding/json's form of *rsa.PrivateKey, which
// keysutil stores as is.
type rsaPrivateJSON struct {
	N           *big.Int    `json:"N"`
	E           int         `json:"E"`
	D           *big.Int    `json:"D"`
	Primes      []*big.Int  `json:"Primes"`
	Precomputed rsaPrecompJ `json:"Precomputed"`
}

type rsaPrecompJ struct {
	Dp        *big.Int      `json:"Dp"`
	Dq        *big.Int      `json:"Dq"`
	Qinv      *big.Int      `json:"Qinv"`
	CRTValues []rsaCRTValue `json:"CRTValues"`
}

type rsaCRTValue struct {
	Exp   *big.Int `json:"Exp"`
	Coeff *big.Int `json:"Coeff"`
	R     *big.Int `json:"R"`
}

func rsaToJSON(k *rsa.PrivateKey) *rsaPrivateJSON {
	if k.Precomputed.Dp == nil {
		k.Precompute()
	}
	return &rsaPrivateJSON{
		N: k.N, E: k.E, D: k.D, Primes: k.Primes,
		Precomputed: rsaPrecompJ{Dp: k.Precomputed.Dp, Dq: k.Precomputed.Dq, Qinv: k.Precomputed.Qinv, CRTValues: []rsaCRTValue{}},
	}
}

// rsaFromJSON rebuilds and validates a private key.
func rsaFromJSON(j *rsaPrivateJSON) (*rsa.PrivateKey, error) {
	if j.N == nil || j.D == nil || len(j.Primes) < 2 {
		return nil, internalf("stored RSA key is incomplete")
	}
	// Copies: the caller wipes the stored form.
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: cloneBig(j.N), E: j.E}, D: cloneBig(j.D)}
	for _, p := range j.Primes {
		k.Primes = append(k.Primes, cloneBig(p))
	}
	if err := k.Validate(); err != nil {
		return nil, internalf("stored RSA key is invalid: %v", err)
	}
	k.Precompute()
	return k, nil
}

// hasPrivate reports whether the entry holds private key material
// (keysutil's !IsPrivateKeyMissing).
func (e *storedKeyEntry) hasPrivate() bool {
	return e.RSAKey != nil || e.ECD != nil || len(e.Key) != 0
}

// entry returns the stored entry of version v.
func (p *storedPolicy) entry(v int) (storedKeyEntry, bool) {
	e, ok := p.Keys[strconv.Itoa(v)]
	return e, ok
}

func (p *storedPolicy) setEntry(v int, e storedKeyEntry) {
	if p.Keys == nil {
		p.Keys = map[string]storedKeyEntry{}
	}
	p.Keys[strconv.Itoa(v)] = e
}

// keyType returns the policy's type.
func (p *storedPolicy) keyType() keyType { return wireToType(p.Type, p.KeySize) }

// convergentVersion is keysutil's Policy.convergentVersion: the nonce
// scheme of version v, 0 when the key is not convergent.
func (p *storedPolicy) convergentVersion(v int) int {
	if !p.ConvergentEncryption {
		return 0
	}
	cv := p.ConvergentVersion
	if cv == 0 {
		cv = 1
	}
	if e, ok := p.entry(v); ok && e.ConvergentVersion != 0 {
		cv = e.ConvergentVersion
	}
	return cv
}

// wipe zeroes the key material of the policy's entries, as far as Go lets
// us reach it: byte slices and the words of big integers.
func (p *storedPolicy) wipe() {
	if p == nil {
		return
	}
	clear(p.Key)
	for _, e := range p.Keys {
		e.wipe()
	}
}

func (e *storedKeyEntry) wipe() {
	clear(e.Key)
	clear(e.HMACKey)
	wipeBig(e.ECD)
	if e.RSAKey != nil {
		wipeBig(e.RSAKey.D)
		for _, p := range e.RSAKey.Primes {
			wipeBig(p)
		}
		wipeBig(e.RSAKey.Precomputed.Dp)
		wipeBig(e.RSAKey.Precomputed.Dq)
		wipeBig(e.RSAKey.Precomputed.Qinv)
	}
}

// clone returns a deep copy of e, so that wiping one leaves the other.
func (e storedKeyEntry) clone() storedKeyEntry {
	c := e
	c.Key = cloneBytes(e.Key)
	c.HMACKey = cloneBytes(e.HMACKey)
	c.ECD = cloneBig(e.ECD)
	c.ECX, c.ECY = cloneBig(e.ECX), cloneBig(e.ECY)
	if e.RSAKey != nil {
		r := *e.RSAKey
		r.N, r.D = cloneBig(r.N), cloneBig(r.D)
		r.Primes = make([]*big.Int, len(e.RSAKey.Primes))
		for i, p := range e.RSAKey.Primes {
			r.Primes[i] = cloneBig(p)
		}
		r.Precomputed.Dp = cloneBig(r.Precomputed.Dp)
		r.Precomputed.Dq = cloneBig(r.Precomputed.Dq)
		r.Precomputed.Qinv = cloneBig(r.Precomputed.Qinv)
		c.RSAKey = &r
	}
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func cloneBig(b *big.Int) *big.Int {
	if b == nil {
		return nil
	}
	return new(big.Int).Set(b)
}

func wipeBig(b *big.Int) {
	if b != nil {
		clear(b.Bits())
		b.SetInt64(0)
	}
}

// decodePolicy parses a stored or backed-up policy.
func decodePolicy(raw []byte) (*storedPolicy, error) {
	var p storedPolicy
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, internalf("stored key is corrupt: %v", err)
	}
	return &p, nil
}

// encodePolicy returns the JSON of p.
func encodePolicy(p *storedPolicy) ([]byte, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, internalf("encoding key: %v", err)
	}
	return raw, nil
}
