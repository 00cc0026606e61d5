package main

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestSysTools makes the calls of `vault write sys/tools/random/...` and
// `vault write sys/tools/hash/...`: Vault's answers (random_bytes, sum)
// and refusals, under the ACL like any sys/ path.
func TestSysTools(t *testing.T) {
	p, c, _ := kvServer(t)
	lg := c.Logical()
	randomLen := func(path string, body map[string]any, decode func(string) ([]byte, error)) int {
		t.Helper()
		s, err := lg.Write(path, body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		raw, err := decode(s.Data["random_bytes"].(string))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return len(raw)
	}
	b64, hx := base64.StdEncoding.DecodeString, hex.DecodeString
	for _, tc := range []struct {
		path string
		body map[string]any
		dec  func(string) ([]byte, error)
		want int
	}{
		{"sys/tools/random", nil, b64, 32},
		{"sys/tools/random", map[string]any{"bytes": 8, "format": "hex"}, hx, 8},
		{"sys/tools/random/16", map[string]any{"format": "hex"}, hx, 16},
		{"sys/tools/random/platform/24", nil, b64, 24},
	} {
		if n := randomLen(tc.path, tc.body, tc.dec); n != tc.want {
			t.Fatalf("%s %v: %d bytes, want %d", tc.path, tc.body, n, tc.want)
		}
	}
	hello := base64.StdEncoding.EncodeToString([]byte("hello"))
	s, err := lg.Write("sys/tools/hash", map[string]any{"input": hello})
	if err != nil || s.Data["sum"] != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Fatalf("sha2-256 of hello: %v %v", s, err)
	}
	s, err = lg.Write("sys/tools/hash/sha2-224", map[string]any{"input": hello})
	if err != nil || s.Data["sum"] != "ea09ae9cc6768c50fcee903ed054556e5bfc8347907f12598aa24193" {
		t.Fatalf("sha2-224 of hello: %v %v", s, err)
	}
	_, err = lg.Write("sys/tools/hash/md5", map[string]any{"input": hello})
	wantStatus(t, err, http.StatusBadRequest, "")
	_, err = lg.Write("sys/tools/random/0", nil)
	wantStatus(t, err, http.StatusBadRequest, "")
	// Denied unless a policy allows it.
	sec, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	user := newClient(t, p.addr)
	user.SetToken(sec.Auth.ClientToken)
	_, err = user.Logical().Write("sys/tools/random", nil)
	wantStatus(t, err, http.StatusForbidden, "permission denied")
	// The default policy allows the hash tool, as Vault's does.
	if _, err := user.Logical().Write("sys/tools/hash/sha2-512", map[string]any{"input": hello}); err != nil {
		t.Fatalf("hash with the default policy: %v", err)
	}
}
