package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// TestKESSetup runs the MinIO KES key-store setup with the vault CLI's
// requests, logs in with AppRole, and uses the token on KV v1: inside the
// policy everything works, outside it everything is denied.
func TestKESSetup(t *testing.T) {
	p, c, _ := initUnsealed(t, 1, 1)
	ctx := context.Background()
	// vault secrets enable -version=1 kv
	if err := c.Sys().Mount("kv", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	// vault policy write kes-policy kes-policy.hcl
	const kesPolicy = `
path "kv/*" {
  capabilities = [ "create", "read", "delete", "list" ]
}
`
	if err := c.Sys().PutPolicy("kes-policy", kesPolicy); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Sys().GetPolicy("kes-policy"); err != nil || got != kesPolicy {
		t.Fatalf("policy read back: %q %v", got, err)
	}
	// vault auth enable approle
	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	// vault write auth/approle/role/kes-server token_num_uses=0 secret_id_num_uses=0 period=5m policies=kes-policy
	if _, err := c.Logical().Write("auth/approle/role/kes-server", map[string]any{
		"token_num_uses": "0", "secret_id_num_uses": "0", "period": "5m", "policies": "kes-policy"}); err != nil {
		t.Fatal(err)
	}
	// vault read auth/approle/role/kes-server/role-id
	rid, err := c.Logical().Read("auth/approle/role/kes-server/role-id")
	if err != nil {
		t.Fatal(err)
	}
	roleID := rid.Data["role_id"].(string)
	// vault write -f auth/approle/role/kes-server/secret-id
	sid, err := c.Logical().Write("auth/approle/role/kes-server/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	secretID := sid.Data["secret_id"].(string)

	// Login, without any token.
	kes := newClient(t, p.addr)
	login, err := kes.Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
	if err != nil {
		t.Fatal(err)
	}
	if login.Auth == nil || login.Auth.LeaseDuration != 300 || !strings.Contains(strings.Join(login.Auth.Policies, ","), "kes-policy") {
		t.Fatalf("login auth: %+v", login.Auth)
	}
	_, err = kes.Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": "wrong"})
	wantStatus(t, err, 400, "invalid role or secret ID")
	kes.SetToken(login.Auth.ClientToken)

	// KV v1 create, read, list, delete inside the policy.
	kv := kes.KVv1("kv")
	if err := kv.Put(ctx, "my-key", map[string]any{"bytes": "c2VjcmV0"}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if s, err := kv.Get(ctx, "my-key"); err != nil || s.Data["bytes"] != "c2VjcmV0" {
		t.Fatalf("read: %v %v", s, err)
	}
	if l, err := kes.Logical().List("kv/"); err != nil || len(l.Data["keys"].([]any)) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}
	// The policy grants create, not update: overwriting an existing key is denied.
	err = kv.Put(ctx, "my-key", map[string]any{"bytes": "b3RoZXI="})
	wantStatus(t, err, 403, "permission denied")
	if err := kv.Delete(ctx, "my-key"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	// Everything outside the policy is denied.
	denied := []func() error{
		func() error { _, err := kes.Logical().Read("sys/mounts"); return err },
		func() error { return kes.Sys().Mount("x", &vault.MountInput{Type: "kv"}) },
		func() error { _, err := kes.Logical().Read("auth/approle/role/kes-server/role-id"); return err },
		func() error { return kes.Sys().PutPolicy("p", `path "*" { capabilities = ["sudo","read"] }`) },
		func() error {
			_, err := kes.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"root"}})
			return err
		},
		func() error { return kes.Sys().Seal() },
		func() error { return kes.Sys().Rotate() },
		func() error { _, err := kes.Logical().Read("sys/policies/acl/kes-policy"); return err },
	}
	for i, f := range denied {
		if err := f(); statusCode(err) != 403 {
			t.Errorf("outside the policy, call %d: %v, want 403", i, err)
		}
	}
	// The token may look itself up (default policy) and see its capabilities.
	if _, err := kes.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	caps, err := kes.Sys().CapabilitiesSelf("kv/anything")
	if err != nil || strings.Join(caps, ",") != "create,delete,list,read" {
		t.Fatalf("capabilities-self: %v %v", caps, err)
	}
	// The KV preflight follows Vault's rule: 403 where the token has no access.
	if _, err := kes.Logical().Read("sys/internal/ui/mounts/kv/x"); err != nil {
		t.Fatalf("preflight inside the policy: %v", err)
	}
	c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"})
	_, err = kes.Logical().Read("sys/internal/ui/mounts/secret/x")
	wantStatus(t, err, 403, "preflight capability check")
	assertLogsClean(t, p, map[string]string{"secret id": secretID, "login token": login.Auth.ClientToken, "kv value": "c2VjcmV0"})
}

// TestTransitRoles expresses the roles of a platform KMS as policies:
// manager (everything on a key), developer (encrypt and decrypt), viewer
// (encrypt only: it can seal data but never read it back).
func TestTransitRoles(t *testing.T) {
	p, c, _ := initUnsealed(t, 1, 1)
	c.Sys().Mount("transit", &vault.MountInput{Type: "transit"})
	policies := map[string]string{
		"manager": `path "transit/keys/orders" { capabilities = ["create","read","update","delete"] }
path "transit/keys/orders/*" { capabilities = ["create","read","update","delete"] }
path "transit/+/orders" { capabilities = ["create","read","update"] }`,
		"developer": `path "transit/encrypt/orders" { capabilities = ["update"] }
path "transit/decrypt/orders" { capabilities = ["update"] }`,
		"viewer": `path "transit/encrypt/orders" { capabilities = ["update"] }`,
	}
	tokens := map[string]*vault.Client{}
	for name, text := range policies {
		if err := c.Sys().PutPolicy(name, text); err != nil {
			t.Fatal(err)
		}
		s, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		cl := newClient(t, p.addr)
		cl.SetToken(s.Auth.ClientToken)
		tokens[name] = cl
	}
	pt := base64.StdEncoding.EncodeToString([]byte("order 42"))
	status := func(role, path string, data map[string]any) int {
		_, err := tokens[role].Logical().Write(path, data)
		if err == nil {
			return 200
		}
		return statusCode(err)
	}
	// The developer cannot create the key (encrypt would create it: create needed).
	if got := status("developer", "transit/encrypt/orders", map[string]any{"plaintext": pt}); got != 403 {
		t.Fatalf("developer creating the key through encrypt: %d", got)
	}
	if got := status("manager", "transit/keys/orders", nil); got != 200 {
		t.Fatalf("manager creates the key: %d", got)
	}
	ct, err := tokens["viewer"].Logical().Write("transit/encrypt/orders", map[string]any{"plaintext": pt})
	if err != nil {
		t.Fatalf("viewer encrypts: %v", err)
	}
	ciphertext := ct.Data["ciphertext"].(string)
	cases := []struct {
		role, path string
		data       map[string]any
		want       int
	}{
		{"viewer", "transit/decrypt/orders", map[string]any{"ciphertext": ciphertext}, 403},
		{"viewer", "transit/keys/orders/rotate", nil, 403},
		{"developer", "transit/decrypt/orders", map[string]any{"ciphertext": ciphertext}, 200},
		{"developer", "transit/encrypt/orders", map[string]any{"plaintext": pt}, 200},
		{"developer", "transit/keys/orders/rotate", nil, 403},
		{"developer", "transit/keys/orders/config", map[string]any{"deletion_allowed": true}, 403},
		{"manager", "transit/keys/orders/rotate", nil, 200},
		{"manager", "transit/keys/orders/config", map[string]any{"deletion_allowed": true}, 200},
		{"manager", "transit/decrypt/orders", map[string]any{"ciphertext": ciphertext}, 200},
		{"viewer", "transit/encrypt/other", map[string]any{"plaintext": pt}, 403},
	}
	for _, tc := range cases {
		if got := status(tc.role, tc.path, tc.data); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.role, tc.path, got, tc.want)
		}
	}
}

// TestPolicyParameters checks allowed, denied and required parameters
// through the HTTP API.
func TestPolicyParameters(t *testing.T) {
	p, c, _ := initUnsealed(t, 1, 1)
	c.Sys().Mount("transit", &vault.MountInput{Type: "transit"})
	c.Logical().Write("transit/keys/k", nil)
	if err := c.Sys().PutPolicy("params", `
path "transit/keys/k/config" {
  capabilities = ["update"]
  allowed_parameters = { "min_decryption_version" = [], "deletion_allowed" = ["false"] }
}
path "auth/token/create" {
  capabilities = ["update"]
  denied_parameters = { "no_parent" = [] }
  required_parameters = ["ttl"]
}`); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"params"}})
	u := newClient(t, p.addr)
	u.SetToken(s.Auth.ClientToken)
	try := func(path string, data map[string]any) int {
		_, err := u.Logical().Write(path, data)
		if err == nil {
			return 200
		}
		return statusCode(err)
	}
	cases := []struct {
		path string
		data map[string]any
		want int
	}{
		{"transit/keys/k/config", map[string]any{"min_decryption_version": 1}, 200},
		{"transit/keys/k/config", map[string]any{"deletion_allowed": false}, 200},
		{"transit/keys/k/config", map[string]any{"deletion_allowed": true}, 403},
		{"transit/keys/k/config", map[string]any{"exportable": true}, 403},
		{"auth/token/create", map[string]any{"ttl": "1h"}, 200},
		{"auth/token/create", map[string]any{"policies": []string{"params"}}, 403},
		{"auth/token/create", map[string]any{"ttl": "1h", "no_parent": true}, 403},
	}
	for _, tc := range cases {
		if got := try(tc.path, tc.data); got != tc.want {
			t.Errorf("%s %v: %d, want %d", tc.path, tc.data, got, tc.want)
		}
	}
}

// TestTokenHierarchyE2E: children die with their parent; num_uses runs out;
// a child cannot get more policies than its parent.
func TestTokenHierarchyE2E(t *testing.T) {
	p, c, _ := initUnsealed(t, 1, 1)
	c.Sys().PutPolicy("app", `path "secret/*" { capabilities = ["read"] }`)
	parent, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"app"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	pc := newClient(t, p.addr)
	pc.SetToken(parent.Auth.ClientToken)
	// The default policy does not allow auth/token/create: give it via a policy.
	c.Sys().PutPolicy("app", `path "secret/*" { capabilities = ["read"] }
path "auth/token/create" { capabilities = ["update"] }`)
	child, err := pc.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pc.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"admin"}})
	wantStatus(t, err, 400, "child policies must be subset of parent")
	cc := newClient(t, p.addr)
	cc.SetToken(child.Auth.ClientToken)
	if _, err := cc.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth().Token().RevokeTree(parent.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	_, err = cc.Auth().Token().LookupSelf()
	wantStatus(t, err, 403, "permission denied")

	limited, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"app"}, NumUses: 2})
	if err != nil {
		t.Fatal(err)
	}
	lc := newClient(t, p.addr)
	lc.SetToken(limited.Auth.ClientToken)
	for i := range 2 {
		if _, err := lc.Auth().Token().LookupSelf(); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
	}
	_, err = lc.Auth().Token().LookupSelf()
	wantStatus(t, err, 403, "permission denied")

	short, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"app"}, TTL: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	sc := newClient(t, p.addr)
	sc.SetToken(short.Auth.ClientToken)
	waitFor(t, 10*time.Second, func() bool {
		_, err := sc.Auth().Token().LookupSelf()
		return statusCode(err) == 403
	})
}
