package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// isolationProbe is one request of the isolation table.
type isolationProbe struct {
	family, method, path, body string
}

// isolationProbes covers every route family with reads, writes and lists,
// of paths that exist in the target namespace and of paths that do not.
var isolationProbes = []isolationProbe{
	{"sys", "GET", "sys/mounts", ""},
	{"sys", "POST", "sys/mounts/new", `{"type":"kv"}`},
	{"sys", "GET", "sys/mounts/secret/tune", ""},
	{"sys", "GET", "sys/internal/ui/mounts/secret/app", ""},
	{"sys", "GET", "sys/auth", ""},
	{"sys", "GET", "sys/key-status", ""},
	{"sys", "POST", "sys/rotate", ""},
	{"sys", "POST", "sys/capabilities-self", `{"paths":["secret/data/app"]}`},
	{"sys", "POST", "sys/seal", ""},
	{"token", "GET", "auth/token/lookup-self", ""},
	{"token", "POST", "auth/token/create", `{"policies":["default"]}`},
	{"token", "LIST", "auth/token/accessors", ""},
	{"token", "POST", "auth/token/lookup", `{"token":"s.nope"}`},
	{"policy", "GET", "sys/policies/acl/app", ""},
	{"policy", "GET", "sys/policies/acl/missing", ""},
	{"policy", "LIST", "sys/policies/acl", ""},
	{"policy", "POST", "sys/policies/acl/evil", `{"policy":"path \"*\" {capabilities=[\"sudo\"]}"}`},
	{"kv", "GET", "secret/data/app", ""},
	{"kv", "GET", "secret/data/missing", ""},
	{"kv", "POST", "secret/data/app", `{"data":{"x":"y"}}`},
	{"kv", "LIST", "secret/metadata", ""},
	{"kv", "DELETE", "secret/metadata/app", ""},
	{"transit", "GET", "transit/keys/k", ""},
	{"transit", "GET", "transit/keys/missing", ""},
	{"transit", "LIST", "transit/keys", ""},
	{"transit", "POST", "transit/encrypt/k", `{"plaintext":"aGk="}`},
	{"transit", "POST", "transit/keys/k/rotate", ""},
	{"approle", "LIST", "auth/approle/role", ""},
	{"approle", "GET", "auth/approle/role/app/role-id", ""},
	{"approle", "GET", "auth/approle/role/missing/role-id", ""},
	{"approle", "POST", "auth/approle/role/app/secret-id", ""},
	{"audit", "GET", "sys/audit", ""},
	{"audit", "POST", "sys/audit-hash/log", `{"input":"x"}`},
	{"audit", "PUT", "sys/audit/other", `{"type":"file","options":{"file_path":"discard"}}`},
	{"audit", "DELETE", "sys/audit/log", ""},
	{"cubbyhole", "GET", "cubbyhole/x", ""},
	{"cubbyhole", "POST", "cubbyhole/x", `{"a":"b"}`},
	{"cubbyhole", "LIST", "cubbyhole", ""},
	{"wrapping", "POST", "sys/wrapping/wrap", `{"a":"b"}`},
	// sys/wrapping/unwrap and rewrap check the wrapping token first: 400
	// for any token that is not one, in any namespace (see below).
}

// rawCall sends one request with c's address, token and namespace, and
// returns its status and body.
func rawCall(t *testing.T, c *vault.Client, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.Address()+"/v1/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", c.Token())
	if ns := c.Namespace(); ns != "" {
		req.Header.Set("X-Vault-Namespace", ns)
	}
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestTenantIsolationTable: for every route family, tenant A's root token
// against tenant B, by header and by path prefix, is denied with the same
// answer whether the path exists in B or not; B's own token is served on
// the same paths (so the denials come from the token, not the paths).
func TestTenantIsolationTable(t *testing.T) {
	_, _, p, c, _ := clusterDual(t)
	roots := map[string]string{}
	for _, ns := range []string{"alpha", "bravo"} {
		if _, err := c.Logical().Write("sys/namespaces/"+ns, nil); err != nil {
			t.Fatal(err)
		}
		res := initTenant(t, p.addr, ns)
		roots[ns] = res.RootToken
		tc := nsClient(t, p.addr, ns, res.RootToken)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(tc.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"}))
		must(tc.Sys().Mount("transit", &vault.MountInput{Type: "transit"}))
		must(tc.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}))
		must(tc.Sys().EnableAuditWithOptions("log", &vault.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": "discard"}}))
		must(tc.Sys().PutPolicy("app", `path "secret/*" { capabilities = ["read"] }`))
		_, err := tc.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"owner": ns}})
		must(err)
		_, err = tc.Logical().Write("transit/keys/k", nil)
		must(err)
		_, err = tc.Logical().Write("auth/approle/role/app", map[string]any{"token_policies": "app"})
		must(err)
	}
	// Audit devices in a namespace cannot write files on the node.
	_, err := nsClient(t, p.addr, "alpha", roots["alpha"]).Logical().Write("sys/audit/f", map[string]any{"type": "file", "options": map[string]any{"file_path": "/tmp/x.log"}})
	wantStatus(t, err, 400, "root namespace")

	denied := `{"errors":["permission denied"]}`
	for _, pr := range isolationProbes {
		for _, how := range []string{"header", "prefix"} {
			var cl *vault.Client
			path := pr.path
			if how == "header" {
				cl = nsClient(t, p.addr, "bravo", roots["alpha"])
			} else {
				cl = nsClient(t, p.addr, "", roots["alpha"])
				path = "bravo/" + pr.path
			}
			code, body := rawCall(t, cl, pr.method, path, pr.body)
			if code != http.StatusForbidden || body != denied {
				t.Errorf("%s %s %s by %s with alpha's token: %d %s", pr.family, pr.method, pr.path, how, code, body)
			}
		}
	}
	// The control: bravo's own token reads what alpha's could not.
	b := nsClient(t, p.addr, "bravo", roots["bravo"])
	for _, path := range []string{"secret/data/app", "transit/keys/k", "sys/policies/acl/app", "auth/approle/role/app/role-id", "sys/audit"} {
		code, body := rawCall(t, b, "GET", path, "")
		if code != http.StatusOK {
			t.Errorf("bravo's token on its own %s: %d %s", path, code, body)
		}
	}
	code, body := rawCall(t, b, "GET", "secret/data/app", "")
	var got struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(body), &got); code != 200 || got.Data.Data["owner"] != "bravo" {
		t.Fatalf("bravo's secret: %d %s", code, body)
	}
	// A batch token made in alpha opens nowhere else: it is sealed by
	// alpha's keyring and bound to alpha.
	abt, err := nsClient(t, p.addr, "alpha", roots["alpha"]).Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"app"}, Type: "batch", TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nsClient(t, p.addr, "alpha", abt.Auth.ClientToken).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("alpha's batch token in alpha: %v", err)
	}
	for _, cl := range []*vault.Client{nsClient(t, p.addr, "bravo", abt.Auth.ClientToken), nsClient(t, p.addr, "", abt.Auth.ClientToken)} {
		if code, body := rawCall(t, cl, "GET", "secret/data/app", ""); code != http.StatusForbidden {
			t.Errorf("alpha's batch token outside alpha: %d %s", code, body)
		}
	}
	// A response wrapped in alpha is not known in bravo, where an unwrap
	// does not use it up; alpha unwraps it.
	ac := nsClient(t, p.addr, "alpha", roots["alpha"])
	ac.SetWrappingLookupFunc(func(string, string) string { return "1m" })
	w, err := ac.Logical().Read("secret/data/app")
	ac.SetWrappingLookupFunc(func(string, string) string { return "" })
	if err != nil || w.WrapInfo == nil {
		t.Fatalf("wrapped read in alpha: %+v %v", w, err)
	}
	_, err = b.Logical().Unwrap(w.WrapInfo.Token)
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")
	if u, err := ac.Logical().Unwrap(w.WrapInfo.Token); err != nil || u.Data["data"].(map[string]any)["owner"] != "alpha" {
		t.Fatalf("unwrap in alpha: %+v %v", u, err)
	}
	// What concerns the whole node is not served in a namespace, even to
	// the namespace's root token: a snapshot of the store, the node's
	// metrics, the namespace registry.
	for _, path := range []string{"sys/storage/snapshot", "sys/metrics", "sys/namespaces?list=true", "sys/version-history?list=true"} {
		code, body := rawCall(t, b, "GET", path, "")
		if code != http.StatusNotFound {
			t.Errorf("bravo's root token on %s in bravo: %d (%d bytes)", path, code, len(body))
		}
	}
	// Lists show only the namespace's own names.
	for ns, tok := range roots {
		l, err := nsClient(t, p.addr, ns, tok).Sys().ListMounts()
		if err != nil {
			t.Fatal(err)
		}
		for path := range l {
			if strings.Contains(path, "alpha") || strings.Contains(path, "bravo") {
				t.Errorf("%s lists mount %s", ns, path)
			}
		}
	}
}
