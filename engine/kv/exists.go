package kv

import (
	"context"
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// Exists implements engine.ExistenceChecker for KV v2 (Vault's
// pathDataExistenceCheck and pathMetadataExistenceCheck): a write to
// data/<path> or metadata/<path> updates when the secret exists and
// creates otherwise. Other paths are updates.
func (b *v2Backend) Exists(ctx context.Context, req *engine.Request) (bool, error) {
	for _, prefix := range []string{"data/", "metadata/"} {
		if path, ok := strings.CutPrefix(req.Path, prefix); ok {
			return b.secretExists(ctx, path)
		}
	}
	return true, nil
}

func (b *v2Backend) secretExists(ctx context.Context, path string) (bool, error) {
	if checkPath(path) != nil || path == "" {
		return true, nil // the request itself will be refused
	}
	var ok bool
	err := b.st.view(ctx, func(r reader) error {
		var err error
		ok, err = exists(r, entryKey(path))
		return err
	})
	return ok, err
}

// Exists implements engine.ExistenceChecker for KV v1: a write creates a
// secret that does not exist yet.
func (b *v1Backend) Exists(ctx context.Context, req *engine.Request) (bool, error) {
	if checkPath(req.Path) != nil || req.Path == "" {
		return true, nil
	}
	var ok bool
	err := b.st.view(ctx, func(r reader) error {
		var err error
		ok, err = exists(r, entryKey(req.Path))
		return err
	})
	return ok, err
}

var (
	_ engine.ExistenceChecker = (*v1Backend)(nil)
	_ engine.ExistenceChecker = (*v2Backend)(nil)
)
