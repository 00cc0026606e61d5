package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestBatchTokens follows `vault token create -type=batch`: the token works
// for what its policies allow, looks itself up as a batch token, cannot be
// renewed, revoked, have a cubbyhole or create tokens, and stops working
// when its parent is revoked. Vault's refusals for the options a batch
// token cannot have.
func TestBatchTokens(t *testing.T) {
	_, c, _ := kvServer(t)
	ctx := context.Background()
	if _, err := c.KVv2("secret").Put(ctx, "app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("reader", `path "secret/data/app" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("maker", `path "auth/token/create" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	// A service parent, so that revoking it shows the batch token's tie.
	parent, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"reader", "maker", "default"}})
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := c.Clone()
	pc.SetToken(parent.Auth.ClientToken)
	// vault token create -type=batch -policy=reader -ttl=1h
	s, err := pc.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"reader"}, TTL: "1h", Type: "batch"})
	if err != nil || s.Auth == nil {
		t.Fatalf("create: %+v %v", s, err)
	}
	a := s.Auth
	if !strings.HasPrefix(a.ClientToken, "srb.") || a.Accessor != "" || a.Renewable || a.Orphan ||
		a.LeaseDuration != 3600 {
		t.Fatalf("batch token auth: %+v", a)
	}
	bc, _ := c.Clone()
	bc.SetToken(a.ClientToken)
	if kv, err := bc.KVv2("secret").Get(ctx, "app"); err != nil || kv.Data["k"] != "v" {
		t.Fatalf("read with the batch token: %+v %v", kv, err)
	}
	_, err = bc.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"k": "w"}})
	wantStatus(t, err, http.StatusForbidden, "permission denied")
	me, err := bc.Auth().Token().LookupSelf()
	if err != nil || me.Data["type"] != "batch" || me.Data["id"] != a.ClientToken || me.Data["accessor"] != "" ||
		me.Data["renewable"] != false || me.Data["orphan"] != false {
		t.Fatalf("lookup-self: %+v %v", me, err)
	}
	if lk, err := c.Auth().Token().Lookup(a.ClientToken); err != nil || lk.Data["type"] != "batch" {
		t.Fatalf("lookup: %+v %v", lk, err)
	}
	_, err = bc.Auth().Token().RenewSelf(0)
	wantStatus(t, err, http.StatusBadRequest, "batch tokens cannot be renewed")
	err = c.Auth().Token().RevokeTree(a.ClientToken)
	wantStatus(t, err, http.StatusBadRequest, "batch tokens cannot be revoked")
	_, err = bc.Logical().Write("cubbyhole/x", map[string]any{"a": "b"})
	wantStatus(t, err, http.StatusBadRequest, "cubbyhole operations are only supported by 'service' type tokens")
	maker, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"maker"}, Type: "batch", TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	mc, _ := c.Clone()
	mc.SetToken(maker.Auth.ClientToken)
	_, err = mc.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"maker"}})
	wantStatus(t, err, http.StatusBadRequest, "batch tokens cannot create more tokens")

	// Vault's refusals.
	for _, tc := range []struct {
		req  vault.TokenCreateRequest
		want string
	}{
		{vault.TokenCreateRequest{Type: "batch", ExplicitMaxTTL: "1h"}, `batch tokens cannot have "explicit_max_ttl" set`},
		{vault.TokenCreateRequest{Type: "batch", NumUses: 3}, `batch tokens cannot have "num_uses" set`},
		{vault.TokenCreateRequest{Type: "batch", Period: "1h"}, `batch tokens cannot have "period" set`},
		{vault.TokenCreateRequest{Type: "batch", Policies: []string{"root"}}, "batch tokens cannot be root tokens"},
		{vault.TokenCreateRequest{Type: "bulk"}, "invalid 'token_type' value"},
	} {
		_, err := c.Auth().Token().Create(&tc.req)
		wantStatus(t, err, http.StatusBadRequest, tc.want)
	}

	// Tampered or foreign tokens are refused like unknown ones.
	tampered := a.ClientToken[:len(a.ClientToken)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(a.ClientToken, "AA")]
	for _, tok := range []string{tampered, "srb.", "srb.!!!", "srb." + strings.Repeat("A", 5000)} {
		tc, _ := c.Clone()
		tc.SetToken(tok)
		_, err := tc.Auth().Token().LookupSelf()
		wantStatus(t, err, http.StatusForbidden, "permission denied")
	}

	// Revoking the parent ends the batch token.
	if err := c.Auth().Token().RevokeTree(parent.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	_, err = bc.KVv2("secret").Get(ctx, "app")
	wantStatus(t, err, http.StatusForbidden, "permission denied")

	// A token role with token_type=batch (Vault's rules: orphan, not
	// renewable); a default-batch role lets the request ask for service.
	lg := c.Logical()
	_, err = lg.Write("auth/token/roles/ci", map[string]any{"token_type": "batch", "allowed_policies": "reader"})
	wantStatus(t, err, http.StatusBadRequest, "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens")
	_, err = lg.Write("auth/token/roles/ci", map[string]any{"token_type": "batch", "orphan": true, "allowed_policies": "reader"})
	wantStatus(t, err, http.StatusBadRequest, "'token_type' cannot be 'batch' when role is set to generate renewable tokens")
	if _, err := lg.Write("auth/token/roles/ci", map[string]any{"token_type": "batch", "orphan": true, "renewable": false, "allowed_policies": "reader"}); err != nil {
		t.Fatal(err)
	}
	if r, err := lg.Read("auth/token/roles/ci"); err != nil || r.Data["token_type"] != "batch" {
		t.Fatalf("role: %+v %v", r, err)
	}
	if rt, err := c.Auth().Token().CreateWithRole(&vault.TokenCreateRequest{Policies: []string{"reader"}}, "ci"); err != nil ||
		!strings.HasPrefix(rt.Auth.ClientToken, "srb.") || !rt.Auth.Orphan {
		t.Fatalf("create/ci: %+v %v", rt, err)
	}
	if _, err := lg.Write("auth/token/roles/mixed", map[string]any{"token_type": "default-batch", "orphan": true, "renewable": false}); err != nil {
		t.Fatal(err)
	}
	if rt, err := c.Auth().Token().CreateWithRole(&vault.TokenCreateRequest{Policies: []string{"default"}}, "mixed"); err != nil || !strings.HasPrefix(rt.Auth.ClientToken, "srb.") {
		t.Fatalf("create/mixed: %+v %v", rt, err)
	}
	if rt, err := c.Auth().Token().CreateWithRole(&vault.TokenCreateRequest{Policies: []string{"default"}, Type: "service"}, "mixed"); err != nil || !strings.HasPrefix(rt.Auth.ClientToken, "srs.") {
		t.Fatalf("create/mixed type=service: %+v %v", rt, err)
	}

	// An orphan batch token (vault token create -orphan -type=batch).
	o, err := c.Auth().Token().CreateOrphan(&vault.TokenCreateRequest{Policies: []string{"reader"}, Type: "batch"})
	if err != nil || !o.Auth.Orphan || o.Auth.LeaseDuration != 2764800 {
		t.Fatalf("orphan batch: %+v %v", o, err)
	}
}

// TestAppRoleBatchLogins: `vault write auth/approle/role/ci token_type=batch`
// makes logins issue batch tokens (nothing is stored for them), with the
// role's TTL; Vault's refusals for periodic or use-limited batch roles.
func TestAppRoleBatchLogins(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	s := approleLogin(t, c, "ci", map[string]any{"token_policies": "default", "token_type": "batch", "token_ttl": "20m"})
	if !strings.HasPrefix(s.Auth.ClientToken, "srb.") || s.Auth.Renewable || !s.Auth.Orphan || s.Auth.LeaseDuration != 1200 || s.Auth.Accessor != "" {
		t.Fatalf("login: %+v", s.Auth)
	}
	if r, err := lg.Read("auth/approle/role/ci"); err != nil || r.Data["token_type"] != "batch" {
		t.Fatalf("role: %+v %v", r, err)
	}
	bc, _ := c.Clone()
	bc.SetToken(s.Auth.ClientToken)
	if me, err := bc.Auth().Token().LookupSelf(); err != nil || me.Data["type"] != "batch" || me.Data["path"] != "auth/approle/login" {
		t.Fatalf("lookup-self: %+v %v", me, err)
	}
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"token_type": "batch", "token_period": "1h"}, "when set to generate periodic tokens"},
		{map[string]any{"token_type": "default-batch", "token_num_uses": 3}, "when set to generate tokens with limited use count"},
		{map[string]any{"token_type": "bulk"}, `invalid 'token_type' value "bulk"`},
	} {
		_, err := lg.Write("auth/approle/role/bad", tc.body)
		wantStatus(t, err, http.StatusBadRequest, tc.want)
	}
}
