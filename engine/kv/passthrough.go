package kv

// KV version 1: Vault's passthrough backend (passthrough.go). One path
// pattern, "<path>": GET reads the secret, PUT/POST replaces it with the
// whole JSON body object (204), DELETE removes it (204, also when missing),
// LIST names a folder's children. PATCH is not supported (405).
//
// Matched: "missing path" for a write to the mount root, "missing data
// fields" for an empty object or body, 404 with an empty error list for a
// missing secret or an empty folder, "failed to parse JSON input: ..." for
// a body that is not a JSON object; a read's lease_duration is the secret's
// ttl (see leaseTTL). Deviation: paths are validated as described at
// checkPath.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// maxDataBytes is the largest encoded secret (a v1 object, or one v2
// version's data) the engine stores: the storage's largest value less room
// for the barrier's envelope.
const maxDataBytes = storage.MaxValueSize - 4096

type v1Backend struct {
	st         store
	defaultTTL time.Duration // the refresh interval of a read
}

// listResponse is the data of a LIST answer.
type listResponse struct {
	Keys []string `json:"keys"`
}

// HandleRequest serves a v1 mount. Errors: engine.ErrBadRequest,
// engine.ErrNotFound, engine.ErrUnsupportedOperation, and the storage and
// seal errors (seal.ErrSealed, ...) unchanged.
func (b *v1Backend) HandleRequest(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	switch req.Operation {
	case engine.OpRead:
		return b.read(ctx, req.Path)
	case engine.OpUpdate:
		return b.write(ctx, req.Path, req.Body)
	case engine.OpDelete:
		return b.delete(ctx, req.Path)
	case engine.OpList:
		return b.list(ctx, req.Path)
	}
	return nil, engine.ErrUnsupportedOperation
}

func (b *v1Backend) read(ctx context.Context, path string) (*engine.Response, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, engine.ErrNotFound
	}
	var raw []byte
	err := b.st.view(ctx, func(r reader) error {
		var err error
		raw, err = r.Get(entryKey(path))
		if errors.Is(err, seal.ErrNotFound) {
			return engine.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &engine.Response{Data: json.RawMessage(raw), LeaseDuration: int64(b.leaseTTL(raw).Seconds())}, nil
}

// leaseTTL is the lease duration of a read of the secret raw, Vault's
// passthrough handleRead: its "ttl" (or else "lease") field when that
// reads as a duration (seconds or a duration string), else the mount's
// default. Clients take it as a refresh interval; no lease is issued.
func (b *v1Backend) leaseTTL(raw []byte) time.Duration {
	var f struct {
		TTL   json.RawMessage `json:"ttl"`
		Lease json.RawMessage `json:"lease"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return b.defaultTTL
	}
	v := f.TTL
	if v == nil {
		v = f.Lease
	}
	if v == nil {
		return b.defaultTTL
	}
	var d engine.Duration
	if d.UnmarshalJSON(v) != nil {
		return b.defaultTTL
	}
	return time.Duration(d) * time.Second
}

func (b *v1Backend) write(ctx context.Context, path string, body []byte) (*engine.Response, error) {
	if path == "" {
		return nil, badRequest("missing path")
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	obj, err := checkBody(body)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, badRequest("missing data fields")
	}
	m, err := decodeObject(obj)
	if err != nil {
		return nil, badRequest("failed to parse JSON input: malformed JSON")
	}
	if len(m) == 0 {
		return nil, badRequest("missing data fields")
	}
	raw, err := encodeData(m)
	if err != nil {
		return nil, err
	}
	err = b.st.setLarge(ctx, entryKey(path), raw, func(w writer) error {
		return ensureFolders(w, path)
	})
	return nil, err
}

func (b *v1Backend) delete(ctx context.Context, path string) (*engine.Response, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, nil
	}
	err := b.st.update(ctx, func(w writer) error {
		ok, err := exists(w, entryKey(path))
		if err != nil || !ok {
			return err
		}
		if err := w.Delete(entryKey(path)); err != nil {
			return err
		}
		return pruneFolders(w, path)
	})
	return nil, err
}

func (b *v1Backend) list(ctx context.Context, path string) (*engine.Response, error) {
	folder, err := checkFolder(path)
	if err != nil {
		return nil, err
	}
	var keys []string
	err = listFolder(ctx, b.st, folder, func(_ reader, name string) error {
		keys = append(keys, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, engine.ErrNotFound
	}
	return &engine.Response{Data: listResponse{Keys: keys}}, nil
}

// exists reports whether a record is stored at key without loading its
// value: no other key starts with an entry key, since paths hold no NUL.
func exists(r reader, key []byte) (bool, error) {
	keys, err := r.List(key, nil, 1)
	if err != nil {
		return false, err
	}
	return len(keys) == 1 && string(keys[0]) == string(key), nil
}

// encodeData encodes secret data for storage (object keys sorted, numbers
// as given) and refuses data too large to store.
func encodeData(m map[string]any) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, badRequest("failed to encode data: %v", err)
	}
	if len(raw) > maxDataBytes {
		return nil, badRequest("secret data is too large: %d bytes encoded, at most %d", len(raw), maxDataBytes)
	}
	return raw, nil
}
