package kv

import (
	"encoding/json"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestV1(t *testing.T) {
	b, view := newV1(t)
	fails(t, b, engine.OpRead, "app/db", "", "", engine.ErrNotFound, "")
	if resp := ok(t, b, engine.OpUpdate, "app/db", `{"user":"u","n":18446744073709551617,"ttl":"1h"}`, ""); resp != nil {
		t.Fatalf("write answered %+v", resp)
	}
	resp := ok(t, b, engine.OpRead, "app/db", "", "")
	if got := string(resp.Data.(json.RawMessage)); got != `{"n":18446744073709551617,"ttl":"1h","user":"u"}` {
		t.Fatalf("read: %s", got)
	}
	ok(t, b, engine.OpUpdate, "app/db", `{"user":"v"}`, "")
	if got := wire(t, ok(t, b, engine.OpRead, "app/db", "", "").Data); got != `{"user":"v"}` {
		t.Fatalf("overwrite: %s", got)
	}
	ok(t, b, engine.OpUpdate, "app/sub/x", `{"a":1}`, "")
	ok(t, b, engine.OpUpdate, "top", `{"a":1}`, "")
	for path, want := range map[string]string{
		"":        `{"keys":["app/","top"]}`,
		"/":       `{"keys":["app/","top"]}`,
		"app":     `{"keys":["db","sub/"]}`,
		"app/":    `{"keys":["db","sub/"]}`,
		"app/sub": `{"keys":["x"]}`,
	} {
		if got := wire(t, ok(t, b, engine.OpList, path, "", "").Data); got != want {
			t.Errorf("LIST %q: %s, want %s", path, got, want)
		}
	}
	fails(t, b, engine.OpList, "nope", "", "", engine.ErrNotFound, "")

	for _, c := range []struct{ path, body, msg string }{
		{"", `{"a":1}`, "missing path"},
		{"x", ``, "missing data fields"},
		{"x", `{}`, "missing data fields"},
		{"x", `null`, "missing data fields"},
		{"x", `[1]`, "failed to parse JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{"x", `{"secret":"hunter2"`, "failed to parse JSON input: unexpected end of JSON input"},
		{"x", `{"a":1}{`, "failed to parse JSON input: invalid character '{' after top-level value"},
	} {
		fails(t, b, engine.OpUpdate, c.path, c.body, "", engine.ErrBadRequest, c.msg)
	}
	fails(t, b, engine.OpPatch, "app/db", `{"a":1}`, "", engine.ErrUnsupportedOperation, "")

	ok(t, b, engine.OpDelete, "app/db", "", "")
	ok(t, b, engine.OpDelete, "app/db", "", "")
	fails(t, b, engine.OpRead, "app/db", "", "", engine.ErrNotFound, "")
	ok(t, b, engine.OpDelete, "app/sub/x", "", "")
	fails(t, b, engine.OpList, "app", "", "", engine.ErrNotFound, "")
	if got := wire(t, ok(t, b, engine.OpList, "", "", "").Data); got != `{"keys":["top"]}` {
		t.Errorf("LIST root after deletes: %s", got)
	}
	ok(t, b, engine.OpDelete, "top", "", "")
	if keys := rawKeys(t, view, nil); len(keys) != 0 {
		t.Fatalf("records left: %q", keys)
	}
}
