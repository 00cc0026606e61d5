package kv

// delete/<path>: Vault's pathDeleteWrite (path_delete.go). PUT/POST
// {"versions":[1,2]} soft-deletes the listed versions: each kept version
// that is neither destroyed nor already deleted gets deletion_time now.
// Unknown versions are skipped; a missing secret is a no-op; the answer is
// 204. An empty versions list is 400 "No version number provided".
// versions may be a list of integers or numeric strings, one integer, or a
// comma-separated string, as Vault's TypeCommaIntSlice.

import (
	"context"
	"encoding/json"

	"github.com/strongroom/strongroom/engine"
)

// versionsRequest is the body of delete, undelete and destroy.
type versionsRequest struct {
	Versions json.RawMessage `json:"versions"`
}

// parseVersions converts the versions of a delete, undelete or destroy
// body; an empty list is emptyMsg.
func parseVersions(body []byte, emptyMsg string) ([]int64, error) {
	var in versionsRequest
	if err := decodeBody(body, &in); err != nil {
		return nil, err
	}
	versions, err := intSliceField("versions", in.Versions)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, badRequest("%s", emptyMsg)
	}
	return versions, nil
}

// eachVersion calls fn with the kept, not destroyed versions of s that
// versions names, each once.
func eachVersion(s *secretRecord, versions []int64, fn func(n uint64, v *versionRecord)) {
	seen := make(map[int64]bool, len(versions))
	for _, n := range versions {
		if n <= 0 || seen[n] {
			continue
		}
		seen[n] = true
		if v := s.version(uint64(n)); v != nil && !v.Destroyed {
			fn(uint64(n), v)
		}
	}
}

func (b *v2Backend) handleDelete(ctx context.Context, req *engine.Request, path string) (*engine.Response, error) {
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
		s, err := loadSecret(w, path)
		if err != nil || s == nil {
			return err
		}
		now := b.now()
		eachVersion(s, versions, func(_ uint64, v *versionRecord) {
			if !deleted(v, now) {
				v.Deletion = now.UnixNano()
			}
		})
		return saveSecret(w, path, s)
	})
	return nil, err
}
