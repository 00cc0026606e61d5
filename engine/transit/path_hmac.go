package transit

// hmac/<name>[/<algorithm>]: Vault's path_hmac.go. It computes the HMAC of
// the base64 input (or of each batch_input item) with the HMAC key of
// key_version (the latest by default): the key of an "hmac" key, the
// version's separate 32-byte HMAC key for every other type. The answer is
// "vault:v<N>:" followed by the base64 MAC. The verification of such a
// value is verify/<name> with an "hmac" field (see path_sign_verify.go).
// As in Vault, a batch answers 200 with per-item errors.

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// hashTypes are keysutil's HashTypeMap.
var hashTypes = map[string]crypto.Hash{
	"none":     0,
	"sha1":     crypto.SHA1,
	"sha2-224": crypto.SHA224,
	"sha2-256": crypto.SHA256,
	"sha2-384": crypto.SHA384,
	"sha2-512": crypto.SHA512,
	"sha3-224": crypto.SHA3_224,
	"sha3-256": crypto.SHA3_256,
	"sha3-384": crypto.SHA3_384,
	"sha3-512": crypto.SHA3_512,
}

// hashFunc returns the constructor of h, or nil for none.
func hashFunc(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.SHA1:
		return sha1.New
	case crypto.SHA224:
		return sha256.New224
	case crypto.SHA256:
		return sha256.New
	case crypto.SHA384:
		return sha512.New384
	case crypto.SHA512:
		return sha512.New
	case crypto.SHA3_224:
		return func() hash.Hash { return sha3.New224() }
	case crypto.SHA3_256:
		return func() hash.Hash { return sha3.New256() }
	case crypto.SHA3_384:
		return func() hash.Hash { return sha3.New384() }
	case crypto.SHA3_512:
		return func() hash.Hash { return sha3.New512() }
	}
	return nil
}

// hmacRequest is the body of POST hmac/<name>.
type hmacRequest struct {
	Input      *string         `json:"input"`
	Algorithm  flexString      `json:"algorithm"`
	KeyVersion flexInt         `json:"key_version"`
	BatchInput batch[hmacItem] `json:"batch_input"`
}

// hmacItem is one item of an hmac or hmac-verify batch_input.
type hmacItem struct {
	Input     *string `json:"input"`
	HMAC      *string `json:"hmac"`
	Reference string  `json:"reference"`
}

// hmacResult is one item of an hmac or hmac-verify batch_results.
type hmacResult struct {
	HMAC      string `json:"hmac,omitempty"`
	Valid     bool   `json:"valid,omitempty"`
	Error     string `json:"error,omitempty"`
	Reference string `json:"reference"`
}

func (b *Backend) pathHMAC(ctx context.Context, req *engine.Request, name, urlAlg string) (*engine.Response, error) {
	var in hmacRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	alg := urlAlg
	if alg == "" {
		alg = string(in.Algorithm)
	}
	if alg == "" {
		alg = "sha2-256"
	}
	return b.withKey(ctx, name, badRequest("encryption key not found"), func(k *keyring) (*engine.Response, error) {
		if k.meta.SoftDeleted {
			return nil, badRequest(msgSoftDeleted)
		}
		ver := int(in.KeyVersion)
		switch {
		case ver == 0:
			ver = k.latest()
		case ver == k.latest():
		case k.meta.MinEncryptionVersion > 0 && ver < k.meta.MinEncryptionVersion:
			return nil, badRequest("cannot generate HMAC: version is too old (disallowed by policy)")
		case ver < 0:
			return nil, badRequest("key version does not exist (cannot be negative)")
		case ver > k.latest():
			return nil, badRequest("key version does not exist; latest key version is %d", k.latest())
		}
		v := k.version(ver)
		if v == nil {
			return nil, badRequest("no such key version")
		}
		key := k.hmacKeyOf(v)
		if len(key) == 0 {
			return nil, badRequest("no HMAC key exists for that key version")
		}
		h, ok := hashTypes[alg]
		if !ok || hashFunc(h) == nil {
			return nil, badRequest("unsupported algorithm %q", alg)
		}
		items := []hmacItem(in.BatchInput)
		if in.BatchInput == nil {
			if in.Input == nil {
				return nil, badRequest("missing input for HMAC")
			}
			items = []hmacItem{{Input: in.Input}}
		} else if len(items) == 0 {
			return nil, badRequest("missing batch input to process")
		}
		results := make([]hmacResult, len(items))
		for i, it := range items {
			results[i].Reference = it.Reference
			if it.Input == nil {
				results[i].Error = "missing input for HMAC"
				continue
			}
			input, err := base64.StdEncoding.DecodeString(*it.Input)
			if err != nil {
				results[i].Error = "unable to decode input as base64: " + err.Error()
				continue
			}
			m := hmac.New(hashFunc(h), key)
			m.Write(input)
			results[i].HMAC = encodeVersioned(v.prefix, m.Sum(nil))
		}
		if in.BatchInput == nil {
			if results[0].Error != "" {
				return nil, badRequest("%s", results[0].Error)
			}
			return &engine.Response{Data: map[string]any{"hmac": results[0].HMAC}}, nil
		}
		return &engine.Response{Data: &batchResults[hmacResult]{results}}, nil
	})
}

// verifyHMAC serves verify/<name> for HMACs (Vault's pathHMACVerify).
func (b *Backend) verifyHMAC(k *keyring, alg string, items []hmacItem, isBatch bool) (*engine.Response, error) {
	h, ok := hashTypes[alg]
	if !ok || hashFunc(h) == nil {
		return nil, badRequest("invalid hash algorithm %q", alg)
	}
	if k.meta.SoftDeleted {
		return nil, badRequest(msgSoftDeleted)
	}
	results := make([]hmacResult, len(items))
	for i, it := range items {
		results[i].Reference = it.Reference
		valid, err := k.verifyOneHMAC(h, it)
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		results[i].Valid = valid
	}
	if !isBatch {
		if results[0].Error != "" {
			return nil, badRequest("%s", results[0].Error)
		}
		return &engine.Response{Data: map[string]any{"valid": results[0].Valid}}, nil
	}
	return &engine.Response{Data: &batchResults[hmacResult]{results}}, nil
}

func (k *keyring) verifyOneHMAC(h crypto.Hash, it hmacItem) (bool, error) {
	if it.Input == nil {
		return false, badRequest("missing input")
	}
	input, err := base64.StdEncoding.DecodeString(*it.Input)
	if err != nil {
		return false, badRequest("unable to decode input as base64: %v", err)
	}
	if it.HMAC == nil {
		return false, badRequest("missing hmac")
	}
	if !strings.HasPrefix(*it.HMAC, k.tplPrefix) {
		return false, badRequest("invalid HMAC to verify: no prefix")
	}
	pv, err := parseVersioned(*it.HMAC, k.tplPrefix, k.tplSep, "HMAC")
	if err != nil {
		return false, err
	}
	mac, err := base64.StdEncoding.DecodeString(pv.body)
	if err != nil {
		return false, badRequest("unable to decode verification HMAC as base64: %v", err)
	}
	if pv.ver > k.latest() {
		return false, badRequest("invalid HMAC: version is too new")
	}
	if k.meta.MinDecryptionVersion > 0 && pv.ver < k.meta.MinDecryptionVersion {
		return false, badRequest("cannot verify HMAC: version is too old (disallowed by policy)")
	}
	v := k.version(pv.ver)
	if v == nil {
		return false, badRequest("no such key version")
	}
	key := k.hmacKeyOf(v)
	if len(key) == 0 {
		return false, badRequest("no HMAC key exists for that key version")
	}
	m := hmac.New(hashFunc(h), key)
	m.Write(input)
	return hmac.Equal(m.Sum(nil), mac), nil
}
