package transit

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestExport(t *testing.T) {
	b := newBackend(t)
	for _, typ := range allTypes {
		ok(t, b, engine.OpUpdate, "keys/"+typ, map[string]any{"type": typ, "exportable": true})
	}
	ok(t, b, engine.OpUpdate, "keys/locked", map[string]any{"type": "ecdsa-p256"})

	one := func(path string) string {
		t.Helper()
		d := ok(t, b, engine.OpRead, path, nil)
		keys := d["keys"].(map[string]any)
		if len(keys) != 1 {
			t.Fatalf("%s: %v", path, keys)
		}
		for _, v := range keys {
			return v.(string)
		}
		return ""
	}
	if n := len(unb64(t, one("export/encryption-key/aes128-gcm96/1"))); n != 16 {
		t.Errorf("aes128 key of %d bytes", n)
	}
	if n := len(unb64(t, one("export/encryption-key/xchacha20-poly1305/latest"))); n != 32 {
		t.Errorf("xchacha key of %d bytes", n)
	}
	if n := len(unb64(t, one("export/hmac-key/hmac/v1"))); n != 32 {
		t.Errorf("hmac key of %d bytes", n)
	}
	// RSA: PKCS #1 PEM by default, PKCS #8 with format=pem.
	s := one("export/encryption-key/rsa-2048/1")
	block, _ := pem.Decode([]byte(s))
	rk, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil || block.Type != "RSA PRIVATE KEY" || !strings.HasSuffix(s, "\n") {
		t.Fatalf("rsa export %q: %v", s, err)
	}
	if !rk.PublicKey.Equal(publicKey(t, b, "rsa-2048").(*rsa.PublicKey)) {
		t.Fatal("exported rsa key does not match its public key")
	}
	resp, err := b.HandleRequest(t.Context(), &engine.Request{Operation: engine.OpRead, Path: "export/signing-key/rsa-2048/1", Query: map[string][]string{"format": {"pem"}}})
	if err != nil {
		t.Fatal(err)
	}
	block, _ = pem.Decode([]byte(data(t, resp)["keys"].(map[string]any)["1"].(string)))
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("pkcs8 export: %v", err)
	}
	// ECDSA: SEC 1 PEM.
	block, _ = pem.Decode([]byte(one("export/signing-key/ecdsa-p521/1")))
	ek, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil || block.Type != "EC PRIVATE KEY" || !ek.PublicKey.Equal(publicKey(t, b, "ecdsa-p521").(*ecdsa.PublicKey)) {
		t.Fatalf("ecdsa export: %v", err)
	}
	// Ed25519: the raw 64-byte key.
	edk := ed25519.PrivateKey(unb64(t, one("export/signing-key/ed25519/1")))
	if len(edk) != 64 || !edk.Public().(ed25519.PublicKey).Equal(publicKey(t, b, "ed25519")) {
		t.Fatal("ed25519 export")
	}
	// Public keys need no exportable flag.
	one("export/public-key/locked/1")
	wantContains(t, fails(t, b, engine.OpRead, "export/signing-key/locked/1", nil), "private key material is not exportable")
	wantContains(t, fails(t, b, engine.OpRead, "export/signing-key/aes256-gcm96", nil), "signing not supported for the key")
	wantContains(t, fails(t, b, engine.OpRead, "export/encryption-key/ed25519", nil), "encryption not supported for the key")
	wantContains(t, fails(t, b, engine.OpRead, "export/public-key/aes256-gcm96", nil), "unknown key type aes256-gcm96 for export type public-key")
	wantContains(t, fails(t, b, engine.OpRead, "export/other-key/aes256-gcm96", nil), "invalid export type: other-key")
	wantContains(t, fails(t, b, engine.OpRead, "export/encryption-key/aes256-gcm96/9", nil), "version does not exist or cannot be found")
	wantContains(t, fails(t, b, engine.OpRead, "export/encryption-key/aes256-gcm96/x", nil), "invalid key version")
	if _, err := call(t, b, engine.OpRead, "export/encryption-key/none", nil); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	ok(t, b, engine.OpUpdate, "keys/aes256-gcm96/rotate", nil)
	if d := ok(t, b, engine.OpRead, "export/encryption-key/aes256-gcm96", nil); len(d["keys"].(map[string]any)) != 2 {
		t.Fatalf("all versions: %v", d)
	}
	ok(t, b, engine.OpUpdate, "keys/aes256-gcm96/config", map[string]any{"min_decryption_version": 2})
	wantContains(t, fails(t, b, engine.OpRead, "export/encryption-key/aes256-gcm96/1", nil), "version for export is below minimum decryption version")
}

func TestRandom(t *testing.T) {
	b := newBackend(t)
	if n := len(unb64(t, str(t, ok(t, b, engine.OpUpdate, "random", nil), "random_bytes"))); n != 32 {
		t.Errorf("default: %d bytes", n)
	}
	if n := len(unb64(t, str(t, ok(t, b, engine.OpUpdate, "random/64", nil), "random_bytes"))); n != 64 {
		t.Errorf("random/64: %d bytes", n)
	}
	h, err := hex.DecodeString(str(t, ok(t, b, engine.OpUpdate, "random/16/hex", nil), "random_bytes"))
	if err != nil || len(h) != 16 {
		t.Errorf("random/16/hex: %x %v", h, err)
	}
	h, err = hex.DecodeString(str(t, ok(t, b, engine.OpUpdate, "random/platform/8", map[string]any{"format": "hex"}), "random_bytes"))
	if err != nil || len(h) != 8 {
		t.Errorf("random/platform/8: %x %v", h, err)
	}
	resp, err := call(t, b, engine.OpUpdate, "random/seal", map[string]any{"bytes": "12"})
	if err != nil || len(resp.Warnings) != 1 || len(unb64(t, str(t, data(t, resp), "random_bytes"))) != 12 {
		t.Errorf("random/seal: %v %v", resp, err)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "random", map[string]any{"bytes": 0}), "'bytes' cannot be less than 1")
	wantContains(t, fails(t, b, engine.OpUpdate, "random/200000", nil), "'bytes' should be less than 131072")
	wantContains(t, fails(t, b, engine.OpUpdate, "random", map[string]any{"format": "b32"}), `unsupported encoding format "b32"`)
	wantContains(t, fails(t, b, engine.OpUpdate, "random/abc", nil), "error parsing url-set byte count")
}

func TestHash(t *testing.T) {
	b := newBackend(t)
	// Digests of "hello world" from coreutils and Python's hashlib.
	for alg, want := range map[string]string{
		"":         "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
		"sha2-224": "2f05477fc24bb4faefd86517156dafdecec45b8ad3cf2522a563582b",
		"sha2-384": "fdbd8e75a67f29f701a4e040385e2e23986303ea10239211af907fcbb83578b3e417cb71ce646efd0819dd8c088de1bd",
		"sha3-256": "644bcc7e564373040999aac89e7622f3ca71fba1d972fd94a31c3bfbf24e3938",
	} {
		path := "hash"
		if alg != "" {
			path += "/" + alg
		}
		if got := str(t, ok(t, b, engine.OpUpdate, path, map[string]any{"input": b64("hello world")}), "sum"); got != want {
			t.Errorf("%s: %s", path, got)
		}
	}
	got := str(t, ok(t, b, engine.OpUpdate, "hash", map[string]any{"input": b64("hello world"), "algorithm": "sha2-512", "format": "base64"}), "sum")
	if len(unb64(t, got)) != 64 {
		t.Errorf("sha2-512 base64: %s", got)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "hash", nil), "input missing")
	wantContains(t, fails(t, b, engine.OpUpdate, "hash/md5", map[string]any{"input": b64("x")}), "unsupported algorithm md5")
	wantContains(t, fails(t, b, engine.OpUpdate, "hash", map[string]any{"input": "%%"}), "unable to decode input as base64")
	wantContains(t, fails(t, b, engine.OpUpdate, "hash", map[string]any{"input": b64("x"), "format": "b32"}), "unsupported encoding format b32")
}

func TestCacheConfig(t *testing.T) {
	b := newBackend(t)
	if num(t, ok(t, b, engine.OpRead, "cache-config", nil), "size") != 0 {
		t.Fatal("default cache size")
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "cache-config", map[string]any{"size": 5}), "size must be 0 or a value greater or equal to 10")
	if num(t, ok(t, b, engine.OpUpdate, "cache-config", map[string]any{"size": 10}), "size") != 10 {
		t.Fatal("cache-config write")
	}
	for i := range 15 {
		ok(t, b, engine.OpUpdate, "keys/k"+itoa(i), nil)
		ok(t, b, engine.OpUpdate, "encrypt/k"+itoa(i), map[string]any{"plaintext": b64("x")})
	}
	if n := b.cacheLen.Load(); n > 10 {
		t.Fatalf("%d keys loaded, bounded at 10", n)
	}
	// Evicted keys load again.
	for i := range 15 {
		ok(t, b, engine.OpUpdate, "encrypt/k"+itoa(i), map[string]any{"plaintext": b64("x")})
	}
	// The size persists for a new backend over the same storage.
	b2 := New(b.view, Options{})
	defer b2.Close()
	if num(t, ok(t, b2, engine.OpRead, "cache-config", nil), "size") != 10 {
		t.Fatal("cache size not stored")
	}
}
