package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

func TestMetadataReadWrite(t *testing.T) {
	e := newV2(t)
	fails(t, e.b, engine.OpRead, "metadata/m", "", "", engine.ErrNotFound, "")
	t0 := e.clock.Now()
	ok(t, e.b, engine.OpUpdate, "data/m", `{"data":{"a":1}}`, "")
	e.clock.Add(time.Minute)
	ok(t, e.b, engine.OpUpdate, "data/m", `{"data":{"a":2}}`, "")
	ok(t, e.b, engine.OpDelete, "data/m", "", "")
	t1 := e.clock.Now()

	got := wire(t, ok(t, e.b, engine.OpRead, "metadata/m", "", "").Data)
	f := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	want := fmt.Sprintf(`{"cas_required":false,"created_time":%q,"current_version":2,"custom_metadata":null,"delete_version_after":"0s","max_versions":0,"oldest_version":0,"updated_time":%q,"versions":{"1":{"created_time":%q,"deletion_time":"","destroyed":false},"2":{"created_time":%q,"deletion_time":%q,"destroyed":false}}}`,
		f(t0), f(t1), f(t0), f(t1), f(t1))
	if got != want {
		t.Fatalf("metadata:\n got %s\nwant %s", got, want)
	}

	// PUT sets the given fields; updated_time does not move (as Vault).
	e.clock.Add(time.Minute)
	ok(t, e.b, engine.OpUpdate, "metadata/m", `{"max_versions":"5","cas_required":"true","delete_version_after":"3h","custom_metadata":{"owner":"ops","n":7,"b":true}}`, "")
	md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/m", "", ""))
	if md["max_versions"] != json.Number("5") || md["cas_required"] != true || md["delete_version_after"] != "3h0m0s" ||
		wire(t, md["custom_metadata"]) != `{"b":"1","n":"7","owner":"ops"}` || md["updated_time"] != f(t1) {
		t.Fatalf("after write: %v", md)
	}
	// Fields not given are kept; custom_metadata given is replaced whole.
	ok(t, e.b, engine.OpUpdate, "metadata/m", `{"custom_metadata":{"team":"x"}}`, "")
	md = dataOf(t, ok(t, e.b, engine.OpRead, "metadata/m", "", ""))
	if md["max_versions"] != json.Number("5") || wire(t, md["custom_metadata"]) != `{"team":"x"}` {
		t.Fatalf("after second write: %v", md)
	}
	// custom_metadata shows in data reads and writes.
	resp, _ := call(e.b, engine.OpRead, "data/m", "", "version=1")
	if cm := dataOf(t, resp)["metadata"].(map[string]any)["custom_metadata"]; wire(t, cm) != `{"team":"x"}` {
		t.Fatalf("data read custom_metadata %v", cm)
	}
	// An empty object clears it (null on reads, as Vault).
	ok(t, e.b, engine.OpUpdate, "metadata/m", `{"custom_metadata":{}}`, "")
	if md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/m", "", "")); md["custom_metadata"] != nil {
		t.Fatalf("cleared custom_metadata %v", md["custom_metadata"])
	}
	// No field: no-op, and no metadata created.
	if resp := ok(t, e.b, engine.OpUpdate, "metadata/none", `{"unknown":1}`, ""); resp != nil {
		t.Fatalf("no-op answered %+v", resp)
	}
	fails(t, e.b, engine.OpRead, "metadata/none", "", "", engine.ErrNotFound, "")
	// A write creates metadata without versions.
	t2 := e.clock.Now()
	ok(t, e.b, engine.OpUpdate, "metadata/fresh", `{"max_versions":3}`, "")
	want = fmt.Sprintf(`{"cas_required":false,"created_time":%q,"current_version":0,"custom_metadata":null,"delete_version_after":"0s","max_versions":3,"oldest_version":0,"updated_time":%q,"versions":{}}`, f(t2), f(t2))
	if got := wire(t, ok(t, e.b, engine.OpRead, "metadata/fresh", "", "").Data); got != want {
		t.Fatalf("fresh:\n got %s\nwant %s", got, want)
	}
	fails(t, e.b, engine.OpRead, "data/fresh", "", "", engine.ErrNotFound, "")
	if got := wire(t, ok(t, e.b, engine.OpUpdate, "data/fresh", `{"data":{"x":1}}`, "").Data); !strings.Contains(got, `"version":1`) {
		t.Fatalf("first version after metadata: %s", got)
	}
	if md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/fresh", "", "")); md["created_time"] != f(t2) {
		t.Fatalf("created_time moved: %v", md["created_time"])
	}

	// cas_required false on a mount that requires cas: Vault's warning.
	ok(t, e.b, engine.OpUpdate, "config", `{"cas_required":true}`, "")
	resp = ok(t, e.b, engine.OpUpdate, "metadata/m", `{"cas_required":false}`, "")
	if resp == nil || resp.Data != nil || len(resp.Warnings) != 1 || resp.Warnings[0] != `"cas_required" set to false, but is mandated by backend config. This value will be ignored.` {
		t.Fatalf("warning: %+v", resp)
	}
}

func TestMetadataErrors(t *testing.T) {
	e := newV2(t)
	long := strings.Repeat("k", 129)
	for _, c := range []struct{ body, msg string }{
		{`{"max_versions":"x"}`, `Field validation failed: error converting input x for field "max_versions": cannot parse '' as int: strconv.ParseInt: parsing "x": invalid syntax`},
		{`{"max_versions":-1}`, `Field validation failed: error converting input -1 for field "max_versions": max_versions must be between 0 and 4294967295`},
		{`{"cas_required":"maybe"}`, `Field validation failed: error converting input maybe for field "cas_required": cannot parse '' as bool: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{`{"cas_required":[true]}`, ""},
		{`{"custom_metadata":"x"}`, `Field validation failed: error converting input for field "custom_metadata": '' expected a map, got 'string'`},
		{`{"custom_metadata":{"a":{"b":1}}}`, `custom_metadata validation failed: value for key "a" must be a string, got unconvertible type 'map'`},
		{`{"custom_metadata":{"a":""}}`, "1 error occurred:\n\t* custom_metadata validation failed: length of value for key \"a\" is 0 but must be 0 < len(value) <= 512\n\n"},
		{`{"custom_metadata":{"` + long + `":"\u0007"}}`, "2 errors occurred:\n\t* custom_metadata validation failed: length of key \"" + long + "\" is 129 but must be 0 < len(key) <= 128\n\t* custom_metadata validation failed: value for key \"" + long + "\" contains unprintable characters\n\n"},
		{`{"custom_metadata":{"k\u0001":"v"}}`, "1 error occurred:\n\t* custom_metadata validation failed: key \"k\\x01\" (k\x01) contains unprintable characters\n\n"},
		{`{"max_versions":1,"custom_metadata":` + manyKeys(65) + `}`, "1 error occurred:\n\t* custom_metadata validation failed: payload must contain at most 64 keys, provided 65\n\n"},
		{`[1]`, "failed to parse JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"},
	} {
		fails(t, e.b, engine.OpUpdate, "metadata/m", c.body, "", engine.ErrBadRequest, c.msg)
	}
	if keys := rawKeys(t, e.view, nil); len(keys) != 0 {
		t.Fatalf("records after refused writes: %d", len(keys))
	}
	fails(t, e.b, engine.OpUpdate, "metadata/", `{"max_versions":1}`, "", engine.ErrBadRequest, "missing path")
	fails(t, e.b, engine.OpUpdate, "metadata/a/", `{"max_versions":1}`, "", ErrInvalidPath, `invalid path "a/": a secret path cannot end with a slash`)
	ok(t, e.b, engine.OpUpdate, "metadata/m", `{"custom_metadata":`+manyKeys(64)+`}`, "")
}

func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestMetadataPatch(t *testing.T) {
	e := newV2(t)
	fails(t, e.b, engine.OpPatch, "metadata/p", `{"max_versions":1}`, "", engine.ErrNotFoundNoBody, "")
	ok(t, e.b, engine.OpUpdate, "metadata/p", `{"max_versions":4,"cas_required":true,"delete_version_after":"1h","custom_metadata":{"a":"1","b":"2"}}`, "")
	ok(t, e.b, engine.OpPatch, "metadata/p", `{"custom_metadata":{"a":null,"c":"3"},"max_versions":6}`, "")
	md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/p", "", ""))
	if md["max_versions"] != json.Number("6") || md["cas_required"] != true || md["delete_version_after"] != "1h0m0s" ||
		wire(t, md["custom_metadata"]) != `{"b":"2","c":"3"}` {
		t.Fatalf("after patch: %v", md)
	}
	ok(t, e.b, engine.OpPatch, "metadata/p", `{"delete_version_after":"0s","cas_required":false}`, "")
	md = dataOf(t, ok(t, e.b, engine.OpRead, "metadata/p", "", ""))
	if md["delete_version_after"] != "0s" || md["cas_required"] != false || md["max_versions"] != json.Number("6") {
		t.Fatalf("after second patch: %v", md)
	}
	ok(t, e.b, engine.OpPatch, "metadata/p", `{"custom_metadata":null}`, "")
	if md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/p", "", "")); md["custom_metadata"] != nil {
		t.Fatalf("custom_metadata null: %v", md["custom_metadata"])
	}
	fails(t, e.b, engine.OpPatch, "metadata/p", `{"custom_metadata":{"a":""}}`, "", engine.ErrBadRequest, "")
}

func TestMetadataDelete(t *testing.T) {
	e := newV2(t)
	for i := range 3 {
		ok(t, e.b, engine.OpUpdate, "data/a/b/s", fmt.Sprintf(`{"data":{"i":%d}}`, i), "")
	}
	ok(t, e.b, engine.OpUpdate, "data/a/b/keep", `{"data":{"i":1}}`, "")
	ok(t, e.b, engine.OpUpdate, "data/a/b/sx", `{"data":{"i":1}}`, "")
	ok(t, e.b, engine.OpDelete, "metadata/a/b/s", "", "")
	fails(t, e.b, engine.OpRead, "metadata/a/b/s", "", "", engine.ErrNotFound, "")
	fails(t, e.b, engine.OpRead, "data/a/b/s", "", "version=1", engine.ErrNotFound, "")
	if n := len(rawKeys(t, e.view, versionPrefix("a/b/s"))); n != 0 {
		t.Fatalf("%d version records left", n)
	}
	if n := len(rawKeys(t, e.view, versionPrefix("a/b/sx"))); n != 1 {
		t.Fatalf("neighbour lost its versions: %d", n)
	}
	// Deleting what is not there is fine.
	ok(t, e.b, engine.OpDelete, "metadata/a/b/s", "", "")
	ok(t, e.b, engine.OpDelete, "metadata/", "", "")
	// Writing again starts at version 1.
	if got := wire(t, ok(t, e.b, engine.OpUpdate, "data/a/b/s", `{"data":{"i":9}}`, "").Data); !strings.Contains(got, `"version":1`) {
		t.Fatalf("rewrite: %s", got)
	}
}

func TestListFolders(t *testing.T) {
	e := newV2(t)
	for _, p := range []string{"top", "a/x", "a/b/c", "a/b/d/e", "z/y", "a/b/c2"} {
		ok(t, e.b, engine.OpUpdate, "data/"+p, `{"data":{"v":1}}`, "")
	}
	ok(t, e.b, engine.OpUpdate, "metadata/a/metaonly", `{"max_versions":2}`, "")
	list := func(path, query string) string {
		t.Helper()
		return wire(t, ok(t, e.b, engine.OpList, path, "", query).Data)
	}
	for path, want := range map[string]string{
		"metadata/":      `{"keys":["a/","top","z/"]}`,
		"metadata":       `{"keys":["a/","top","z/"]}`,
		"metadata/a/":    `{"keys":["b/","metaonly","x"]}`,
		"metadata/a":     `{"keys":["b/","metaonly","x"]}`,
		"metadata/a/b/":  `{"keys":["c","c2","d/"]}`,
		"metadata/a/b/d": `{"keys":["e"]}`,
	} {
		if got := list(path, ""); got != want {
			t.Errorf("LIST %s: %s, want %s", path, got, want)
		}
	}
	fails(t, e.b, engine.OpList, "metadata/nope/", "", "", engine.ErrNotFound, "")
	fails(t, e.b, engine.OpList, "metadata/top/", "", "", engine.ErrNotFound, "")
	fails(t, e.b, engine.OpList, "metadata/a//", "", "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpList, "metadata/../", "", "", engine.ErrBadRequest, "path cannot contain parent references")

	// exclude_deleted leaves out secrets whose current version is deleted.
	ok(t, e.b, engine.OpDelete, "data/a/x", "", "")
	if got := list("metadata/a/", "exclude_deleted=true"); got != `{"keys":["b/","metaonly"]}` {
		t.Errorf("exclude_deleted: %s", got)
	}
	if got := list("metadata/a/", ""); got != `{"keys":["b/","metaonly","x"]}` {
		t.Errorf("without exclude_deleted: %s", got)
	}

	// Removing the last secret of a folder removes the folder, up the tree.
	ok(t, e.b, engine.OpDelete, "metadata/a/b/d/e", "", "")
	if got := list("metadata/a/b", ""); got != `{"keys":["c","c2"]}` {
		t.Errorf("after removing d/e: %s", got)
	}
	for _, p := range []string{"a/b/c", "a/b/c2", "a/x", "a/metaonly", "z/y", "top"} {
		ok(t, e.b, engine.OpDelete, "metadata/"+p, "", "")
	}
	fails(t, e.b, engine.OpList, "metadata/", "", "", engine.ErrNotFound, "")
	if keys := rawKeys(t, e.view, nil); len(keys) != 0 {
		t.Fatalf("records left after deleting everything: %q", keys)
	}
}

// TestListHundredThousand lists a folder of 100,000 secrets: the listing
// reads keys only (no Get), in pages of at most listPage keys.
func TestListHundredThousand(t *testing.T) {
	const n = 100_000
	e := newV2(t)
	ctx := context.Background()
	rec, err := json.Marshal(&secretRecord{Current: 1, Created: 1, Updated: 1, Versions: []versionRecord{{Created: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	const batch = 20_000
	for lo := 0; lo < n; lo += batch {
		err := e.view.Update(ctx, func(tx *seal.Tx) error {
			for i := lo; i < lo+batch; i++ {
				if err := tx.Set(entryKey(fmt.Sprintf("big/s%06d", i)), rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := e.view.Update(ctx, func(tx *seal.Tx) error { return ensureFolders(tx, "big/s000000") }); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{store: e.b.st}
	b := &v2Backend{st: cs, now: e.clock.Now}
	resp := ok(t, b, engine.OpList, "metadata/big/", "", "")
	keys := resp.Data.(listResponse).Keys
	if len(keys) != n || keys[0] != "s000000" || keys[n-1] != fmt.Sprintf("s%06d", n-1) {
		t.Fatalf("%d keys, first %q", len(keys), keys[0])
	}
	for i := 1; i < n; i++ {
		if keys[i-1] >= keys[i] {
			t.Fatalf("keys out of order at %d", i)
		}
	}
	if cs.gets != 0 || cs.unpaged || cs.maxLimit > listPage || cs.lists < n/listPage {
		t.Fatalf("gets %d, lists %d, max limit %d, unpaged %v", cs.gets, cs.lists, cs.maxLimit, cs.unpaged)
	}
	if got := wire(t, ok(t, b, engine.OpList, "metadata/", "", "").Data); got != `{"keys":["big/"]}` {
		t.Fatalf("root: %s", got)
	}
}
