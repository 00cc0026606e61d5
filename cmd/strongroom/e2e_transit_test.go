package main

import (
	"encoding/base64"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestTransitGuideFlow follows the transit flow of a cloud provider's KMS
// guide with the requests the vault CLI makes.
func TestTransitGuideFlow(t *testing.T) {
	_, c, _ := initUnsealed(t, 1, 1)
	// vault secrets enable transit
	if err := c.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	lg := c.Logical()
	// vault write -f transit/keys/my-key
	if _, err := lg.Write("transit/keys/my-key", nil); err != nil {
		t.Fatal(err)
	}
	pt := base64.StdEncoding.EncodeToString([]byte("my secret data"))
	enc := func(key string) string {
		t.Helper()
		s, err := lg.Write("transit/encrypt/"+key, map[string]any{"plaintext": pt})
		if err != nil {
			t.Fatal(err)
		}
		return s.Data["ciphertext"].(string)
	}
	c1, c2 := enc("my-key"), enc("my-key")
	if c1 == c2 || !strings.HasPrefix(c1, "vault:v1:") {
		t.Fatalf("ciphertexts %q %q", c1, c2)
	}
	s, err := lg.Write("transit/decrypt/my-key", map[string]any{"ciphertext": c1})
	if err != nil || s.Data["plaintext"] != pt {
		t.Fatalf("decrypt: %v %v", s, err)
	}
	// A missing key and the wrong key give the same 400.
	if _, err := lg.Write("transit/keys/other-key", nil); err != nil {
		t.Fatal(err)
	}
	_, errMissing := lg.Write("transit/decrypt/no-such-key", map[string]any{"ciphertext": c1})
	_, errWrong := lg.Write("transit/decrypt/other-key", map[string]any{"ciphertext": c1})
	if statusCode(errMissing) != 400 || statusCode(errWrong) != 400 {
		t.Fatalf("missing key %v, wrong key %v", errMissing, errWrong)
	}
	m1, m2 := errMissing.(*vault.ResponseError).Errors, errWrong.(*vault.ResponseError).Errors
	if len(m1) != 1 || len(m2) != 1 || m1[0] != m2[0] {
		t.Fatalf("the two failures differ: %q vs %q", m1, m2)
	}
	// vault write -f transit/keys/my-key/rotate
	if _, err := lg.Write("transit/keys/my-key/rotate", nil); err != nil {
		t.Fatal(err)
	}
	c3 := enc("my-key")
	if !strings.HasPrefix(c3, "vault:v2:") {
		t.Fatalf("after rotate: %q", c3)
	}
	if s, err = lg.Write("transit/decrypt/my-key", map[string]any{"ciphertext": c1}); err != nil || s.Data["plaintext"] != pt {
		t.Fatalf("old v1 ciphertext after rotate: %v %v", s, err)
	}
	// vault write transit/rewrap/my-key ciphertext=<v1>
	s, err = lg.Write("transit/rewrap/my-key", map[string]any{"ciphertext": c1})
	if err != nil || !strings.HasPrefix(s.Data["ciphertext"].(string), "vault:v2:") {
		t.Fatalf("rewrap: %v %v", s, err)
	}
	k, err := lg.Read("transit/keys/my-key")
	if err != nil || k.Data["latest_version"] == nil || k.Data["type"] != "aes256-gcm96" {
		t.Fatalf("key read: %v %v", k, err)
	}
	// Batch encrypt of 100 items.
	items := make([]map[string]any, 100)
	for i := range items {
		items[i] = map[string]any{"plaintext": pt}
	}
	b, err := lg.Write("transit/encrypt/my-key", map[string]any{"batch_input": items})
	if err != nil || len(b.Data["batch_results"].([]any)) != 100 {
		t.Fatalf("batch encrypt: %v", err)
	}
}
