package kv

// subkeys/<path>: Vault's path_subkeys.go. GET (?version=N, ?depth=D)
// answers {subkeys, metadata}: the version's data with every leaf value
// replaced by null (a leaf being a non-object value or an empty object),
// descending at most D levels when D > 0 (keys at depth D are null even if
// they hold objects; a negative D leaves only the top-level keys, as in
// Vault). A missing secret or version is engine.ErrNotFound; a deleted or
// destroyed version answers Status 404 with subkeys null and its metadata.

import (
	"context"
	"net/http"

	"github.com/strongroom/strongroom/engine"
)

// subkeysResponse is the data of a subkeys read.
type subkeysResponse struct {
	Subkeys  map[string]any  `json:"subkeys"`
	Metadata versionMetadata `json:"metadata"`
}

func (b *v2Backend) handleSubkeys(ctx context.Context, req *engine.Request, path string) (*engine.Response, error) {
	if req.Operation != engine.OpRead {
		return nil, engine.ErrUnsupportedOperation
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	depth, err := queryInt(req.Query, "depth")
	if err != nil {
		return nil, err
	}
	ver, err := queryInt(req.Query, "version")
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, engine.ErrNotFound
	}
	var resp *engine.Response
	err = b.st.view(ctx, func(r reader) error {
		s, err := loadSecret(r, path)
		if err != nil {
			return err
		}
		md, raw, live, err := b.readRequested(r, s, path, ver)
		if err != nil {
			return err
		}
		if !live {
			resp = &engine.Response{Status: http.StatusNotFound, Data: subkeysResponse{Metadata: md}}
			return nil
		}
		m, err := decodeObject(raw)
		if err != nil {
			return errCorrupt("version", err)
		}
		removeValues(m, depth)
		resp = &engine.Response{Data: subkeysResponse{Subkeys: m, Metadata: md}}
		return nil
	})
	return resp, err
}

// removeValues is Vault's removeValues: it replaces every leaf of m with
// nil, walking into non-empty objects while their depth is at most
// maxDepth (0: no limit). The top level is depth 1.
func removeValues(m map[string]any, maxDepth int64) {
	var walk func(m map[string]any, depth int64)
	walk = func(m map[string]any, depth int64) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && (maxDepth == 0 || depth+1 <= maxDepth) {
				walk(sub, depth+1)
				continue
			}
			m[k] = nil
		}
	}
	walk(m, 1)
}
