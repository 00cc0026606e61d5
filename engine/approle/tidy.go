package approle

import (
	"context"
	"errors"
	"net/http"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// tidyBatch is how many secret IDs one tidy transaction removes, so that
// a large role stays within a FoundationDB transaction's limits.
const tidyBatch = 256

// msgTidyStarted is Vault's answer to auth/approle/tidy/secret-id.
const msgTidyStarted = "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."

// tidySecretIDs serves tidy/secret-id (Vault's path_tidy_user_id.go):
// every expired secret ID is deleted with its accessor, and every accessor
// whose secret ID is gone. Vault tidies in the background and answers 202
// with a warning at once; here the work is done, role by role in batches,
// before the same 202 answers. A login already deletes an expired secret
// ID it meets; tidy removes those nobody presents, which a LIST of
// accessors would otherwise still show.
func (b *Backend) tidySecretIDs(ctx context.Context) (*engine.Response, error) {
	var roles []string
	if err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		roles, err = tx.ListNames(tuple.Pack("role"))
		return err
	}); err != nil {
		return nil, err
	}
	for _, role := range roles {
		if err := b.tidyRole(ctx, role); err != nil {
			return nil, err
		}
	}
	return &engine.Response{Status: http.StatusAccepted, Warnings: []string{msgTidyStarted}}, nil
}

// tidyRole removes role's expired secret IDs and dangling accessors.
func (b *Backend) tidyRole(ctx context.Context, role string) error {
	now := b.now()
	secrets, accessors := tuple.Pack("secret", role), tuple.Pack("accessor", role)
	var expired, dangling [][]byte
	if err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		keys, err := tx.List(secrets, nil, 0)
		if err != nil {
			return err
		}
		for _, k := range keys {
			h, err := lastBytes(k, secrets)
			if err != nil {
				return err
			}
			s, err := loadSecret(tx, role, h)
			if err != nil {
				return err
			}
			if s != nil && !s.ExpirationTime.IsZero() && !now.Before(s.ExpirationTime) {
				expired = append(expired, h)
			}
		}
		if keys, err = tx.List(accessors, nil, 0); err != nil {
			return err
		}
		for _, k := range keys {
			h, err := tx.Get(k)
			if err != nil {
				return err
			}
			if _, err := tx.Get(secretKey(role, h)); err != nil {
				if !errors.Is(err, seal.ErrNotFound) {
					return err
				}
				dangling = append(dangling, k)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for len(expired) > 0 || len(dangling) > 0 {
		n, m := min(len(expired), tidyBatch), min(len(dangling), tidyBatch)
		if err := b.view.Update(ctx, func(tx *seal.Tx) error {
			for _, h := range expired[:n] {
				// Read again in this transaction: a secret ID made again
				// under the same custom value since is not expired.
				s, err := loadSecret(&tx.ReadTx, role, h)
				if err != nil {
					return err
				}
				if s == nil || s.ExpirationTime.IsZero() || now.Before(s.ExpirationTime) {
					continue
				}
				if err := deleteSecret(tx, role, h); err != nil {
					return err
				}
			}
			for _, k := range dangling[:m] {
				h, err := tx.Get(k)
				if errors.Is(err, seal.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if _, err := tx.Get(secretKey(role, h)); errors.Is(err, seal.ErrNotFound) {
					if err := tx.Delete(k); err != nil {
						return err
					}
				} else if err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		expired, dangling = expired[n:], dangling[m:]
	}
	return nil
}

// lastBytes is the byte-string element that follows prefix in key, the
// keyed hash of secretKey; another shape is seal.ErrCorrupt.
func lastBytes(key, prefix []byte) ([]byte, error) {
	el, err := tuple.Unpack(key[len(prefix):])
	if err != nil || len(el) != 1 {
		return nil, seal.ErrCorrupt
	}
	h, ok := el[0].([]byte)
	if !ok {
		return nil, seal.ErrCorrupt
	}
	return h, nil
}
