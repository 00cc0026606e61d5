package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
)

// TestTransitKWPVectors checks the test's own RFC 5649 implementation
// against the RFC's two examples (section 6), so that the BYOK test does
// not depend on the engine's KWP to be right.
func TestTransitKWPVectors(t *testing.T) {
	kek, _ := hex.DecodeString("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	for _, v := range []struct{ key, wrapped string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		key, _ := hex.DecodeString(v.key)
		if got := hex.EncodeToString(kwpWrapRFC5649(kek, key)); got != v.wrapped {
			t.Fatalf("KWP of %s = %s, want %s", v.key, got, v.wrapped)
		}
	}
}

// byokWrap wraps target for import: RSA-OAEP (hash h) of a fresh AES-256
// key under the wrapping key, followed by the AES-KWP of target under it.
func byokWrap(t *testing.T, wrapping *rsa.PublicKey, h crypto.Hash, target []byte) string {
	t.Helper()
	eph := make([]byte, 32)
	rand.Read(eph)
	head, err := rsa.EncryptOAEP(h.New(), rand.Reader, wrapping, eph, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b64(append(head, kwpWrapRFC5649(eph, target)...))
}

// TestTransitBYOK covers bring-your-own-key: GET wrapping_key, import of
// keys the test wrapped itself (AES-256 with a known-answer decrypt of a
// ciphertext made locally, AES-128, HMAC, ECDSA as PKCS #8, an Ed25519
// public key completed later with its private key), import_version, the
// rotation rules of imported keys, and refusals of bad wrappings.
func TestTransitBYOK(t *testing.T) {
	_, lg := transitServer(t)
	msg := []byte("bring your own key")

	// vault read transit/wrapping_key: an RSA-4096 PEM public key, stable.
	pemKey := str(t, read(t, lg, "transit/wrapping_key").Data, "public_key")
	wrapping, ok := parsePEMPublic(t, pemKey).(*rsa.PublicKey)
	if !ok || wrapping.N.BitLen() != 4096 {
		t.Fatalf("wrapping key is not RSA-4096: %q", pemKey)
	}
	if again := str(t, read(t, lg, "transit/wrapping_key").Data, "public_key"); again != pemKey {
		t.Fatal("the wrapping key changed between reads")
	}

	// AES-256: import, then decrypt a ciphertext computed here with the key.
	k1 := make([]byte, 32)
	rand.Read(k1)
	writeNoData(t, lg, "transit/keys/imp/import", map[string]any{
		"ciphertext": byokWrap(t, wrapping, crypto.SHA256, k1), "type": "aes256-gcm96", "hash_function": "SHA256",
	})
	d := read(t, lg, "transit/keys/imp").Data
	if d["type"] != "aes256-gcm96" || d["imported_key"] != true || d["imported_key_allow_rotation"] != false || num(t, d["latest_version"]) != 1 {
		t.Fatalf("imported key: %v", d)
	}
	local1 := gcmSeal(t, k1, 1, msg, nil)
	if got := decrypt(t, lg, "imp", local1, nil); !bytes.Equal(got, msg) {
		t.Fatalf("known-answer decrypt gave %q", got)
	}
	_, raw := splitCiphertext(t, encrypt(t, lg, "imp", msg, nil))
	if got := gcmOpen(t, k1, raw, nil); !bytes.Equal(got, msg) {
		t.Fatalf("server ciphertext opened locally to %q", got)
	}
	adCT := gcmSeal(t, k1, 1, msg, []byte("aad"))
	if got := decrypt(t, lg, "imp", adCT, map[string]any{"associated_data": b64s("aad")}); !bytes.Equal(got, msg) {
		t.Fatalf("known-answer decrypt with associated data gave %q", got)
	}

	// import_version adds version 2 (hash_function in lower case, SHA-512).
	k2 := make([]byte, 32)
	rand.Read(k2)
	writeNoData(t, lg, "transit/keys/imp/import_version", map[string]any{
		"ciphertext": byokWrap(t, wrapping, crypto.SHA512, k2), "hash_function": "sha512",
	})
	if v := num(t, read(t, lg, "transit/keys/imp").Data["latest_version"]); v != 2 {
		t.Fatalf("after import_version: latest_version %d", v)
	}
	if got := decrypt(t, lg, "imp", gcmSeal(t, k2, 2, msg, nil), nil); !bytes.Equal(got, msg) {
		t.Fatal("v2 known-answer decrypt failed")
	}
	if got := decrypt(t, lg, "imp", local1, nil); !bytes.Equal(got, msg) {
		t.Fatal("v1 lost after import_version")
	}
	ct2 := encrypt(t, lg, "imp", msg, nil)
	if v, raw := splitCiphertext(t, ct2); v != 2 || !bytes.Equal(gcmOpen(t, k2, raw, nil), msg) {
		t.Fatalf("encryption after import_version: %q", ct2)
	}
	// A v2 ciphertext made with k1 does not open.
	writeErr(t, lg, "transit/decrypt/imp", map[string]any{"ciphertext": gcmSeal(t, k1, 2, msg, nil)}, 400, msgAuthFailed)

	// Imported keys rotate only with allow_rotation.
	writeErr(t, lg, "transit/keys/imp/rotate", nil, 400, "does not allow rotation")
	writeErr(t, lg, "transit/keys/imp/import", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, k1)}, 400, "cannot be used with an existing key")
	writeNoData(t, lg, "transit/keys/imp-rot/import", map[string]any{
		"ciphertext": byokWrap(t, wrapping, crypto.SHA256, k1), "allow_rotation": "true",
	})
	if d := write(t, lg, "transit/keys/imp-rot/rotate", nil).Data; num(t, d["latest_version"]) != 2 || d["imported_key"] != false {
		t.Fatalf("rotation of an imported key with allow_rotation: %v", d)
	}
	if got := decrypt(t, lg, "imp-rot", local1, nil); !bytes.Equal(got, msg) {
		t.Fatal("imported v1 lost after rotation")
	}
	write(t, lg, "transit/keys/native", nil)
	writeErr(t, lg, "transit/keys/native/import_version", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, k1)}, 400, "can only be used with an imported key")
	writeErr(t, lg, "transit/keys/ghost/import_version", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, k1)}, 400, "no key found with name ghost")

	// AES-128.
	k128 := make([]byte, 16)
	rand.Read(k128)
	writeNoData(t, lg, "transit/keys/imp128/import", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, k128), "type": "aes128-gcm96"})
	if got := decrypt(t, lg, "imp128", gcmSeal(t, k128, 1, msg, nil), nil); !bytes.Equal(got, msg) {
		t.Fatal("AES-128 known-answer decrypt failed")
	}

	// HMAC: the server's HMAC equals the one computed with the imported key.
	hk := make([]byte, 32)
	rand.Read(hk)
	writeNoData(t, lg, "transit/keys/imp-mac/import", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, hk), "type": "hmac"})
	m := hmac.New(sha256.New, hk)
	m.Write(msg)
	if mac := str(t, write(t, lg, "transit/hmac/imp-mac", map[string]any{"input": b64(msg)}).Data, "hmac"); mac != "vault:v1:"+b64(m.Sum(nil)) {
		t.Fatalf("imported HMAC key: %q", mac)
	}

	// ECDSA P-256 as PKCS #8: the published public key is ours, and the
	// server's signatures verify with it.
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	writeNoData(t, lg, "transit/keys/imp-ec/import", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, p8), "type": "ecdsa-p256"})
	v1 := asymVersion(t, read(t, lg, "transit/keys/imp-ec").Data, "P-256")
	if pub := parsePEMPublic(t, str(t, v1, "public_key")).(*ecdsa.PublicKey); !pub.Equal(&ecKey.PublicKey) {
		t.Fatal("imported ECDSA key publishes another public key")
	}
	sum := sha256.Sum256(msg)
	sig := sigBytes(t, str(t, write(t, lg, "transit/sign/imp-ec", map[string]any{"input": b64(msg)}).Data, "signature"), false)
	if !ecdsa.VerifyASN1(&ecKey.PublicKey, sum[:], sig) {
		t.Fatal("server signature does not verify with the imported key")
	}
	writeErr(t, lg, "transit/keys/imp-ec384/import", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, p8), "type": "ecdsa-p384"}, 400, "invalid curve")

	// Ed25519: a public key first (verify only), then its private key.
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(edPub)
	writeNoData(t, lg, "transit/keys/imp-ed/import", map[string]any{
		"public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "type": "ed25519",
	})
	if !verifyValid(t, lg, "transit/verify/imp-ed", map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(ed25519.Sign(edPriv, msg))}) {
		t.Fatal("public-key-only import does not verify a local signature")
	}
	writeErr(t, lg, "transit/sign/imp-ed", map[string]any{"input": b64(msg)}, 400, "does not contain a private part")
	edP8, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	otherP8, _ := x509.MarshalPKCS8PrivateKey(otherEd)
	writeErr(t, lg, "transit/keys/imp-ed/import_version", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, otherP8), "version": 1}, 400, "key pair does not match")
	writeNoData(t, lg, "transit/keys/imp-ed/import_version", map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, edP8), "version": "1"})
	edSig := sigBytes(t, str(t, write(t, lg, "transit/sign/imp-ed", map[string]any{"input": b64(msg)}).Data, "signature"), false)
	if !ed25519.Verify(edPub, msg, edSig) {
		t.Fatal("signature after completing the Ed25519 key does not verify")
	}

	// Refusals of bad wrappings.
	good := byokWrap(t, wrapping, crypto.SHA256, k1)
	tampered := unb64(t, good)
	tampered[len(tampered)-3] ^= 0x40
	for _, tc := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{"ciphertext": good, "hash_function": "SHA1"}, "failed to unwrap the ephemeral key"},
		{map[string]any{"ciphertext": b64(tampered)}, "failed to unwrap the target key"},
		{map[string]any{"ciphertext": b64(unb64(t, good)[:512])}, "provided ciphertext is too short"},
		{map[string]any{"ciphertext": "***"}, "failed to decode ciphertext"},
		{map[string]any{"ciphertext": good, "hash_function": "MD5"}, "unknown hash function"},
		{map[string]any{"ciphertext": byokWrap(t, wrapping, crypto.SHA256, k128)}, "invalid key size 16 bytes for key type aes256-gcm96"},
		{map[string]any{"ciphertext": good, "type": "aes512"}, "unknown key type"},
		{map[string]any{}, "one of the fields ciphertext or public_key must be set"},
		{map[string]any{"ciphertext": good, "convergent_encryption": true}, "convergent encryption"},
		{map[string]any{"public_key": "not pem", "type": "aes256-gcm96"}, "does not support public_key import"},
	} {
		writeErr(t, lg, "transit/keys/bad/import", tc.data, 400, tc.want)
	}
	if s, err := lg.Read("transit/keys/bad"); err != nil || s != nil {
		t.Fatalf("a refused import left a key: %v %v", s, err)
	}
	_, err = lg.Write("transit/wrapping_key", nil)
	wantStatus(t, err, 405, "")
	if !strings.Contains(pemKey, "BEGIN PUBLIC KEY") {
		t.Fatalf("wrapping key PEM: %q", pemKey)
	}
}
