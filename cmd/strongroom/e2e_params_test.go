package main

import (
	"slices"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestUnrecognizedParametersWarned checks Vault's warning for body
// parameters a path does not take ("Endpoint ignored these unrecognized
// parameters: [...]", sdk/framework/backend.go): on transit, sys/tools,
// KV v2, the token store and AppRole responses with data, sorted, after the
// handler's own warnings; never for the parameters the Vault client sends
// itself (the token create request always carries entity_alias), never on
// a 204, and never for names inside nested objects.
func TestUnrecognizedParametersWarned(t *testing.T) {
	c, lg := transitServer(t)
	want := func(what string, s *vault.Secret, warnings ...string) {
		t.Helper()
		if s == nil {
			t.Fatalf("%s: no response", what)
		}
		if !slices.Equal(s.Warnings, warnings) {
			t.Fatalf("%s: warnings %q, want %q", what, s.Warnings, warnings)
		}
	}
	write(t, lg, "transit/keys/k", nil)
	want("encrypt", write(t, lg, "transit/encrypt/k", map[string]any{"plaintext": b64s("x")}))
	want("encrypt with typos", write(t, lg, "transit/encrypt/k", map[string]any{"plaintext": b64s("x"), "contxt": "c", "key_verison": 1}),
		"Endpoint ignored these unrecognized parameters: [contxt key_verison]")
	want("sys/tools/random with a typo", write(t, lg, "sys/tools/random", map[string]any{"bytse": 8}),
		"Endpoint ignored these unrecognized parameters: [bytse]")
	want("batch items are not checked", write(t, lg, "transit/encrypt/k", map[string]any{
		"batch_input": []map[string]any{{"plaintext": b64s("x"), "bogus": 1}}}))

	if err := c.Sys().Mount("secret", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("secret").Put(t.Context(), "app", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	want("kv put", write(t, lg, "secret/data/app", map[string]any{"data": map[string]any{"k": "v2"}}))
	want("kv put with a typo", write(t, lg, "secret/data/app", map[string]any{"data": map[string]any{"k": "v3"}, "optoins": map[string]any{"cas": 2}}),
		"Endpoint ignored these unrecognized parameters: [optoins]")

	tok, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}, DisplayName: "x"})
	if err != nil {
		t.Fatal(err)
	}
	want("token create by the client", tok)
	want("token create with a typo", write(t, lg, "auth/token/create", map[string]any{"polices": "default", "ttl": "1h"}),
		"Endpoint ignored these unrecognized parameters: [polices]")
	// A handler's own warning comes first, as in Vault.
	want("token create capped, with a typo", write(t, lg, "auth/token/create", map[string]any{"policies": "nope", "bogus": true}),
		`Policy "nope" does not exist`, "Endpoint ignored these unrecognized parameters: [bogus]")

	renewed, err := c.Auth().Token().Renew(tok.Auth.ClientToken, 60)
	if err != nil {
		t.Fatal(err)
	}
	want("token renew by the client (token, then increment, read in two stages)", renewed)

	// A read's query parameters are checked too (Vault makes them the
	// read's data): against every name the engine's paths take.
	readWith := func(path string, q map[string][]string) *vault.Secret {
		t.Helper()
		s, err := lg.ReadWithData(path, q)
		if err != nil || s == nil {
			t.Fatalf("read %s %v: %+v, %v", path, q, s, err)
		}
		return s
	}
	want("read with a misplaced flag", readWith("transit/keys/k", map[string][]string{"-format": {"json"}}),
		"Endpoint ignored these unrecognized parameters: [-format]")
	want("read with a parameter of another operation on the path", readWith("transit/keys/k", map[string][]string{"type": {"rsa-2048"}}))
	want("kv read of a version", readWith("secret/data/app", map[string][]string{"version": {"1"}}))
	want("kv read with a typo", readWith("secret/data/app", map[string][]string{"verison": {"1"}, "zz": {"1"}}),
		"Endpoint ignored these unrecognized parameters: [verison zz]")

	// The system backend's reads too, as `vault read <path> -format=json`
	// sends a flag given after the path; never the endpoints Vault serves
	// with handlers of its own.
	sysQ := map[string][]string{"-format": {"json"}}
	for _, p := range []string{"sys/policies/acl/default", "sys/policy/default", "sys/policy", "sys/mounts",
		"sys/mounts/secret", "sys/mounts/secret/tune", "sys/auth", "sys/auth/token/tune", "sys/audit",
		"sys/key-status", "sys/internal/ui/mounts/secret"} {
		want(p+" with a misplaced flag", readWith(p, sysQ), "Endpoint ignored these unrecognized parameters: [-format]")
	}
	want("sys/mounts/<path>/tune with its own parameters", readWith("sys/mounts/secret/tune", map[string][]string{"max_lease_ttl": {"1h"}, "description": {"d"}}))
	want("sys/policies/acl/<name> with its name given again", readWith("sys/policies/acl/default", map[string][]string{"name": {"other"}, "zz": {"1"}}),
		"Endpoint ignored these unrecognized parameters: [zz]",
		"Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [name]")
	for _, p := range []string{"sys/health", "sys/seal-status", "sys/leader"} {
		resp, err := lg.ReadRawWithDataWithContext(t.Context(), p, map[string][]string{"zz": {"1"}})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var body map[string]any
		if err := resp.DecodeJSON(&body); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, has := body["warnings"]; has {
			t.Fatalf("%s with a query: %v; Vault's own handler gives no warnings", p, body)
		}
	}

	// A parameter named as the path's capture is replaced by the path's
	// value, and said so, not called unrecognized (Vault's framework).
	const replaced = "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: "
	want("key create naming the key in the body", write(t, lg, "transit/keys/k3", map[string]any{"name": "x", "zz": 1}),
		"Endpoint ignored these unrecognized parameters: [zz]", replaced+"[name]")
	if s, err := lg.Read("transit/keys/x"); err != nil || s != nil {
		t.Fatalf("the key named in the body: %+v, %v; the path names the key", s, err)
	}
	want("encrypt naming the key in the body", write(t, lg, "transit/encrypt/k", map[string]any{"plaintext": b64s("x"), "name": "y"}), replaced+"[name]")
	want("hmac naming the algorithm in the body", write(t, lg, "transit/hmac/k", map[string]any{"input": b64s("x"), "urlalgorithm": "sha2-512"}), replaced+"[urlalgorithm]")
	want("key read naming the key in the query", readWith("transit/keys/k", map[string][]string{"name": {"z"}}), replaced+"[name]")
	want("sys/tools/random naming its source in the body", write(t, lg, "sys/tools/random", map[string]any{"bytes": 8, "source": "all"}), replaced+"[source]")
	want("kv read naming the path in the query", readWith("secret/data/app", map[string][]string{"path": {"q"}}), replaced+"[path]")
	want("kv metadata read naming the path in the query", readWith("secret/metadata/app", map[string][]string{"path": {"q"}}), replaced+"[path]")
	// A value holding the name deeper in the body is no parameter.
	want("kv put with the capture's name inside data", write(t, lg, "secret/data/app", map[string]any{"data": map[string]any{"path": "v"}}))

	// The token store's reads.
	want("token lookup-self with a misplaced flag", readWith("auth/token/lookup-self", map[string][]string{"-format": {"json"}}),
		"Endpoint ignored these unrecognized parameters: [-format]")

	// A 204 stays a 204.
	s, err := lg.Write("auth/token/roles/r", map[string]any{"bogus": 1})
	if err != nil || s != nil {
		t.Fatalf("token role write with a stray parameter: %+v, %v; want 204", s, err)
	}
	want("token role read with a parameter of its write", readWith("auth/token/roles/r", map[string][]string{"token_type": {"batch"}}))
	want("token role read with a typo", readWith("auth/token/roles/r", map[string][]string{"zz": {"1"}}),
		"Endpoint ignored these unrecognized parameters: [zz]")
	want("token role read naming the role", readWith("auth/token/roles/r", map[string][]string{"role_name": {"x"}}), replaced+"[role_name]")

	if err := c.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	want("approle login", approleLogin(t, c, "r", map[string]any{"token_policies": "default"}))
	want("approle role read with a typo", readWith("auth/approle/role/r", map[string][]string{"zz": {"1"}, "token_ttl": {"1"}}),
		"Endpoint ignored these unrecognized parameters: [zz]")
	want("approle secret-id naming the role in the body", write(t, lg, "auth/approle/role/r/secret-id", map[string]any{"role_name": "x"}), replaced+"[role_name]")
}
