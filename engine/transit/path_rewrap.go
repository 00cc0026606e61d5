package transit

// rewrap/<name>: Vault's path_rewrap.go. It decrypts each ciphertext and
// encrypts its plaintext again with key_version (the latest by default),
// without the plaintext leaving the server. Failed items carry their error
// and the answer is 200, as in Vault; a single request that fails answers
// its error. Decryption failures answer as decrypt does. Unlike Vault,
// rewrap also takes associated_data, used for both steps.

import (
	"context"
	"encoding/base64"

	"github.com/strongroom/strongroom/engine"
)

// rewrapRequest is the body of POST rewrap/<name>.
type rewrapRequest struct {
	Ciphertext     string            `json:"ciphertext"`
	Context        string            `json:"context"`
	KeyVersion     flexInt           `json:"key_version"`
	AssociatedData string            `json:"associated_data"`
	BatchInput     batch[rewrapItem] `json:"batch_input"`
}

// rewrapItem is one item of a rewrap batch_input.
type rewrapItem struct {
	Ciphertext     *string `json:"ciphertext"`
	Context        string  `json:"context"`
	KeyVersion     flexInt `json:"key_version"`
	AssociatedData string  `json:"associated_data"`
	Reference      string  `json:"reference"`
}

func (b *Backend) pathRewrap(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in rewrapRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	var dec batch[decryptItem]
	if in.BatchInput != nil {
		dec = make(batch[decryptItem], len(in.BatchInput))
		for i, it := range in.BatchInput {
			dec[i] = decryptItem{Ciphertext: it.Ciphertext, Context: it.Context, AssociatedData: it.AssociatedData, Reference: it.Reference}
		}
	}
	items, err := decryptItems(in.Ciphertext, in.Context, in.AssociatedData, dec)
	if err != nil {
		return nil, err
	}
	versions := make([]int, len(items))
	if in.BatchInput != nil {
		for i, it := range in.BatchInput {
			versions[i] = int(it.KeyVersion)
		}
	} else {
		versions[0] = int(in.KeyVersion)
	}
	k, err := b.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	if k != nil {
		defer k.release()
	}
	rewrap := func(i int) (string, int, error) {
		pt, err := k.decryptItem(i, &items[i], b)
		if err != nil {
			return "", 0, err
		}
		b64 := base64.StdEncoding.EncodeToString(pt)
		clear(pt)
		var context, ad []byte
		context, _ = decodeB64(items[i].Context)
		ad, _ = decodeB64(items[i].AssociatedData)
		return k.encrypt(versions[i], context, ad, b64, b.rand)
	}
	if in.BatchInput == nil {
		ct, ver, err := rewrap(0)
		if err != nil {
			return nil, err
		}
		return &engine.Response{Data: &encryptResponse{Ciphertext: ct, KeyVersion: ver}}, nil
	}
	results := make([]encryptResult, len(items))
	for i := range items {
		ct, ver, err := rewrap(i)
		if err != nil && !isUserError(err) {
			return nil, err
		}
		results[i] = encryptResult{Ciphertext: ct, KeyVersion: ver, Reference: items[i].Reference}
		if err != nil {
			results[i].Error = err.Error()
		}
	}
	return &engine.Response{Data: &batchResults[encryptResult]{results}}, nil
}
