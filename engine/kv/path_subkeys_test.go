package kv

import (
	"net/http"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestSubkeys(t *testing.T) {
	e := newV2(t)
	fails(t, e.b, engine.OpRead, "subkeys/s", "", "", engine.ErrNotFound, "")
	ok(t, e.b, engine.OpUpdate, "data/s", `{"data":{"foo":"abc","bar":{"baz":"def","qux":{"x":1},"empty":{}},"list":[1,{"a":2}],"n":null}}`, "")
	ok(t, e.b, engine.OpUpdate, "data/s", `{"data":{"only":{"deep":{"deeper":true}}}}`, "")
	for query, want := range map[string]string{
		"version=1":         `{"bar":{"baz":null,"empty":null,"qux":{"x":null}},"foo":null,"list":null,"n":null}`,
		"version=1&depth=0": `{"bar":{"baz":null,"empty":null,"qux":{"x":null}},"foo":null,"list":null,"n":null}`,
		"version=1&depth=1": `{"bar":null,"foo":null,"list":null,"n":null}`,
		"version=1&depth=2": `{"bar":{"baz":null,"empty":null,"qux":null},"foo":null,"list":null,"n":null}`,
		"depth=-1":          `{"only":null}`,
		"":                  `{"only":{"deep":{"deeper":null}}}`,
	} {
		got := dataOf(t, ok(t, e.b, engine.OpRead, "subkeys/s", "", query))
		if s := wire(t, got["subkeys"]); s != want {
			t.Errorf("%q: %s, want %s", query, s, want)
		}
	}
	md := dataOf(t, ok(t, e.b, engine.OpRead, "subkeys/s", "", ""))["metadata"].(map[string]any)
	if wire(t, md["version"]) != "2" || md["destroyed"] != false {
		t.Fatalf("metadata %v", md)
	}
	fails(t, e.b, engine.OpRead, "subkeys/s", "", "version=9", engine.ErrNotFound, "")
	fails(t, e.b, engine.OpRead, "subkeys/s", "", "depth=x", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpUpdate, "subkeys/s", "{}", "", engine.ErrUnsupportedOperation, "")

	ok(t, e.b, engine.OpUpdate, "destroy/s", `{"versions":[1]}`, "")
	resp, err := call(e.b, engine.OpRead, "subkeys/s", "", "version=1")
	if err != nil || resp.Status != http.StatusNotFound {
		t.Fatalf("destroyed: %+v %v", resp, err)
	}
	if got := dataOf(t, resp); got["subkeys"] != nil || got["metadata"].(map[string]any)["destroyed"] != true {
		t.Fatalf("destroyed: %v", got)
	}
}

func TestConfig(t *testing.T) {
	e := newV2(t)
	if got := wire(t, ok(t, e.b, engine.OpRead, "config", "", "").Data); got != `{"cas_required":false,"delete_version_after":"0s","max_versions":0}` {
		t.Fatalf("default config: %s", got)
	}
	ok(t, e.b, engine.OpUpdate, "config", `{"max_versions":"7","cas_required":1,"delete_version_after":"2d"}`, "")
	if got := wire(t, ok(t, e.b, engine.OpRead, "config", "", "").Data); got != `{"cas_required":true,"delete_version_after":"48h0m0s","max_versions":7}` {
		t.Fatalf("config: %s", got)
	}
	// Fields not given are kept; no field is a no-op.
	ok(t, e.b, engine.OpUpdate, "config", `{"cas_required":false}`, "")
	ok(t, e.b, engine.OpUpdate, "config", `{}`, "")
	ok(t, e.b, engine.OpUpdate, "config", ``, "")
	if got := wire(t, ok(t, e.b, engine.OpRead, "config", "", "").Data); got != `{"cas_required":false,"delete_version_after":"48h0m0s","max_versions":7}` {
		t.Fatalf("config: %s", got)
	}
	fails(t, e.b, engine.OpUpdate, "config", `{"max_versions":-2}`, "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpUpdate, "config", `{"max_versions":4294967296}`, "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpUpdate, "config", `{"cas_required":"x"}`, "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpUpdate, "config", `{"max_versions":`, "", engine.ErrBadRequest, "failed to parse JSON input: unexpected end of JSON input")
	fails(t, e.b, engine.OpDelete, "config", "", "", engine.ErrUnsupportedOperation, "")
	fails(t, e.b, engine.OpPatch, "config", "{}", "", engine.ErrUnsupportedOperation, "")
}
