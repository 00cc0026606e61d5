package main

import (
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// approleLogin writes the AppRole role at auth/approle/role/<role> with
// body, makes a secret ID for it, and logs in with its role ID and that
// secret ID, as `vault write auth/approle/login role_id=... secret_id=...`
// does; any failure ends the test.
func approleLogin(t *testing.T, c *vault.Client, role string, body map[string]any) *vault.Secret {
	t.Helper()
	lg := c.Logical()
	if _, err := lg.Write("auth/approle/role/"+role, body); err != nil {
		t.Fatal(err)
	}
	rid, err := lg.Read("auth/approle/role/" + role + "/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := lg.Write("auth/approle/role/"+role+"/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := lg.Write("auth/approle/login", map[string]any{"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"]})
	if err != nil || s.Auth == nil {
		t.Fatalf("login with role %s: %+v %v", role, s, err)
	}
	return s
}

// policyClient writes the ACL policy name with text hcl through c, creates
// a token with that policy (and default), and returns a client of c's
// server holding it, as `vault policy write` and `vault token create
// -policy=NAME` then `vault login` do; any failure ends the test.
func policyClient(t *testing.T, c *vault.Client, name, hcl string) *vault.Client {
	t.Helper()
	if err := c.Sys().PutPolicy(name, hcl); err != nil {
		t.Fatal(err)
	}
	sec, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	pc.SetToken(sec.Auth.ClientToken)
	return pc
}
