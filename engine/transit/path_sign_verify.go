package transit

// sign/<name>[/<hash>] and verify/<name>[/<hash>]: Vault's
// path_sign_verify.go with keysutil's SignWithOptions and
// VerifySignatureWithOptions.
//
// ECDSA and RSA keys sign the hash of the input (hash_algorithm, sha2-256
// by default; none of it when prehashed is set); Ed25519 signs the input
// itself. RSA uses signature_algorithm pss (default, salt_length auto,
// hash or a number) or pkcs1v15; hash_algorithm=none requires
// prehashed=true and pkcs1v15. ECDSA signatures are ASN.1 DER
// (marshaling_algorithm asn1, the default) or JWS r‖s (jws). A signature
// is "vault:v<N>:" followed by the standard base64 of the signature, or
// its unpadded base64url for jws. A derived Ed25519 key signs with the key
// derived from context and returns its public key. verify/<name> checks a
// "signature", or an "hmac" made by hmac/<name>. Batches answer 200 with
// per-item errors, as in Vault.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// signParams are the parameters sign and verify share.
type signParams struct {
	HashAlgorithm       *flexString `json:"hash_algorithm"`
	Algorithm           flexString  `json:"algorithm"`
	Prehashed           flexBool    `json:"prehashed"`
	SignatureAlgorithm  flexString  `json:"signature_algorithm"`
	MarshalingAlgorithm flexString  `json:"marshaling_algorithm"`
	SaltLength          *flexString `json:"salt_length"`
}

// signRequest is the body of POST sign/<name>.
type signRequest struct {
	signParams
	Input      string          `json:"input"`
	Context    string          `json:"context"`
	KeyVersion flexInt         `json:"key_version"`
	BatchInput batch[signItem] `json:"batch_input"`
}

// signItem is one item of a sign or verify batch_input.
type signItem struct {
	Input     *string `json:"input"`
	Context   string  `json:"context"`
	Signature *string `json:"signature"`
	HMAC      *string `json:"hmac"`
	Reference string  `json:"reference"`
}

// signResult is one item of a sign batch_results.
type signResult struct {
	Signature  string `json:"signature,omitempty"`
	KeyVersion int    `json:"key_version"`
	PublicKey  []byte `json:"publickey,omitempty"`
	Error      string `json:"error,omitempty"`
	Reference  string `json:"reference"`
}

// verifyResult is one item of a verify batch_results.
type verifyResult struct {
	Valid     bool   `json:"valid"`
	Error     string `json:"error,omitempty"`
	Reference string `json:"reference"`
}

// signOptions are the parsed shared parameters.
type signOptions struct {
	hashName   string
	hash       crypto.Hash
	prehashed  bool
	sigAlg     string
	jws        bool
	saltLength int
}

func (sp *signParams) parse(urlAlg string) (signOptions, error) {
	var o signOptions
	o.hashName = urlAlg
	if o.hashName == "" && sp.HashAlgorithm != nil {
		o.hashName = string(*sp.HashAlgorithm)
	}
	if o.hashName == "" {
		o.hashName = string(sp.Algorithm)
	}
	if o.hashName == "" {
		o.hashName = "sha2-256"
	}
	h, ok := hashTypes[o.hashName]
	if !ok {
		return o, badRequest("invalid hash algorithm %q", o.hashName)
	}
	o.hash = h
	switch m := string(sp.MarshalingAlgorithm); m {
	case "", "asn1":
	case "jws":
		o.jws = true
	default:
		return o, badRequest("invalid marshaling type %q", m)
	}
	o.prehashed = bool(sp.Prehashed)
	o.sigAlg = string(sp.SignatureAlgorithm)
	o.saltLength = rsa.PSSSaltLengthAuto
	if sp.SaltLength != nil {
		raw := string(*sp.SaltLength)
		switch s := strings.ToLower(raw); s {
		case "auto", "":
		case "hash":
			o.saltLength = rsa.PSSSaltLengthEqualsHash
		default:
			n, err := strconv.Atoi(s)
			if err != nil {
				return o, badRequest("salt length neither 'auto', 'hash', nor an int: %s", raw)
			}
			if n < rsa.PSSSaltLengthEqualsHash {
				return o, badRequest("salt length is invalid: %d", n)
			}
			o.saltLength = n
		}
	}
	return o, nil
}

// check applies the key-dependent refusals common to sign and verify.
func (o *signOptions) check(k *keyring, verb string) error {
	if !k.typ.signingSupported() {
		return badRequest("key type %v does not support %s", k.typ, verb)
	}
	if o.hash == 0 && (!o.prehashed || o.sigAlg != "pkcs1v15") {
		return badRequest("hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15")
	}
	if o.prehashed && !k.typ.hashSignatureInput() {
		// Ed25519 signs the message itself; Ed25519ph is not offered, so a
		// prehashed request is refused rather than silently signed as plain
		// Ed25519 (a signature no Ed25519ph verifier would accept).
		return badRequest("prehashed is not supported for key type %v (Ed25519ph is not implemented)", k.typ)
	}
	return nil
}

// digest returns what the key signs for input.
func (o *signOptions) digest(k *keyring, input []byte) []byte {
	if k.typ.hashSignatureInput() && !o.prehashed {
		if f := hashFunc(o.hash); f != nil {
			h := f()
			h.Write(input)
			return h.Sum(nil)
		}
	}
	return input
}

func (b *Backend) pathSign(ctx context.Context, req *engine.Request, name, urlAlg string) (*engine.Response, error) {
	var in signRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	o, err := in.signParams.parse(urlAlg)
	if err != nil {
		return nil, err
	}
	return b.withKey(ctx, name, badRequest("signing key not found"), func(k *keyring) (*engine.Response, error) {
		if err := o.check(k, "signing"); err != nil {
			return nil, err
		}
		items := []signItem(in.BatchInput)
		if in.BatchInput == nil {
			items = []signItem{{Input: &in.Input, Context: in.Context}}
		} else if len(items) == 0 {
			return nil, badRequest("missing batch input to process")
		}
		results := make([]signResult, len(items))
		for i, it := range items {
			results[i].Reference = it.Reference
			sig, ver, pub, err := b.signOne(k, &o, int(in.KeyVersion), it)
			if err != nil {
				if in.BatchInput == nil {
					return nil, err
				}
				results[i].Error = err.Error()
				if !isUserError(err) {
					results[i].Error = "internal error"
				}
				continue
			}
			results[i].Signature, results[i].KeyVersion, results[i].PublicKey = sig, ver, pub
		}
		if in.BatchInput == nil {
			d := map[string]any{"signature": results[0].Signature, "key_version": results[0].KeyVersion}
			if len(results[0].PublicKey) > 0 {
				d["public_key"] = results[0].PublicKey
			}
			return &engine.Response{Data: d}, nil
		}
		return &engine.Response{Data: &batchResults[signResult]{results}}, nil
	})
}

// signOne signs one item; it returns the signature, the version and, for a
// derived Ed25519 key, the derived public key.
func (b *Backend) signOne(k *keyring, o *signOptions, ver int, it signItem) (string, int, []byte, error) {
	if it.Input == nil {
		return "", 0, nil, badRequest("missing input")
	}
	input, err := base64.StdEncoding.DecodeString(*it.Input)
	if err != nil {
		return "", 0, nil, badRequest("unable to decode input as base64: %v", err)
	}
	input = o.digest(k, input)
	context, err := decodeB64(it.Context)
	if err != nil {
		return "", 0, nil, badRequest("failed to base64-decode context")
	}
	if k.meta.SoftDeleted {
		return "", 0, nil, badRequest(msgSoftDeleted)
	}
	ver, err = k.resolveEncryptVersion(ver, "signing")
	if err != nil {
		return "", 0, nil, err
	}
	v := k.version(ver)
	if v == nil {
		return "", 0, nil, badRequest("no such key version")
	}
	if !v.hasPrivate() {
		return "", 0, nil, badRequest("requested version for signing does not contain a private part")
	}
	var sig, pub []byte
	switch {
	case k.typ.isECDSA():
		priv := v.priv.(*ecdsa.PrivateKey)
		der, err := ecdsa.SignASN1(b.rand, priv, input)
		if err != nil {
			return "", 0, nil, internalf("signing: %v", err)
		}
		sig = der
		if o.jws {
			var rs ecdsaSignature
			if _, err := asn1.Unmarshal(der, &rs); err != nil {
				return "", 0, nil, internalf("signing: %v", err)
			}
			size := (priv.Curve.Params().BitSize + 7) / 8
			sig = make([]byte, 2*size)
			rs.R.FillBytes(sig[:size])
			rs.S.FillBytes(sig[size:])
		}
	case k.typ == keyED25519:
		priv := ed25519.PrivateKey(nil)
		if k.meta.Derived {
			dk, err := k.deriveKey(v, context, 32)
			if err != nil {
				return "", 0, nil, err
			}
			defer clear(dk)
			priv = ed25519.PrivateKey(dk)
			pub = priv.Public().(ed25519.PublicKey)
		} else {
			priv = v.priv.(ed25519.PrivateKey)
		}
		sig = ed25519.Sign(priv, input)
	case k.typ.isRSA():
		priv := v.priv.(*rsa.PrivateKey)
		switch o.sigAlg {
		case "", "pss":
			if !validPSSSaltLength(priv.N.BitLen(), o.hash, o.saltLength) {
				return "", 0, nil, badRequest("requested salt length %d is invalid", o.saltLength)
			}
			sig, err = rsa.SignPSS(b.rand, priv, o.hash, input, &rsa.PSSOptions{SaltLength: o.saltLength})
		case "pkcs1v15":
			sig, err = rsa.SignPKCS1v15(b.rand, priv, o.hash, input)
		default:
			return "", 0, nil, badRequest("unsupported rsa signature algorithm %s", o.sigAlg)
		}
		if err != nil {
			return "", 0, nil, badRequest("%v", err)
		}
	}
	if o.jws {
		return v.prefix + base64.RawURLEncoding.EncodeToString(sig), ver, pub, nil
	}
	return encodeVersioned(v.prefix, sig), ver, pub, nil
}

type ecdsaSignature struct{ R, S *big.Int }

// validPSSSaltLength is keysutil's validRSAPSSSaltLength.
func validPSSSaltLength(bits int, h crypto.Hash, salt int) bool {
	if h == 0 {
		return false
	}
	return salt >= rsa.PSSSaltLengthEqualsHash && salt <= (bits-1+7)/8-2-h.Size()
}

// verifyRequest is the body of POST verify/<name>.
type verifyRequest struct {
	signParams
	Input      string          `json:"input"`
	Context    string          `json:"context"`
	Signature  *string         `json:"signature"`
	HMAC       *string         `json:"hmac"`
	BatchInput batch[signItem] `json:"batch_input"`
}

func (b *Backend) pathVerify(ctx context.Context, req *engine.Request, name, urlAlg string) (*engine.Response, error) {
	var in verifyRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	isBatch := in.BatchInput != nil
	items := []signItem(in.BatchInput)
	if !isBatch {
		items = []signItem{{Input: &in.Input, Context: in.Context, Signature: in.Signature, HMAC: in.HMAC}}
	} else if len(items) == 0 {
		return nil, badRequest("missing batch input to process")
	}
	var sigFound, hmacFound, missing bool
	for _, it := range items {
		switch {
		case it.Signature != nil:
			sigFound = true
		case it.HMAC != nil:
			hmacFound = true
		default:
			missing = true
		}
	}
	switch {
	case !isBatch && in.Signature != nil && in.HMAC != nil:
		return nil, badRequest("provide one of 'signature' or 'hmac'")
	case !isBatch && !sigFound && !hmacFound:
		return nil, badRequest("neither a 'signature' nor an 'hmac' were given to verify")
	case sigFound && hmacFound:
		return nil, badRequest("elements of batch_input must all provide 'signature' or all provide 'hmac'")
	case missing && sigFound:
		return nil, badRequest("some elements of batch_input are missing 'signature'")
	case missing && hmacFound:
		return nil, badRequest("some elements of batch_input are missing 'hmac'")
	case missing:
		return nil, badRequest("no batch_input elements have 'signature' or 'hmac'")
	}
	if hmacFound {
		alg := urlAlg
		if alg == "" && in.HashAlgorithm != nil {
			alg = string(*in.HashAlgorithm)
		}
		if alg == "" {
			alg = string(in.Algorithm)
		}
		if alg == "" {
			alg = "sha2-256"
		}
		hitems := make([]hmacItem, len(items))
		for i, it := range items {
			hitems[i] = hmacItem{Input: it.Input, HMAC: it.HMAC, Reference: it.Reference}
		}
		return b.withKey(ctx, name, badRequest("encryption key not found"), func(k *keyring) (*engine.Response, error) {
			return b.verifyHMAC(k, alg, hitems, isBatch)
		})
	}
	o, err := in.signParams.parse(urlAlg)
	if err != nil {
		return nil, err
	}
	return b.withKey(ctx, name, badRequest("signature verification key not found"), func(k *keyring) (*engine.Response, error) {
		if err := o.check(k, "verification"); err != nil {
			return nil, err
		}
		results := make([]verifyResult, len(items))
		for i, it := range items {
			results[i].Reference = it.Reference
			valid, err := k.verifyOne(&o, it)
			if err != nil {
				if !isBatch {
					return nil, err
				}
				results[i].Error = err.Error()
				continue
			}
			results[i].Valid = valid
		}
		if !isBatch {
			return &engine.Response{Data: map[string]any{"valid": results[0].Valid}}, nil
		}
		return &engine.Response{Data: &batchResults[verifyResult]{results}}, nil
	})
}

// verifyOne checks one signature.
func (k *keyring) verifyOne(o *signOptions, it signItem) (bool, error) {
	if it.Input == nil {
		return false, badRequest("missing input")
	}
	input, err := base64.StdEncoding.DecodeString(*it.Input)
	if err != nil {
		return false, badRequest("unable to decode input as base64: %v", err)
	}
	if it.Signature == nil {
		return false, badRequest("missing signature")
	}
	input = o.digest(k, input)
	context, err := decodeB64(it.Context)
	if err != nil {
		return false, badRequest("failed to base64-decode context")
	}
	if k.meta.SoftDeleted {
		return false, badRequest(msgSoftDeleted)
	}
	pv, err := parseVersioned(*it.Signature, k.tplPrefix, k.tplSep, "signature")
	if err != nil {
		return false, err
	}
	if pv.ver > k.latest() {
		return false, badRequest("invalid signature: version is too new")
	}
	if k.meta.MinDecryptionVersion > 0 && pv.ver < k.meta.MinDecryptionVersion {
		return false, badRequest(msgTooOld)
	}
	var sig []byte
	if o.jws {
		sig, err = base64.RawURLEncoding.DecodeString(pv.body)
	} else {
		sig, err = base64.StdEncoding.DecodeString(pv.body)
	}
	if err != nil {
		return false, badRequest("invalid base64 signature value")
	}
	v := k.version(pv.ver)
	if v == nil {
		return false, badRequest("no such key version")
	}
	switch {
	case k.typ.isECDSA():
		pub := v.pub.(*ecdsa.PublicKey)
		if o.jws {
			half := len(sig) / 2
			r, s := new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])
			der, err := asn1.Marshal(ecdsaSignature{R: r, S: s})
			if err != nil {
				return false, badRequest("supplied signature is invalid")
			}
			sig = der
		} else {
			var rs ecdsaSignature
			rest, err := asn1.Unmarshal(sig, &rs)
			if err != nil {
				return false, badRequest("supplied signature is invalid")
			}
			if len(rest) != 0 {
				return false, badRequest("supplied signature contains extra data")
			}
		}
		return ecdsa.VerifyASN1(pub, input, sig), nil
	case k.typ == keyED25519:
		var pub ed25519.PublicKey
		if k.meta.Derived {
			dk, err := k.deriveKey(v, context, 32)
			if err != nil {
				return false, err
			}
			pub = ed25519.PrivateKey(dk).Public().(ed25519.PublicKey)
			clear(dk)
		} else {
			p, ok := v.pub.(ed25519.PublicKey)
			if !ok {
				return false, internalf("key %s version %d has no public key", k.name, v.n)
			}
			pub = p
		}
		return ed25519.Verify(pub, input, sig), nil
	case k.typ.isRSA():
		pub := v.pub.(*rsa.PublicKey)
		switch o.sigAlg {
		case "", "pss":
			if !validPSSSaltLength(pub.N.BitLen(), o.hash, o.saltLength) {
				return false, badRequest("requested salt length %d is invalid", o.saltLength)
			}
			return rsa.VerifyPSS(pub, o.hash, input, sig, &rsa.PSSOptions{SaltLength: o.saltLength}) == nil, nil
		case "pkcs1v15":
			return rsa.VerifyPKCS1v15(pub, o.hash, input, sig) == nil, nil
		default:
			return false, badRequest("unsupported rsa signature algorithm %s", o.sigAlg)
		}
	}
	return false, badRequest("message verification not supported for key type %v", k.typ)
}
