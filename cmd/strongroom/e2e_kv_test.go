package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// kvServer starts a shamir server, initialised and unsealed, with kv-v2 at
// secret/ (`vault secrets enable -path=secret kv-v2`) and kv v1 at kv1/
// (`vault secrets enable -version=1 -path=kv1 kv`).
func kvServer(t *testing.T) (*proc, *vault.Client, string) {
	t.Helper()
	p, c, _ := initUnsealed(t, 1, 1)
	if err := c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Mount("kv1", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	dbPath := ""
	for _, f := range strings.Fields(p.cmd.String()) {
		if strings.HasSuffix(f, ".hcl") {
			dbPath = filepath.Join(filepath.Dir(f), "data", "strongroom.db")
		}
	}
	return p, c, dbPath
}

// cliPreflight makes the request `vault kv` makes before every command.
func cliPreflight(t *testing.T, c *vault.Client, path string) (string, string) {
	t.Helper()
	sec, err := c.Logical().Read("sys/internal/ui/mounts/" + path)
	if err != nil {
		t.Fatalf("preflight %s: %v", path, err)
	}
	opts, _ := sec.Data["options"].(map[string]any)
	v, _ := opts["version"].(string)
	mp, _ := sec.Data["path"].(string)
	return mp, v
}

// TestKVGuideFlow follows the KV flow of a cloud provider's KMS guide with
// the requests the vault CLI makes for each command.
func TestKVGuideFlow(t *testing.T) {
	_, c, dbPath := kvServer(t)
	lg := c.Logical()

	// vault kv put -mount=secret identity_user_1 firstname=John lastname=Doe
	if mp, v := cliPreflight(t, c, "secret/identity_user_1"); mp != "secret/" || v != "2" {
		t.Fatalf("preflight: mount %q version %q", mp, v)
	}
	w, err := lg.Write("secret/data/identity_user_1", map[string]any{
		"data": map[string]any{"firstname": "John", "lastname": "Doe"}, "options": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Data["version"] != json.Number("1") || w.Data["destroyed"] != false || w.Data["deletion_time"] != "" {
		t.Fatalf("put response: %v", w.Data)
	}
	// vault kv get -mount=secret identity_user_1
	r, err := lg.ReadWithData("secret/data/identity_user_1", nil)
	if err != nil {
		t.Fatal(err)
	}
	data := r.Data["data"].(map[string]any)
	if data["firstname"] != "John" || data["lastname"] != "Doe" {
		t.Fatalf("get: %v", r.Data)
	}
	// second put, then get -version=1
	lg.Write("secret/data/identity_user_1", map[string]any{"data": map[string]any{"firstname": "Jane"}, "options": map[string]any{}})
	r, err = lg.ReadWithData("secret/data/identity_user_1", map[string][]string{"version": {"1"}})
	if err != nil || r.Data["data"].(map[string]any)["firstname"] != "John" {
		t.Fatalf("get -version=1: %v %v", r, err)
	}
	// vault kv delete (twice): each soft-deletes the latest version.
	if _, err := lg.Delete("secret/data/identity_user_1"); err != nil {
		t.Fatal(err)
	}
	// A get now shows the metadata without data, with a 404, as Vault does.
	raw, err := lg.ReadRawWithData("secret/data/identity_user_1", nil)
	if raw == nil || raw.StatusCode != 404 {
		t.Fatalf("get of a deleted version: %v %v", raw, err)
	}
	sec, perr := vault.ParseSecret(raw.Body)
	raw.Body.Close()
	if perr != nil || sec == nil || sec.Data["data"] != nil {
		t.Fatalf("deleted version body: %+v %v", sec, perr)
	}
	md := sec.Data["metadata"].(map[string]any)
	if md["deletion_time"] == "" || md["version"] != json.Number("2") || md["destroyed"] != false {
		t.Fatalf("deleted version metadata: %v", md)
	}
	lg.Delete("secret/data/identity_user_1")
	meta, _ := lg.Read("secret/metadata/identity_user_1")
	versions := meta.Data["versions"].(map[string]any)
	if versions["2"].(map[string]any)["deletion_time"] == "" {
		t.Fatalf("metadata after deletes: %v", versions)
	}
	// vault kv undelete -versions=2 (the CLI sends the versions as strings).
	if _, err := lg.Write("secret/undelete/identity_user_1", map[string]any{"versions": []string{"2"}}); err != nil {
		t.Fatal(err)
	}
	r, err = lg.ReadWithData("secret/data/identity_user_1", map[string][]string{"version": {"2"}})
	if err != nil || r == nil || r.Data["data"].(map[string]any)["firstname"] != "Jane" {
		t.Fatalf("get -version=2 after undelete: %v %v", r, err)
	}
	// vault kv destroy -versions=1
	before, _ := os.ReadFile(dbPath)
	if _, err := lg.Write("secret/destroy/identity_user_1", map[string]any{"versions": []string{"1"}}); err != nil {
		t.Fatal(err)
	}
	// vault kv undelete -versions=1 cannot restore it.
	lg.Write("secret/undelete/identity_user_1", map[string]any{"versions": []string{"1"}})
	raw, _ = lg.ReadRawWithData("secret/data/identity_user_1", map[string][]string{"version": {"1"}})
	if raw == nil || raw.StatusCode != 404 {
		t.Fatalf("get of a destroyed version: %v", raw)
	}
	sec, _ = vault.ParseSecret(raw.Body)
	raw.Body.Close()
	if sec.Data["metadata"].(map[string]any)["destroyed"] != true {
		t.Fatalf("destroyed version metadata: %v", sec.Data)
	}
	// vault kv get -version=2
	if r, err = lg.ReadWithData("secret/data/identity_user_1", map[string][]string{"version": {"2"}}); err != nil || r.Data["data"].(map[string]any)["firstname"] != "Jane" {
		t.Fatalf("get -version=2: %v %v", r, err)
	}
	_ = before
}

// TestKVClientHelpers drives KV v2 and v1 through the Vault client's KVv2
// and KVv1 helpers.
func TestKVClientHelpers(t *testing.T) {
	_, c, _ := kvServer(t)
	ctx := context.Background()
	kv2 := c.KVv2("secret")
	if _, err := kv2.Put(ctx, "app/db", map[string]any{"user": "app", "pass": "s3cret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv2.Put(ctx, "app/db", map[string]any{"user": "app2"}, vault.WithCheckAndSet(1)); err != nil {
		t.Fatalf("cas put: %v", err)
	}
	_, err := kv2.Put(ctx, "app/db", map[string]any{"user": "x"}, vault.WithCheckAndSet(1))
	wantStatus(t, err, 400, "check-and-set parameter did not match the current version")
	s, err := kv2.Get(ctx, "app/db")
	if err != nil || s.Data["user"] != "app2" || s.VersionMetadata.Version != 2 {
		t.Fatalf("get: %+v %v", s, err)
	}
	if _, err := kv2.Patch(ctx, "app/db", map[string]any{"pass": "new"}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	s, _ = kv2.Get(ctx, "app/db")
	if s.Data["user"] != "app2" || s.Data["pass"] != "new" || s.VersionMetadata.Version != 3 {
		t.Fatalf("after patch: %+v", s.Data)
	}
	if err := kv2.PutMetadata(ctx, "app/db", vault.KVMetadataPutInput{MaxVersions: 2, CustomMetadata: map[string]any{"owner": "team-a"}}); err != nil {
		t.Fatal(err)
	}
	m, err := kv2.GetMetadata(ctx, "app/db")
	if err != nil || m.MaxVersions != 2 || m.CustomMetadata["owner"] != "team-a" || m.CurrentVersion != 3 {
		t.Fatalf("metadata: %+v %v", m, err)
	}
	kv2.Put(ctx, "app/db", map[string]any{"v": "4"})
	m, _ = kv2.GetMetadata(ctx, "app/db")
	if m.OldestVersion < 3 || len(m.Versions) > 2 {
		t.Fatalf("max_versions did not prune: oldest %d, %d versions", m.OldestVersion, len(m.Versions))
	}
	kv2.Put(ctx, "app/cache", map[string]any{"x": "y"})
	keys, err := c.Logical().List("secret/metadata/app")
	if err != nil || len(keys.Data["keys"].([]any)) != 2 {
		t.Fatalf("list: %v %v", keys, err)
	}
	top, _ := c.Logical().List("secret/metadata")
	if k := top.Data["keys"].([]any); len(k) != 1 || k[0] != "app/" {
		t.Fatalf("top-level list: %v", top.Data)
	}
	if err := kv2.DeleteMetadata(ctx, "app/db"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv2.Get(ctx, "app/db"); err == nil {
		t.Fatal("secret readable after metadata delete")
	}

	kv1 := c.KVv1("kv1")
	if err := kv1.Put(ctx, "kes/key1", map[string]any{"bytes": "AAAA"}); err != nil {
		t.Fatal(err)
	}
	s1, err := kv1.Get(ctx, "kes/key1")
	if err != nil || s1.Data["bytes"] != "AAAA" {
		t.Fatalf("kv1 get: %+v %v", s1, err)
	}
	l, err := c.Logical().List("kv1/kes")
	if err != nil || len(l.Data["keys"].([]any)) != 1 {
		t.Fatalf("kv1 list: %v %v", l, err)
	}
	if err := kv1.Delete(ctx, "kes/key1"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv1.Get(ctx, "kes/key1"); err == nil {
		t.Fatal("kv1 secret readable after delete")
	}

	// Disabling a mount removes its data; re-enabling starts empty.
	if err := c.Sys().Unmount("secret"); err != nil {
		t.Fatal(err)
	}
	c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"})
	if _, err := c.KVv2("secret").Get(ctx, "app/cache"); err == nil {
		t.Fatal("data survived disable and re-enable")
	}
}

// TestKVBadInput: Vault-style 4xx errors, nothing written.
func TestKVBadInput(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	cases := []struct {
		path string
		body map[string]any
	}{
		{"secret/data/x", map[string]any{"data": "not an object"}},
		{"secret/delete/x", map[string]any{"versions": []any{"one"}}},
		{"secret/destroy/x", map[string]any{"versions": "x"}},
	}
	for _, tc := range cases {
		_, err := lg.Write(tc.path, tc.body)
		if statusCode(err) != 400 {
			t.Errorf("write %s %v: %v, want 400", tc.path, tc.body, err)
		}
	}
	_, err := lg.ReadWithData("secret/data/x", map[string][]string{"version": {"abc"}})
	if statusCode(err) != 400 {
		t.Errorf("bad version: %v", err)
	}
	// Malformed JSON, sent raw.
	mreq, _ := http.NewRequest("PUT", c.Address()+"/v1/secret/data/y", bytes.NewReader([]byte(`{"data":`)))
	mreq.Header.Set("X-Vault-Token", c.Token())
	if mresp, err := http.DefaultClient.Do(mreq); err != nil || mresp.StatusCode != 400 {
		t.Errorf("malformed JSON: %v %v", mresp, err)
	} else {
		mresp.Body.Close()
	}
	// cas_required and no secret yet: a write without cas is refused.
	lg.Write("secret/config", map[string]any{"cas_required": true})
	_, err = lg.Write("secret/data/z", map[string]any{"data": map[string]any{"k": "v"}})
	wantStatus(t, err, 400, "check-and-set parameter required")
	if l, _ := lg.List("secret/metadata"); l != nil {
		t.Fatalf("a refused write left keys: %v", l.Data)
	}
	// Paths with empty or dot segments, sent raw (the Vault client would
	// clean them before sending).
	for _, p := range []string{"/v1/secret/data/a//b", "/v1/secret/data/a/../b", "/v1/secret/data/./b", "/v1/kv1/a//b"} {
		req, _ := http.NewRequest("PUT", c.Address()+p, bytes.NewReader([]byte(`{"data":{"k":"v"}}`)))
		req.Header.Set("X-Vault-Token", c.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("PUT %s: %d, want 400", p, resp.StatusCode)
		}
	}
	if l, _ := lg.List("secret/metadata"); l != nil {
		t.Fatalf("refused writes left keys: %v", l.Data)
	}
	// PATCH without the merge-patch content type: 415, as Vault.
	req, _ := http.NewRequest("PATCH", c.Address()+"/v1/secret/data/x", bytes.NewReader([]byte(`{"data":{}}`)))
	req.Header.Set("X-Vault-Token", c.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 415 {
		t.Fatalf("PATCH with application/json: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestKVLargeValue: a value near the 32 MiB request limit round-trips
// through HTTP and the chunked storage; a body over the limit is 413.
func TestKVLargeValue(t *testing.T) {
	_, c, _ := kvServer(t)
	ctx := context.Background()
	big := strings.Repeat("0123456789abcdef", 30<<20/16) // 30 MiB
	if _, err := c.KVv2("secret").Put(ctx, "big", map[string]any{"blob": big}); err != nil {
		t.Fatal(err)
	}
	s, err := c.KVv2("secret").Get(ctx, "big")
	if err != nil || s.Data["blob"] != big {
		t.Fatalf("30 MiB value did not round-trip: %v", err)
	}
	if err := c.KVv1("kv1").Put(ctx, "big", map[string]any{"blob": big}); err != nil {
		t.Fatal(err)
	}
	if s1, err := c.KVv1("kv1").Get(ctx, "big"); err != nil || s1.Data["blob"] != big {
		t.Fatalf("kv1 30 MiB value: %v", err)
	}
	_, err = c.KVv2("secret").Put(ctx, "too-big", map[string]any{"blob": big + big})
	wantStatus(t, err, 413, "too large")
}

// TestKVPatchMissingIsAnEmpty404: `vault kv patch` and `vault kv metadata
// patch` of a secret that does not exist answer 404 with an empty body, as
// Vault's KV plugin does (RespondWithStatusCode(nil, req, 404)); the CLI
// prints "Raw Message:" with nothing after it.
func TestKVPatchMissingIsAnEmpty404(t *testing.T) {
	_, c, _ := kvServer(t)
	ctx := context.Background()
	for _, path := range []string{"secret/data/missing", "secret/metadata/missing"} {
		body := map[string]any{"max_versions": 1}
		if strings.Contains(path, "/data/") {
			body = map[string]any{"data": map[string]any{"a": 1}}
		}
		_, err := c.Logical().JSONMergePatch(ctx, path, body)
		var re *vault.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || !re.RawError || len(re.Errors) != 1 || re.Errors[0] != "" {
			t.Fatalf("%s: %#v", path, err)
		}
	}
}

// TestPreflightRefusalNamesSanitizedPath: the KV preflight for a path with
// no mount answers 403 naming the path with a trailing slash, as Vault's
// pathInternalUIMountRead does.
func TestPreflightRefusalNamesSanitizedPath(t *testing.T) {
	_, c, _ := kvServer(t)
	_, err := c.Logical().Read("sys/internal/ui/mounts/nope/x")
	wantStatus(t, err, http.StatusForbidden, `grant access to path "nope/x/"`)
}

// TestKVv1RefreshInterval: a KV v1 read carries the lease duration Vault's
// passthrough gives it (`vault read` prints it as refresh_interval): the
// mount's default lease TTL (768h unless tuned), or the secret's own ttl.
func TestKVv1RefreshInterval(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	for path, data := range map[string]map[string]any{"kv1/plain": {"a": "b"}, "kv1/hourly": {"a": "b", "ttl": "1h"}, "kv1/secs": {"a": "b", "lease": 90}} {
		if _, err := lg.Write(path, data); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"kv1/plain": 768 * 3600, "kv1/hourly": 3600, "kv1/secs": 90}
	for path, d := range want {
		s, err := lg.Read(path)
		if err != nil || s == nil || s.LeaseDuration != d || s.LeaseID != "" || s.Renewable {
			t.Fatalf("%s: %+v %v, want lease_duration %d", path, s, err, d)
		}
	}
	// vault secrets tune -default-lease-ttl=2h kv1
	if err := c.Sys().TuneMountAllowNil("kv1", vault.TuneMountConfigInput{DefaultLeaseTTL: ptr("2h")}); err != nil {
		t.Fatal(err)
	}
	if s, err := lg.Read("kv1/plain"); err != nil || s.LeaseDuration != 7200 {
		t.Fatalf("after the tune: %+v %v", s, err)
	}
}
