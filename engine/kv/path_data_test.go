package kv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

func TestDataWriteRead(t *testing.T) {
	e := newV2(t)
	created := e.clock.Now()
	resp := ok(t, e.b, engine.OpUpdate, "data/app/db", `{"data":{"user":"u","pass":"p"},"options":{}}`, "")
	want := fmt.Sprintf(`{"created_time":%q,"custom_metadata":null,"deletion_time":"","destroyed":false,"version":1}`,
		created.Format(time.RFC3339Nano))
	if got := wire(t, resp.Data); got != want {
		t.Fatalf("write: %s\nwant %s", got, want)
	}
	e.clock.Add(time.Second)
	ok(t, e.b, engine.OpUpdate, "data/app/db", `{"data":{"user":"u2"}}`, "")

	resp = ok(t, e.b, engine.OpRead, "data/app/db", "", "")
	got := dataOf(t, resp)
	if wire(t, got["data"]) != `{"user":"u2"}` {
		t.Fatalf("read data: %v", got["data"])
	}
	md := got["metadata"].(map[string]any)
	if md["version"] != json.Number("2") || md["deletion_time"] != "" || md["destroyed"] != false ||
		md["created_time"] != created.Add(time.Second).Format(time.RFC3339Nano) || md["custom_metadata"] != nil {
		t.Fatalf("read metadata: %v", md)
	}
	resp = ok(t, e.b, engine.OpRead, "data/app/db", "", "version=1")
	if got := dataOf(t, resp); wire(t, got["data"]) != `{"pass":"p","user":"u"}` {
		t.Fatalf("version 1: %v", got)
	}
	// version=0 and an empty version are the current one.
	for _, q := range []string{"version=0", "version=", "version=-3"} {
		if got := dataOf(t, ok(t, e.b, engine.OpRead, "data/app/db", "", q)); got["metadata"].(map[string]any)["version"] != json.Number("2") {
			t.Fatalf("%s: %v", q, got)
		}
	}
	fails(t, e.b, engine.OpRead, "data/app/db", "", "version=3", engine.ErrNotFound, "")
	fails(t, e.b, engine.OpRead, "data/app/other", "", "", engine.ErrNotFound, "")
	fails(t, e.b, engine.OpRead, "data/app/db", "", "version=abc", engine.ErrBadRequest,
		`Field validation failed: error converting input abc for field "version": cannot parse '' as int: strconv.ParseInt: parsing "abc": invalid syntax`)
}

func TestDataNumbersRoundTrip(t *testing.T) {
	e := newV2(t)
	body := `{"data":{"i64":9223372036854775807,"big":123456789012345678901234567890,"neg":-9007199254740993,"f":1.5e300,"nested":{"a":[1,2,{"b":null}]},"t":true,"s":"x"}}`
	ok(t, e.b, engine.OpUpdate, "data/n", body, "")
	got := wire(t, dataOf(t, ok(t, e.b, engine.OpRead, "data/n", "", ""))["data"])
	want := `{"big":123456789012345678901234567890,"f":1.5e300,"i64":9223372036854775807,"neg":-9007199254740993,"nested":{"a":[1,2,{"b":null}]},"s":"x","t":true}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestDataWriteErrors(t *testing.T) {
	e := newV2(t)
	for _, c := range []struct{ body, msg string }{
		{``, "no data provided"},
		{`{}`, "no data provided"},
		{`{"options":{"cas":0}}`, "no data provided"},
		{`{"data":`, "failed to parse JSON input: unexpected end of JSON input"},
		{`{"data":{"password":"hunter2"`, "failed to parse JSON input: unexpected end of JSON input"},
		{`{"data":{}} x`, "failed to parse JSON input: invalid character 'x' after top-level value"},
		{`[1,2]`, "failed to parse JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{`"hunter2"`, "failed to parse JSON input: json: cannot unmarshal string into Go value of type map[string]interface {}"},
		{`{"data":"hunter2"}`, `Field validation failed: error converting input for field "data": '' expected a map, got 'string'`},
		{`{"data":[1]}`, `Field validation failed: error converting input for field "data": '' expected a map, got 'slice'`},
		{`{"data":{"a":1},"options":"x"}`, `Field validation failed: error converting input for field "options": '' expected a map, got 'string'`},
		{`{"data":{"a":1},"options":{"cas":"x"}}`, "error parsing check-and-set parameter"},
		{`{"data":{"a":1},"options":{"cas":1.5}}`, "error parsing check-and-set parameter"},
		{`{"data":{"a":1},"options":{"cas":{}}}`, "error parsing check-and-set parameter"},
	} {
		fails(t, e.b, engine.OpUpdate, "data/x", c.body, "", engine.ErrBadRequest, c.msg)
	}
	// Nothing was written.
	if keys := rawKeys(t, e.view, nil); len(keys) != 0 {
		t.Fatalf("records after refused writes: %q", keys)
	}
	// "data": null stores an empty object.
	ok(t, e.b, engine.OpUpdate, "data/x", `{"data":null}`, "")
	if got := wire(t, dataOf(t, ok(t, e.b, engine.OpRead, "data/x", "", ""))["data"]); got != `{}` {
		t.Fatalf("null data: %s", got)
	}
}

func TestCAS(t *testing.T) {
	e := newV2(t)
	write := func(path, body string) error {
		_, err := call(e.b, engine.OpUpdate, path, body, "")
		return err
	}
	// cas 0: only when the secret does not exist.
	if err := write("data/c", `{"data":{"v":1},"options":{"cas":0}}`); err != nil {
		t.Fatal(err)
	}
	fails(t, e.b, engine.OpUpdate, "data/c", `{"data":{"v":2},"options":{"cas":0}}`, "", ErrCASMismatch,
		"check-and-set parameter did not match the current version")
	fails(t, e.b, engine.OpUpdate, "data/c", `{"data":{"v":2},"options":{"cas":2}}`, "", ErrCASMismatch, "")
	fails(t, e.b, engine.OpUpdate, "data/c", `{"data":{"v":2},"options":{"cas":-1}}`, "", ErrCASMismatch, "")
	// A numeric string and null (= 0) are accepted as Vault's weak decoding does.
	if err := write("data/c", `{"data":{"v":2},"options":{"cas":"1"}}`); err != nil {
		t.Fatal(err)
	}
	if err := write("data/new", `{"data":{"v":1},"options":{"cas":null}}`); err != nil {
		t.Fatal(err)
	}

	// cas_required on the mount.
	ok(t, e.b, engine.OpUpdate, "config", `{"cas_required":true}`, "")
	fails(t, e.b, engine.OpUpdate, "data/c", `{"data":{"v":3}}`, "", ErrCASRequired, "check-and-set parameter required for this call")
	fails(t, e.b, engine.OpUpdate, "data/missing", `{"data":{"v":1}}`, "", ErrCASRequired, "")
	fails(t, e.b, engine.OpUpdate, "data/missing", `{"data":{"v":1},"options":{"cas":1}}`, "", ErrCASMismatch, "")
	fails(t, e.b, engine.OpPatch, "data/c", `{"data":{"v":3}}`, "", ErrCASRequired, "")
	ok(t, e.b, engine.OpPatch, "data/c", `{"data":{"v":3},"options":{"cas":2}}`, "")
	ok(t, e.b, engine.OpUpdate, "data/missing", `{"data":{"v":1},"options":{"cas":0}}`, "")
	ok(t, e.b, engine.OpUpdate, "config", `{"cas_required":false}`, "")

	// cas_required on the secret's metadata.
	ok(t, e.b, engine.OpUpdate, "metadata/m", `{"cas_required":true}`, "")
	fails(t, e.b, engine.OpUpdate, "data/m", `{"data":{"v":1}}`, "", ErrCASRequired, "")
	ok(t, e.b, engine.OpUpdate, "data/m", `{"data":{"v":1},"options":{"cas":0}}`, "")
	fails(t, e.b, engine.OpUpdate, "data/m", `{"data":{"v":2},"options":{"cas":0}}`, "", ErrCASMismatch, "")
	ok(t, e.b, engine.OpUpdate, "data/m", `{"data":{"v":2},"options":{"cas":1}}`, "")
	if v := dataOf(t, ok(t, e.b, engine.OpRead, "data/m", "", ""))["metadata"].(map[string]any)["version"]; v != json.Number("2") {
		t.Fatalf("version %v", v)
	}
}

func TestPatch(t *testing.T) {
	e := newV2(t)
	fails(t, e.b, engine.OpPatch, "data/p", `{"data":{"a":1}}`, "", engine.ErrNotFoundNoBody, "")
	ok(t, e.b, engine.OpUpdate, "data/p", `{"data":{"a":1,"b":{"c":2,"d":3},"e":[1,2],"keep":"k"}}`, "")
	resp := ok(t, e.b, engine.OpPatch, "data/p", `{"data":{"a":null,"b":{"c":null,"x":{"y":null,"z":1}},"e":[3],"new":"n"}}`, "")
	if md := dataOf(t, resp); md["version"] != json.Number("2") || md["deletion_time"] != "" {
		t.Fatalf("patch response: %v", md)
	}
	got := wire(t, dataOf(t, ok(t, e.b, engine.OpRead, "data/p", "", ""))["data"])
	if want := `{"b":{"d":3,"x":{"z":1}},"e":[3],"keep":"k","new":"n"}`; got != want {
		t.Fatalf("patched: %s\nwant %s", got, want)
	}
	fails(t, e.b, engine.OpPatch, "data/p", `{"options":{}}`, "", engine.ErrBadRequest, "no data provided")
	fails(t, e.b, engine.OpPatch, "data/p", `{"data":"x"}`, "", engine.ErrBadRequest, "")

	req := &engine.Request{Operation: engine.OpPatch, Path: "data/p", Body: []byte(`{"data":{"a":1}}`), ContentType: "application/json"}
	if _, err := e.b.HandleRequest(t.Context(), req); err == nil || err.Error() != `PATCH requires Content-Type of application/merge-patch+json, got "application/json"` {
		t.Fatalf("content type: %v", err)
	}

	// A deleted current version cannot be patched: 404 with its metadata.
	ok(t, e.b, engine.OpDelete, "data/p", "", "")
	resp, err := call(e.b, engine.OpPatch, "data/p", `{"data":{"a":1}}`, "")
	if err != nil || resp.Status != http.StatusNotFound {
		t.Fatalf("patch of deleted: %+v %v", resp, err)
	}
	if md := dataOf(t, resp); md["version"] != json.Number("2") || md["deletion_time"] == "" || md["destroyed"] != false {
		t.Fatalf("patch of deleted: %v", md)
	}
	// Metadata without versions: 404.
	ok(t, e.b, engine.OpUpdate, "metadata/only", `{"max_versions":3}`, "")
	fails(t, e.b, engine.OpPatch, "data/only", `{"data":{"a":1}}`, "", engine.ErrNotFoundNoBody, "")
}

func TestDeleteUndeleteDestroy(t *testing.T) {
	e := newV2(t)
	for i := 1; i <= 3; i++ {
		ok(t, e.b, engine.OpUpdate, "data/d", fmt.Sprintf(`{"data":{"v":%d}}`, i), "")
		e.clock.Add(time.Second)
	}
	// DELETE data/: soft-deletes the current version.
	deletedAt := e.clock.Now()
	if resp := ok(t, e.b, engine.OpDelete, "data/d", "", ""); resp != nil {
		t.Fatalf("delete answered %+v", resp)
	}
	resp, err := call(e.b, engine.OpRead, "data/d", "", "")
	if err != nil || resp.Status != http.StatusNotFound {
		t.Fatalf("read deleted: %+v %v", resp, err)
	}
	got := dataOf(t, resp)
	if got["data"] != nil || got["metadata"].(map[string]any)["deletion_time"] != deletedAt.Format(time.RFC3339Nano) {
		t.Fatalf("read deleted: %v", got)
	}
	// Deleting again keeps the first deletion time.
	e.clock.Add(time.Second)
	ok(t, e.b, engine.OpDelete, "data/d", "", "")
	resp, _ = call(e.b, engine.OpRead, "data/d", "", "")
	if dataOf(t, resp)["metadata"].(map[string]any)["deletion_time"] != deletedAt.Format(time.RFC3339Nano) {
		t.Fatal("second delete moved deletion_time")
	}
	// Deleting a missing secret is fine.
	ok(t, e.b, engine.OpDelete, "data/none", "", "")

	// delete/: versions as a list, a number, a comma-separated string.
	ok(t, e.b, engine.OpUpdate, "delete/d", `{"versions":[1]}`, "")
	ok(t, e.b, engine.OpUpdate, "delete/d", `{"versions":"2,99"}`, "")
	for v := 1; v <= 3; v++ {
		resp, _ := call(e.b, engine.OpRead, "data/d", "", fmt.Sprintf("version=%d", v))
		if resp == nil || resp.Status != http.StatusNotFound {
			t.Fatalf("version %d not deleted: %+v", v, resp)
		}
	}
	// undelete/ restores.
	ok(t, e.b, engine.OpUpdate, "undelete/d", `{"versions":["1",3]}`, "")
	if got := dataOf(t, ok(t, e.b, engine.OpRead, "data/d", "", "version=1")); wire(t, got["data"]) != `{"v":1}` {
		t.Fatalf("undeleted v1: %v", got)
	}
	ok(t, e.b, engine.OpRead, "data/d", "", "")
	resp, _ = call(e.b, engine.OpRead, "data/d", "", "version=2")
	if resp == nil || resp.Status != http.StatusNotFound {
		t.Fatal("version 2 came back")
	}

	// destroy/ removes the data record; the metadata keeps destroyed.
	if n := len(rawKeys(t, e.view, versionPrefix("d"))); n != 3 {
		t.Fatalf("%d version records before destroy", n)
	}
	ok(t, e.b, engine.OpUpdate, "destroy/d", `{"versions":1}`, "")
	keys := rawKeys(t, e.view, versionPrefix("d"))
	if len(keys) != 2 || string(keys[0]) != string(versionKey("d", 2)) || string(keys[1]) != string(versionKey("d", 3)) {
		t.Fatalf("records after destroy: %q", keys)
	}
	resp, _ = call(e.b, engine.OpRead, "data/d", "", "version=1")
	if resp == nil || resp.Status != http.StatusNotFound {
		t.Fatal("destroyed version readable")
	}
	if md := dataOf(t, resp)["metadata"].(map[string]any); md["destroyed"] != true || md["deletion_time"] != "" {
		t.Fatalf("destroyed metadata: %v", md)
	}
	// Undelete and delete leave a destroyed version alone.
	ok(t, e.b, engine.OpUpdate, "undelete/d", `{"versions":[1]}`, "")
	ok(t, e.b, engine.OpUpdate, "delete/d", `{"versions":[1]}`, "")
	vs := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/d", "", ""))["versions"].(map[string]any)
	if v1 := vs["1"].(map[string]any); v1["destroyed"] != true || v1["deletion_time"] != "" {
		t.Fatalf("destroyed v1 after undelete/delete: %v", v1)
	}
	// Destroying the current version: reads answer 404 with metadata.
	ok(t, e.b, engine.OpUpdate, "destroy/d", `{"versions":[3]}`, "")
	resp, _ = call(e.b, engine.OpRead, "data/d", "", "")
	if resp == nil || resp.Status != http.StatusNotFound || dataOf(t, resp)["metadata"].(map[string]any)["destroyed"] != true {
		t.Fatalf("destroyed current: %+v", resp)
	}
	if n := len(rawKeys(t, e.view, versionPrefix("d"))); n != 1 {
		t.Fatalf("%d version records, want 1", n)
	}

	// Errors.
	for _, p := range []string{"delete/d", "undelete/d"} {
		fails(t, e.b, engine.OpUpdate, p, `{}`, "", engine.ErrBadRequest, "No version number provided")
		fails(t, e.b, engine.OpUpdate, p, `{"versions":[]}`, "", engine.ErrBadRequest, "No version number provided")
	}
	fails(t, e.b, engine.OpUpdate, "destroy/d", `{"versions":[]}`, "", engine.ErrBadRequest, "no version number provided")
	fails(t, e.b, engine.OpUpdate, "destroy/d", `{"versions":["x"]}`, "", engine.ErrBadRequest,
		`Field validation failed: error converting input x for field "versions": cannot parse '' as int: strconv.ParseInt: parsing "x": invalid syntax`)
	fails(t, e.b, engine.OpUpdate, "delete/d", `{"versions":[1.5]}`, "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpUpdate, "delete/d", `{"versions":{"a":1}}`, "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpUpdate, "delete/d", `{"versions":[[1]]}`, "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpRead, "delete/d", "", "", engine.ErrUnsupportedOperation, "")
	fails(t, e.b, engine.OpDelete, "destroy/d", "", "", engine.ErrUnsupportedOperation, "")
	// A missing secret is a no-op.
	ok(t, e.b, engine.OpUpdate, "destroy/none", `{"versions":[1]}`, "")
	if keys := rawKeys(t, e.view, entryKey("none")); len(keys) != 0 {
		t.Fatal("destroy created metadata")
	}
}

func TestMaxVersionsPrunes(t *testing.T) {
	e := newV2(t)
	for i := 1; i <= 12; i++ {
		ok(t, e.b, engine.OpUpdate, "data/p", fmt.Sprintf(`{"data":{"v":%d}}`, i), "")
	}
	md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/p", "", ""))
	if md["current_version"] != json.Number("12") || md["oldest_version"] != json.Number("3") || len(md["versions"].(map[string]any)) != 10 {
		t.Fatalf("default max 10: %v", md)
	}
	if n := len(rawKeys(t, e.view, versionPrefix("p"))); n != 10 {
		t.Fatalf("%d version records, want 10", n)
	}
	fails(t, e.b, engine.OpRead, "data/p", "", "version=2", engine.ErrNotFound, "")

	// Lowering max_versions on the secret prunes at the next write, and
	// really deletes the data.
	ok(t, e.b, engine.OpUpdate, "metadata/p", `{"max_versions":2}`, "")
	ok(t, e.b, engine.OpUpdate, "data/p", `{"data":{"v":13}}`, "")
	keys := rawKeys(t, e.view, versionPrefix("p"))
	if len(keys) != 2 || string(keys[0]) != string(versionKey("p", 12)) || string(keys[1]) != string(versionKey("p", 13)) {
		t.Fatalf("records after pruning to 2: %d", len(keys))
	}
	md = dataOf(t, ok(t, e.b, engine.OpRead, "metadata/p", "", ""))
	if md["oldest_version"] != json.Number("12") || wire(t, md["versions"]) == "" || len(md["versions"].(map[string]any)) != 2 {
		t.Fatalf("after pruning: %v", md)
	}

	// The mount's max_versions applies when larger (Vault takes the max).
	ok(t, e.b, engine.OpUpdate, "config", `{"max_versions":3}`, "")
	for i := 0; i < 3; i++ {
		ok(t, e.b, engine.OpUpdate, "data/p", `{"data":{"v":0}}`, "")
	}
	if n := len(rawKeys(t, e.view, versionPrefix("p"))); n != 3 {
		t.Fatalf("%d records with mount max 3", n)
	}
	// Destroyed versions leave the window without a record to delete.
	ok(t, e.b, engine.OpUpdate, "destroy/p", `{"versions":[15,16]}`, "")
	ok(t, e.b, engine.OpUpdate, "data/p", `{"data":{"v":17}}`, "")
	if n := len(rawKeys(t, e.view, versionPrefix("p"))); n != 1 {
		t.Fatalf("%d records, want 1 (16 destroyed, 17 live)", n)
	}
}

func TestDeleteVersionAfter(t *testing.T) {
	e := newV2(t)
	ok(t, e.b, engine.OpUpdate, "config", `{"delete_version_after":"1h"}`, "")
	if got := wire(t, ok(t, e.b, engine.OpRead, "config", "", "").Data); got != `{"cas_required":false,"delete_version_after":"1h0m0s","max_versions":0}` {
		t.Fatalf("config: %s", got)
	}
	created := e.clock.Now()
	resp := ok(t, e.b, engine.OpUpdate, "data/t", `{"data":{"a":1}}`, "")
	wantDeletion := created.Add(time.Hour).Format(time.RFC3339Nano)
	if md := dataOf(t, resp); md["deletion_time"] != wantDeletion {
		t.Fatalf("write deletion_time %v, want %s", md["deletion_time"], wantDeletion)
	}
	// Readable until then.
	e.clock.Add(59 * time.Minute)
	ok(t, e.b, engine.OpRead, "data/t", "", "")
	e.clock.Add(2 * time.Minute)
	resp, err := call(e.b, engine.OpRead, "data/t", "", "")
	if err != nil || resp.Status != http.StatusNotFound || dataOf(t, resp)["metadata"].(map[string]any)["deletion_time"] != wantDeletion {
		t.Fatalf("after delete_version_after: %+v %v", resp, err)
	}
	// The secret's shorter setting wins (the shorter of the two).
	ok(t, e.b, engine.OpUpdate, "metadata/t", `{"delete_version_after":"10m"}`, "")
	now := e.clock.Now()
	if md := dataOf(t, ok(t, e.b, engine.OpUpdate, "data/t", `{"data":{"a":2}}`, "")); md["deletion_time"] != now.Add(10*time.Minute).Format(time.RFC3339Nano) {
		t.Fatalf("secret dva: %v", md)
	}
	if md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/t", "", "")); md["delete_version_after"] != "10m0s" {
		t.Fatalf("metadata dva %v", md["delete_version_after"])
	}
	// Undelete counts delete_version_after from now.
	e.clock.Add(time.Hour)
	now = e.clock.Now()
	ok(t, e.b, engine.OpUpdate, "undelete/t", `{"versions":[1]}`, "")
	if md := dataOf(t, ok(t, e.b, engine.OpRead, "data/t", "", "version=1"))["metadata"].(map[string]any); md["deletion_time"] != now.Add(10*time.Minute).Format(time.RFC3339Nano) {
		t.Fatalf("undelete deletion_time %v", md)
	}
	// A negative duration disables it on the mount: no deletion time.
	ok(t, e.b, engine.OpUpdate, "config", `{"delete_version_after":-1}`, "")
	if got := dataOf(t, ok(t, e.b, engine.OpRead, "config", "", "")); got["delete_version_after"] != "-1s" {
		t.Fatalf("disabled config: %v", got)
	}
	if md := dataOf(t, ok(t, e.b, engine.OpUpdate, "data/t", `{"data":{"a":3}}`, "")); md["deletion_time"] != "" {
		t.Fatalf("disabled dva set deletion_time %v", md)
	}
	// Zero clears it; numbers are seconds.
	ok(t, e.b, engine.OpUpdate, "config", `{"delete_version_after":0}`, "")
	ok(t, e.b, engine.OpUpdate, "metadata/t", `{"delete_version_after":10800}`, "")
	if md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/t", "", "")); md["delete_version_after"] != "3h0m0s" {
		t.Fatalf("metadata dva %v", md["delete_version_after"])
	}
	fails(t, e.b, engine.OpUpdate, "metadata/t", `{"delete_version_after":"-5s"}`, "", engine.ErrBadRequest,
		`Field validation failed: error converting input -5s for field "delete_version_after": cannot provide negative value '-5'`)
	fails(t, e.b, engine.OpUpdate, "config", `{"delete_version_after":"soon"}`, "", engine.ErrBadRequest, "")
	fails(t, e.b, engine.OpUpdate, "config", `{"delete_version_after":true}`, "", engine.ErrBadRequest, "")
}

func TestConcurrentWritesOneSecret(t *testing.T) {
	e := newV2(t)
	ok(t, e.b, engine.OpUpdate, "metadata/c", `{"max_versions":100}`, "")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 4 {
		wg.Go(func() {
			for i := range 5 {
				_, err := call(e.b, engine.OpUpdate, "data/c", fmt.Sprintf(`{"data":{"g":%d,"i":%d}}`, g, i), "")
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/c", "", ""))
	if md["current_version"] != json.Number("20") || len(md["versions"].(map[string]any)) != 20 {
		t.Fatalf("after 20 concurrent writes: %v", md["current_version"])
	}
	if n := len(rawKeys(t, e.view, versionPrefix("c"))); n != 20 {
		t.Fatalf("%d version records", n)
	}
}

// TestCloseForgetsDecodedMetadata: a read leaves the secret's decoded
// metadata in readCache; closing the backend (its tenant sealed or
// unloaded, or the mount disabled) takes it out again.
func TestCloseForgetsDecodedMetadata(t *testing.T) {
	saved := readCache // package state: other tests' records would blur the count
	readCache = seal.NewDecodedCache(decodedCacheMax, decodedRecordMax)
	t.Cleanup(func() { readCache = saved })
	e := newV2(t)
	ok(t, e.b, engine.OpUpdate, "data/app/db", `{"data":{"user":"u"}}`, "")
	ok(t, e.b, engine.OpRead, "data/app/db", "", "")
	if n := readCache.Len(); n != 1 {
		t.Fatalf("readCache holds %d records after a read, want 1", n)
	}
	if err := e.b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := readCache.Len(); n != 0 {
		t.Fatalf("readCache holds %d records after Close, want 0", n)
	}
}
