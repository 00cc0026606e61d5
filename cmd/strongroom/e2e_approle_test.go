package main

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestAppRoleFieldPaths drives Vault's role/<name>/<field> paths through
// the Vault client as `vault read|write|delete auth/approle/role/r/token-ttl`
// does, and the refusal of a role that binds nothing.
func TestAppRoleFieldPaths(t *testing.T) {
	_, c, _ := initUnsealed(t, 1, 1)
	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	lg := c.Logical()
	if _, err := lg.Write("auth/approle/role/r", map[string]any{"token_policies": "default", "token_ttl": "10m", "token_max_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	field := func(path, key string) string {
		t.Helper()
		s, err := lg.Read("auth/approle/role/r/" + path)
		if err != nil || s == nil {
			t.Fatalf("read %s: %+v %v", path, s, err)
		}
		return fmt.Sprint(s.Data[key])
	}
	if got := field("token-ttl", "token_ttl"); got != "600" {
		t.Fatalf("token_ttl %s", got)
	}
	if s, err := lg.Write("auth/approle/role/r/token-ttl", map[string]any{"token_ttl": "20m"}); err != nil || s != nil {
		t.Fatalf("write token-ttl: %+v %v", s, err)
	}
	if got := field("token-ttl", "token_ttl"); got != "1200" {
		t.Fatalf("token_ttl after the write %s", got)
	}
	if _, err := lg.Write("auth/approle/role/r/policies", map[string]any{"token_policies": []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if got := field("policies", "token_policies"); got != "[a b]" {
		t.Fatalf("token_policies %s", got)
	}
	if _, err := lg.Delete("auth/approle/role/r/token-ttl"); err != nil {
		t.Fatal(err)
	}
	if got := field("token-ttl", "token_ttl"); got != "0" {
		t.Fatalf("token_ttl after the delete %s", got)
	}
	wantErr := func(what string, err error, status int, msg string) {
		t.Helper()
		var re *vault.ResponseError
		if !errors.As(err, &re) || re.StatusCode != status || !slices.Contains(re.Errors, msg) {
			t.Fatalf("%s: %v; want %d %q", what, err, status, msg)
		}
	}
	_, err := lg.Write("auth/approle/role/r/token-num-uses", map[string]any{})
	wantErr("token-num-uses without its parameter", err, 400, "missing token_num_uses")
	_, err = lg.Write("auth/approle/role/none/token-ttl", map[string]any{"token_ttl": 60})
	wantErr("a missing role's field", err, 404, "1 error occurred:\n\t* unsupported path\n\n")
	for _, path := range []string{"auth/approle/role/r/bind-secret-id", "auth/approle/role/open"} {
		_, err = lg.Write(path, map[string]any{"bind_secret_id": false})
		wantErr(path+" with bind_secret_id=false", err, 400, "at least one constraint should be enabled on the role")
	}
	if got := field("bind-secret-id", "bind_secret_id"); got != "true" {
		t.Fatalf("bind_secret_id %s after the refusal", got)
	}
}

// TestAppRoleCustomSecretID: `vault write auth/approle/role/r/custom-secret-id
// secret_id=...` registers the caller's secret ID, which logs in; the same
// one again is refused. Then tidy/secret-id answers.
func TestAppRoleCustomSecretID(t *testing.T) {
	_, c, _ := initUnsealed(t, 1, 1)
	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	lg := c.Logical()
	if _, err := lg.Write("auth/approle/role/r", map[string]any{"token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	s, err := lg.Write("auth/approle/role/r/custom-secret-id", map[string]any{"secret_id": "chosen-by-the-operator"})
	if err != nil || s.Data["secret_id"] != "chosen-by-the-operator" || s.Data["secret_id_accessor"] == "" {
		t.Fatalf("custom-secret-id: %+v %v", s, err)
	}
	_, err = lg.Write("auth/approle/role/r/custom-secret-id", map[string]any{"secret_id": "chosen-by-the-operator"})
	var re *vault.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || !slices.Contains(re.Errors, "failed to store secret_id: SecretID is already registered") {
		t.Fatalf("the same secret ID again: %v", err)
	}
	rid, err := lg.Read("auth/approle/role/r/role-id")
	if err != nil {
		t.Fatal(err)
	}
	login, err := lg.Write("auth/approle/login", map[string]any{"role_id": rid.Data["role_id"], "secret_id": "chosen-by-the-operator"})
	if err != nil || login.Auth == nil || login.Auth.ClientToken == "" {
		t.Fatalf("login with the custom secret ID: %+v %v", login, err)
	}
	// vault write -f auth/approle/tidy/secret-id: Vault's 202 and warning.
	resp, err := lg.WriteRaw("auth/approle/tidy/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	tidy, err := vault.ParseSecret(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 202 || len(tidy.Warnings) != 1 {
		t.Fatalf("tidy: %d %+v %v", resp.StatusCode, tidy, err)
	}
}
