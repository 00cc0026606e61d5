package transit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"hash"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestKWPVectors(t *testing.T) {
	// RFC 5649, section 6.
	kek, _ := hex.DecodeString("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	for _, c := range []struct{ key, wrapped string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		key, _ := hex.DecodeString(c.key)
		want, _ := hex.DecodeString(c.wrapped)
		got, err := kwpWrap(kek, key)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("wrap %s = %x, %v", c.key, got, err)
		}
		back, err := kwpUnwrap(kek, want)
		if err != nil || !bytes.Equal(back, key) {
			t.Errorf("unwrap %s = %x, %v", c.wrapped, back, err)
		}
		bad := bytes.Clone(want)
		bad[3] ^= 1
		if _, err := kwpUnwrap(kek, bad); err == nil {
			t.Errorf("tampered %s unwrapped", c.wrapped)
		}
	}
	for n := 1; n < 70; n++ {
		key := seq(n, n)
		w, err := kwpWrap(seq(0, 32), key)
		if err != nil {
			t.Fatal(err)
		}
		back, err := kwpUnwrap(seq(0, 32), w)
		if err != nil || !bytes.Equal(back, key) {
			t.Fatalf("%d bytes: %x %v", n, back, err)
		}
	}
	for _, n := range []int{0, 8, 15, 17} {
		if _, err := kwpUnwrap(seq(0, 32), make([]byte, n)); err == nil {
			t.Errorf("%d bytes unwrapped", n)
		}
	}
}

// wrapForImport wraps material for keys/<name>/import as the vault CLI
// does: RSA-OAEP of an ephemeral AES-256 key, then KWP of the material.
func wrapForImport(t testing.TB, b *Backend, material []byte, h hash.Hash) string {
	t.Helper()
	p := str(t, ok(t, b, engine.OpRead, "wrapping_key", nil), "public_key")
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("wrapping key %q", p)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if pub.(*rsa.PublicKey).N.BitLen() != 4096 {
		t.Fatalf("wrapping key of %d bits", pub.(*rsa.PublicKey).N.BitLen())
	}
	eph := make([]byte, 32)
	rand.Read(eph)
	if h == nil {
		h = sha256.New()
	}
	we, err := rsa.EncryptOAEP(h, rand.Reader, pub.(*rsa.PublicKey), eph, []byte{})
	if err != nil {
		t.Fatal(err)
	}
	wk, err := kwpWrap(eph, material)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(append(we, wk...))
}

// byok imports material as key name of type typ.
func byok(t testing.TB, b *Backend, name, typ string, material []byte, extra map[string]any) {
	t.Helper()
	body := map[string]any{"type": typ, "ciphertext": wrapForImport(t, b, material, nil)}
	for k, v := range extra {
		body[k] = v
	}
	ok(t, b, engine.OpUpdate, "keys/"+name+"/import", body)
}

func TestImportSymmetricAndHMAC(t *testing.T) {
	b := newBackend(t)
	key := seq(0, 32)
	body := map[string]any{"type": "aes256-gcm96", "ciphertext": wrapForImport(t, b, key, sha512.New()), "hash_function": "SHA512", "exportable": true}
	ok(t, b, engine.OpUpdate, "keys/k/import", body)
	d := ok(t, b, engine.OpRead, "keys/k", nil)
	if d["imported_key"] != true || d["imported_key_allow_rotation"] != false {
		t.Fatalf("imported key %v", d)
	}
	exp := ok(t, b, engine.OpRead, "export/encryption-key/k/1", nil)
	if got := exp["keys"].(map[string]any)["1"]; got != base64.StdEncoding.EncodeToString(key) {
		t.Fatalf("exported %v", got)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/rotate", nil), "imported key k does not allow rotation within Vault")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/k/import", body), "the import path cannot be used with an existing key")

	// A new version through import_version.
	ok(t, b, engine.OpUpdate, "keys/k/import_version", map[string]any{"ciphertext": wrapForImport(t, b, seq(50, 32), nil)})
	exp = ok(t, b, engine.OpRead, "export/encryption-key/k", nil)
	if exp["keys"].(map[string]any)["2"] != base64.StdEncoding.EncodeToString(seq(50, 32)) {
		t.Fatalf("version 2 exported %v", exp)
	}

	// HMAC: the imported key is the HMAC key.
	byok(t, b, "h", "hmac", key, nil)
	d = ok(t, b, engine.OpUpdate, "hmac/h", map[string]any{"input": b64("the quick brown fox")})
	// HMAC-SHA256(0..31, "the quick brown fox"), computed with Python's hmac.
	want, _ := hex.DecodeString("d42d6afb45f6f5fe9d6ae6a2f7c331e50cf14540995da07a659d02d1077625a2")
	if got := str(t, d, "hmac"); got != "vault:v1:"+base64.StdEncoding.EncodeToString(want) {
		t.Fatalf("hmac %s", got)
	}

	// Refusals.
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"type": "aes256-gcm96", "ciphertext": wrapForImport(t, b, seq(0, 16), nil)}, "invalid key size 16 bytes for key type aes256-gcm96"},
		{map[string]any{"type": "aes256-gcm96", "ciphertext": wrapForImport(t, b, key, nil), "convergent_encryption": false}, "import cannot be used on keys with convergent encryption enabled"},
		{map[string]any{"type": "aes256-gcm96", "ciphertext": wrapForImport(t, b, key, nil), "auto_rotate_period": "2h"}, "allow_rotation must be set to true if auto-rotation is enabled"},
		{map[string]any{"type": "aes256-gcm96", "ciphertext": wrapForImport(t, b, key, nil), "hash_function": "MD5"}, "unknown hash function: MD5"},
		{map[string]any{"type": "aes256-gcm96", "ciphertext": wrapForImport(t, b, key, nil), "hash_function": "SHA1"}, "failed to unwrap the ephemeral key"},
		{map[string]any{"type": "aes256-gcm96", "ciphertext": "AAAA"}, "provided ciphertext is too short"},
		{map[string]any{"type": "nope", "ciphertext": "AAAA"}, "unknown key type: nope"},
		{map[string]any{"type": "aes256-gcm96", "public_key": "x"}, "provided type does not support public_key import"},
		{map[string]any{"type": "aes256-gcm96"}, "one of the fields ciphertext or public_key must be set"},
	} {
		wantContains(t, fails(t, b, engine.OpUpdate, "keys/x/import", c.body), c.want)
	}
	// A tampered wrapped key.
	raw := unb64(t, wrapForImport(t, b, key, nil))
	raw[len(raw)-1] ^= 1
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/x/import", map[string]any{"ciphertext": base64.StdEncoding.EncodeToString(raw)}), "failed to unwrap the target key")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/x/import_version", map[string]any{"ciphertext": "AAAA"}), "no key found with name x")
	ok(t, b, engine.OpUpdate, "keys/native", nil)
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/native/import_version", map[string]any{"ciphertext": wrapForImport(t, b, key, nil)}),
		"the import_version endpoint can only be used with an imported key")
}

func TestImportAllowRotation(t *testing.T) {
	b := newBackend(t)
	byok(t, b, "k", "aes256-gcm96", seq(0, 32), map[string]any{"allow_rotation": true, "auto_rotate_period": "1h"})
	d := ok(t, b, engine.OpUpdate, "keys/k/rotate", nil)
	if num(t, d, "latest_version") != 2 || d["imported_key"] != false {
		t.Fatalf("rotated imported key %v", d)
	}
	ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": kaAES256})
}

// TestImportAsymmetric imports private keys made here, signs with the
// backend and verifies with the standard library.
func TestImportAsymmetric(t *testing.T) {
	b := newBackend(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rk, _ := testRSA(nil, 2048)
	for _, c := range []struct {
		typ  string
		priv crypto.Signer
	}{{"ecdsa-p384", ec}, {"ed25519", ed}, {"rsa-2048", rk}} {
		der, err := x509.MarshalPKCS8PrivateKey(c.priv)
		if err != nil {
			t.Fatal(err)
		}
		byok(t, b, c.typ, c.typ, der, nil)
		sig := str(t, ok(t, b, engine.OpUpdate, "sign/"+c.typ, map[string]any{"input": b64("message")}), "signature")
		raw := unb64(t, strings.TrimPrefix(sig, "vault:v1:"))
		digest := sha256.Sum256([]byte("message"))
		var valid bool
		switch pub := c.priv.Public().(type) {
		case *ecdsa.PublicKey:
			valid = ecdsa.VerifyASN1(pub, digest[:], raw)
		case ed25519.PublicKey:
			valid = ed25519.Verify(pub, []byte("message"), raw)
		case *rsa.PublicKey:
			valid = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], raw, nil) == nil
		}
		if !valid {
			t.Errorf("%s: signature does not verify with the imported key", c.typ)
		}
	}
	// A key of the wrong type or curve.
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/w/import", map[string]any{"type": "ecdsa-p256", "ciphertext": wrapForImport(t, b, der, nil)}),
		"invalid curve: expected P-256, got P-384")
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/w/import", map[string]any{"type": "rsa-2048", "ciphertext": wrapForImport(t, b, der, nil)}),
		"invalid key type: expected rsa-2048")
}

// TestImportPublicKeyThenPrivate imports a public key, which verifies and
// encrypts but cannot sign, then completes it with import_version.
func TestImportPublicKeyThenPrivate(t *testing.T) {
	b := newBackend(t)
	rk, _ := testRSA(nil, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pubPEM := pemBlock("PUBLIC KEY", pubDER)
	ok(t, b, engine.OpUpdate, "keys/r/import", map[string]any{"type": "rsa-2048", "public_key": pubPEM})
	d := ok(t, b, engine.OpRead, "keys/r", nil)
	if d["keys"].(map[string]any)["1"].(map[string]any)["public_key"] != pubPEM {
		t.Fatalf("public key %v", d["keys"])
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/r", map[string]any{"input": b64("m")}), "requested version for signing does not contain a private part")
	ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/r", map[string]any{"plaintext": b64("m")}), "ciphertext")
	wantContains(t, fails(t, b, engine.OpUpdate, "decrypt/r", map[string]any{"ciphertext": ct}), "does not have a private counterpart")

	// A signature made outside verifies.
	digest := sha256.Sum256([]byte("m"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:])
	d = ok(t, b, engine.OpUpdate, "verify/r", map[string]any{"input": b64("m"), "signature_algorithm": "pkcs1v15",
		"signature": "vault:v1:" + base64.StdEncoding.EncodeToString(sig)})
	if d["valid"] != true {
		t.Fatal("external signature does not verify")
	}

	// The wrong private key is refused; the right one completes version 1.
	other, _ := testRSA(nil, 2048)
	wrongDER, _ := x509.MarshalPKCS8PrivateKey(other)
	wantContains(t, fails(t, b, engine.OpUpdate, "keys/r/import_version", map[string]any{"version": 1, "ciphertext": wrapForImport(t, b, wrongDER, nil)}),
		"cannot import key, key pair does not match")
	der, _ := x509.MarshalPKCS8PrivateKey(rk)
	ok(t, b, engine.OpUpdate, "keys/r/import_version", map[string]any{"version": 1, "ciphertext": wrapForImport(t, b, der, nil)})
	if num(t, ok(t, b, engine.OpRead, "keys/r", nil), "latest_version") != 1 {
		t.Fatal("import_version with version added a version")
	}
	ok(t, b, engine.OpUpdate, "sign/r", map[string]any{"input": b64("m")})
	if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/r", map[string]any{"ciphertext": ct}), "plaintext")); string(got) != "m" {
		t.Fatalf("decrypted %q", got)
	}
}
