package kv

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestRouterInvalidPaths(t *testing.T) {
	e := newV2(t)
	root := "Non-listing operations on the root of a K/V v2 mount are not supported."
	invalid := func(sub string) string {
		return "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv " + sub + "' for this operation."
	}
	for _, c := range []struct {
		op   engine.Operation
		path string
		warn string
	}{
		{engine.OpRead, "data", root},
		{engine.OpUpdate, "metadata", root},
		{engine.OpDelete, "destroy", root},
		{engine.OpRead, "data/", invalid("get")},
		{engine.OpRead, "foo", invalid("get")},
		{engine.OpUpdate, "foo/bar", invalid("put")},
		{engine.OpPatch, "", invalid("patch")},
		{engine.OpDelete, "secret", invalid("delete")},
		{engine.OpList, "", invalid("list")},
		{engine.OpList, "data/foo", invalid("list")},
		{engine.OpList, "config", invalid("list")},
		{engine.OpRead, "config/", invalid("get")},
	} {
		resp, err := call(e.b, c.op, c.path, "", "")
		if err != nil || resp == nil || resp.Status != http.StatusNotFound || resp.Data != nil ||
			len(resp.Warnings) != 1 || resp.Warnings[0] != c.warn {
			t.Errorf("%v %q: %+v %v", c.op, c.path, resp, err)
		}
	}
	for _, c := range []struct {
		op   engine.Operation
		path string
	}{
		{engine.OpList, "delete/x"},
		{engine.OpRead, "undelete/x"},
		{engine.OpPatch, "destroy/x"},
		{engine.OpDelete, "subkeys/x"},
		{engine.OpUnknown, "data/x"},
		{engine.OpUnknown, "foo"},
	} {
		fails(t, e.b, c.op, c.path, "", "", engine.ErrUnsupportedOperation, "")
	}
}

func TestBadPaths(t *testing.T) {
	e := newV2(t)
	v1, _ := newV1(t)
	long := strings.Repeat("a", MaxPathBytes+1)
	for _, p := range []string{"a//b", "./a", "a/./b", "a/..", "../x", "/a", "a/", "a\x00b", "a\xffb", long} {
		for _, c := range []struct {
			b    engine.Backend
			op   engine.Operation
			path string
		}{
			{e.b, engine.OpUpdate, "data/" + p},
			{e.b, engine.OpRead, "data/" + p},
			{e.b, engine.OpPatch, "data/" + p},
			{e.b, engine.OpDelete, "data/" + p},
			{e.b, engine.OpUpdate, "metadata/" + p},
			{e.b, engine.OpRead, "metadata/" + p},
			{e.b, engine.OpUpdate, "delete/" + p},
			{e.b, engine.OpUpdate, "undelete/" + p},
			{e.b, engine.OpUpdate, "destroy/" + p},
			{e.b, engine.OpRead, "subkeys/" + p},
			{v1, engine.OpUpdate, p},
			{v1, engine.OpRead, p},
			{v1, engine.OpDelete, p},
		} {
			_, err := call(c.b, c.op, c.path, `{"data":{"a":1},"versions":[1],"max_versions":1,"a":1}`, "")
			if !errors.Is(err, ErrInvalidPath) || !errors.Is(err, engine.ErrBadRequest) {
				t.Errorf("%v %q: %v", c.op, c.path, err)
			}
		}
	}
	if keys := rawKeys(t, e.view, nil); len(keys) != 0 {
		t.Fatalf("records written: %q", keys)
	}
	fails(t, e.b, engine.OpUpdate, "data/a/../b", `{"data":{"a":1}}`, "", engine.ErrBadRequest, "path cannot contain parent references")
	fails(t, e.b, engine.OpUpdate, "data/a//b", `{"data":{"a":1}}`, "", engine.ErrBadRequest, `invalid path "a//b": empty or "." segment`)
	// A path of exactly MaxPathBytes works, nested as deep as it goes.
	deep := strings.Repeat("a/", MaxPathBytes/2-1) + "bb"
	ok(t, e.b, engine.OpUpdate, "data/"+deep, `{"data":{"a":1}}`, "")
	ok(t, e.b, engine.OpRead, "data/"+deep, "", "")
	ok(t, e.b, engine.OpDelete, "metadata/"+deep, "", "")
	if keys := rawKeys(t, e.view, nil); len(keys) != 0 {
		t.Fatalf("%d records left after deleting the deep secret", len(keys))
	}
}

func TestSealedErrorsPassThrough(t *testing.T) {
	// Storage errors reach the caller unchanged (the front door maps
	// seal.ErrSealed to 503); they are not turned into 400s or 404s.
	e := newV2(t)
	failing := &v2Backend{st: failingStore{}, now: e.clock.Now}
	_, err := call(failing, engine.OpRead, "data/x", "", "")
	if !errors.Is(err, errFailing) || errors.Is(err, engine.ErrNotFound) || errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("read: %v", err)
	}
	_, err = call(failing, engine.OpUpdate, "data/x", `{"data":{"a":1}}`, "")
	if !errors.Is(err, errFailing) {
		t.Fatalf("write: %v", err)
	}
}
