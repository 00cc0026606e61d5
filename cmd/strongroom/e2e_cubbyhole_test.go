package main

import (
	"net/http"
	"slices"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestCubbyhole follows `vault write cubbyhole/...`, `vault read`, `vault
// list`, `vault delete` and `vault kv put/get cubbyhole/...` (the KV
// preflight reads it as a version 1 mount) for two tokens: each sees only
// its own records, and a policy without cubbyhole/ gets a 403.
func TestCubbyhole(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()

	// vault secrets list: cubbyhole/ and sys/ are there, as in Vault.
	ms, err := c.Sys().ListMounts()
	if err != nil || ms["cubbyhole/"] == nil || ms["cubbyhole/"].Type != "cubbyhole" || !ms["cubbyhole/"].Local ||
		ms["cubbyhole/"].Description != "per-token private secret storage" || ms["cubbyhole/"].Accessor == "" {
		t.Fatalf("cubbyhole/ in sys/mounts: %+v %v", ms["cubbyhole/"], err)
	}
	if ms["sys/"] == nil || ms["sys/"].Type != "system" || !ms["sys/"].SealWrap {
		t.Fatalf("sys/ in sys/mounts: %+v", ms["sys/"])
	}

	// vault write cubbyhole/app/db password=p1; vault read; vault list
	if _, err := lg.Write("cubbyhole/app/db", map[string]any{"password": "p1", "ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	s, err := lg.Read("cubbyhole/app/db")
	if err != nil || s == nil || s.Data["password"] != "p1" || s.LeaseDuration != 0 {
		t.Fatalf("read: %+v %v", s, err)
	}
	l, err := lg.List("cubbyhole/")
	if err != nil || l == nil || !slices.Equal(anyStrings(l.Data["keys"]), []string{"app/"}) {
		t.Fatalf("list: %+v %v", l, err)
	}
	// vault kv put cubbyhole/k v=1 and vault kv get: the preflight says v1.
	if mp, v := cliPreflight(t, c, "cubbyhole/k"); mp != "cubbyhole/" || v != "" {
		t.Fatalf("preflight: %q %q", mp, v)
	}
	if err := c.KVv1("cubbyhole").Put(t.Context(), "k", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if kv, err := c.KVv1("cubbyhole").Get(t.Context(), "k"); err != nil || kv.Data["v"] != "1" {
		t.Fatalf("kv get: %+v %v", kv, err)
	}
	// vault write cubbyhole/empty (no data): Vault's message.
	_, err = lg.Write("cubbyhole/empty", map[string]any{})
	wantStatus(t, err, http.StatusBadRequest, "missing data fields")

	// Another token, with the default policy, sees nothing of root's and
	// keeps its own.
	child, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := c.Clone()
	cc.SetToken(child.Auth.ClientToken)
	if s, err := cc.Logical().Read("cubbyhole/app/db"); err != nil || s != nil {
		t.Fatalf("another token reads root's cubbyhole: %+v %v", s, err)
	}
	if l, err := cc.Logical().List("cubbyhole/"); err != nil || l != nil {
		t.Fatalf("another token lists root's cubbyhole: %+v %v", l, err)
	}
	if _, err := cc.Logical().Write("cubbyhole/app/db", map[string]any{"password": "child"}); err != nil {
		t.Fatal(err)
	}
	if s, err := lg.Read("cubbyhole/app/db"); err != nil || s.Data["password"] != "p1" {
		t.Fatalf("root's record after the child's write: %+v %v", s, err)
	}
	// vault delete cubbyhole/app/db (the child's): root's stays.
	if _, err := cc.Logical().Delete("cubbyhole/app/db"); err != nil {
		t.Fatal(err)
	}
	if s, err := cc.Logical().Read("cubbyhole/app/db"); err != nil || s != nil {
		t.Fatalf("deleted: %+v %v", s, err)
	}
	if s, err := lg.Read("cubbyhole/app/db"); err != nil || s.Data["password"] != "p1" {
		t.Fatalf("root's record after the child's delete: %+v %v", s, err)
	}

	// A revoked token's cubbyhole is gone with it: a new token made the
	// same way starts empty, and the revoked one is refused.
	if _, err := cc.Logical().Write("cubbyhole/x", map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth().Token().RevokeTree(child.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	_, err = cc.Logical().Read("cubbyhole/x")
	wantStatus(t, err, http.StatusForbidden, "permission denied")

	// A policy that does not name cubbyhole/ denies it; create and update
	// are told apart by whether the record exists.
	if err := c.Sys().PutPolicy("upd", `path "cubbyhole/*" { capabilities = ["read", "update"] }`); err != nil {
		t.Fatal(err)
	}
	nodef, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"upd"}, NoDefaultPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := c.Clone()
	nc.SetToken(nodef.Auth.ClientToken)
	_, err = nc.Logical().Write("cubbyhole/new", map[string]any{"a": "b"})
	wantStatus(t, err, http.StatusForbidden, "permission denied")
	if err := c.Sys().PutPolicy("upd", `path "cubbyhole/*" { capabilities = ["read", "create", "update"] }`); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Logical().Write("cubbyhole/new", map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("upd", `path "secret/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	_, err = nc.Logical().Read("cubbyhole/new")
	wantStatus(t, err, http.StatusForbidden, "permission denied")

	// cubbyhole/ cannot be disabled, moved or mounted over.
	err = c.Sys().Unmount("cubbyhole")
	wantStatus(t, err, http.StatusBadRequest, "")
	err = c.Sys().Mount("cubbyhole", &vault.MountInput{Type: "kv"})
	wantStatus(t, err, http.StatusBadRequest, "")
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
