package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// exportKeys reads transit/export/<kind>/<name>[/<version>] and returns its
// "keys" map.
func exportKeys(t *testing.T, lg *vault.Logical, path string) map[string]string {
	t.Helper()
	d := read(t, lg, path).Data
	raw, ok := d["keys"].(map[string]any)
	if !ok {
		t.Fatalf("export %s: keys = %#v", path, d["keys"])
	}
	out := make(map[string]string, len(raw))
	for k := range raw {
		out[k] = str(t, raw, k)
	}
	return out
}

// keyVersions returns the sorted version numbers in a key's "keys".
func keyVersions(t *testing.T, lg *vault.Logical, name string) []string {
	t.Helper()
	keys, _ := read(t, lg, "transit/keys/"+name).Data["keys"].(map[string]any)
	var vs []string
	for k := range keys {
		vs = append(vs, k)
	}
	slices.Sort(vs)
	return vs
}

// TestTransitDerivedConvergent covers derived keys (context required; HKDF
// checked against an exported key), convergent encryption (deterministic
// ciphertext, computed locally byte for byte), the upsert of derived and
// convergent keys by encrypt, and derived Ed25519 signing.
func TestTransitDerivedConvergent(t *testing.T) {
	_, lg := transitServer(t)
	msg := []byte("derived secret")
	ctx1, ctx2 := []byte("tenant-1"), []byte("tenant-2")

	// vault write transit/keys/der derived=true exportable=true (strings).
	write(t, lg, "transit/keys/der", map[string]any{"derived": "true", "exportable": "true"})
	d := read(t, lg, "transit/keys/der").Data
	if d["derived"] != true || d["kdf"] != "hkdf_sha256" || d["convergent_encryption"] != false {
		t.Fatalf("derived key: %v", d)
	}
	writeErr(t, lg, "transit/encrypt/der", map[string]any{"plaintext": b64(msg)}, 400, "missing 'context' for key derivation")
	ct := encrypt(t, lg, "der", msg, map[string]any{"context": b64(ctx1)})
	if got := decrypt(t, lg, "der", ct, map[string]any{"context": b64(ctx1)}); !bytes.Equal(got, msg) {
		t.Fatalf("derived round trip gave %q", got)
	}
	writeErr(t, lg, "transit/decrypt/der", map[string]any{"ciphertext": ct}, 400, "missing 'context' for key derivation")
	writeErr(t, lg, "transit/decrypt/der", map[string]any{"ciphertext": ct, "context": b64(ctx2)}, 400, msgAuthFailed)
	writeErr(t, lg, "transit/encrypt/der", map[string]any{"plaintext": b64(msg), "context": "not base64!"}, 400, "illegal base64")
	// Known answer: the key derived with HKDF-SHA256 (no salt, context as
	// info) from the exported version key opens the ciphertext, and a
	// ciphertext sealed locally with it decrypts.
	key := unb64(t, exportKeys(t, lg, "transit/export/encryption-key/der/1")["1"])
	dk, err := hkdf.Key(sha256.New, key, nil, string(ctx1), 32)
	if err != nil {
		t.Fatal(err)
	}
	_, raw := splitCiphertext(t, ct)
	if got := gcmOpen(t, dk, raw, nil); !bytes.Equal(got, msg) {
		t.Fatalf("locally derived key opened %q", got)
	}
	local := gcmSeal(t, dk, 1, []byte("sealed locally"), nil)
	if got := decrypt(t, lg, "der", local, map[string]any{"context": b64(ctx1)}); string(got) != "sealed locally" {
		t.Fatalf("local derived ciphertext decrypted to %q", got)
	}
	// Batch: context in all items or in none.
	writeErr(t, lg, "transit/encrypt/der", map[string]any{"batch_input": []map[string]any{
		{"plaintext": b64(msg), "context": b64(ctx1)}, {"plaintext": b64(msg)},
	}}, 400, "context should be set either in all the request blocks or in none")

	// Convergent encryption.
	writeErr(t, lg, "transit/keys/conv-bad", map[string]any{"convergent_encryption": true}, 400, "convergent encryption requires derivation to be enabled")
	write(t, lg, "transit/keys/conv", map[string]any{"derived": true, "convergent_encryption": true, "exportable": true})
	d = read(t, lg, "transit/keys/conv").Data
	if d["convergent_encryption"] != true || num(t, d["convergent_encryption_version"]) != -1 { // keysutil: versioned per key entry
		t.Fatalf("convergent key: %v", d)
	}
	a1 := encrypt(t, lg, "conv", msg, map[string]any{"context": b64(ctx1)})
	a2 := encrypt(t, lg, "conv", msg, map[string]any{"context": b64(ctx1)})
	b1 := encrypt(t, lg, "conv", msg, map[string]any{"context": b64(ctx2)})
	c1 := encrypt(t, lg, "conv", []byte("other plaintext"), map[string]any{"context": b64(ctx1)})
	if a1 != a2 || a1 == b1 || a1 == c1 {
		t.Fatalf("convergent: same input %q / %q, other context %q, other plaintext %q", a1, a2, b1, c1)
	}
	// Known answer: 64 derived bytes, the AES key then the HMAC key; the
	// nonce is HMAC-SHA256(plaintext) truncated to 12 bytes.
	ckey := unb64(t, exportKeys(t, lg, "transit/export/encryption-key/conv/latest")["1"])
	okm, err := hkdf.Key(sha256.New, ckey, nil, string(ctx1), 64)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, okm[32:])
	m.Write(msg)
	nonce := m.Sum(nil)[:12]
	want := "vault:v1:" + b64(newGCM(t, okm[:32]).Seal(bytes.Clone(nonce), nonce, msg, nil))
	if a1 != want {
		t.Fatalf("convergent ciphertext %q, computed locally %q", a1, want)
	}
	if got := decrypt(t, lg, "conv", a1, map[string]any{"context": b64(ctx1)}); !bytes.Equal(got, msg) {
		t.Fatalf("convergent decrypt gave %q", got)
	}
	// Convergent stays deterministic per version after rotation.
	write(t, lg, "transit/keys/conv/rotate", nil)
	r1 := encrypt(t, lg, "conv", msg, map[string]any{"context": b64(ctx1)})
	r2 := encrypt(t, lg, "conv", msg, map[string]any{"context": b64(ctx1)})
	if r1 != r2 || !strings.HasPrefix(r1, "vault:v2:") {
		t.Fatalf("convergent after rotate: %q %q", r1, r2)
	}

	// Upsert: encrypt to a missing key with a context creates a derived key;
	// with convergent_encryption a convergent one.
	encrypt(t, lg, "auto-der", msg, map[string]any{"context": b64(ctx1)})
	if d := read(t, lg, "transit/keys/auto-der").Data; d["derived"] != true || d["convergent_encryption"] != false {
		t.Fatalf("upserted derived key: %v", d)
	}
	u1 := encrypt(t, lg, "auto-conv", msg, map[string]any{"context": b64(ctx1), "convergent_encryption": "true", "type": "chacha20-poly1305"})
	u2 := encrypt(t, lg, "auto-conv", msg, map[string]any{"context": b64(ctx1)})
	if u1 != u2 {
		t.Fatalf("upserted convergent key is not deterministic: %q %q", u1, u2)
	}
	if d := read(t, lg, "transit/keys/auto-conv").Data; d["type"] != "chacha20-poly1305" || d["convergent_encryption"] != true {
		t.Fatalf("upserted convergent key: %v", d)
	}
	writeErr(t, lg, "transit/encrypt/auto-bad", map[string]any{"plaintext": b64(msg), "convergent_encryption": true}, 400, "context is required")

	// Derived Ed25519: signatures under the key derived from the context.
	write(t, lg, "transit/keys/ed-der", map[string]any{"type": "ed25519", "derived": true})
	s := write(t, lg, "transit/sign/ed-der", map[string]any{"input": b64(msg), "context": b64(ctx1)}).Data
	pub := ed25519.PublicKey(unb64(t, str(t, s, "public_key")))
	sig := sigBytes(t, str(t, s, "signature"), false)
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("derived Ed25519 signature does not verify with the returned public key")
	}
	rd, err := lg.ReadWithData("transit/keys/ed-der", map[string][]string{"context": {b64(ctx1)}})
	if err != nil || rd == nil {
		t.Fatalf("read with context: %v", err)
	}
	v1 := rd.Data["keys"].(map[string]any)["1"].(map[string]any)
	if v1["public_key"] != b64(pub) {
		t.Fatalf("keys/ed-der?context= public key %v, sign returned %s", v1["public_key"], b64(pub))
	}
	if v1 := asymVersion(t, read(t, lg, "transit/keys/ed-der").Data, "ed25519"); v1["public_key"] != "" {
		t.Fatalf("derived key without context shows public key %v", v1["public_key"])
	}
	signature := str(t, s, "signature")
	if !verifyValid(t, lg, "transit/verify/ed-der", map[string]any{"input": b64(msg), "signature": signature, "context": b64(ctx1)}) {
		t.Fatal("derived verify with the right context false")
	}
	if verifyValid(t, lg, "transit/verify/ed-der", map[string]any{"input": b64(msg), "signature": signature, "context": b64(ctx2)}) {
		t.Fatal("derived verify with another context true")
	}
	writeErr(t, lg, "transit/sign/ed-der", map[string]any{"input": b64(msg)}, 400, "missing 'context'")
	writeErr(t, lg, "transit/keys/ed-conv", map[string]any{"type": "ed25519", "derived": true, "convergent_encryption": true}, 400, "convergent encryption not supported")
}

// TestTransitAssociatedData covers associated_data on encrypt, decrypt,
// rewrap and datakey, checked with a local AES-GCM over an exported key.
func TestTransitAssociatedData(t *testing.T) {
	_, lg := transitServer(t)
	msg, ad := []byte("payload"), []byte("header v1")
	write(t, lg, "transit/keys/ad", map[string]any{"exportable": true})
	ct := encrypt(t, lg, "ad", msg, map[string]any{"associated_data": b64(ad)})
	if got := decrypt(t, lg, "ad", ct, map[string]any{"associated_data": b64(ad)}); !bytes.Equal(got, msg) {
		t.Fatalf("round trip with associated data gave %q", got)
	}
	writeErr(t, lg, "transit/decrypt/ad", map[string]any{"ciphertext": ct}, 400, msgAuthFailed)
	writeErr(t, lg, "transit/decrypt/ad", map[string]any{"ciphertext": ct, "associated_data": b64s("header v2")}, 400, msgAuthFailed)
	writeErr(t, lg, "transit/decrypt/ad", map[string]any{"ciphertext": ct, "associated_data": "%%%"}, 400, "unable to decode associated_data as base64")
	writeErr(t, lg, "transit/encrypt/ad", map[string]any{"plaintext": b64(msg), "associated_data": "%%%"}, 400, "unable to decode associated_data as base64")
	// Known answer with the exported key.
	key := unb64(t, exportKeys(t, lg, "transit/export/encryption-key/ad/1")["1"])
	_, raw := splitCiphertext(t, ct)
	if got := gcmOpen(t, key, raw, ad); !bytes.Equal(got, msg) {
		t.Fatalf("local open with associated data gave %q", got)
	}
	local := gcmSeal(t, key, 1, []byte("local"), ad)
	if got := decrypt(t, lg, "ad", local, map[string]any{"associated_data": b64(ad)}); string(got) != "local" {
		t.Fatalf("local ciphertext with associated data decrypted to %q", got)
	}
	writeErr(t, lg, "transit/decrypt/ad", map[string]any{"ciphertext": local}, 400, msgAuthFailed)
	// Rewrap keeps the associated data (a Strongroom extension).
	write(t, lg, "transit/keys/ad/rotate", nil)
	rw := str(t, write(t, lg, "transit/rewrap/ad", map[string]any{"ciphertext": ct, "associated_data": b64(ad)}).Data, "ciphertext")
	if !strings.HasPrefix(rw, "vault:v2:") {
		t.Fatalf("rewrap gave %q", rw)
	}
	if got := decrypt(t, lg, "ad", rw, map[string]any{"associated_data": b64(ad)}); !bytes.Equal(got, msg) {
		t.Fatalf("rewrapped with associated data gave %q", got)
	}
	writeErr(t, lg, "transit/decrypt/ad", map[string]any{"ciphertext": rw}, 400, msgAuthFailed)
	// Datakey with associated data.
	dkr := write(t, lg, "transit/datakey/plaintext/ad", map[string]any{"associated_data": b64(ad)}).Data
	if got := decrypt(t, lg, "ad", str(t, dkr, "ciphertext"), map[string]any{"associated_data": b64(ad)}); b64(got) != dkr["plaintext"] {
		t.Fatal("datakey with associated data does not decrypt to its plaintext")
	}
	// ChaCha20-Poly1305 takes associated data too.
	write(t, lg, "transit/keys/ad-chacha", map[string]any{"type": "chacha20-poly1305"})
	cct := encrypt(t, lg, "ad-chacha", msg, map[string]any{"associated_data": b64(ad)})
	if got := decrypt(t, lg, "ad-chacha", cct, map[string]any{"associated_data": b64(ad)}); !bytes.Equal(got, msg) {
		t.Fatalf("chacha round trip with associated data gave %q", got)
	}
	writeErr(t, lg, "transit/decrypt/ad-chacha", map[string]any{"ciphertext": cct}, 400, msgAuthFailed)
}

// TestTransitExport covers exportable keys and export/encryption-key,
// signing-key, hmac-key and public-key, with versions, checked by using the
// exported material locally against the server.
func TestTransitExport(t *testing.T) {
	_, lg := transitServer(t)
	msg := []byte("exported")

	write(t, lg, "transit/keys/exp", map[string]any{"exportable": true})
	c1 := encrypt(t, lg, "exp", msg, nil)
	write(t, lg, "transit/keys/exp/rotate", nil)
	all := exportKeys(t, lg, "transit/export/encryption-key/exp")
	if len(all) != 2 || all["1"] == "" || all["2"] == "" || all["1"] == all["2"] {
		t.Fatalf("export of every version: %v", all)
	}
	d := read(t, lg, "transit/export/encryption-key/exp").Data
	if d["name"] != "exp" || d["type"] != "aes256-gcm96" {
		t.Fatalf("export answer: %v", d)
	}
	for path, want := range map[string]string{"1": "1", "v1": "1", "2": "2", "latest": "2"} {
		got := exportKeys(t, lg, "transit/export/encryption-key/exp/"+path)
		if len(got) != 1 || got[want] != all[want] {
			t.Fatalf("export version %s: %v", path, got)
		}
	}
	k1, k2 := unb64(t, all["1"]), unb64(t, all["2"])
	if len(k1) != 32 || len(k2) != 32 {
		t.Fatal("exported AES-256 keys are not 32 bytes")
	}
	_, raw := splitCiphertext(t, c1)
	if got := gcmOpen(t, k1, raw, nil); !bytes.Equal(got, msg) {
		t.Fatalf("v1 ciphertext opened locally to %q", got)
	}
	if got := decrypt(t, lg, "exp", gcmSeal(t, k2, 2, msg, nil), nil); !bytes.Equal(got, msg) {
		t.Fatalf("local v2 ciphertext decrypted to %q", got)
	}
	hk := unb64(t, exportKeys(t, lg, "transit/export/hmac-key/exp/2")["2"])
	m := hmac.New(sha256.New, hk)
	m.Write(msg)
	if mac := str(t, write(t, lg, "transit/hmac/exp", map[string]any{"input": b64(msg)}).Data, "hmac"); mac != "vault:v2:"+b64(m.Sum(nil)) {
		t.Fatalf("hmac %q does not match the exported HMAC key", mac)
	}
	_, err := lg.Read("transit/export/encryption-key/exp/9")
	wantStatus(t, err, 400, "version does not exist")
	_, err = lg.Read("transit/export/encryption-key/exp/x")
	wantStatus(t, err, 400, "invalid key version")
	_, err = lg.Read("transit/export/signing-key/exp")
	wantStatus(t, err, 400, "signing not supported for the key")
	_, err = lg.Read("transit/export/private-key/exp")
	wantStatus(t, err, 400, "invalid export type")
	if s, err := lg.Read("transit/export/encryption-key/missing"); err != nil || s != nil {
		t.Fatalf("export of a missing key: %v %v, want 404", s, err)
	}

	// Not exportable: refused until config sets exportable, which cannot be unset.
	write(t, lg, "transit/keys/noexp", nil)
	_, err = lg.Read("transit/export/encryption-key/noexp")
	wantStatus(t, err, 400, "private key material is not exportable")
	_, err = lg.Read("transit/export/hmac-key/noexp")
	wantStatus(t, err, 400, "private key material is not exportable")
	write(t, lg, "transit/keys/noexp/config", map[string]any{"exportable": "true"})
	write(t, lg, "transit/keys/noexp/config", map[string]any{"exportable": false})
	if read(t, lg, "transit/keys/noexp").Data["exportable"] != true {
		t.Fatal("exportable was unset")
	}
	if got := exportKeys(t, lg, "transit/export/encryption-key/noexp"); len(unb64(t, got["1"])) != 32 {
		t.Fatalf("export after config: %v", got)
	}

	// ECDSA: the SEC 1 private key signs locally, the server verifies.
	write(t, lg, "transit/keys/ec", map[string]any{"type": "ecdsa-p256", "exportable": true})
	pemKey := exportKeys(t, lg, "transit/export/signing-key/ec/1")["1"]
	block, _ := pem.Decode([]byte(pemKey))
	if block == nil || block.Type != "EC PRIVATE KEY" {
		t.Fatalf("ECDSA signing key export: %q", pemKey)
	}
	ecPriv, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := parsePEMPublic(t, exportKeys(t, lg, "transit/export/public-key/ec/1")["1"]).(*ecdsa.PublicKey)
	if !pub.Equal(&ecPriv.PublicKey) {
		t.Fatal("exported public key does not match the exported private key")
	}
	sum := sha256.Sum256(msg)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ecPriv, sum[:])
	if !verifyValid(t, lg, "transit/verify/ec", map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(ecSig)}) {
		t.Fatal("a signature made with the exported ECDSA key does not verify")
	}
	_, err = lg.Read("transit/export/encryption-key/ec")
	wantStatus(t, err, 400, "encryption not supported for the key")

	// Ed25519: the base64 private key signs locally; format=der gives PKCS #8.
	write(t, lg, "transit/keys/ed", map[string]any{"type": "ed25519", "exportable": true})
	edPriv := ed25519.PrivateKey(unb64(t, exportKeys(t, lg, "transit/export/signing-key/ed")["1"]))
	if len(edPriv) != ed25519.PrivateKeySize {
		t.Fatalf("Ed25519 private key of %d bytes", len(edPriv))
	}
	if !verifyValid(t, lg, "transit/verify/ed", map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(ed25519.Sign(edPriv, msg))}) {
		t.Fatal("a signature made with the exported Ed25519 key does not verify")
	}
	der, err := lg.ReadWithData("transit/export/signing-key/ed/1", map[string][]string{"format": {"der"}})
	if err != nil || der == nil {
		t.Fatalf("export format=der: %v", err)
	}
	p8, err := x509.ParsePKCS8PrivateKey(unb64(t, der.Data["keys"].(map[string]any)["1"].(string)))
	if err != nil || !edPriv.Equal(p8) {
		t.Fatalf("PKCS #8 export: %v", err)
	}

	// RSA: the PKCS #1 private key decrypts the server's OAEP ciphertext.
	write(t, lg, "transit/keys/rsa", map[string]any{"type": "rsa-2048", "exportable": true})
	pemRSA := exportKeys(t, lg, "transit/export/encryption-key/rsa")["1"]
	block, _ = pem.Decode([]byte(pemRSA))
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("RSA export: %q", pemRSA)
	}
	rsaPriv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	_, raw = splitCiphertext(t, encrypt(t, lg, "rsa", msg, nil))
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, rsaPriv, raw, nil)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("local OAEP decryption: %q %v", pt, err)
	}
	if exportKeys(t, lg, "transit/export/signing-key/rsa")["1"] != pemRSA {
		t.Fatal("RSA signing-key and encryption-key exports differ")
	}
	pssSig, _ := rsa.SignPSS(rand.Reader, rsaPriv, crypto.SHA256, sum[:], nil)
	if !verifyValid(t, lg, "transit/verify/rsa", map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(pssSig)}) {
		t.Fatal("a PSS signature made with the exported RSA key does not verify")
	}
}

// TestTransitBackupRestore covers allow_plaintext_backup, backup/<name> and
// restore[/<name>]: restored keys decrypt the old ciphertexts of every
// version, force, and the archive of versions below
// min_decryption_version.
func TestTransitBackupRestore(t *testing.T) {
	_, lg := transitServer(t)
	msg := []byte("backed up")
	write(t, lg, "transit/keys/bk", map[string]any{"exportable": "true", "allow_plaintext_backup": "true"})
	c1 := encrypt(t, lg, "bk", msg, nil)
	write(t, lg, "transit/keys/bk/rotate", nil)
	c2 := encrypt(t, lg, "bk", msg, nil)
	mac := str(t, write(t, lg, "transit/hmac/bk", map[string]any{"input": b64(msg)}).Data, "hmac")

	backup := str(t, read(t, lg, "transit/backup/bk").Data, "backup")
	var kd struct {
		Policy struct {
			Name          string `json:"name"`
			LatestVersion int    `json:"latest_version"`
		} `json:"policy"`
		ArchivedKeys struct {
			Keys []json.RawMessage `json:"keys"`
		} `json:"archived_keys"`
	}
	if err := json.Unmarshal(unb64(t, backup), &kd); err != nil {
		t.Fatalf("backup is not base64 JSON: %v", err)
	}
	if kd.Policy.Name != "bk" || kd.Policy.LatestVersion != 2 || len(kd.ArchivedKeys.Keys) != 3 {
		t.Fatalf("backup policy %+v, %d archived entries", kd.Policy, len(kd.ArchivedKeys.Keys))
	}
	if bi, ok := read(t, lg, "transit/keys/bk").Data["backup_info"].(map[string]any); !ok || num(t, bi["version"]) != 2 {
		t.Fatalf("backup_info after backup: %v", read(t, lg, "transit/keys/bk").Data["backup_info"])
	}

	// vault write transit/restore/bk-copy backup=...
	writeNoData(t, lg, "transit/restore/bk-copy", map[string]any{"backup": backup})
	for _, ct := range []string{c1, c2} {
		if got := decrypt(t, lg, "bk-copy", ct, nil); !bytes.Equal(got, msg) {
			t.Fatalf("restored key decrypted %q to %q", ct, got)
		}
	}
	if !verifyValid(t, lg, "transit/verify/bk-copy", map[string]any{"input": b64(msg), "hmac": mac}) {
		t.Fatal("restored key does not verify the old HMAC")
	}
	d := read(t, lg, "transit/keys/bk-copy").Data
	if d["name"] != "bk-copy" || num(t, d["latest_version"]) != 2 || d["restore_info"] == nil || d["exportable"] != true {
		t.Fatalf("restored key: %v", d)
	}
	// New encryptions under the copy use v2, and the original decrypts them.
	if got := decrypt(t, lg, "bk", encrypt(t, lg, "bk-copy", msg, nil), nil); !bytes.Equal(got, msg) {
		t.Fatal("the original does not decrypt the copy's ciphertext")
	}
	// The name may be given in the body.
	writeNoData(t, lg, "transit/restore", map[string]any{"backup": backup, "name": "bk-body"})
	if got := decrypt(t, lg, "bk-body", c1, nil); !bytes.Equal(got, msg) {
		t.Fatal("restore with name in the body")
	}
	// An existing key is not replaced without force.
	writeErr(t, lg, "transit/restore/bk-copy", map[string]any{"backup": backup}, 400, "already exists")
	writeErr(t, lg, "transit/restore", map[string]any{"backup": backup}, 400, "already exists")
	write(t, lg, "transit/keys/bk-copy/rotate", nil)
	writeNoData(t, lg, "transit/restore/bk-copy", map[string]any{"backup": backup, "force": "true"})
	if v := num(t, read(t, lg, "transit/keys/bk-copy").Data["latest_version"]); v != 2 {
		t.Fatalf("forced restore: latest_version %d, want 2", v)
	}

	// Versions below min_decryption_version travel in the archive.
	write(t, lg, "transit/keys/bk/config", map[string]any{"min_decryption_version": 2})
	backup2 := str(t, read(t, lg, "transit/backup/bk").Data, "backup")
	writeNoData(t, lg, "transit/restore/bk-arch", map[string]any{"backup": backup2})
	writeErr(t, lg, "transit/decrypt/bk-arch", map[string]any{"ciphertext": c1}, 400, "too old")
	write(t, lg, "transit/keys/bk-arch/config", map[string]any{"min_decryption_version": 1})
	if got := decrypt(t, lg, "bk-arch", c1, nil); !bytes.Equal(got, msg) {
		t.Fatal("v1 from the archive does not decrypt after lowering min_decryption_version")
	}

	// Refusals.
	write(t, lg, "transit/keys/nobk", map[string]any{"exportable": true})
	_, err := lg.Read("transit/backup/nobk")
	wantStatus(t, err, 400, "plaintext backup is disallowed on the policy")
	write(t, lg, "transit/keys/noexp", map[string]any{"allow_plaintext_backup": true})
	_, err = lg.Read("transit/backup/noexp")
	wantStatus(t, err, 400, "exporting is disallowed on the policy")
	_, err = lg.Read("transit/backup/missing")
	wantStatus(t, err, 400, "not found")
	writeErr(t, lg, "transit/restore/x", map[string]any{"backup": "!!!"}, 400, "failed to decode backup")
	writeErr(t, lg, "transit/restore/x", map[string]any{"backup": base64.StdEncoding.EncodeToString([]byte(`{"foo":1}`))}, 400, "no policy")
	writeErr(t, lg, "transit/restore/x", map[string]any{}, 400, "'backup' must be supplied")
}

// TestTransitDeletion covers deletion_allowed: DELETE refused before the
// config allows it, then the key is gone (404, absent from LIST, its
// ciphertexts refused like any other), and the name is reusable.
func TestTransitDeletion(t *testing.T) {
	_, lg := transitServer(t)
	msg := []byte("to be deleted")
	write(t, lg, "transit/keys/del", nil)
	write(t, lg, "transit/keys/keep", nil)
	ct := encrypt(t, lg, "del", msg, nil)
	_, err := lg.Delete("transit/keys/del")
	wantStatus(t, err, 400, "deletion is not allowed for this key")
	if got := decrypt(t, lg, "del", ct, nil); !bytes.Equal(got, msg) {
		t.Fatal("refused deletion damaged the key")
	}
	// vault write transit/keys/del/config deletion_allowed=true
	if d := write(t, lg, "transit/keys/del/config", map[string]any{"deletion_allowed": "true"}).Data; d["deletion_allowed"] != true {
		t.Fatalf("config answer: %v", d)
	}
	if _, err := lg.Delete("transit/keys/del"); err != nil {
		t.Fatalf("delete after deletion_allowed: %v", err)
	}
	if s, err := lg.Read("transit/keys/del"); err != nil || s != nil {
		t.Fatalf("read after delete: %v %v, want 404", s, err)
	}
	l, err := lg.List("transit/keys")
	if err != nil || l == nil {
		t.Fatalf("list: %v", err)
	}
	if keys := l.Data["keys"].([]any); len(keys) != 1 || keys[0] != "keep" {
		t.Fatalf("list after delete: %v", keys)
	}
	writeErr(t, lg, "transit/decrypt/del", map[string]any{"ciphertext": ct}, 400, msgAuthFailed)
	_, err = lg.Delete("transit/keys/del")
	wantStatus(t, err, 400, "not found")
	// A key of the same name is a new key.
	write(t, lg, "transit/keys/del", nil)
	if v := num(t, read(t, lg, "transit/keys/del").Data["latest_version"]); v != 1 {
		t.Fatalf("re-created key: latest_version %d", v)
	}
	writeErr(t, lg, "transit/decrypt/del", map[string]any{"ciphertext": ct}, 400, msgAuthFailed)
	// deletion_allowed can be turned off again.
	write(t, lg, "transit/keys/keep/config", map[string]any{"deletion_allowed": true})
	write(t, lg, "transit/keys/keep/config", map[string]any{"deletion_allowed": false})
	_, err = lg.Delete("transit/keys/keep")
	wantStatus(t, err, 400, "deletion is not allowed")
	writeErr(t, lg, "transit/keys/missing/config", map[string]any{"deletion_allowed": true}, 400, "no existing key named missing could be found")
}
