package kv

// destroy/<path>: Vault's pathDestroyWrite (path_destroy.go). PUT/POST
// {"versions":[...]} marks the listed kept versions destroyed and deletes
// their data records from storage in the same transaction; the metadata
// keeps them with destroyed true, and reading them answers 404 with that
// metadata. The store is then scrubbed, so the destroyed data is gone from
// the disk files too (Strongroom). Unknown versions are skipped, a missing secret is a no-op, the
// answer is 204; an empty list is 400 "no version number provided" (lower
// case, as Vault).

import (
	"context"

	"github.com/strongroom/strongroom/engine"
)

func (b *v2Backend) handleDestroy(ctx context.Context, req *engine.Request, path string) (*engine.Response, error) {
	if req.Operation != engine.OpUpdate {
		return nil, engine.ErrUnsupportedOperation
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	versions, err := parseVersions(req.Body, "no version number provided")
	if err != nil || path == "" {
		return nil, err
	}
	err = b.st.update(ctx, func(w writer) error {
		s, err := loadSecret(w, path)
		if err != nil || s == nil {
			return err
		}
		var derr error
		eachVersion(s, versions, func(n uint64, v *versionRecord) {
			v.Destroyed = true
			if derr == nil {
				derr = w.Delete(versionKey(path, n))
			}
		})
		if derr != nil {
			return derr
		}
		return saveSecret(w, path, s)
	})
	if err != nil {
		return nil, err
	}
	return nil, b.st.scrub(ctx)
}
