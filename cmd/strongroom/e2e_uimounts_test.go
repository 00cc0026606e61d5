package main

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestUIMountsList: GET sys/internal/ui/mounts lists, for a token, the
// mounts its policies reach (Vault's pathInternalUIMountsRead), each with
// the entry sys/mounts shows; without a token both lists are empty, and a
// token that does not resolve is refused.
func TestUIMountsList(t *testing.T) {
	_, c, _ := initUnsealed(t, 1, 1)
	if err := c.Sys().Mount("secret", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	list := func(c *vault.Client) (secret, auth []string, s *vault.Secret) {
		t.Helper()
		s, err := c.Logical().Read("sys/internal/ui/mounts")
		if err != nil || s == nil {
			t.Fatalf("read: %+v %v", s, err)
		}
		names := func(k string) []string {
			m, _ := s.Data[k].(map[string]any)
			return slices.Sorted(maps.Keys(m))
		}
		return names("secret"), names("auth"), s
	}
	secret, auth, s := list(c)
	if fmt.Sprint(secret) != "[cubbyhole/ secret/ sys/ transit/]" || fmt.Sprint(auth) != "[approle/ token/]" {
		t.Fatalf("root: %v %v", secret, auth)
	}
	if e := s.Data["secret"].(map[string]any)["secret/"].(map[string]any); e["type"] != "kv" || fmt.Sprint(e["options"]) != "map[version:2]" {
		t.Fatalf("secret/ entry: %v", e)
	}
	kv := policyClient(t, c, "kvonly", `path "secret/data/app/*" { capabilities = ["read"] }`)
	if secret, auth, _ := list(kv); fmt.Sprint(secret) != "[cubbyhole/ secret/ sys/]" || fmt.Sprint(auth) != "[token/]" {
		t.Fatalf("kvonly and default: %v %v", secret, auth)
	}
	anon, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	anon.ClearToken()
	if secret, auth, _ := list(anon); len(secret)+len(auth) != 0 {
		t.Fatalf("no token: %v %v", secret, auth)
	}
	anon.SetToken("not-a-token")
	if _, err := anon.Logical().Read("sys/internal/ui/mounts"); err == nil {
		t.Fatal("a token that does not resolve was answered")
	}
}
