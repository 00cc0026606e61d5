package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/approle"
	"github.com/strongroom/strongroom/engine/kv"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/policy"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/engine/transit"
	"github.com/strongroom/strongroom/metrics"
	"github.com/strongroom/strongroom/seal"
)

// unauthenticated are the routes every caller may use, as in Vault: the
// seal status and health endpoints, the quorum operations (a quorum of
// key holders is their authorisation), and the UI's mount list, whose
// answer the caller's policies filter (TestUIMountsList).
var unauthenticated = []string{
	"sys/init", "sys/seal-status", "sys/unseal", "sys/health", "sys/leader",
	"sys/rekey/", "sys/rekey-recovery-key/", "sys/generate-root/", "auth/approle/login",
	"sys/wrapping/lookup", "sys/internal/ui/mounts",
}

// wrappingChecked are the paths that check the wrapping token they name
// (the body's, or the caller's) before the caller's policies: any token
// that is not a live wrapping token gets a 400 there.
var wrappingChecked = map[string]bool{"sys/wrapping/unwrap": true, "sys/wrapping/rewrap": true}

func isUnauthenticated(path string) bool {
	for _, u := range unauthenticated {
		if path == u || (strings.HasSuffix(u, "/") && strings.HasPrefix(path, u)) {
			return true
		}
	}
	return false
}

// engineRoutes are the paths of the engines mounted in the walk.
var engineRoutes = map[string][]string{
	"kv2/":     {"data/x", "metadata/x", "metadata/", "delete/x", "undelete/x", "destroy/x", "subkeys/x", "config"},
	"kv1/":     {"x", ""},
	"transit/": {"keys/k", "keys/", "keys/k/rotate", "keys/k/config", "keys/k/trim", "encrypt/k", "decrypt/k", "rewrap/k", "datakey/plaintext/k", "datakey/wrapped/k", "random", "random/32", "hash", "hash/sha2-512", "hmac/k", "sign/k", "verify/k", "export/encryption-key/k", "backup/k", "restore", "restore/k", "wrapping_key", "keys/k/import", "keys/k/import_version", "cache-config"},
	"auth/approle/": {"role/", "role/r", "role/r/role-id", "role/r/secret-id", "role/r/secret-id/lookup", "role/r/secret-id/destroy", "login",
		"role/r/policies", "role/r/bind-secret-id", "role/r/secret-id-num-uses", "role/r/secret-id-ttl", "role/r/period",
		"role/r/token-num-uses", "role/r/token-ttl", "role/r/token-max-ttl", "role/r/local-secret-ids",
		"role/r/custom-secret-id", "role/r/secret-id-bound-cidrs", "role/r/bound-cidr-list", "role/r/token-bound-cidrs", "tidy/secret-id"},
	"cubbyhole/":  {"x", "a/b", "response", ""},
	"auth/token/": {"create", "create-orphan", "create/r", "lookup", "lookup-self", "lookup-accessor", "renew", "renew-self", "revoke", "revoke-self", "revoke-accessor", "revoke-orphan", "roles/", "roles/r"},
}

// TestEveryRouteDeniedToDefaultPolicy walks every registered route (the
// front door's table, its prefix routes, and every path of every engine),
// with every method, using a token that has only the default policy. Each
// answer must be 403 unless the route is unauthenticated or the default
// policy allows it. A route added without an ACL check fails this test.
func TestEveryRouteDeniedToDefaultPolicy(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.initUnseal(t)
	ctx := context.Background()
	b := f.sys.Barrier
	tbl, auths := walkMounts(t, b)
	policies := &policy.Store{Barrier: b}
	srv := New(Options{Sys: f.sys, Mounts: tbl, Auths: auths, Policies: policies,
		TokenStore: &token.Backend{Barrier: b}, Tokens: token.NewCache(100, time.Second)})

	var userTok string
	if err := b.Update(ctx, func(tx *seal.Tx) error {
		var err error
		userTok, err = token.Create(tx, &token.Entry{Policies: []string{"default"}, Path: "auth/token/create",
			DisplayName: "token", CreationTime: time.Now().Unix(), ExpireTime: time.Now().Add(time.Hour).Unix(),
			TTL: time.Hour, Type: "service", Renewable: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defACL, err := policies.ACL(ctx, []string{"default"})
	if err != nil {
		t.Fatal(err)
	}

	checked, total := walkRoutes(t, srv, func() string { return userTok }, func(path string, op engine.Operation) bool {
		return defACL.Allow(policy.Request{Path: path, Operation: op}).Allowed
	})
	t.Logf("%d probes, %d expected to be denied", total, checked)
	// The same walk with the root token reaches the handlers: no 403.
	req := httptest.NewRequest("GET", "/v1/sys/mounts", nil)
	req.Header.Set("X-Vault-Token", root)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("root on sys/mounts: %d", w.Code)
	}
	_ = engine.OpRead
}

// walkMounts mounts the engines of engineRoutes.
func walkMounts(t testing.TB, b *seal.Barrier) (*mounts.Table, *mounts.Table) {
	t.Helper()
	ctx := context.Background()
	tbl := mounts.New(b, map[string]mounts.Factory{"kv": kv.Factory, "transit": transit.Factory})
	auths := mounts.NewAuth(b, map[string]mounts.Factory{"approle": approle.Factory})
	for path, typ := range map[string]string{"kv2": "kv-v2", "kv1": "kv", "transit": "transit"} {
		if err := tbl.Mount(ctx, path, mounts.MountInput{Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	if err := auths.Mount(ctx, "approle", mounts.MountInput{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	return tbl, auths
}

// walkRoutes sends every method to every route of srv (see
// TestEveryRouteDeniedToDefaultPolicy) with a token from mint, and fails
// the test for each answer that is not 403 where allow and the
// unauthenticated list deny. It returns how many probes expected a 403,
// and how many it sent.
func walkRoutes(t *testing.T, srv *Server, mint func() string, allow func(path string, op engine.Operation) bool) (int, int) {
	t.Helper()
	type probe struct{ method, path string }
	var probes []probe
	for path, rt := range srv.routes {
		for m := range rt.methods {
			probes = append(probes, probe{m, path})
		}
	}
	for _, p := range srv.prefixes {
		for m := range p.route.methods {
			probes = append(probes, probe{m, p.prefix + "probe"}, probe{m, p.prefix + "probe/tune"})
		}
	}
	for mount, paths := range engineRoutes {
		for _, p := range paths {
			for _, m := range []string{"GET", "PUT", "POST", "DELETE", "LIST", "PATCH"} {
				probes = append(probes, probe{m, mount + p})
			}
		}
	}
	sort.Slice(probes, func(i, j int) bool { return probes[i].path+probes[i].method < probes[j].path+probes[j].method })
	if len(probes) < 300 {
		t.Fatalf("only %d probes: the walk is not seeing the routes", len(probes))
	}
	checked := 0
	for _, p := range probes {
		path := p.path
		op := methodOps[p.method]
		if p.method == "LIST" && !strings.HasSuffix(path, "/") {
			path += "/"
		}
		allowed := isUnauthenticated(path) || allow(path, op)
		if wrappingChecked[path] && (op == engine.OpUpdate) {
			// The wrapping token is checked before the caller's policies,
			// as in Vault; TestRewrapNeedsPolicy covers the ACL.
			allowed = true
		}
		req := httptest.NewRequest(p.method, "/v1/"+p.path, strings.NewReader(`{}`))
		if p.method == "PATCH" {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
		req.Header.Set("X-Vault-Token", mint())
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if allowed {
			continue // answered by the handler: status depends on the input
		}
		checked++
		if w.Code != http.StatusForbidden {
			t.Errorf("%s /v1/%s: %d %s, want 403", p.method, p.path, w.Code, strings.TrimSpace(w.Body.String()))
		}
	}
	return checked, len(probes)
}

// TestWrappingTokenConfined: a response-wrapping token may only read and
// create cubbyhole/response and unwrap (Vault's responseWrappingPolicy).
// The walk of every route gives each probe a fresh wrapping token, since
// an allowed request uses the token's one use.
func TestWrappingTokenConfined(t *testing.T) {
	f := newFixture(t, Options{})
	f.initUnseal(t)
	b := f.sys.Barrier
	tbl, auths := walkMounts(t, b)
	policies := &policy.Store{Barrier: b}
	srv := New(Options{Sys: f.sys, Mounts: tbl, Auths: auths, Policies: policies, TokenStore: &token.Backend{Barrier: b}})
	root := srv.root
	mint := func() string {
		info, err := wrap(context.Background(), root, wrapRequest{TTL: time.Minute, Response: `{"data":{}}`, CreationPath: "x"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return info.Token
	}
	type rule struct {
		path string
		op   engine.Operation
	}
	allowed := map[rule]bool{{"cubbyhole/response", engine.OpRead}: true, {"cubbyhole/response", engine.OpUpdate}: true,
		{"sys/wrapping/unwrap", engine.OpUpdate}: true}
	checked, total := walkRoutes(t, srv, mint, func(path string, op engine.Operation) bool {
		return allowed[rule{path, op}]
	})
	if checked < total-60 {
		t.Fatalf("only %d of %d probes were expected to be denied", checked, total)
	}
}

// TestUnknownPathsDeniedFirst: a path nothing serves answers a token whose
// policies do not allow it 403 "permission denied", as any denied path
// does (Vault checks the ACL before routing), so that such a token cannot
// tell which mounts exist; a token they allow, or root, gets the 404.
func TestUnknownPathsDeniedFirst(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.initUnseal(t)
	tbl, auths := walkMounts(t, f.sys.Barrier)
	policies := &policy.Store{Barrier: f.sys.Barrier}
	if err := policies.Put(context.Background(), "nosy", `path "nope/*" { capabilities = ["read"] }
path "sys/nope" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Sys: f.sys, Mounts: tbl, Auths: auths, Policies: policies, TokenStore: &token.Backend{Barrier: f.sys.Barrier}}))
	defer srv.Close()
	f.srv = srv
	mint := func(pol string) string {
		var tok string
		if err := f.sys.Barrier.Update(context.Background(), func(tx *seal.Tx) error {
			var err error
			tok, err = token.Create(tx, &token.Entry{Policies: []string{"default", pol}, Type: "service", CreationTime: time.Now().Unix()})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	user, nosy := mint("x"), mint("nosy")
	const denied = "1 error occurred:\n\t* permission denied\n\n"
	for _, tc := range []struct {
		tok, method, path string
		status            int
		msg               string
	}{
		{user, "GET", "/v1/nope/x", 403, denied},
		{user, "GET", "/v1/kv2/data/x", 403, denied}, // an existing mount, the same answer
		{user, "GET", "/v1/sys/nope", 403, denied},
		{user, "LIST", "/v1/auth/nope/x", 403, denied},
		{"", "GET", "/v1/nope/x", 403, "permission denied"},
		{nosy, "GET", "/v1/nope/x", 404, `no handler for route "nope/x". route entry not found.`},
		{nosy, "GET", "/v1/sys/nope", 404, "1 error occurred:\n\t* unsupported path\n\n"},
		{root, "GET", "/v1/nope/x", 404, `no handler for route "nope/x". route entry not found.`},
		{root, "POST", "/v1/sys/nope", 404, "1 error occurred:\n\t* unsupported path\n\n"},
	} {
		st, errs, _ := f.do(t, tc.method, tc.path, tc.tok, "")
		if st != tc.status || len(errs) != 1 || errs[0] != tc.msg {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, st, errs, tc.status, tc.msg)
		}
	}
}

// TestNoAnswerUnwrappedWhenWrapping walks every route with every method,
// as root, asking for response wrapping: no answer may carry a body in
// the clear. Each is a wrapped envelope (wrap_info with a token, no data),
// a 204, or an error; a route whose answer cannot be wrapped must refuse.
func TestNoAnswerUnwrappedWhenWrapping(t *testing.T) {
	f := newFixture(t, Options{})
	f.initUnseal(t)
	b := f.sys.Barrier
	tbl, auths := walkMounts(t, b)
	srv := New(Options{Sys: f.sys, Mounts: tbl, Auths: auths, Policies: &policy.Store{Barrier: b},
		TokenStore: &token.Backend{Barrier: b}, Tokens: token.NewCache(100, time.Second), Audits: &sys.Audits{Barrier: b},
		Store: f.store, Metrics: metrics.New()})
	var paths []string
	for p := range srv.routes {
		paths = append(paths, p)
	}
	for _, p := range srv.prefixes {
		paths = append(paths, p.prefix+"probe", p.prefix+"kv2/tune")
	}
	for mount, ps := range engineRoutes {
		for _, p := range ps {
			paths = append(paths, mount+p)
		}
	}
	sort.Strings(paths)
	wrapped := 0
	for _, path := range paths {
		for _, m := range []string{"GET", "PUT", "POST", "DELETE", "LIST", "PATCH"} {
			var root string
			if err := b.Update(context.Background(), func(tx *seal.Tx) error {
				var err error
				root, err = token.CreateRoot(tx, time.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(m, "/v1/"+path, strings.NewReader(`{}`))
			req.Header.Set("X-Vault-Token", root)
			req.Header.Set(wrapTTLHeader, "60")
			if m == "PATCH" {
				req.Header.Set("Content-Type", "application/merge-patch+json")
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code >= 300 {
				continue
			}
			var env struct {
				Data     json.RawMessage `json:"data"`
				Auth     json.RawMessage `json:"auth"`
				WrapInfo *wrapInfo       `json:"wrap_info"`
			}
			body := w.Body.Bytes()
			switch {
			case w.Code == http.StatusNoContent && len(body) == 0:
			case w.Code == http.StatusAccepted && json.Unmarshal(body, &env) == nil && env.WrapInfo == nil &&
				(env.Data == nil || string(env.Data) == "null") && (env.Auth == nil || string(env.Auth) == "null"):
				// An accepted operation answering warnings only (Vault's
				// 202 of auth/approle/tidy/secret-id): nothing to hide.
			case json.Unmarshal(body, &env) == nil && env.WrapInfo != nil && env.WrapInfo.Token != "" &&
				(env.Data == nil || string(env.Data) == "null") && (env.Auth == nil || string(env.Auth) == "null"):
				wrapped++
			default:
				t.Errorf("%s /v1/%s with a wrap TTL answered in the clear: %d %.200s", m, path, w.Code, body)
			}
		}
	}
	if wrapped < 30 {
		t.Fatalf("only %d answers were wrapped: the walk is not reaching the handlers", wrapped)
	}
	t.Logf("%d paths, %d answers wrapped", len(paths), wrapped)
}
