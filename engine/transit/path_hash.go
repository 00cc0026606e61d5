package transit

// hash[/<algorithm>]: Vault's path_hash.go. It hashes the base64 input
// with sha2-224/256/384/512 or sha3-224/256/384/512 (sha2-256 by default)
// and answers "sum" in hex (default) or base64.

import (
	"context"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"

	"github.com/strongroom/strongroom/engine"
)

type hashRequest struct {
	Input     *string    `json:"input"`
	Algorithm flexString `json:"algorithm"`
	Format    flexString `json:"format"`
}

func (b *Backend) pathHash(_ context.Context, req *engine.Request, urlAlg string) (*engine.Response, error) {
	var in hashRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	if in.Input == nil {
		return nil, badRequest("input missing")
	}
	alg := urlAlg
	if alg == "" {
		alg = string(in.Algorithm)
	}
	if alg == "" {
		alg = "sha2-256"
	}
	format := string(in.Format)
	if format == "" {
		format = "hex"
	}
	input, err := base64.StdEncoding.DecodeString(*in.Input)
	if err != nil {
		return nil, badRequest("unable to decode input as base64: %v", err)
	}
	if format != "hex" && format != "base64" {
		return nil, badRequest("unsupported encoding format %s; must be \"hex\" or \"base64\"", format)
	}
	var h hash.Hash
	switch alg {
	case "sha2-224":
		h = sha256.New224()
	case "sha2-256":
		h = sha256.New()
	case "sha2-384":
		h = sha512.New384()
	case "sha2-512":
		h = sha512.New()
	case "sha3-224":
		h = sha3.New224()
	case "sha3-256":
		h = sha3.New256()
	case "sha3-384":
		h = sha3.New384()
	case "sha3-512":
		h = sha3.New512()
	default:
		return nil, badRequest("unsupported algorithm %s", alg)
	}
	h.Write(input)
	sum := h.Sum(nil)
	out := hex.EncodeToString(sum)
	if format == "base64" {
		out = base64.StdEncoding.EncodeToString(sum)
	}
	return &engine.Response{Data: map[string]any{"sum": out}}, nil
}
