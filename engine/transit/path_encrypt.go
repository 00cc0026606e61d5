package transit

// encrypt/<name>: Vault's path_encrypt.go. One plaintext (plaintext,
// context, key_version, associated_data) or a batch_input of such items,
// each with an optional reference echoed in its result. A key that does
// not exist is created (type, convergent_encryption; derived when a context
// is given) unless config/keys disable_upsert is set, as Vault's upsert.
//
// Status codes are Vault's batchRequestResponse: 200 when every item
// succeeded; 400 with the batch_results when any item was refused (500 when
// the only failures are internal), or partial_failure_response_code when
// it is given and at least one item succeeded. A single request that fails
// answers its error message alone.

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/strongroom/strongroom/engine"
)

// encryptRequest is the body of POST encrypt/<name>.
type encryptRequest struct {
	Plaintext                  *string            `json:"plaintext"`
	Context                    string             `json:"context"`
	KeyVersion                 flexInt            `json:"key_version"`
	AssociatedData             string             `json:"associated_data"`
	Type                       flexString         `json:"type"`
	ConvergentEncryption       flexBool           `json:"convergent_encryption"`
	BatchInput                 batch[encryptItem] `json:"batch_input"`
	PartialFailureResponseCode *flexInt           `json:"partial_failure_response_code"`
}

// encryptItem is one item of an encrypt batch_input.
type encryptItem struct {
	Plaintext      *string `json:"plaintext"`
	Context        string  `json:"context"`
	KeyVersion     flexInt `json:"key_version"`
	AssociatedData string  `json:"associated_data"`
	Reference      string  `json:"reference"`
}

// encryptResult is one item of an encrypt (or rewrap) batch_results.
type encryptResult struct {
	Ciphertext string `json:"ciphertext,omitempty"`
	KeyVersion int    `json:"key_version,omitempty"`
	Error      string `json:"error,omitempty"`
	Reference  string `json:"reference"`
}

// encryptResponse is the data of a single encrypt, rewrap or datakey.
type encryptResponse struct {
	Ciphertext string `json:"ciphertext"`
	KeyVersion int    `json:"key_version"`
	Plaintext  string `json:"plaintext,omitempty"`
}

// batchResults is the data of a batch response.
type batchResults[T any] struct {
	BatchResults []T `json:"batch_results"`
}

// itemOutcome tallies a batch as Vault's batchRequestResponse does.
type itemOutcome struct {
	successes, userErrors, internalErrors bool
}

// record notes the outcome of one item and returns the text for its error
// field (internal failures are not described).
func (o *itemOutcome) record(err error) string {
	switch {
	case err == nil:
		o.successes = true
		return ""
	case isUserError(err):
		o.userErrors = true
		return err.Error()
	default:
		o.internalErrors = true
		return "internal error"
	}
}

// status returns the HTTP status of a batch response.
func (o *itemOutcome) status(partialCode *flexInt) (int, []string) {
	if !o.userErrors && !o.internalErrors {
		return 0, nil
	}
	code := http.StatusBadRequest
	if !o.userErrors {
		code = http.StatusInternalServerError
	}
	if partialCode != nil && o.successes {
		if c := int(*partialCode); c < 1 || c > 599 {
			return code, []string{"invalid HTTP response code override from partial_failure_response_code, reverting to " + strconv.Itoa(code)}
		}
		return int(*partialCode), nil
	}
	return code, nil
}

func (b *Backend) pathEncrypt(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in encryptRequest
	if err := req.DecodeBody(&in, decodeJSON); err != nil {
		return nil, err
	}
	isBatch := in.BatchInput != nil
	items := []encryptItem(in.BatchInput)
	if isBatch {
		if len(items) == 0 {
			return nil, badRequest("missing batch input to process")
		}
		for i := range items {
			if items[i].Plaintext == nil {
				return nil, badRequest("failed to parse batch input: '[%d].plaintext' missing plaintext to encrypt", i)
			}
		}
	} else {
		if in.Plaintext == nil {
			return nil, badRequest("missing plaintext to encrypt")
		}
		items = []encryptItem{{Plaintext: in.Plaintext, Context: in.Context, KeyVersion: in.KeyVersion, AssociatedData: in.AssociatedData}}
	}
	contextSet := items[0].Context != ""
	for i := range items {
		if (items[i].Context != "") != contextSet {
			return nil, badRequest("context should be set either in all the request blocks or in none")
		}
	}

	k, err := b.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	if k == nil {
		k, err = b.upsertForEncrypt(ctx, name, &in, contextSet)
		if err != nil {
			return nil, err
		}
	}
	defer k.release()

	if !isBatch {
		it := &items[0]
		ct, ver, err := k.encryptItem(0, it, b)
		if err != nil {
			return nil, err
		}
		return &engine.Response{Data: &encryptResponse{Ciphertext: ct, KeyVersion: ver}}, nil
	}
	results := make([]encryptResult, len(items))
	var o itemOutcome
	for i := range items {
		ct, ver, err := k.encryptItem(i, &items[i], b)
		results[i] = encryptResult{Ciphertext: ct, KeyVersion: ver, Error: o.record(err), Reference: items[i].Reference}
	}
	status, w := o.status(in.PartialFailureResponseCode)
	return &engine.Response{Data: &batchResults[encryptResult]{results}, Status: status, Warnings: w}, nil
}

// encryptItem encrypts one item (the i-th of the batch).
func (k *keyring) encryptItem(i int, it *encryptItem, b *Backend) (string, int, error) {
	var context, ad []byte
	var err error
	if it.Context != "" {
		if context, err = base64.StdEncoding.DecodeString(it.Context); err != nil {
			return "", 0, badRequest("%v", err)
		}
	}
	if it.AssociatedData != "" {
		if !k.typ.associatedDataSupported() {
			return "", 0, badRequest("'[%d].associated_data' provided for non-AEAD cipher suite %v", i, k.typ)
		}
		if ad, err = base64.StdEncoding.DecodeString(it.AssociatedData); err != nil {
			return "", 0, badRequest("unable to decode associated_data as base64: %v", err)
		}
	}
	return k.encrypt(int(it.KeyVersion), context, ad, *it.Plaintext, b.rand)
}

// upsertForEncrypt creates a missing key on encrypt, as Vault's upsert.
func (b *Backend) upsertForEncrypt(ctx context.Context, name string, in *encryptRequest, contextSet bool) (*keyring, error) {
	cfg, err := b.readKeysConfig(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.DisableUpsert {
		return nil, badRequest("encryption key not found")
	}
	if bool(in.ConvergentEncryption) && !contextSet {
		return nil, badRequest("convergent encryption requires derivation to be enabled, so context is required")
	}
	typName := string(in.Type)
	if typName == "" {
		typName = "aes256-gcm96"
	}
	t := parseKeyType(typName)
	switch {
	case t.symmetricAEAD():
	case t.isECDSA():
		return nil, badRequest("key type %v not supported for this operation", typName)
	default:
		return nil, badRequest("unknown key type %v", typName)
	}
	// A key created by a concurrent request in the meantime is used as it
	// is, without a warning: Vault's path_encrypt.go has one ("Attempted
	// creation of the key during the encrypt operation, but it was created
	// beforehand"), which its backend.GetPolicy never lets it give.
	k, _, err := b.createKey(ctx, name, t, keyOptions{derived: contextSet, convergent: bool(in.ConvergentEncryption)})
	if err != nil {
		return nil, err
	}
	return k, nil
}
