package kv

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

// FuzzRequest sends random paths, bodies, queries and operations to a v1
// and a v2 backend on a real store: a request never panics, and fails
// only with the client-error sentinels (never a 5xx-class error); every
// answer encodes as JSON.
func FuzzRequest(f *testing.F) {
	seeds := []struct {
		op                uint8
		path, body, query string
	}{
		{2, "data/a", `{"data":{"k":"v"},"options":{"cas":0}}`, ""},
		{1, "data/a", ``, "version=1"},
		{5, "data/a", `{"data":{"k":null,"n":{"x":1}}}`, ""},
		{3, "data/a", ``, ""},
		{2, "delete/a", `{"versions":[1,2]}`, ""},
		{2, "undelete/a", `{"versions":"1,2"}`, ""},
		{2, "destroy/a", `{"versions":1}`, ""},
		{2, "metadata/a", `{"max_versions":2,"cas_required":true,"delete_version_after":"1h","custom_metadata":{"a":"b"}}`, ""},
		{5, "metadata/a", `{"custom_metadata":{"a":null}}`, ""},
		{4, "metadata/", ``, "exclude_deleted=true"},
		{1, "subkeys/a", ``, "depth=1&version=1"},
		{2, "config", `{"max_versions":3,"delete_version_after":-1}`, ""},
		{1, "config", ``, ""},
		{3, "metadata/a", ``, ""},
		{2, "data/a//b", `{"data":{}}`, ""},
		{2, "data/../x", `{"data":[1]}`, ""},
		{2, "x/y", `{"a":1}`, ""},
		{4, "x", ``, ""},
		{2, "data/a", `{"data":{"n":123456789012345678901234567890}`, ""},
	}
	for _, s := range seeds {
		f.Add(s.op, s.path, []byte(s.body), s.query)
	}
	view1, view2 := newView(f), newView(f)
	clock := newClock()
	backends := []engine.Backend{NewV1(view1, Options{}), NewV2(view2, Options{Now: clock.Now})}
	ops := []engine.Operation{engine.OpUnknown, engine.OpRead, engine.OpUpdate, engine.OpDelete, engine.OpList, engine.OpPatch}

	f.Fuzz(func(t *testing.T, op uint8, path string, body []byte, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			q = url.Values{}
		}
		for _, b := range backends {
			req := &engine.Request{ID: "fuzz", Operation: ops[int(op)%len(ops)], MountPath: "secret/", Path: path, Body: body, Query: q}
			if req.Operation == engine.OpPatch {
				req.ContentType = "application/merge-patch+json"
			}
			resp, err := b.HandleRequest(context.Background(), req)
			if err != nil {
				if !errors.Is(err, engine.ErrBadRequest) && !errors.Is(err, engine.ErrNotFound) && !errors.Is(err, engine.ErrNotFoundNoBody) &&
					!errors.Is(err, engine.ErrUnsupportedOperation) && !errors.Is(err, engine.ErrUnsupportedPath) {
					t.Fatalf("%v %q %q: server error %v", req.Operation, path, body, err)
				}
				continue
			}
			if resp == nil {
				continue
			}
			if resp.Status != 0 && resp.Status != http.StatusNotFound {
				t.Fatalf("%v %q: status %d", req.Operation, path, resp.Status)
			}
			if _, err := json.Marshal(resp.Data); err != nil {
				t.Fatalf("%v %q: data does not encode: %v", req.Operation, path, err)
			}
		}
		clock.Add(1e9)
	})
}
