package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// wrapWith makes c ask for response wrapping with ttl on every request, as
// the CLI's -wrap-ttl flag does (its value is a Go duration string); ""
// stops it.
func wrapWith(c *vault.Client, ttl string) {
	c.SetWrappingLookupFunc(func(string, string) string { return ttl })
}

// TestResponseWrappingKV follows `vault kv get -wrap-ttl=5m`, `vault write
// sys/wrapping/lookup token=...` and `vault unwrap TOKEN`, then the same
// with the wrapping token as the caller's own token: the secret comes back
// once, with its original envelope, and a used token is refused as Vault
// refuses it.
func TestResponseWrappingKV(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	if _, err := lg.Write("secret/data/w", map[string]any{"data": map[string]any{"k": "the-secret-value"}}); err != nil {
		t.Fatal(err)
	}

	// vault kv get -wrap-ttl=5m -mount=secret w: the preflight goes
	// unwrapped (the CLI clears the lookup for it), the read is wrapped.
	if mp, v := cliPreflight(t, c, "secret/w"); mp != "secret/" || v != "2" {
		t.Fatalf("preflight: %q %q", mp, v)
	}
	wrapWith(c, (5 * time.Minute).String())
	before := time.Now()
	s, err := lg.Read("secret/data/w")
	wrapWith(c, "")
	if err != nil || s == nil || s.WrapInfo == nil {
		t.Fatalf("wrapped read: %+v %v", s, err)
	}
	wi := s.WrapInfo
	if s.Data != nil || s.Auth != nil || s.RequestID != "" || wi.TTL != 300 || wi.CreationPath != "secret/data/w" ||
		!strings.HasPrefix(wi.Token, "srs.") || wi.Accessor == "" || wi.WrappedAccessor != "" ||
		wi.CreationTime.Before(before.Add(-time.Second)) || wi.CreationTime.After(time.Now().Add(time.Second)) {
		t.Fatalf("wrapped answer: %+v wrap_info %+v", s, wi)
	}
	if raw, _ := json.Marshal(s); strings.Contains(string(raw), "the-secret-value") {
		t.Fatalf("the wrapped answer carries the secret: %s", raw)
	}

	// vault write sys/wrapping/lookup token=...: no token needed, and the
	// wrapping token is not used by it.
	anon := c.WithNamespace("")
	anon.ClearToken()
	lk, err := anon.Logical().Write("sys/wrapping/lookup", map[string]any{"token": wi.Token})
	if err != nil || lk.Data["creation_path"] != "secret/data/w" || lk.Data["creation_ttl"] != json.Number("300") ||
		lk.Data["creation_time"] == "" {
		t.Fatalf("lookup: %+v %v", lk, err)
	}

	// vault unwrap TOKEN, logged in as root: the original envelope.
	u, err := lg.Unwrap(wi.Token)
	if err != nil || u == nil || u.RequestID == "" || u.Data["data"].(map[string]any)["k"] != "the-secret-value" ||
		u.Data["metadata"].(map[string]any)["version"] != json.Number("1") {
		t.Fatalf("unwrap: %+v %v", u, err)
	}
	// Once only, and then it no longer looks up either.
	_, err = lg.Unwrap(wi.Token)
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")
	_, err = anon.Logical().Write("sys/wrapping/lookup", map[string]any{"token": wi.Token})
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")

	// VAULT_TOKEN=<wrapping token> vault unwrap: the token unwraps itself.
	wrapWith(c, "60")
	s, err = lg.Read("secret/data/w")
	wrapWith(c, "")
	if err != nil || s.WrapInfo == nil || s.WrapInfo.TTL != 60 {
		t.Fatalf("second wrap: %+v %v", s, err)
	}
	self, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	self.SetToken(s.WrapInfo.Token)
	u, err = self.Logical().Unwrap("")
	if err != nil || u.Data["data"].(map[string]any)["k"] != "the-secret-value" {
		t.Fatalf("first-party unwrap: %+v %v", u, err)
	}
	// The token is gone with its one use: Vault checks a wrapping token
	// before the caller's, so this is its 400, not a 403.
	_, err = self.Logical().Unwrap("")
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")

	// A token that is not a wrapping token unwraps nothing.
	_, err = lg.Unwrap("")
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")
	_, err = lg.Unwrap("srs.notatokenatall")
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")
	_, err = lg.Unwrap(c.Token())
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")

	// A wrapping token allows nothing else: not even a KV read.
	wrapWith(c, "60")
	s, err = lg.Read("secret/data/w")
	wrapWith(c, "")
	if err != nil {
		t.Fatal(err)
	}
	self.SetToken(s.WrapInfo.Token)
	_, err = self.Logical().Read("secret/data/w")
	wantStatus(t, err, http.StatusForbidden, "permission denied")
	// Reading cubbyhole/response directly is allowed, deprecated, and uses
	// the token up.
	cr, err := self.Logical().Read("cubbyhole/response")
	if err != nil || cr == nil || !strings.Contains(cr.Data["response"].(string), "the-secret-value") ||
		len(cr.Warnings) != 1 || !strings.Contains(cr.Warnings[0], "deprecated") {
		t.Fatalf("cubbyhole/response: %+v %v", cr, err)
	}
	_, err = lg.Unwrap(s.WrapInfo.Token)
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")

	// vault kv list -wrap-ttl=1m secret: the creation path is the list's,
	// with its trailing slash, as Vault's.
	wrapWith(c, "1m")
	l, err := lg.List("secret/metadata/")
	wrapWith(c, "")
	if err != nil || l.WrapInfo == nil || l.WrapInfo.CreationPath != "secret/metadata/" {
		t.Fatalf("wrapped list: %+v %v", l, err)
	}
	if u, err := lg.Unwrap(l.WrapInfo.Token); err != nil || len(u.Data["keys"].([]any)) != 1 {
		t.Fatalf("unwrapped list: %+v %v", u, err)
	}

	// An expired wrapping token unwraps nothing.
	wrapWith(c, "1s")
	s, err = lg.Read("secret/data/w")
	wrapWith(c, "")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	_, err = lg.Unwrap(s.WrapInfo.Token)
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")
}

// TestResponseWrappingTokensAndAppRole: `vault token create -wrap-ttl=1m`
// and `vault write -wrap-ttl=1m -f auth/approle/role/r/secret-id` give the
// accessor of what they wrap in wrapped_accessor, and unwrapping gives a
// token and a secret ID that work.
func TestResponseWrappingTokensAndAppRole(t *testing.T) {
	_, c, _ := kvServer(t)
	wrapWith(c, "1m0s")
	s, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	wrapWith(c, "")
	if err != nil || s.WrapInfo == nil || s.Auth != nil || s.WrapInfo.WrappedAccessor == "" || s.WrapInfo.CreationPath != "auth/token/create" {
		t.Fatalf("wrapped token create: %+v %v", s, err)
	}
	u, err := c.Logical().Unwrap(s.WrapInfo.Token)
	if err != nil || u.Auth == nil || u.Auth.Accessor != s.WrapInfo.WrappedAccessor {
		t.Fatalf("unwrapped token: %+v %v", u, err)
	}
	tc, _ := c.Clone()
	tc.SetToken(u.Auth.ClientToken)
	if me, err := tc.Auth().Token().LookupSelf(); err != nil || me.Data["accessor"] != s.WrapInfo.WrappedAccessor {
		t.Fatalf("the unwrapped token: %+v %v", me, err)
	}

	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("auth/approle/role/r", map[string]any{"token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	rid, err := c.Logical().Read("auth/approle/role/r/role-id")
	if err != nil {
		t.Fatal(err)
	}
	wrapWith(c, "1m0s")
	s, err = c.Logical().Write("auth/approle/role/r/secret-id", nil)
	wrapWith(c, "")
	if err != nil || s.WrapInfo == nil || s.WrapInfo.WrappedAccessor == "" {
		t.Fatalf("wrapped secret-id: %+v %v", s, err)
	}
	u, err = c.Logical().Unwrap(s.WrapInfo.Token)
	if err != nil || u.Data["secret_id_accessor"] != s.WrapInfo.WrappedAccessor {
		t.Fatalf("unwrapped secret-id: %+v %v", u, err)
	}
	login, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": rid.Data["role_id"], "secret_id": u.Data["secret_id"]})
	if err != nil || login.Auth == nil {
		t.Fatalf("login with the unwrapped secret ID: %+v %v", login, err)
	}

	// vault write -wrap-ttl=1m auth/approle/login ...: the login's token,
	// wrapped, with its accessor as wrapped_accessor.
	sid2, err := c.Logical().Write("auth/approle/role/r/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	wrapWith(c, "1m")
	wl, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": rid.Data["role_id"], "secret_id": sid2.Data["secret_id"]})
	wrapWith(c, "")
	if err != nil || wl.WrapInfo == nil || wl.Auth != nil || wl.WrapInfo.CreationPath != "auth/approle/login" {
		t.Fatalf("wrapped login: %+v %v", wl, err)
	}
	ul, err := c.Logical().Unwrap(wl.WrapInfo.Token)
	if err != nil || ul.Auth == nil || ul.Auth.Accessor != wl.WrapInfo.WrappedAccessor {
		t.Fatalf("unwrapped login: %+v %v", ul, err)
	}
	lc, _ := c.Clone()
	lc.SetToken(ul.Auth.ClientToken)
	if _, err := lc.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("the unwrapped login's token: %v", err)
	}

	// Only response wrapping gives the response-wrapping policy.
	_, err = c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"response-wrapping"}})
	wantStatus(t, err, http.StatusBadRequest, `cannot assign policy "response-wrapping"`)
	_, err = c.Logical().Write("sys/policy/response-wrapping", map[string]any{"policy": `path "*" { capabilities = ["read"] }`})
	wantStatus(t, err, http.StatusBadRequest, `cannot update "response-wrapping" policy`)
	if pols, err := c.Sys().ListPolicies(); err != nil || strings.Contains(strings.Join(pols, ","), "response-wrapping") {
		t.Fatalf("policies listed: %v %v", pols, err)
	}
}

// TestResponseWrappingSysPaths: `vault write -wrap-ttl=1m sys/wrapping/wrap
// a=b`, `vault write sys/wrapping/rewrap token=...`, `vault read
// -wrap-ttl=1m sys/mounts`, and the sys/ paths that cannot wrap, which
// refuse a wrap TTL before doing anything.
func TestResponseWrappingSysPaths(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	// The client asks for a 5m wrap on sys/wrapping/wrap by default
	// (api.DefaultWrappingLookupFunc); without it, the path refuses.
	wrapWith(c, "")
	_, err := lg.Write("sys/wrapping/wrap", map[string]any{"a": "b"})
	wantStatus(t, err, http.StatusBadRequest, "endpoint requires response wrapping to be used")
	c.SetWrappingLookupFunc(vault.DefaultWrappingLookupFunc)
	if s, err := lg.Write("sys/wrapping/wrap", map[string]any{"a": "b"}); err != nil || s.WrapInfo == nil || s.WrapInfo.TTL != 300 {
		t.Fatalf("vault write sys/wrapping/wrap a=b: %+v %v", s, err)
	}

	wrapWith(c, "2m")
	s, err := lg.Write("sys/wrapping/wrap", map[string]any{"a": "b"})
	wrapWith(c, "")
	if err != nil || s.WrapInfo == nil || s.WrapInfo.CreationPath != "sys/wrapping/wrap" || s.WrapInfo.TTL != 120 {
		t.Fatalf("wrap: %+v %v", s, err)
	}
	// rewrap: a new token with the same TTL and path; the old one is gone.
	rw, err := lg.Write("sys/wrapping/rewrap", map[string]any{"token": s.WrapInfo.Token})
	if err != nil || rw.WrapInfo == nil || rw.WrapInfo.Token == s.WrapInfo.Token ||
		rw.WrapInfo.CreationPath != "sys/wrapping/wrap" || rw.WrapInfo.TTL != 120 {
		t.Fatalf("rewrap: %+v %v", rw, err)
	}
	_, err = lg.Unwrap(s.WrapInfo.Token)
	wantStatus(t, err, http.StatusBadRequest, "wrapping token is not valid or does not exist")
	u, err := lg.Unwrap(rw.WrapInfo.Token)
	if err != nil || u.Data["a"] != "b" {
		t.Fatalf("unwrap after rewrap: %+v %v", u, err)
	}

	// vault read -wrap-ttl=1m sys/mounts: sys/ paths answered in the
	// envelope wrap too.
	wrapWith(c, "1m")
	m, err := lg.Read("sys/mounts")
	if err != nil || m.WrapInfo == nil || m.WrapInfo.CreationPath != "sys/mounts" {
		t.Fatalf("wrapped sys/mounts: %+v %v", m, err)
	}
	// Those whose answer is not the envelope refuse, and do nothing.
	_, err = lg.Read("sys/seal-status")
	wantStatus(t, err, http.StatusBadRequest, "response wrapping (X-Vault-Wrap-TTL) is not supported on this path")
	_, err = lg.Write("sys/generate-root/attempt", nil)
	wantStatus(t, err, http.StatusBadRequest, "response wrapping (X-Vault-Wrap-TTL) is not supported on this path")
	// A write without a response body is carried out and answered 204.
	if _, err := lg.Write("sys/policy/p1", map[string]any{"policy": `path "x" { capabilities = ["read"] }`}); err != nil {
		t.Fatal(err)
	}
	// A write without a response is answered 204, not wrapped (Vault
	// wraps only a response).
	if s, err := lg.Write("secret/data/nowrap", map[string]any{"data": map[string]any{"k": "v"}}); err != nil || s == nil || s.WrapInfo == nil {
		// KV v2 writes answer the version's metadata, which is wrapped.
		t.Fatalf("wrapped KV write: %+v %v", s, err)
	}
	if s, err := lg.Delete("secret/data/nowrap"); err != nil || s != nil {
		t.Fatalf("wrapped delete: %+v %v", s, err)
	}
	wrapWith(c, "")
	if st, err := c.Sys().GenerateRootStatus(); err != nil || st.Started {
		t.Fatalf("the refused generate-root attempt started: %+v %v", st, err)
	}
	if u, err := lg.Unwrap(m.WrapInfo.Token); err != nil || u.Data["secret/"] == nil {
		t.Fatalf("unwrapped sys/mounts: %+v %v", u, err)
	}
	if p, err := c.Sys().GetPolicy("p1"); err != nil || p == "" {
		t.Fatalf("the policy written with a wrap TTL: %q %v", p, err)
	}
	for _, tc := range []struct{ ttl, want string }{
		{"abc", `error parsing X-Vault-Wrap-TTL header: invalid duration "abc"`},
		{"-5s", "error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative"},
	} {
		wrapWith(c, tc.ttl)
		_, err := lg.Read("secret/data/nowrap")
		wantStatus(t, err, http.StatusBadRequest, tc.want)
	}
	wrapWith(c, "0")
	if s, err := lg.Read("secret/metadata/nowrap"); err != nil || s == nil || s.WrapInfo != nil {
		t.Fatalf("a zero wrap TTL asks for nothing: %+v %v", s, err)
	}
}
