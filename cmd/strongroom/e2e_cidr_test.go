package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"github.com/strongroom/strongroom/engine/token"
)

// TestBoundCIDRs drives Vault's CIDR bindings through the Vault client
// from 127.0.0.1: tokens of a token role with token_bound_cidrs, a child of
// a bound token, AppRole logins bound by the role and by the secret ID,
// and the token an AppRole login binds. A forwarding header does not move
// the client (Vault trusts X-Forwarded-For only when configured to).
func TestBoundCIDRs(t *testing.T) {
	_, root, _ := initUnsealed(t, 1, 1)
	lg := root.Logical()
	wantStatus := func(what string, err error, status int) {
		t.Helper()
		var re *vault.ResponseError
		if !errors.As(err, &re) || re.StatusCode != status {
			t.Fatalf("%s: %v; want %d", what, err, status)
		}
	}
	as := func(tok string) *vault.Client {
		c, err := root.Clone()
		if err != nil {
			t.Fatal(err)
		}
		c.SetToken(tok)
		return c
	}

	// Token roles: a token bound elsewhere is refused; bound here, used.
	if _, err := lg.Write("auth/token/roles/far", map[string]any{"token_bound_cidrs": "10.0.0.0/8", "allowed_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	if err := root.Sys().PutPolicy("creator", `path "auth/token/create" { capabilities = ["update"] }
path "auth/token/create-orphan" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Write("auth/token/roles/near", map[string]any{"token_bound_cidrs": []string{"127.0.0.1", "::1"}, "allowed_policies": "default,creator"}); err != nil {
		t.Fatal(err)
	}
	role, err := lg.Read("auth/token/roles/near")
	if err != nil || fmt.Sprint(role.Data["token_bound_cidrs"]) != "[127.0.0.1 ::1]" {
		t.Fatalf("role read: %+v %v", role, err)
	}
	far, err := root.Auth().Token().CreateWithRole(&vault.TokenCreateRequest{}, "far")
	if err != nil {
		t.Fatal(err)
	}
	_, err = as(far.Auth.ClientToken).Auth().Token().LookupSelf()
	wantStatus("a token bound to 10.0.0.0/8, used from 127.0.0.1", err, 403)
	spoof := as(far.Auth.ClientToken)
	spoof.AddHeader("X-Forwarded-For", "10.1.2.3")
	spoof.AddHeader("X-Real-Ip", "10.1.2.3")
	_, err = spoof.Auth().Token().LookupSelf()
	wantStatus("the same with X-Forwarded-For: 10.1.2.3", err, 403)

	near, err := root.Auth().Token().CreateWithRole(&vault.TokenCreateRequest{Policies: []string{"creator"}}, "near")
	if err != nil {
		t.Fatal(err)
	}
	nearC := as(near.Auth.ClientToken)
	self, err := nearC.Auth().Token().LookupSelf()
	if err != nil || fmt.Sprint(self.Data["bound_cidrs"]) != "[127.0.0.1 ::1]" {
		t.Fatalf("lookup-self of a bound token: %+v %v", self, err)
	}
	// A child of a bound token keeps the binding.
	child, err := nearC.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	look, err := lg.Write("auth/token/lookup", map[string]any{"token": child.Auth.ClientToken})
	if err != nil || fmt.Sprint(look.Data["bound_cidrs"]) != "[127.0.0.1 ::1]" {
		t.Fatalf("child lookup: %+v %v", look, err)
	}
	// So does an orphan it makes (stricter than Vault, which lets a bound
	// token mint an unbound orphan through create-orphan).
	orphan, err := nearC.Auth().Token().CreateOrphan(&vault.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	look, err = lg.Write("auth/token/lookup", map[string]any{"token": orphan.Auth.ClientToken})
	if err != nil || look.Data["orphan"] != true || fmt.Sprint(look.Data["bound_cidrs"]) != "[127.0.0.1 ::1]" {
		t.Fatalf("orphan lookup: %+v %v", look, err)
	}
	// The root token is unbound, and sys/capabilities of a bound token
	// answers wherever the asker is.
	if _, err := root.Sys().CapabilitiesSelf("sys/mounts"); err != nil {
		t.Fatal(err)
	}
	if caps, err := root.Sys().Capabilities(far.Auth.ClientToken, "auth/token/lookup-self"); err != nil || !slices.Contains(caps, "read") {
		t.Fatalf("capabilities of the far token: %v %v", caps, err)
	}

	// AppRole.
	if err := root.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Write("auth/approle/role/app", map[string]any{"secret_id_bound_cidrs": "127.0.0.0/8", "token_bound_cidrs": "127.0.0.1/32"}); err != nil {
		t.Fatal(err)
	}
	rid, err := lg.Read("auth/approle/role/app/role-id")
	if err != nil {
		t.Fatal(err)
	}
	roleID := rid.Data["role_id"].(string)
	login := func(secretIDBody map[string]any) (*vault.Secret, error) {
		sid, err := lg.Write("auth/approle/role/app/secret-id", secretIDBody)
		if err != nil {
			t.Fatal(err)
		}
		return root.Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": sid.Data["secret_id"]})
	}
	ok, err := login(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := as(ok.Auth.ClientToken).Auth().Token().LookupSelf(); err != nil || fmt.Sprint(s.Data["bound_cidrs"]) != "[127.0.0.1]" {
		t.Fatalf("the AppRole token: %+v %v", s, err)
	}
	_, err = login(map[string]any{"cidr_list": "127.0.0.2/32"})
	wantStatus("a login from outside the secret ID's block", err, 400)
	if re := (*vault.ResponseError)(nil); !errors.As(err, &re) || !slices.Equal(re.Errors, []string{`source address "127.0.0.1" unauthorized through CIDR restrictions on the secret ID`}) {
		t.Fatalf("the refusal's text (Vault's, for a secret ID without a use limit): %v", err)
	}
	_, err = lg.Write("auth/approle/role/app/secret-id", map[string]any{"cidr_list": "10.0.0.0/8"})
	wantStatus("a secret ID outside the role's blocks", err, 400)

	if _, err := lg.Write("auth/approle/role/app/secret-id-bound-cidrs", map[string]any{"secret_id_bound_cidrs": "10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	_, err = login(nil)
	wantStatus("a login from outside the role's block", err, 400)

	// A batch token carries its binding inside itself.
	if _, err := lg.Write("auth/approle/role/batch", map[string]any{"token_type": "batch", "token_bound_cidrs": "10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	rid, err = lg.Read("auth/approle/role/batch/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := lg.Write("auth/approle/role/batch/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := lg.Write("auth/approle/login", map[string]any{"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"]})
	if err != nil || bt.Auth == nil || !strings.HasPrefix(bt.Auth.ClientToken, token.BatchPrefix) {
		t.Fatalf("batch login: %+v %v", bt, err)
	}
	_, err = as(bt.Auth.ClientToken).Auth().Token().LookupSelf()
	wantStatus("a batch token bound to 10.0.0.0/8, used from 127.0.0.1", err, 403)

	// Token roles keep the deprecated bound_cidrs as Vault does, and a
	// bad block is a 400 that writes nothing.
	if _, err := lg.Write("auth/token/roles/legacy", map[string]any{"bound_cidrs": "10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	r, err := lg.Read("auth/token/roles/legacy")
	if err != nil || fmt.Sprint(r.Data["bound_cidrs"], r.Data["token_bound_cidrs"]) != "[10.0.0.0/8] [10.0.0.0/8]" {
		t.Fatalf("legacy role: %+v %v", r, err)
	}
	w, err := lg.Write("auth/token/roles/legacy", map[string]any{"bound_cidrs": "10.0.0.0/8", "token_bound_cidrs": "127.0.0.1"})
	if err != nil || w == nil || len(w.Warnings) != 1 {
		t.Fatalf("both fields: %+v %v", w, err)
	}
	if r, _ = lg.Read("auth/token/roles/legacy"); r.Data["bound_cidrs"] != nil || fmt.Sprint(r.Data["token_bound_cidrs"]) != "[127.0.0.1]" {
		t.Fatalf("after token_bound_cidrs: %v", r.Data)
	}
	_, err = lg.Write("auth/token/roles/legacy", map[string]any{"token_bound_cidrs": "127.0.0.1/40"})
	wantStatus("a bad block", err, 400)
	if r, _ = lg.Read("auth/token/roles/legacy"); fmt.Sprint(r.Data["token_bound_cidrs"]) != "[127.0.0.1]" {
		t.Fatalf("the refused write changed the role: %v", r.Data)
	}
}
