package kv

// data/<path>: Vault's path_data.go.
//
//   - GET (?version=N, 0 or absent = current): {data, metadata:{created_time,
//     custom_metadata, deletion_time, destroyed, version}}. A secret or
//     version that does not exist (never written, pruned) is
//     engine.ErrNotFound; a deleted (deletion_time in the past) or destroyed
//     version answers Status 404 with data null and its metadata.
//   - PUT/POST {"data":{...},"options":{"cas":N}}: writes version
//     current+1 and answers its metadata {created_time, custom_metadata,
//     deletion_time, destroyed, version}; deletion_time is set when
//     delete_version_after applies; versions past max_versions are pruned
//     and their data deleted. Errors: "no data provided", CAS errors
//     (ErrCASMismatch, ErrCASRequired, "error parsing check-and-set
//     parameter"), field validation of data and options.
//   - PATCH (application/merge-patch+json) with the same body: RFC 7386
//     merge of data into the current version's data, written as a new
//     version. A missing secret or current version is ErrNotFound; a
//     deleted or destroyed current version answers Status 404 with the
//     version's metadata; CAS as for a write.
//   - DELETE: soft-deletes the current version (204, also when there is
//     nothing to delete).
//
// Numbers keep their JSON literal (json.Number), so 64-bit integers round
// trip exactly. Deviation: "data": null is stored as {} (Vault stores
// null and then fails to patch it).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// dataRequest is the body of a data write or patch.
type dataRequest struct {
	Data    json.RawMessage `json:"data"`
	Options json.RawMessage `json:"options"`
}

// dataResponse is the data of a data read.
type dataResponse struct {
	Data     json.RawMessage `json:"data"`
	Metadata versionMetadata `json:"metadata"`
}

func (b *v2Backend) handleData(ctx context.Context, req *engine.Request, path string) (*engine.Response, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	switch req.Operation {
	case engine.OpRead:
		return b.readData(ctx, path, req)
	case engine.OpUpdate:
		return b.writeData(ctx, path, req)
	case engine.OpPatch:
		return b.patchData(ctx, path, req)
	case engine.OpDelete:
		return b.deleteData(ctx, path)
	}
	return nil, engine.ErrUnsupportedOperation
}

func (b *v2Backend) readData(ctx context.Context, path string, req *engine.Request) (*engine.Response, error) {
	ver, err := queryInt(req.Query, "version")
	if err != nil {
		return nil, err
	}
	var resp *engine.Response
	read := func(r reader) error {
		s, err := loadSecretRO(r, path)
		if err != nil {
			return err
		}
		md, raw, live, err := b.readRequested(r, s, path, ver)
		if err != nil {
			return err
		}
		if !live {
			resp = &engine.Response{Status: http.StatusNotFound, Data: dataResponse{Metadata: md}}
			return nil
		}
		resp = &engine.Response{Data: dataResponse{Data: raw, Metadata: md}}
		return nil
	}
	// A read of a warm secret is answered from the store's read cache
	// alone, without beginning a transaction; on a miss it runs again in
	// one. read only assigns resp, so it may run twice.
	err = b.st.view(storage.WithCacheOnly(ctx), read)
	if errors.Is(err, storage.ErrCacheMiss) {
		err = b.st.view(ctx, read)
	}
	return resp, err
}

// readRequested reads, in r, version ver (0: the current one) of the
// secret s at path (nil: none): its metadata and, when the version is
// live (neither deleted nor destroyed), its data. A missing secret or
// version is engine.ErrNotFound. Data reads and subkeys share it.
func (b *v2Backend) readRequested(r reader, s *secretRecord, path string, ver int64) (md versionMetadata, raw []byte, live bool, err error) {
	if s == nil {
		return md, nil, false, engine.ErrNotFound
	}
	n := s.Current
	if ver > 0 {
		n = uint64(ver)
	}
	v := s.version(n)
	if v == nil {
		return md, nil, false, engine.ErrNotFound
	}
	md = describeVersion(s, n, v)
	if deleted(v, b.now()) || v.Destroyed {
		return md, nil, false, nil
	}
	raw, err = readVersion(r, path, n)
	return md, raw, err == nil, err
}

// readVersion loads the data of a live version.
func readVersion(r reader, path string, n uint64) ([]byte, error) {
	raw, err := r.Get(versionKey(path, n))
	if errors.Is(err, seal.ErrNotFound) {
		return nil, fmt.Errorf("kv: could not find version data of %q version %d", path, n)
	}
	return raw, err
}

func (b *v2Backend) writeData(ctx context.Context, path string, req *engine.Request) (*engine.Response, error) {
	var in dataRequest
	if err := req.DecodeBody(&in, decodeBody); err != nil {
		return nil, err
	}
	if !present(in.Data) {
		return nil, badRequest("no data provided")
	}
	m, err := objectField("data", in.Data)
	if err != nil {
		return nil, err
	}
	cas, err := casOption(in.Options)
	if err != nil {
		return nil, err
	}
	data, err := encodeData(m)
	if err != nil {
		return nil, err
	}
	return b.commitVersion(ctx, path, func(_ reader, cfg configRecord, s *secretRecord, _ bool) ([]byte, error) {
		return data, checkCAS(cfg, s, cas)
	})
}

func (b *v2Backend) patchData(ctx context.Context, path string, req *engine.Request) (*engine.Response, error) {
	if err := checkPatchContentType(req.ContentType); err != nil {
		return nil, err
	}
	var in dataRequest
	if err := req.DecodeBody(&in, decodeBody); err != nil {
		return nil, err
	}
	if !present(in.Data) {
		return nil, badRequest("no data provided")
	}
	patch, err := objectField("data", in.Data)
	if err != nil {
		return nil, err
	}
	cas, err := casOption(in.Options)
	if err != nil {
		return nil, err
	}
	return b.commitVersion(ctx, path, func(r reader, cfg configRecord, s *secretRecord, final bool) ([]byte, error) {
		// Vault's pathDataPatch answers these two with an empty 404.
		if s == nil {
			return nil, engine.ErrNotFoundNoBody
		}
		if err := checkCAS(cfg, s, cas); err != nil {
			return nil, err
		}
		v := s.version(s.Current)
		if v == nil {
			return nil, engine.ErrNotFoundNoBody
		}
		if deleted(v, b.now()) || v.Destroyed {
			return nil, &earlyResponse{&engine.Response{Status: http.StatusNotFound, Data: describeVersion(s, s.Current, v)}}
		}
		if final {
			return nil, nil
		}
		raw, err := readVersion(r, path, s.Current)
		if err != nil {
			return nil, err
		}
		current, err := decodeObject(raw)
		if err != nil {
			return nil, errCorrupt("version", err)
		}
		return encodeData(mergePatch(current, patch).(map[string]any))
	})
}

func (b *v2Backend) deleteData(ctx context.Context, path string) (*engine.Response, error) {
	err := b.st.update(ctx, func(w writer) error {
		s, err := loadSecret(w, path)
		if err != nil || s == nil {
			return err
		}
		now := b.now()
		v := s.version(s.Current)
		if v == nil || v.Destroyed || deleted(v, now) {
			return nil
		}
		v.Deletion = now.UnixNano()
		return saveSecret(w, path, s)
	})
	return nil, err
}
