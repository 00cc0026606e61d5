package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestTokenCapabilitiesCLI makes the calls of `vault token capabilities`:
// PATH alone (sys/capabilities-self), TOKEN PATH (sys/capabilities, the
// token in the body) and -accessor ACCESSOR PATH
// (sys/capabilities-accessor), for a token of a policy, the root token,
// and tokens and accessors that do not exist.
func TestTokenCapabilitiesCLI(t *testing.T) {
	p, c, _ := kvServer(t)
	// vault policy write app app.hcl
	if err := c.Sys().PutPolicy("app", `path "secret/data/app/*" { capabilities = ["read", "create", "update"] }`); err != nil {
		t.Fatal(err)
	}
	// vault token create -policy=app -ttl=1h
	sec, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"app"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	tok, acc := sec.Auth.ClientToken, sec.Auth.Accessor
	want := func(what string, got []string, err error, caps ...string) {
		t.Helper()
		if err != nil || !slices.Equal(got, caps) {
			t.Fatalf("%s: %v %v, want %v", what, got, err, caps)
		}
	}
	// vault token capabilities TOKEN PATH
	got, err := c.Sys().Capabilities(tok, "secret/data/app/db")
	want("token, allowed path", got, err, "create", "read", "update")
	got, err = c.Sys().Capabilities(tok, "secret/data/other")
	want("token, other path", got, err, "deny")
	got, err = c.Sys().Capabilities(c.Token(), "secret/data/other")
	want("root token", got, err, "root")
	// vault token capabilities -accessor ACCESSOR PATH
	got, err = c.Sys().CapabilitiesAccessor(acc, "secret/data/app/db")
	want("accessor", got, err, "create", "read", "update")
	// vault token capabilities PATH, as the app token
	app := newClient(t, p.addr)
	app.SetToken(tok)
	got, err = app.Sys().CapabilitiesSelf("secret/data/app/db")
	want("self", got, err, "create", "read", "update")

	_, err = c.Sys().Capabilities("srs.doesnotexist", "secret/data/app/db")
	wantStatus(t, err, http.StatusBadRequest, "invalid token")
	_, err = c.Sys().CapabilitiesAccessor("nosuchaccessor", "secret/data/app/db")
	wantStatus(t, err, http.StatusBadRequest, "invalid accessor")
}

// TestPermissionDeniedTexts: a valid token its policies do not allow reads
// Vault's multierror text, as `vault kv get` prints it ("* 1 error
// occurred: * permission denied"); a token that does not exist reads
// "permission denied" alone, as in Vault.
func TestPermissionDeniedTexts(t *testing.T) {
	p, c, _ := kvServer(t)
	app := policyClient(t, c, "app", `path "secret/data/app/*" { capabilities = ["read"] }`)
	bad := newClient(t, p.addr)
	bad.SetToken("srs.doesnotexist")
	for _, tc := range []struct {
		c    *vault.Client
		path string
		want string
	}{
		{app, "secret/data/other", "1 error occurred:\n\t* permission denied\n\n"},
		{app, "sys/policies/acl/app", "1 error occurred:\n\t* permission denied\n\n"},
		{bad, "secret/data/app/x", "permission denied"},
	} {
		_, err := tc.c.Logical().Read(tc.path)
		var re *vault.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || !slices.Equal(re.Errors, []string{tc.want}) {
			t.Fatalf("%s: %v, want 403 %q", tc.path, err, tc.want)
		}
	}
}

// TestLookupUnknownToken: `vault token lookup TOKEN` of a revoked token
// answers 403 "bad token", as Vault's handleLookup does.
func TestLookupUnknownToken(t *testing.T) {
	_, c, _ := kvServer(t)
	sec, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Auth().Token().Lookup(sec.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth().Token().RevokeTree(sec.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	_, err = c.Auth().Token().Lookup(sec.Auth.ClientToken)
	wantStatus(t, err, http.StatusForbidden, "bad token")
}

// TestTokenCreateWarnsOfMissingPolicy: `vault token create -policy=nope`
// succeeds with Vault's warning for each policy that does not exist.
func TestTokenCreateWarnsOfMissingPolicy(t *testing.T) {
	_, c, _ := kvServer(t)
	sec, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sec.Warnings, []string{`Policy "nope" does not exist`}) {
		t.Fatalf("warnings %q", sec.Warnings)
	}
	if err := c.Sys().PutPolicy("nope", `path "x" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	sec, err = c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"nope"}})
	if err != nil || len(sec.Warnings) != 0 {
		t.Fatalf("with the policy written: %v %q", err, sec.Warnings)
	}
	// vault token create -ttl=1h -explicit-max-ttl=20m: capped, with Vault's warning.
	sec, err = c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"nope"}, TTL: "1h", ExplicitMaxTTL: "20m"})
	if err != nil || sec.Auth.LeaseDuration != 1200 ||
		!slices.Equal(sec.Warnings, []string{`TTL of "1h" exceeded the effective max_ttl of "20m"; TTL value is capped accordingly`}) {
		t.Fatalf("capped TTL: %v %+v %q", err, sec.Auth, sec.Warnings)
	}
}

// TestTokenWritesTakeCLIStrings: `vault write auth/token/roles/ci
// orphan=true ...` and `vault write auth/token/create num_uses=2 ...` send
// every value as a string, which Vault's framework reads as the field's
// type.
func TestTokenWritesTakeCLIStrings(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	if _, err := lg.Write("auth/token/roles/ci", map[string]any{
		"allowed_policies": "default,app", "orphan": "true", "renewable": "false", "token_explicit_max_ttl": "2h"}); err != nil {
		t.Fatal(err)
	}
	r, err := lg.Read("auth/token/roles/ci")
	if err != nil || r.Data["orphan"] != true || r.Data["renewable"] != false {
		t.Fatalf("role: %v %v", r, err)
	}
	s, err := lg.Write("auth/token/create", map[string]any{
		"policies": "default", "num_uses": "2", "no_default_policy": "false", "renewable": "false", "no_parent": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Auth.Renewable || !s.Auth.Orphan {
		t.Fatalf("token: %+v", s.Auth)
	}
	look, err := c.Auth().Token().Lookup(s.Auth.ClientToken)
	if err != nil || look.Data["num_uses"] != json.Number("2") {
		t.Fatalf("lookup: %v %v", look, err)
	}
	_, err = lg.Write("auth/token/roles/bad", map[string]any{"orphan": "maybe"})
	wantStatus(t, err, http.StatusBadRequest, "")
}

// TestProtectedPolicies: `vault policy write root ...`, `vault policy delete
// root` and `vault policy delete default` are refused with Vault's texts.
func TestProtectedPolicies(t *testing.T) {
	_, c, _ := kvServer(t)
	err := c.Sys().PutPolicy("root", `path "x" { capabilities = ["read"] }`)
	wantStatus(t, err, http.StatusBadRequest, `cannot update "root" policy`)
	err = c.Sys().DeletePolicy("root")
	wantStatus(t, err, http.StatusBadRequest, `cannot delete "root" policy`)
	err = c.Sys().DeletePolicy("default")
	wantStatus(t, err, http.StatusBadRequest, "cannot delete default policy")
}

// TestTokenRoleRead: `vault read auth/token/roles/ci` answers Vault's
// fields: the deprecated explicit_max_ttl and period as Vault keeps them
// (zero when only the token_ field was written), allowed_entity_aliases
// null, no token_bound_cidrs or token_num_uses when unset.
func TestTokenRoleRead(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	if _, err := lg.Write("auth/token/roles/ci", map[string]any{"allowed_policies": "default", "token_explicit_max_ttl": "2h"}); err != nil {
		t.Fatal(err)
	}
	r, err := lg.Read("auth/token/roles/ci")
	if err != nil {
		t.Fatal(err)
	}
	d := r.Data
	if d["explicit_max_ttl"] != json.Number("0") || d["token_explicit_max_ttl"] != json.Number("7200") {
		t.Fatalf("max TTLs: %v", d)
	}
	if v, ok := d["allowed_entity_aliases"]; !ok || v != nil {
		t.Fatalf("allowed_entity_aliases: %v", d)
	}
	for _, k := range []string{"token_bound_cidrs", "token_num_uses"} {
		if _, ok := d[k]; ok {
			t.Fatalf("%s reported unset: %v", k, d)
		}
	}
	// The deprecated field alone sets both.
	if _, err := lg.Write("auth/token/roles/ci", map[string]any{"explicit_max_ttl": "1h", "period": "5m"}); err != nil {
		t.Fatal(err)
	}
	r, _ = lg.Read("auth/token/roles/ci")
	if r.Data["explicit_max_ttl"] != json.Number("3600") || r.Data["token_explicit_max_ttl"] != json.Number("3600") ||
		r.Data["period"] != json.Number("300") || r.Data["token_period"] != json.Number("300") {
		t.Fatalf("after the deprecated fields: %v", r.Data)
	}
}
