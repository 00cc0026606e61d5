package transit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

// publicKey returns version 1's public key through export/public-key.
func publicKey(t *testing.T, b *Backend, name string) crypto.PublicKey {
	t.Helper()
	d := ok(t, b, engine.OpRead, "export/public-key/"+name+"/1", nil)
	s := d["keys"].(map[string]any)["1"].(string)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	return ed25519.PublicKey(unb64(t, s))
}

func sigBytes(t *testing.T, sig string, jws bool) []byte {
	t.Helper()
	body, found := strings.CutPrefix(sig, "vault:v1:")
	if !found {
		t.Fatalf("signature %q", sig)
	}
	if jws {
		out, err := base64.RawURLEncoding.DecodeString(body)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return unb64(t, body)
}

// TestSignVerifiesOutside signs with every asymmetric type and verifies
// with the standard library, then with verify/.
func TestSignVerifiesOutside(t *testing.T) {
	b := newBackend(t)
	msg := []byte("the message")
	d256 := sha256.Sum256(msg)
	d512 := sha512.Sum512(msg)
	for _, typ := range []string{"ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072"} {
		t.Run(typ, func(t *testing.T) {
			ok(t, b, engine.OpUpdate, "keys/"+typ, map[string]any{"type": typ})
			pub := publicKey(t, b, typ)
			sign := func(extra map[string]any) string {
				body := map[string]any{"input": b64(string(msg))}
				for k, v := range extra {
					body[k] = v
				}
				d := ok(t, b, engine.OpUpdate, "sign/"+typ, body)
				if num(t, d, "key_version") != 1 {
					t.Fatalf("sign answered %v", d)
				}
				return str(t, d, "signature")
			}
			verify := func(sig string, extra map[string]any) bool {
				body := map[string]any{"input": b64(string(msg)), "signature": sig}
				for k, v := range extra {
					body[k] = v
				}
				return ok(t, b, engine.OpUpdate, "verify/"+typ, body)["valid"] == true
			}
			switch p := pub.(type) {
			case ed25519.PublicKey:
				sig := sign(nil)
				if !ed25519.Verify(p, msg, sigBytes(t, sig, false)) || !verify(sig, nil) {
					t.Fatal("ed25519 signature does not verify")
				}
			case *ecdsa.PublicKey:
				sig := sign(nil)
				if !ecdsa.VerifyASN1(p, d256[:], sigBytes(t, sig, false)) || !verify(sig, nil) {
					t.Fatal("ecdsa asn1 signature does not verify")
				}
				sig = sign(map[string]any{"marshaling_algorithm": "jws", "hash_algorithm": "sha2-512"})
				raw := sigBytes(t, sig, true)
				size := (p.Curve.Params().BitSize + 7) / 8
				if len(raw) != 2*size {
					t.Fatalf("jws signature of %d bytes", len(raw))
				}
				der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:size]), new(big.Int).SetBytes(raw[size:])})
				if !ecdsa.VerifyASN1(p, d512[:], der) || !verify(sig, map[string]any{"marshaling_algorithm": "jws", "hash_algorithm": "sha2-512"}) {
					t.Fatal("ecdsa jws signature does not verify")
				}
				if verify(sig, map[string]any{"marshaling_algorithm": "jws"}) {
					t.Fatal("verified with the wrong hash")
				}
				// prehashed
				sig = str(t, ok(t, b, engine.OpUpdate, "sign/"+typ, map[string]any{"input": base64.StdEncoding.EncodeToString(d256[:]), "prehashed": true}), "signature")
				if !ecdsa.VerifyASN1(p, d256[:], sigBytes(t, sig, false)) {
					t.Fatal("prehashed ecdsa signature does not verify")
				}
			case *rsa.PublicKey:
				sig := sign(nil) // pss, auto salt
				if rsa.VerifyPSS(p, crypto.SHA256, d256[:], sigBytes(t, sig, false), nil) != nil || !verify(sig, nil) {
					t.Fatal("rsa pss signature does not verify")
				}
				sig = sign(map[string]any{"salt_length": "hash"})
				if rsa.VerifyPSS(p, crypto.SHA256, d256[:], sigBytes(t, sig, false), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
					t.Fatal("rsa pss (hash salt) signature does not verify")
				}
				sig = sign(map[string]any{"signature_algorithm": "pkcs1v15"})
				if rsa.VerifyPKCS1v15(p, crypto.SHA256, d256[:], sigBytes(t, sig, false)) != nil || !verify(sig, map[string]any{"signature_algorithm": "pkcs1v15"}) {
					t.Fatal("rsa pkcs1v15 signature does not verify")
				}
				// hash none: PKCS #1 v1.5 of the input without a DigestInfo.
				sig = str(t, ok(t, b, engine.OpUpdate, "sign/"+typ+"/none", map[string]any{"input": base64.StdEncoding.EncodeToString(d256[:]), "prehashed": true, "signature_algorithm": "pkcs1v15"}), "signature")
				if rsa.VerifyPKCS1v15(p, 0, d256[:], sigBytes(t, sig, false)) != nil {
					t.Fatal("rsa pkcs1v15 without hash does not verify")
				}
				wantContains(t, fails(t, b, engine.OpUpdate, "sign/"+typ+"/none", map[string]any{"input": b64("x")}),
					"hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15")
				wantContains(t, fails(t, b, engine.OpUpdate, "sign/"+typ, map[string]any{"input": b64("x"), "signature_algorithm": "foo"}),
					"unsupported rsa signature algorithm foo")
				wantContains(t, fails(t, b, engine.OpUpdate, "sign/"+typ, map[string]any{"input": b64("x"), "salt_length": "9999"}),
					"requested salt length 9999 is invalid")
			}
			// A tampered signature is not valid. The last byte lies in the
			// signature's value for every type (in S for ECDSA's DER), so
			// the encoding stays well formed: a byte in the middle is S's
			// INTEGER tag when R is one byte short, and malformed DER is a
			// 400, not valid=false (TestVerifyMalformedECDSA).
			sig := sign(nil)
			raw := sigBytes(t, sig, false)
			raw[len(raw)-1] ^= 1
			if verify("vault:v1:"+base64.StdEncoding.EncodeToString(raw), nil) {
				t.Fatal("tampered signature verified")
			}
			// Batch with references.
			resp, err := call(t, b, engine.OpUpdate, "sign/"+typ, map[string]any{"batch_input": []any{
				map[string]any{"input": b64("a"), "reference": "ra"},
				map[string]any{"input": "%%", "reference": "rb"},
			}})
			if err != nil || resp.Status != 0 {
				t.Fatalf("batch sign: %v %v", err, resp)
			}
			res := results(t, data(t, resp))
			if res[0]["reference"] != "ra" || res[0]["signature"] == nil || res[1]["error"] == nil || res[1]["reference"] != "rb" {
				t.Fatalf("batch sign results %v", res)
			}
			resp, _ = call(t, b, engine.OpUpdate, "verify/"+typ, map[string]any{"batch_input": []any{
				map[string]any{"input": b64("a"), "signature": res[0]["signature"], "reference": "x"},
				map[string]any{"input": b64("b"), "signature": res[0]["signature"], "reference": "y"},
			}})
			vr := results(t, data(t, resp))
			if vr[0]["valid"] != true || vr[1]["valid"] != false || vr[1]["reference"] != "y" {
				t.Fatalf("batch verify results %v", vr)
			}
		})
	}
}

// TestVerifyMalformedECDSA pins keysutil's answers to an ASN.1 signature
// that does not parse (sdk/helper/keysutil/policy.go, VerifySignature): a
// 400 "supplied signature is invalid", and "supplied signature contains
// extra data" for bytes after the SEQUENCE, rather than valid=false.
func TestVerifyMalformedECDSA(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/ec", map[string]any{"type": "ecdsa-p256"})
	input := b64("the message")
	der := sigBytes(t, str(t, ok(t, b, engine.OpUpdate, "sign/ec", map[string]any{"input": input}), "signature"), false)
	verify := func(der []byte) (*engine.Response, error) {
		return call(t, b, engine.OpUpdate, "verify/ec", map[string]any{"input": input, "signature": "vault:v1:" + base64.StdEncoding.EncodeToString(der)})
	}
	if resp, err := verify(der); err != nil || data(t, resp)["valid"] != true {
		t.Fatalf("the untouched signature: %v %v", resp, err)
	}
	// 30 len 02 rlen R 02 slen S: make S's tag a BIT STRING's.
	bad := bytes.Clone(der)
	bad[2+2+int(der[3])] = 0x03
	if _, err := verify(bad); err == nil || !errors.Is(err, engine.ErrBadRequest) || err.Error() != "supplied signature is invalid" {
		t.Fatalf("S tagged as a BIT STRING: %v", err)
	}
	if _, err := verify(append(bytes.Clone(der), 0, 0)); err == nil || !errors.Is(err, engine.ErrBadRequest) || err.Error() != "supplied signature contains extra data" {
		t.Fatalf("trailing bytes: %v", err)
	}
}

func TestSignRefusals(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/aes", nil)
	ok(t, b, engine.OpUpdate, "keys/ed", map[string]any{"type": "ed25519"})
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/aes", map[string]any{"input": b64("x")}), "key type aes256-gcm96 does not support signing")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/aes", map[string]any{"input": b64("x"), "signature": "vault:v1:AA=="}), "key type aes256-gcm96 does not support verification")
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/none", map[string]any{"input": b64("x")}), "signing key not found")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/none", map[string]any{"input": b64("x"), "signature": "vault:v1:AA=="}), "signature verification key not found")
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": b64("x"), "hash_algorithm": "md5"}), `invalid hash algorithm "md5"`)
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": b64("x"), "marshaling_algorithm": "der"}), `invalid marshaling type "der"`)
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": "%%"}), "unable to decode input as base64")
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": b64("x"), "key_version": 2}), "requested version for signing is higher than the latest key version")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/ed", map[string]any{"input": b64("x")}), "neither a 'signature' nor an 'hmac' were given to verify")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/ed", map[string]any{"input": b64("x"), "signature": "v1:AA"}), "invalid signature: no prefix")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/ed", map[string]any{"input": b64("x"), "signature": "vault:v2:AA=="}), "invalid signature: version is too new")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/ed", map[string]any{"input": b64("x"), "signature": "vault:v1:%%"}), "invalid base64 signature value")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/ed", map[string]any{"batch_input": []any{
		map[string]any{"input": b64("x"), "signature": "vault:v1:AA=="}, map[string]any{"input": b64("x")}}}),
		"some elements of batch_input are missing 'signature'")
	ok(t, b, engine.OpUpdate, "keys/ed/rotate", nil)
	ok(t, b, engine.OpUpdate, "keys/ed/config", map[string]any{"min_decryption_version": 2, "min_encryption_version": 2})
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/ed", map[string]any{"input": b64("x"), "signature": "vault:v1:AA=="}), msgTooOld)
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": b64("x"), "key_version": 1}),
		"requested version for signing is less than the minimum encryption key version")
}

func TestDerivedEd25519(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/d", map[string]any{"type": "ed25519", "derived": true})
	d := ok(t, b, engine.OpUpdate, "sign/d", map[string]any{"input": b64("m"), "context": b64("alice")})
	pub := ed25519.PublicKey(unb64(t, str(t, d, "public_key")))
	if !ed25519.Verify(pub, []byte("m"), sigBytes(t, str(t, d, "signature"), false)) {
		t.Fatal("derived signature does not verify with the returned public key")
	}
	// keys/<name>?context= shows the same derived public key.
	resp, err := b.HandleRequest(t.Context(), &engine.Request{Operation: engine.OpRead, Path: "keys/d", Query: map[string][]string{"context": {b64("alice")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := data(t, resp)["keys"].(map[string]any)["1"].(map[string]any)["public_key"]; got != base64.StdEncoding.EncodeToString(pub) {
		t.Fatalf("derived public key %v", got)
	}
	if ok(t, b, engine.OpRead, "keys/d", nil)["keys"].(map[string]any)["1"].(map[string]any)["public_key"] != "" {
		t.Fatal("public key shown without a context")
	}
	good := map[string]any{"input": b64("m"), "context": b64("alice"), "signature": str(t, d, "signature")}
	if ok(t, b, engine.OpUpdate, "verify/d", good)["valid"] != true {
		t.Fatal("derived signature does not verify")
	}
	good["context"] = b64("bob")
	if ok(t, b, engine.OpUpdate, "verify/d", good)["valid"] != false {
		t.Fatal("verified under another context")
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "sign/d", map[string]any{"input": b64("m")}), msgMissingContext)
}

func TestHMAC(t *testing.T) {
	b := newBackend(t)
	byok(t, b, "h", "hmac", seq(0, 32), nil)
	ok(t, b, engine.OpUpdate, "keys/aes", map[string]any{"exportable": true})
	// HMAC-SHA256(0..31, "the quick brown fox"), computed with Python's hmac.
	const want = "vault:v1:1C1q+0X29f6dauai98Mx5QzxRUCZXaB6ZZ0C0Qd2JaI="
	if got := str(t, ok(t, b, engine.OpUpdate, "hmac/h", map[string]any{"input": b64("the quick brown fox")}), "hmac"); got != want {
		t.Fatalf("hmac %s", got)
	}
	if got := str(t, ok(t, b, engine.OpUpdate, "hmac/h/sha2-256", map[string]any{"input": b64("the quick brown fox")}), "hmac"); got != want {
		t.Fatalf("hmac with url algorithm %s", got)
	}
	for _, alg := range []string{"sha1", "sha2-224", "sha2-384", "sha2-512", "sha3-224", "sha3-256", "sha3-384", "sha3-512"} {
		mac := str(t, ok(t, b, engine.OpUpdate, "hmac/aes/"+alg, map[string]any{"input": b64("x")}), "hmac")
		if ok(t, b, engine.OpUpdate, "verify/aes/"+alg, map[string]any{"input": b64("x"), "hmac": mac})["valid"] != true {
			t.Errorf("%s hmac does not verify", alg)
		}
		if ok(t, b, engine.OpUpdate, "verify/aes/"+alg, map[string]any{"input": b64("y"), "hmac": mac})["valid"] != false {
			t.Errorf("%s hmac verifies other input", alg)
		}
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "hmac/aes/none", map[string]any{"input": b64("x")}), `unsupported algorithm "none"`)
	wantContains(t, fails(t, b, engine.OpUpdate, "hmac/aes", nil), "missing input for HMAC")
	wantContains(t, fails(t, b, engine.OpUpdate, "hmac/none", map[string]any{"input": b64("x")}), "encryption key not found")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/aes", map[string]any{"input": b64("x"), "hmac": "vault:v3:AA=="}), "invalid HMAC: version is too new")
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/aes", map[string]any{"input": b64("x"), "hmac": "xx"}), "invalid HMAC to verify: no prefix")

	// Batch, with references; items fail alone with 200 as in Vault.
	resp, err := call(t, b, engine.OpUpdate, "hmac/h", map[string]any{"batch_input": []any{
		map[string]any{"input": b64("the quick brown fox"), "reference": "a"}, map[string]any{"input": "%%", "reference": "b"}}})
	if err != nil || resp.Status != 0 {
		t.Fatalf("batch hmac %v %v", err, resp)
	}
	res := results(t, data(t, resp))
	if res[0]["hmac"] != want || res[0]["reference"] != "a" || res[1]["error"] == nil {
		t.Fatalf("batch hmac %v", res)
	}
	resp, _ = call(t, b, engine.OpUpdate, "verify/h", map[string]any{"batch_input": []any{
		map[string]any{"input": b64("the quick brown fox"), "hmac": want, "reference": "a"}}})
	if res := results(t, data(t, resp)); res[0]["valid"] != true || res[0]["reference"] != "a" {
		t.Fatalf("batch verify %v", res)
	}

	// The HMAC key of a non-HMAC key is its separate per-version key.
	hk := unb64(t, ok(t, b, engine.OpRead, "export/hmac-key/aes/1", nil)["keys"].(map[string]any)["1"].(string))
	ek := unb64(t, ok(t, b, engine.OpRead, "export/encryption-key/aes/1", nil)["keys"].(map[string]any)["1"].(string))
	if len(hk) != 32 || string(hk) == string(ek) {
		t.Fatal("hmac key of an encryption key")
	}
	// Versions.
	ok(t, b, engine.OpUpdate, "keys/aes/rotate", nil)
	mac1 := str(t, ok(t, b, engine.OpUpdate, "hmac/aes", map[string]any{"input": b64("x"), "key_version": 1}), "hmac")
	wantContains(t, mac1, "vault:v1:")
	ok(t, b, engine.OpUpdate, "keys/aes/config", map[string]any{"min_decryption_version": 2, "min_encryption_version": 2})
	wantContains(t, fails(t, b, engine.OpUpdate, "verify/aes", map[string]any{"input": b64("x"), "hmac": mac1}), "cannot verify HMAC: version is too old (disallowed by policy)")
	wantContains(t, fails(t, b, engine.OpUpdate, "hmac/aes", map[string]any{"input": b64("x"), "key_version": 1}), "cannot generate HMAC: version is too old (disallowed by policy)")
}

// TestEd25519RefusesPrehashed: Ed25519ph is not offered, so a prehashed
// request is refused instead of being signed as plain Ed25519.
func TestEd25519RefusesPrehashed(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/ed", map[string]any{"type": "ed25519"})
	msg := fails(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": b64("m"), "prehashed": true, "hash_algorithm": "sha2-512"})
	if !strings.Contains(msg, "prehashed is not supported") {
		t.Fatalf("message: %q", msg)
	}
	ok(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": b64("m")})
}
