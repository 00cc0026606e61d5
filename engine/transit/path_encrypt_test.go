package transit

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	xhkdf "golang.org/x/crypto/hkdf"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/strongroom/strongroom/engine"
)

// Known answers computed outside Go, with Python's cryptography package:
// key bytes 0..31 (0..15 for AES-128), nonce bytes 100..111, plaintext
// "hello world"; "derived" uses the key derived by HKDF-SHA256 with no
// salt and the context "ctx-1"; "convergent" also takes its nonce from
// HMAC-SHA256 of the plaintext under the next 32 derived bytes.
const (
	kaAES256     = "vault:v1:ZGVmZ2hpamtsbW5vIH6yChbJIfFMDjt8odjSnLiO1wj4s1D7hj7t"
	kaAES256AD   = "vault:v1:ZGVmZ2hpamtsbW5vIH6yChbJIfFMDjv7YGWfIVwSSAWMiSVJ+Or8" // associated data "assoc"
	kaAES128     = "vault:v1:ZGVmZ2hpamtsbW5vcgciybQiz5XpUjOpNOYuUbvGa6EZiV8/kCa3"
	kaChaCha     = "vault:v1:ZGVmZ2hpamtsbW5vXHTXpveFAT2JsnGw9DxuLijopBdLsdFSPDlc"
	kaDerived    = "vault:v1:ZGVmZ2hpamtsbW5vEAc6QHd3BHTZ4JqK+a2mcAPFrlC5KYyOvlq/"
	kaConvergent = "vault:v1:gVs8nR5W6tLMSlEWyd/plJgGbo4x3NqoPshQY4kywwPhZ628iKY6"
	// HKDF-SHA256(secret 0..31, no salt, info "ctx-1"), 64 bytes.
	kaHKDF = "389566c6d464344ea626aed8e6136495e20fb6c1d2dc4893f3bc3bbf87a509f8ee2eb27d8aaa2fd4f0829ed948293f0a85ebc5c26870ab6453af6a868c5d6e4f"
)

func seq(from, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(from + i)
	}
	return out
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	b := newBackend(t)
	for _, typ := range append(aeadTypes, "rsa-2048", "rsa-4096") {
		t.Run(typ, func(t *testing.T) {
			ok(t, b, engine.OpUpdate, "keys/"+typ, map[string]any{"type": typ})
			long := strings.Repeat("long plaintext ", 40)
			if strings.HasPrefix(typ, "rsa") {
				long = strings.Repeat("x", 190) // OAEP-SHA256 limit of RSA-2048
			}
			for _, pt := range []string{"", "x", long} {
				d := ok(t, b, engine.OpUpdate, "encrypt/"+typ, map[string]any{"plaintext": b64(pt)})
				ct := str(t, d, "ciphertext")
				if !strings.HasPrefix(ct, "vault:v1:") || num(t, d, "key_version") != 1 {
					t.Fatalf("encrypt answered %v", d)
				}
				if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/"+typ, map[string]any{"ciphertext": ct}), "plaintext")); string(got) != pt {
					t.Fatalf("round trip gave %q", got)
				}
			}
			if parseKeyType(typ).symmetricAEAD() {
				ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/"+typ, map[string]any{"plaintext": b64("x"), "associated_data": b64("ad")}), "ciphertext")
				ok(t, b, engine.OpUpdate, "decrypt/"+typ, map[string]any{"ciphertext": ct, "associated_data": b64("ad")})
				if got := fails(t, b, engine.OpUpdate, "decrypt/"+typ, map[string]any{"ciphertext": ct, "associated_data": b64("other")}); got != msgDecrypt {
					t.Fatalf("wrong associated data: %q", got)
				}
				if got := fails(t, b, engine.OpUpdate, "decrypt/"+typ, map[string]any{"ciphertext": ct}); got != msgDecrypt {
					t.Fatalf("missing associated data: %q", got)
				}
			} else {
				wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/"+typ, map[string]any{"plaintext": b64("x"), "associated_data": b64("ad")}),
					"'[0].associated_data' provided for non-AEAD cipher suite "+typ)
			}
		})
	}
}

// TestCiphertextKnownAnswers decrypts ciphertexts computed outside Go under
// keys imported through BYOK, and opens the backend's ciphertexts with the
// standard library.
func TestCiphertextKnownAnswers(t *testing.T) {
	b := newBackend(t)
	byok(t, b, "aes256", "aes256-gcm96", seq(0, 32), nil)
	byok(t, b, "aes128", "aes128-gcm96", seq(0, 16), nil)
	byok(t, b, "chacha", "chacha20-poly1305", seq(0, 32), nil)
	byok(t, b, "xchacha", "xchacha20-poly1305", seq(0, 32), nil)
	byok(t, b, "derived", "aes256-gcm96", seq(0, 32), map[string]any{"derived": true})
	for _, c := range []struct{ key, ct, ad, context string }{
		{"aes256", kaAES256, "", ""},
		{"aes256", kaAES256AD, "assoc", ""},
		{"aes128", kaAES128, "", ""},
		{"chacha", kaChaCha, "", ""},
		{"derived", kaDerived, "", "ctx-1"},
	} {
		body := map[string]any{"ciphertext": c.ct}
		if c.ad != "" {
			body["associated_data"] = b64(c.ad)
		}
		if c.context != "" {
			body["context"] = b64(c.context)
		}
		if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/"+c.key, body), "plaintext")); string(got) != "hello world" {
			t.Errorf("%s: decrypted %q", c.key, got)
		}
	}

	// The backend's output, opened by the standard library.
	open := func(aead cipher.AEAD, ct string, ad []byte) string {
		t.Helper()
		rest, found := strings.CutPrefix(ct, "vault:v1:")
		if !found {
			t.Fatalf("ciphertext %q", ct)
		}
		raw := unb64(t, rest)
		ns := aead.NonceSize()
		if len(raw) != ns+len("hello world")+aead.Overhead() {
			t.Fatalf("ciphertext of %d bytes, want nonce %d + 11 + tag", len(raw), ns)
		}
		pt, err := aead.Open(nil, raw[:ns], raw[ns:], ad)
		if err != nil {
			t.Fatal(err)
		}
		return string(pt)
	}
	encrypt := func(key string, extra map[string]any) string {
		body := map[string]any{"plaintext": b64("hello world")}
		for k, v := range extra {
			body[k] = v
		}
		return str(t, ok(t, b, engine.OpUpdate, "encrypt/"+key, body), "ciphertext")
	}
	gcm := func(key []byte) cipher.AEAD {
		blk, _ := aes.NewCipher(key)
		g, _ := cipher.NewGCM(blk)
		return g
	}
	chacha, _ := chacha20poly1305.New(seq(0, 32))
	xchacha, _ := chacha20poly1305.NewX(seq(0, 32))
	for _, c := range []struct {
		key  string
		aead cipher.AEAD
	}{{"aes256", gcm(seq(0, 32))}, {"aes128", gcm(seq(0, 16))}, {"chacha", chacha}, {"xchacha", xchacha}} {
		if got := open(c.aead, encrypt(c.key, nil), nil); got != "hello world" {
			t.Errorf("%s: %q", c.key, got)
		}
	}
	if got := open(gcm(seq(0, 32)), encrypt("aes256", map[string]any{"associated_data": b64("assoc")}), []byte("assoc")); got != "hello world" {
		t.Errorf("with associated data: %q", got)
	}
	// Derived: HKDF-SHA256 computed by x/crypto/hkdf and checked against
	// the vector computed outside Go.
	dk := make([]byte, 64)
	if _, err := xhkdf.New(sha256.New, seq(0, 32), nil, []byte("ctx-1")).Read(dk); err != nil {
		t.Fatal(err)
	}
	if hexs(dk) != kaHKDF {
		t.Fatalf("x/crypto/hkdf disagrees with the vector: %x", dk)
	}
	if got := open(gcm(dk[:32]), encrypt("derived", map[string]any{"context": b64("ctx-1")}), nil); got != "hello world" {
		t.Errorf("derived: %q", got)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/derived", map[string]any{"plaintext": b64("x")}), msgMissingContext)
	wantContains(t, fails(t, b, engine.OpUpdate, "decrypt/derived", map[string]any{"ciphertext": kaDerived}), msgMissingContext)
	if got := fails(t, b, engine.OpUpdate, "decrypt/derived", map[string]any{"ciphertext": kaDerived, "context": b64("ctx-2")}); got != msgDecrypt {
		t.Errorf("wrong context: %q", got)
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

func TestDeriveKeyVector(t *testing.T) {
	k := &keyring{typ: keyAES256GCM96, meta: &storedPolicy{KDF: kdfHKDFSHA256, Derived: true}, arena: newArena()}
	v := &keyVersion{sec: k.arena.alloc(seq(0, 32)), keyLen: 32}
	got, err := k.deriveKey(v, []byte("ctx-1"), 64)
	if err != nil {
		t.Fatal(err)
	}
	if hexs(got) != kaHKDF {
		t.Fatalf("derived %x", got)
	}
	if _, err := k.deriveKey(v, nil, 32); err == nil || err.Error() != msgMissingContext {
		t.Fatalf("no context: %v", err)
	}
	// The legacy counter mode: HMAC-SHA256(key, 0x00000000 ‖ context ‖ 0x00000100).
	k.meta.KDF = kdfHMACSHA256Counter
	got, _ = k.deriveKey(v, []byte("ctx-1"), 32)
	m := hmac.New(sha256.New, seq(0, 32))
	m.Write(append(append([]byte{0, 0, 0, 0}, "ctx-1"...), 0, 0, 1, 0))
	if !bytes.Equal(got, m.Sum(nil)) {
		t.Fatalf("counter mode %x", got)
	}
}

// TestConvergentEncryption checks Vault's convergent scheme (version 3):
// the same plaintext and context give the same ciphertext, whose nonce is
// the HMAC of the plaintext under derived key bytes 32 to 64.
func TestConvergentEncryption(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/c", map[string]any{"derived": true, "convergent_encryption": true})
	d := ok(t, b, engine.OpRead, "keys/c", nil)
	if d["convergent_encryption"] != true || num(t, d, "convergent_encryption_version") != -1 {
		t.Fatalf("key %v", d)
	}
	enc := func(pt, ctx string) string {
		return str(t, ok(t, b, engine.OpUpdate, "encrypt/c", map[string]any{"plaintext": b64(pt), "context": b64(ctx)}), "ciphertext")
	}
	a1, a2 := enc("same", "ctx"), enc("same", "ctx")
	if a1 != a2 {
		t.Fatalf("convergent ciphertexts differ: %s %s", a1, a2)
	}
	if enc("same", "other") == a1 || enc("different", "ctx") == a1 {
		t.Fatal("convergent ciphertext ignores its context or plaintext")
	}
	ok(t, b, engine.OpUpdate, "decrypt/c", map[string]any{"ciphertext": a1, "context": b64("ctx")})

	// A known key, restored from a hand-built backup (import cannot make a
	// convergent key, as in Vault): the ciphertext is fully determined.
	entry := vaultEntry(seq(0, 32), seq(200, 32), 1)
	entry["convergent_version"] = 3
	restore(t, b, "kc", vaultPolicy("kc", 0, 1, 1, map[string]any{"1": entry}, map[string]any{
		"derived": true, "kdf": 1, "convergent_encryption": true, "convergent_version": -1,
	}), nil)
	d = ok(t, b, engine.OpUpdate, "encrypt/kc", map[string]any{"plaintext": b64("hello world"), "context": b64("ctx-1")})
	if got := str(t, d, "ciphertext"); got != kaConvergent {
		t.Fatalf("convergent ciphertext %s, want %s", got, kaConvergent)
	}
	if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/kc", map[string]any{"ciphertext": kaConvergent, "context": b64("ctx-1")}), "plaintext")); string(got) != "hello world" {
		t.Fatalf("decrypted %q", got)
	}
}

func TestBatchSemantics(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	good := map[string]any{"plaintext": b64("a"), "reference": "r1"}
	bad := map[string]any{"plaintext": "%%%", "reference": "r2"}

	resp, err := call(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{good, good}})
	if err != nil || resp.Status != 0 {
		t.Fatalf("all good: %v %v", err, resp)
	}
	res := results(t, data(t, resp))
	if len(res) != 2 || res[0]["reference"] != "r1" || num(t, res[0], "key_version") != 1 {
		t.Fatalf("results %v", res)
	}

	resp, err = call(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{good, bad}})
	if err != nil || resp.Status != http.StatusBadRequest {
		t.Fatalf("partial failure: %v %v", err, resp)
	}
	res = results(t, data(t, resp))
	if res[0]["ciphertext"] == nil || res[1]["error"] == nil || res[1]["reference"] != "r2" {
		t.Fatalf("results %v", res)
	}
	wantContains(t, res[1]["error"].(string), "illegal base64 data")

	resp, _ = call(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{bad, bad}})
	if resp.Status != http.StatusBadRequest {
		t.Fatalf("all failed: status %d", resp.Status)
	}
	resp, _ = call(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{good, bad}, "partial_failure_response_code": 207})
	if resp.Status != 207 {
		t.Fatalf("partial_failure_response_code: status %d", resp.Status)
	}
	resp, _ = call(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{bad}, "partial_failure_response_code": 207})
	if resp.Status != http.StatusBadRequest {
		t.Fatalf("all failed with partial code: status %d", resp.Status)
	}

	// Decrypt batch: one good, one tampered, one malformed.
	ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("a")}), "ciphertext")
	tampered := ct[:len(ct)-4] + "AAA="
	resp, _ = call(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"batch_input": []any{
		map[string]any{"ciphertext": ct, "reference": "1"},
		map[string]any{"ciphertext": tampered, "reference": "2"},
		map[string]any{"ciphertext": "nope", "reference": "3"},
	}})
	res = results(t, data(t, resp))
	if resp.Status != http.StatusBadRequest || res[0]["plaintext"] != b64("a") || res[1]["error"] != msgDecrypt ||
		res[2]["error"] != "invalid ciphertext: no prefix" || res[2]["reference"] != "3" {
		t.Fatalf("decrypt batch: %d %v", resp.Status, res)
	}

	// Refusals of the whole request.
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{}}), "missing batch input to process")
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{good, map[string]any{"plaintext": b64("a"), "context": b64("c")}}}),
		"context should be set either in all the request blocks or in none")
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": []any{map[string]any{"reference": "x"}}}),
		"'[0].plaintext' missing plaintext to encrypt")
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", nil), "missing plaintext to encrypt")
	wantContains(t, fails(t, b, engine.OpUpdate, "decrypt/k", nil), "missing ciphertext to decrypt")

	// batch_input given as a string holding the JSON list (vault write batch_input=@file).
	resp, err = call(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"batch_input": `[{"plaintext":"YQ=="}]`})
	if err != nil || len(results(t, data(t, resp))) != 1 {
		t.Fatalf("string batch: %v", err)
	}
}

func TestBatchLimit(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	var sb strings.Builder
	sb.WriteString(`{"batch_input":[`)
	for i := 0; i <= MaxBatchItems; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"plaintext":"YQ=="}`)
	}
	sb.WriteString(`]}`)
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", sb.String()), "at most 10000 are allowed")
}

// TestDecryptAnswersAlike checks that decrypt does not tell a missing key
// from a wrong key, a tampered or truncated ciphertext, or an unknown
// version.
func TestDecryptAnswersAlike(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k1", nil)
	ok(t, b, engine.OpUpdate, "keys/k2", nil)
	ok(t, b, engine.OpUpdate, "keys/rsa", map[string]any{"type": "rsa-2048"})
	ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/k1", map[string]any{"plaintext": b64("secret")}), "ciphertext")
	raw := unb64(t, strings.TrimPrefix(ct, "vault:v1:"))
	flip := bytes.Clone(raw)
	flip[len(flip)-1] ^= 1
	cases := map[string][2]string{
		"missing key":     {"decrypt/none", ct},
		"other key":       {"decrypt/k2", ct},
		"tampered":        {"decrypt/k1", "vault:v1:" + base64.StdEncoding.EncodeToString(flip)},
		"truncated":       {"decrypt/k1", "vault:v1:" + base64.StdEncoding.EncodeToString(raw[:5])},
		"empty payload":   {"decrypt/k1", "vault:v1:"},
		"unknown version": {"decrypt/k1", "vault:v7:" + base64.StdEncoding.EncodeToString(raw)},
		"rsa garbage":     {"decrypt/rsa", ct},
		"missing key v9":  {"decrypt/none", "vault:v9:" + base64.StdEncoding.EncodeToString(raw)},
	}
	for name, c := range cases {
		if got := fails(t, b, engine.OpUpdate, c[0], map[string]any{"ciphertext": c[1]}); got != msgDecrypt {
			t.Errorf("%s: %q", name, got)
		}
	}
	// Malformed ciphertexts are refused alike whether the key exists or not.
	for _, c := range []struct{ ct, want string }{
		{"nope", "invalid ciphertext: no prefix"},
		{"vault:v1", "invalid ciphertext: wrong number of fields"},
		{"vault:vX:AAAA", "invalid ciphertext: version number could not be decoded"},
		{"vault:v1:%%%", "invalid ciphertext: could not decode base64"},
		{"vault:v-1:AAAA", "invalid ciphertext: version number could not be decoded"},
		{ct + "|ad", "unable to decode associated_data as base64"},
	} {
		for _, key := range []string{"k1", "none"} {
			body := map[string]any{"ciphertext": c.ct}
			if ctAD, found := strings.CutSuffix(c.ct, "|ad"); found {
				body = map[string]any{"ciphertext": ctAD, "associated_data": "%%"}
			}
			if got := fails(t, b, engine.OpUpdate, "decrypt/"+key, body); !strings.HasPrefix(got, c.want) {
				t.Errorf("%s on %s: %q, want %q", c.ct, key, got, c.want)
			}
		}
	}
	// Rewrap answers as decrypt.
	if got := fails(t, b, engine.OpUpdate, "rewrap/none", map[string]any{"ciphertext": ct}); got != msgDecrypt {
		t.Errorf("rewrap missing key: %q", got)
	}
}

func TestEncryptUpsertAndWrongTypes(t *testing.T) {
	b := newBackend(t)
	d := ok(t, b, engine.OpUpdate, "encrypt/new", map[string]any{"plaintext": b64("x"), "type": "chacha20-poly1305"})
	ok(t, b, engine.OpUpdate, "decrypt/new", map[string]any{"ciphertext": str(t, d, "ciphertext")})
	if str(t, ok(t, b, engine.OpRead, "keys/new", nil), "type") != "chacha20-poly1305" {
		t.Fatal("upsert made the wrong type")
	}
	ok(t, b, engine.OpUpdate, "encrypt/derived", map[string]any{"plaintext": b64("x"), "context": b64("c")})
	if ok(t, b, engine.OpRead, "keys/derived", nil)["derived"] != true {
		t.Fatal("upsert with context did not derive")
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/e", map[string]any{"plaintext": b64("x"), "type": "ecdsa-p256"}), "key type ecdsa-p256 not supported for this operation")
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/e", map[string]any{"plaintext": b64("x"), "type": "ed25519"}), "unknown key type ed25519")
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/e", map[string]any{"plaintext": b64("x"), "convergent_encryption": true}),
		"convergent encryption requires derivation to be enabled, so context is required")

	ok(t, b, engine.OpUpdate, "config/keys", map[string]any{"disable_upsert": true})
	if ok(t, b, engine.OpRead, "config/keys", nil)["disable_upsert"] != true {
		t.Fatal("config/keys not stored")
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/other", map[string]any{"plaintext": b64("x")}), "encryption key not found")

	for typ, want := range map[string]string{
		"ed25519": "message encryption not supported for key type ed25519",
		"hmac":    "message encryption not supported for key type hmac",
	} {
		ok(t, b, engine.OpUpdate, "keys/"+typ, map[string]any{"type": typ})
		wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/"+typ, map[string]any{"plaintext": b64("x")}), want)
		wantContains(t, fails(t, b, engine.OpUpdate, "decrypt/"+typ, map[string]any{"ciphertext": "vault:v1:AAAA"}),
			strings.Replace(want, "encryption", "decryption", 1))
	}
}

func TestRewrap(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	ct1 := str(t, ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("data")}), "ciphertext")
	ok(t, b, engine.OpUpdate, "keys/k/rotate", nil)
	d := ok(t, b, engine.OpUpdate, "rewrap/k", map[string]any{"ciphertext": ct1})
	ct2 := str(t, d, "ciphertext")
	if !strings.HasPrefix(ct2, "vault:v2:") || num(t, d, "key_version") != 2 {
		t.Fatalf("rewrap answered %v", d)
	}
	if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct2}), "plaintext")); string(got) != "data" {
		t.Fatalf("rewrapped plaintext %q", got)
	}
	resp, err := call(t, b, engine.OpUpdate, "rewrap/k", map[string]any{"batch_input": []any{
		map[string]any{"ciphertext": ct1, "reference": "a", "key_version": 1},
		map[string]any{"ciphertext": "bad", "reference": "b"},
	}})
	if err != nil || resp.Status != 0 {
		t.Fatalf("batch rewrap: %v %v", err, resp)
	}
	res := results(t, data(t, resp))
	if !strings.HasPrefix(res[0]["ciphertext"].(string), "vault:v1:") || res[0]["reference"] != "a" || res[1]["error"] != "invalid ciphertext: no prefix" {
		t.Fatalf("batch rewrap results %v", res)
	}
}

func TestDatakey(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	for _, bits := range []int{128, 256, 512} {
		d := ok(t, b, engine.OpUpdate, "datakey/plaintext/k", map[string]any{"bits": bits})
		pt := unb64(t, str(t, d, "plaintext"))
		if len(pt)*8 != bits {
			t.Fatalf("%d bits: key of %d bytes", bits, len(pt))
		}
		back := str(t, ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": str(t, d, "ciphertext")}), "plaintext")
		if back != str(t, d, "plaintext") {
			t.Fatal("data key does not decrypt to its plaintext")
		}
	}
	d := ok(t, b, engine.OpUpdate, "datakey/wrapped/k", nil)
	if _, has := d["plaintext"]; has || len(unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": str(t, d, "ciphertext")}), "plaintext"))) != 32 {
		t.Fatalf("wrapped data key %v", d)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "datakey/plaintext/k", map[string]any{"bits": 64}), "invalid bit length")
	wantContains(t, fails(t, b, engine.OpUpdate, "datakey/other/k", nil), "Invalid path, must be 'plaintext' or 'wrapped'")
	wantContains(t, fails(t, b, engine.OpUpdate, "datakey/plaintext/none", nil), "encryption key not found")
}

func TestParseCiphertext(t *testing.T) {
	for _, c := range []struct {
		in   string
		ver  int
		body string
		err  string
	}{
		{"vault:v1:AAAA", 1, "\x00\x00\x00", ""},
		{"vault:v0:AAAA", 1, "\x00\x00\x00", ""},
		{"vault:v12:", 12, "", ""},
		{"vault:v1", 0, "", "invalid ciphertext: wrong number of fields"},
		{"Vault:v1:AAAA", 0, "", "invalid ciphertext: no prefix"},
		{"vault:v1.5:AAAA", 0, "", "invalid ciphertext: version number could not be decoded"},
		{"vault:v1:AAA", 0, "", "invalid ciphertext: could not decode base64"},
		{"vault:v99999999999999999999:AAAA", 0, "", "invalid ciphertext: version number could not be decoded"},
		{"vault:v-1:AAAA", 0, "", "invalid ciphertext: version number could not be decoded"},
	} {
		ver, raw, err := parseCiphertext(c.in, "vault:v", ":")
		if c.err != "" {
			if err == nil || err.Error() != c.err || !errors.Is(err, engine.ErrBadRequest) {
				t.Errorf("%q: %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || ver != c.ver || string(raw) != c.body {
			t.Errorf("%q: %d %q %v", c.in, ver, raw, err)
		}
	}
}
