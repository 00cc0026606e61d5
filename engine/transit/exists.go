package transit

import (
	"context"
	"errors"
	"strings"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// Exists implements engine.ExistenceChecker (Vault's transit existence
// checks on keys/<name> and encrypt/<name>): writing a key that does not
// exist, or encrypting with one (which creates it), needs create.
func (b *Backend) Exists(ctx context.Context, req *engine.Request) (bool, error) {
	var name string
	switch {
	case strings.HasPrefix(req.Path, "keys/") && strings.Count(req.Path, "/") == 1:
		name = strings.TrimPrefix(req.Path, "keys/")
	case strings.HasPrefix(req.Path, "encrypt/"):
		name = strings.TrimPrefix(req.Path, "encrypt/")
	default:
		return true, nil
	}
	var found bool
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		_, err := tx.Get(policyKey(name))
		if errors.Is(err, seal.ErrNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
}

var _ engine.ExistenceChecker = (*Backend)(nil)
