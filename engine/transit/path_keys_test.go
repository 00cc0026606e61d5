package transit

import (
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestKeyCreateAndReadEveryType(t *testing.T) {
	b := newBackend(t)
	for _, typ := range allTypes {
		t.Run(typ, func(t *testing.T) {
			d := ok(t, b, engine.OpUpdate, "keys/k-"+typ, map[string]any{"type": typ})
			if str(t, d, "type") != typ || str(t, d, "name") != "k-"+typ {
				t.Fatalf("create answered %v", d)
			}
			d = ok(t, b, engine.OpRead, "keys/k-"+typ, nil)
			for _, f := range []string{"latest_version", "min_decryption_version"} {
				if num(t, d, f) != 1 {
					t.Errorf("%s = %v, want 1", f, d[f])
				}
			}
			if num(t, d, "min_encryption_version") != 0 || num(t, d, "min_available_version") != 0 {
				t.Errorf("min versions: %v", d)
			}
			for _, f := range []string{"deletion_allowed", "exportable", "allow_plaintext_backup", "derived", "imported_key"} {
				if d[f] != false {
					t.Errorf("%s = %v, want false", f, d[f])
				}
			}
			if _, has := d["kdf"]; has {
				t.Errorf("kdf shown for a key that is not derived")
			}
			parsed := parseKeyType(typ)
			wantCaps := map[string]bool{
				"supports_encryption": parsed.encryptionSupported(),
				"supports_decryption": parsed.encryptionSupported(),
				"supports_signing":    parsed.signingSupported(),
				"supports_derivation": parsed.derivationSupported(),
			}
			for f, want := range wantCaps {
				if d[f] != want {
					t.Errorf("%s = %v, want %v", f, d[f], want)
				}
			}
			keys, _ := d["keys"].(map[string]any)
			switch {
			case parsed.symmetricAEAD():
				if _, isNum := keys["1"].(float64); !isNum {
					t.Errorf("keys = %v, want version → unix time", d["keys"])
				}
			case parsed.signingSupported():
				v1, _ := keys["1"].(map[string]any)
				pub, _ := v1["public_key"].(string)
				if pub == "" || v1["creation_time"] == nil || v1["name"] == "" {
					t.Errorf("keys = %v, want public keys", d["keys"])
				}
				if parsed.isRSA() || parsed.isECDSA() {
					wantContains(t, pub, "-----BEGIN PUBLIC KEY-----")
				}
			default: // hmac: Vault shows no keys
				if d["keys"] != nil {
					t.Errorf("keys = %v for an HMAC key", d["keys"])
				}
				if num(t, d, "key_size") != 32 {
					t.Errorf("key_size = %v", d["key_size"])
				}
			}
		})
	}
	resp, err := call(t, b, engine.OpList, "keys", nil)
	if err != nil {
		t.Fatal(err)
	}
	names := data(t, resp)["keys"].([]any)
	if len(names) != len(allTypes) {
		t.Fatalf("list = %v", names)
	}
}

// TestKeyCreateExistingKeepsParameters: creating a key that exists answers
// its unchanged description without a warning, as Vault and OpenBao do.
func TestKeyCreateExistingKeepsParameters(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", map[string]any{"type": "chacha20-poly1305"})
	resp, err := call(t, b, engine.OpUpdate, "keys/k", map[string]any{"type": "aes128-gcm96"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Warnings) != 0 {
		t.Fatalf("warnings = %v", resp.Warnings)
	}
	if str(t, data(t, resp), "type") != "chacha20-poly1305" {
		t.Fatalf("type changed: %v", data(t, resp))
	}
}

func TestKeyCreateRefusals(t *testing.T) {
	b := newBackend(t)
	cases := []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"type": "des"}, "unknown key type des"},
		{map[string]any{"convergent_encryption": true}, "convergent encryption requires derivation to be enabled"},
		{map[string]any{"type": "ecdsa-p256", "derived": true}, "key derivation and convergent encryption not supported for keys of type ecdsa-p256"},
		{map[string]any{"type": "ed25519", "derived": true, "convergent_encryption": true}, "convergent encryption not supported for keys of type ed25519"},
		{map[string]any{"type": "aes256-gcm96", "key_size": 64}, "key_size is not valid for algorithm aes256-gcm96"},
		{map[string]any{"type": "hmac", "key_size": 8}, "invalid key_size 8"},
		{map[string]any{"auto_rotate_period": "30m"}, "auto rotate period must be 0 to disable or at least an hour"},
		{map[string]any{"derived": "maybe"}, "cannot parse"},
	}
	for _, c := range cases {
		wantContains(t, fails(t, b, engine.OpUpdate, "keys/x", c.body), c.want)
	}
	if _, err := call(t, b, engine.OpRead, "keys/x", nil); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("refused key exists: %v", err)
	}
}

func TestKeyCreateAcceptsCLIStrings(t *testing.T) {
	b := newBackend(t)
	// The vault CLI sends key=value arguments as strings.
	d := ok(t, b, engine.OpUpdate, "keys/k", `{"type":"aes128-gcm96","derived":"true","exportable":"1","auto_rotate_period":"24h"}`)
	if d["derived"] != true || d["exportable"] != true || num(t, d, "auto_rotate_period") != 86400 || str(t, d, "kdf") != "hkdf_sha256" {
		t.Fatalf("created %v", d)
	}
	if d["convergent_encryption"] != false {
		t.Fatalf("convergent_encryption = %v", d["convergent_encryption"])
	}
}

func TestKeyDelete(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	wantContains(t, fails(t, b, engine.OpDelete, "keys/k", nil), "error deleting policy k: deletion is not allowed for this key")
	wantContains(t, fails(t, b, engine.OpDelete, "keys/nope", nil), "could not delete key; not found")
	ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"deletion_allowed": true})
	ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), "ciphertext")
	if _, err := call(t, b, engine.OpDelete, "keys/k", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, b, engine.OpRead, "keys/k", nil); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
	if got := fails(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct}); got != msgDecrypt {
		t.Fatalf("decrypt after delete: %q", got)
	}
	if _, err := call(t, b, engine.OpList, "keys", nil); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("empty list: %v", err)
	}
}

func TestListPagination(t *testing.T) {
	b := newBackend(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		ok(t, b, engine.OpUpdate, "keys/"+n, nil)
	}
	resp, err := b.HandleRequest(t.Context(), &engine.Request{Operation: engine.OpList, Path: "keys/",
		Query: map[string][]string{"after": {"a"}, "limit": {"2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := data(t, resp)["keys"]; len(got.([]any)) != 2 || got.([]any)[0] != "b" || got.([]any)[1] != "c" {
		t.Fatalf("page = %v", got)
	}
}

func TestRotateConfigAndTrim(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	var cts []string
	for v := 1; v <= 4; v++ {
		if v > 1 {
			d := ok(t, b, engine.OpUpdate, "keys/k/rotate", nil)
			if num(t, d, "latest_version") != v {
				t.Fatalf("rotate answered %v", d)
			}
		}
		d := ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("v")})
		if num(t, d, "key_version") != v || !strings.HasPrefix(str(t, d, "ciphertext"), "vault:v"+itoa(v)+":") {
			t.Fatalf("encrypt after rotation %d: %v", v, d)
		}
		cts = append(cts, str(t, d, "ciphertext"))
	}
	// Every version decrypts.
	for _, ct := range cts {
		ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct})
	}
	// Encrypt with an older version.
	d := ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("v"), "key_version": 2})
	wantContains(t, str(t, d, "ciphertext"), "vault:v2:")
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("v"), "key_version": 9}),
		"requested version for encryption is higher than the latest key version")

	// Raise the minimum versions.
	d = ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 3, "min_encryption_version": 3})
	if num(t, d, "min_decryption_version") != 3 || len(d["keys"].(map[string]any)) != 2 {
		t.Fatalf("config answered %v", d)
	}
	if got := fails(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": cts[0]}); got != msgTooOld {
		t.Fatalf("old version: %q", got)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("v"), "key_version": 2}),
		"requested version for encryption is less than the minimum encryption key version")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 9}),
		"cannot set min decryption version of 9, latest key version is 4")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_encryption_version": 2}),
		"min encryption version of 2 must be greater than or equal to min decryption version of 3")

	// Lowering it again brings the versions back.
	ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 1})
	ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": cts[0]})

	// Trim removes versions for good.
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/trim", map[string]any{"min_available_version": 2}),
		"minimum available version cannot be greater than minimum decryption version")
	ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 3})
	d = ok(t, b, engine.OpUpdate, "keys/k/trim", map[string]any{"min_available_version": 3})
	if num(t, d, "min_available_version") != 3 {
		t.Fatalf("trim answered %v", d)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 1}),
		"min decryption version should not be less then min available version")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/trim", map[string]any{"min_available_version": 2}),
		"minimum available version cannot be decremented")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/trim", nil), "missing min_available_version")
	ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": cts[3]})

	wantContains(t, fails(t, b, engine.OpUpdate, "keys/nope/rotate", nil), "key not found")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/nope/config", nil), "no existing key named nope could be found")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/nope/trim", map[string]any{"min_available_version": 1}), "invalid key name")
}

func TestConfigFlagsOnlyTurnOn(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	d := ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"exportable": true, "allow_plaintext_backup": true, "auto_rotate_period": 7200})
	if d["exportable"] != true || d["allow_plaintext_backup"] != true || num(t, d, "auto_rotate_period") != 7200 {
		t.Fatalf("config answered %v", d)
	}
	d = ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"exportable": false, "allow_plaintext_backup": false})
	if d["exportable"] != true || d["allow_plaintext_backup"] != true {
		t.Fatalf("flags were turned off: %v", d)
	}
	resp, err := call(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 0})
	if err != nil || len(resp.Warnings) != 1 {
		t.Fatalf("min_decryption_version 0: %v %v", err, resp)
	}
}

func TestRoutingErrors(t *testing.T) {
	b := newBackend(t)
	for _, p := range []string{"nope", "keys/a/b/c", "keys/-bad", "encrypt/", "encrypt/a/b", "export/x", "datakey/plaintext", "config/other"} {
		if _, err := call(t, b, engine.OpUpdate, p, nil); !errors.Is(err, engine.ErrUnsupportedPath) {
			t.Errorf("%s: %v, want unsupported path", p, err)
		}
	}
	for _, c := range []struct {
		op   engine.Operation
		path string
	}{{engine.OpRead, "encrypt/k"}, {engine.OpDelete, "keys/k/rotate"}, {engine.OpUpdate, "keys"}, {engine.OpRead, "random"}} {
		if _, err := call(t, b, c.op, c.path, nil); !errors.Is(err, engine.ErrUnsupportedOperation) {
			t.Errorf("%v %s: %v, want unsupported operation", c.op, c.path, err)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"a", "a-b", "a.b@c", "A_9", "my-key.v2"} {
		if !validName(n) {
			t.Errorf("%q refused", n)
		}
	}
	for _, n := range []string{"", "-a", "a-", ".a", "a/b", "a b", "é"} {
		if validName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestSoftDelete(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), "ciphertext")
	ok(t, b, engine.OpDelete, "keys/k/soft-delete", nil)
	wantContains(t, fails(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct}), msgSoftDeleted)
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), msgSoftDeleted)
	ok(t, b, engine.OpUpdate, "keys/k/soft-delete-restore", nil)
	ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct})
}
