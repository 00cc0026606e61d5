package transit

// keys/<name>/trim: Vault's path_trim.go. It deletes the versions below
// min_available_version for good, within Vault's bounds (not below the
// current value, not above min_encryption_version nor
// min_decryption_version, both of which must be set), and answers the
// key's description.

import (
	"context"
	"errors"
	"strconv"

	"github.com/strongroom/strongroom/engine"
)

// trimRequest is the body of POST keys/<name>/trim.
type trimRequest struct {
	MinAvailableVersion *flexInt `json:"min_available_version"`
}

func (b *Backend) pathTrim(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in trimRequest
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if in.MinAvailableVersion == nil {
		return nil, badRequest("missing min_available_version")
	}
	n := int(*in.MinAvailableVersion)
	k, err := b.mutate(ctx, name, func(p *storedPolicy) error {
		switch {
		case n < p.MinAvailableVersion:
			return badRequest("minimum available version cannot be decremented")
		case p.MinEncryptionVersion == 0:
			return badRequest("minimum available version cannot be set when minimum encryption version is not set")
		case p.MinDecryptionVersion == 0:
			return badRequest("minimum available version cannot be set when minimum decryption version is not set")
		case n > p.MinEncryptionVersion:
			return badRequest("minimum available version cannot be greater than minmum encryption version")
		case n > p.MinDecryptionVersion:
			return badRequest("minimum available version cannot be greater than minimum decryption version")
		case n < 0:
			return badRequest("minimum available version cannot be negative")
		case n == 0:
			return badRequest("minimum available version should be positive")
		}
		p.MinAvailableVersion = n
		for v := range p.Keys {
			if i, err := strconv.Atoi(v); err == nil && i < n {
				e := p.Keys[v]
				e.wipe()
				delete(p.Keys, v)
			}
		}
		return nil
	})
	if errors.Is(err, errKeyNotFound) {
		return nil, badRequest("invalid key name")
	}
	if err != nil {
		return nil, err
	}
	defer k.release()
	return &engine.Response{Data: k.describe(nil)}, nil
}
