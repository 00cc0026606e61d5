package kv

// undelete/<path>: Vault's pathUndeleteWrite (path_delete.go). PUT/POST
// {"versions":[...]} clears the deletion_time of the listed kept versions
// that are not destroyed; when delete_version_after applies (and is not
// disabled on the mount), the version gets a new deletion_time counted from
// now, as Vault does. Unknown versions are skipped, a missing secret is a
// no-op, the answer is 204; an empty list is 400 "No version number
// provided".

import (
	"context"

	"github.com/strongroom/strongroom/engine"
)

func (b *v2Backend) handleUndelete(ctx context.Context, req *engine.Request, path string) (*engine.Response, error) {
	if req.Operation != engine.OpUpdate {
		return nil, engine.ErrUnsupportedOperation
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	versions, err := parseVersions(req.Body, "No version number provided")
	if err != nil || path == "" {
		return nil, err
	}
	err = b.st.update(ctx, func(w writer) error {
		cfg, s, err := loadState(w, path)
		if err != nil || s == nil {
			return err
		}
		now := b.now()
		eachVersion(s, versions, func(_ uint64, v *versionRecord) {
			v.Deletion = autoDeletion(cfg, s, now)
		})
		return saveSecret(w, path, s)
	})
	return nil, err
}
