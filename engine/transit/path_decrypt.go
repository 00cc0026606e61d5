package transit

// decrypt/<name>: Vault's path_decrypt.go. One ciphertext (ciphertext,
// context, associated_data) or a batch_input of such items with references;
// status codes as for encrypt.
//
// Unlike Vault, a key that does not exist is not named in the answer: the
// syntax of each ciphertext is checked first (prefix, fields, version
// number, base64), and every item that passes fails with the one message
// of a ciphertext that does not authenticate ("cipher: message
// authentication failed"), which is also the answer for a tampered or
// truncated ciphertext, one made under another key, and one that names a
// version the key does not have (Vault: "version is too new"). See the
// package documentation.

import (
	"context"
	"encoding/base64"

	"github.com/strongroom/strongroom/engine"
)

// decryptRequest is the body of POST decrypt/<name>.
type decryptRequest struct {
	Ciphertext                 string             `json:"ciphertext"`
	Context                    string             `json:"context"`
	AssociatedData             string             `json:"associated_data"`
	BatchInput                 batch[decryptItem] `json:"batch_input"`
	PartialFailureResponseCode *flexInt           `json:"partial_failure_response_code"`
}

// decryptItem is one item of a decrypt batch_input.
type decryptItem struct {
	Ciphertext     *string `json:"ciphertext"`
	Context        string  `json:"context"`
	AssociatedData string  `json:"associated_data"`
	Reference      string  `json:"reference"`
}

// decryptResult is one item of a decrypt batch_results.
type decryptResult struct {
	Plaintext string `json:"plaintext"`
	Error     string `json:"error,omitempty"`
	Reference string `json:"reference"`
}

// decryptResponse is the data of a single decrypt.
type decryptResponse struct {
	Plaintext string `json:"plaintext"`
}

// decryptItems normalises a single request or a batch into items.
func decryptItems(ciphertext, context, ad string, in batch[decryptItem]) ([]decryptItem, error) {
	if in != nil {
		if len(in) == 0 {
			return nil, badRequest("missing batch input to process")
		}
		for i := range in {
			if in[i].Ciphertext == nil {
				return nil, badRequest("failed to parse batch input: '[%d].ciphertext' missing ciphertext to decrypt", i)
			}
		}
	} else {
		if ciphertext == "" {
			return nil, badRequest("missing ciphertext to decrypt")
		}
		in = batch[decryptItem]{{Ciphertext: &ciphertext, Context: context, AssociatedData: ad}}
	}
	contextSet := in[0].Context != ""
	for i := range in {
		if (in[i].Context != "") != contextSet {
			return nil, badRequest("context should be set either in all the request blocks or in none")
		}
	}
	return in, nil
}

func (b *Backend) pathDecrypt(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in decryptRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	items, err := decryptItems(in.Ciphertext, in.Context, in.AssociatedData, in.BatchInput)
	if err != nil {
		return nil, err
	}
	k, err := b.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	if k != nil {
		defer k.release()
	}
	if in.BatchInput == nil {
		pt, err := k.decryptItem(0, &items[0], b)
		if err != nil {
			return nil, err
		}
		out := base64.StdEncoding.EncodeToString(pt)
		clear(pt)
		return &engine.Response{Data: &decryptResponse{Plaintext: out}}, nil
	}
	results := make([]decryptResult, len(items))
	var o itemOutcome
	for i := range items {
		pt, err := k.decryptItem(i, &items[i], b)
		results[i] = decryptResult{Error: o.record(err), Reference: items[i].Reference}
		if err == nil {
			results[i].Plaintext = base64.StdEncoding.EncodeToString(pt)
			clear(pt)
		}
	}
	status, w := o.status(in.PartialFailureResponseCode)
	return &engine.Response{Data: &batchResults[decryptResult]{results}, Status: status, Warnings: w}, nil
}

// decryptItem decrypts one item with k, which is nil when the key does
// not exist.
func (k *keyring) decryptItem(i int, it *decryptItem, b *Backend) ([]byte, error) {
	if *it.Ciphertext == "" {
		return nil, badRequest("missing ciphertext to decrypt")
	}
	// First the checks that do not depend on the key, so that a missing
	// key and an existing one refuse malformed input alike.
	var context, ad []byte
	var err error
	if it.Context != "" {
		if context, err = base64.StdEncoding.DecodeString(it.Context); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	if it.AssociatedData != "" {
		if ad, err = base64.StdEncoding.DecodeString(it.AssociatedData); err != nil {
			return nil, badRequest("unable to decode associated_data as base64: %v", err)
		}
	}
	var prefix, sep string
	if k != nil {
		prefix, sep = k.tplPrefix, k.tplSep
	} else {
		prefix, sep = "vault:v", ":"
	}
	ver, raw, err := parseCiphertext(*it.Ciphertext, prefix, sep)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errDecrypt
	}
	if it.AssociatedData != "" && !k.typ.associatedDataSupported() {
		return nil, badRequest("'[%d].associated_data' provided for non-AEAD cipher suite %v", i, k.typ)
	}
	return k.decrypt(ver, raw, context, ad, b.rand)
}
