package transit

// datakey/plaintext/<name> and datakey/wrapped/<name>: Vault's
// path_datakey.go. It makes a random data key of bits (128, 256 or 512;
// 256 by default), encrypts it with the named key (context, key_version,
// associated_data as for encrypt) and answers the ciphertext, the version,
// and for "plaintext" the base64 key itself.

import (
	"context"
	"encoding/base64"

	"github.com/strongroom/strongroom/engine"
)

// datakeyRequest is the body of POST datakey/<kind>/<name>.
type datakeyRequest struct {
	Bits           *flexInt `json:"bits"`
	Context        string   `json:"context"`
	KeyVersion     flexInt  `json:"key_version"`
	AssociatedData string   `json:"associated_data"`
}

func (b *Backend) pathDatakey(ctx context.Context, req *engine.Request, kind, name string) (*engine.Response, error) {
	var in datakeyRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	var plaintextAllowed bool
	switch kind {
	case "plaintext":
		plaintextAllowed = true
	case "wrapped":
	default:
		return nil, badRequest("Invalid path, must be 'plaintext' or 'wrapped'")
	}
	context, err := decodeB64(in.Context)
	if err != nil {
		return nil, badRequest("failed to base64-decode context")
	}
	return b.withKey(ctx, name, badRequest("encryption key not found"), func(k *keyring) (*engine.Response, error) {
		bits := 256
		if in.Bits != nil {
			bits = int(*in.Bits)
		}
		switch bits {
		case 128, 256, 512:
		default:
			return nil, badRequest("invalid bit length")
		}
		key, err := randomBytes(b.rand, bits/8)
		if err != nil {
			return nil, err
		}
		defer clear(key)
		var ad []byte
		if in.AssociatedData != "" {
			if !k.typ.associatedDataSupported() {
				return nil, badRequest("'associated_data' provided for non-AEAD cipher suite %v", k.typ)
			}
			if ad, err = base64.StdEncoding.DecodeString(in.AssociatedData); err != nil {
				return nil, badRequest("unable to decode associated_data as base64: %v", err)
			}
		}
		b64 := base64.StdEncoding.EncodeToString(key)
		ct, ver, err := k.encrypt(int(in.KeyVersion), context, ad, b64, b.rand)
		if err != nil {
			return nil, err
		}
		out := &encryptResponse{Ciphertext: ct, KeyVersion: ver}
		if plaintextAllowed {
			out.Plaintext = b64
		}
		return &engine.Response{Data: out}, nil
	})
}
