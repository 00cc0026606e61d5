package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// keyInfo reads transit/keys/<name> and checks the fields every key type
// shares: name, type, latest_version, and the supports_* flags.
func keyInfo(t *testing.T, lg *vault.Logical, name, typ string, enc, sign, derive bool) map[string]any {
	t.Helper()
	d := read(t, lg, "transit/keys/"+name).Data
	if d["name"] != name || d["type"] != typ {
		t.Fatalf("%s: name %v type %v, want %s %s", name, d["name"], d["type"], name, typ)
	}
	if num(t, d["latest_version"]) != 1 || num(t, d["min_decryption_version"]) != 1 || num(t, d["min_encryption_version"]) != 0 {
		t.Fatalf("%s: versions latest %v min_dec %v min_enc %v", name, d["latest_version"], d["min_decryption_version"], d["min_encryption_version"])
	}
	for field, want := range map[string]bool{
		"supports_encryption": enc, "supports_decryption": enc, "supports_signing": sign, "supports_derivation": derive,
		"derived": false, "exportable": false, "deletion_allowed": false, "allow_plaintext_backup": false, "imported_key": false,
	} {
		if d[field] != want {
			t.Fatalf("%s: %s = %v, want %v", name, field, d[field], want)
		}
	}
	return d
}

// asymVersion returns keys["1"] of an asymmetric key's description, after
// checking its name.
func asymVersion(t *testing.T, d map[string]any, wantName string) map[string]any {
	t.Helper()
	keys, ok := d["keys"].(map[string]any)
	if !ok || len(keys) != 1 {
		t.Fatalf("keys = %#v", d["keys"])
	}
	v1, ok := keys["1"].(map[string]any)
	if !ok || v1["name"] != wantName || v1["creation_time"] == "" {
		t.Fatalf("keys[1] = %#v, want name %s", keys["1"], wantName)
	}
	return v1
}

func parsePEMPublic(t *testing.T, s string) crypto.PublicKey {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("not a PEM public key: %q", s)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// sigBytes strips "vault:v1:" and decodes the signature (base64url without
// padding for jws).
func sigBytes(t *testing.T, sig string, jws bool) []byte {
	t.Helper()
	rest, ok := strings.CutPrefix(sig, "vault:v1:")
	if !ok {
		t.Fatalf("signature %q lacks vault:v1:", sig)
	}
	if jws {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil {
			t.Fatalf("jws signature %q: %v", sig, err)
		}
		return b
	}
	return unb64(t, rest)
}

func verifyValid(t *testing.T, lg *vault.Logical, path string, data map[string]any) bool {
	t.Helper()
	v, ok := write(t, lg, path, data).Data["valid"].(bool)
	if !ok {
		t.Fatalf("verify %s: no valid field", path)
	}
	return v
}

// TestTransitKeyTypes creates a key of every type, reads it, runs the
// operations the type supports (checking the results against the standard
// library with the key's public half or known answers) and the refusal of
// one it does not support.
func TestTransitKeyTypes(t *testing.T) {
	_, lg := transitServer(t)
	msg := []byte("the quick brown fox")

	for _, tc := range []struct {
		typ      string
		keyLen   int // bytes of the symmetric key
		nonceLen int
	}{
		{"aes128-gcm96", 16, 12},
		{"aes256-gcm96", 32, 12},
		{"chacha20-poly1305", 32, 12},
		{"xchacha20-poly1305", 32, 24},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			name := "sym-" + tc.typ
			// vault write -f transit/keys/<name> type=<typ>
			cd := write(t, lg, "transit/keys/"+name, map[string]any{"type": tc.typ}).Data
			if cd["type"] != tc.typ || num(t, cd["latest_version"]) != 1 {
				t.Fatalf("create answered %v", cd)
			}
			d := keyInfo(t, lg, name, tc.typ, true, false, true)
			keys, ok := d["keys"].(map[string]any)
			if !ok || len(keys) != 1 || num(t, keys["1"]) <= 0 {
				t.Fatalf("keys = %#v", d["keys"])
			}
			ct := encrypt(t, lg, name, msg, nil)
			ver, raw := splitCiphertext(t, ct)
			if ver != 1 || len(raw) != tc.nonceLen+len(msg)+16 {
				t.Fatalf("ciphertext %q: version %d, %d bytes, want nonce %d + %d + tag 16", ct, ver, len(raw), tc.nonceLen, len(msg))
			}
			if got := decrypt(t, lg, name, ct, nil); !bytes.Equal(got, msg) {
				t.Fatalf("round trip gave %q", got)
			}
			// An empty plaintext round-trips too.
			if got := decrypt(t, lg, name, encrypt(t, lg, name, nil, nil), nil); len(got) != 0 {
				t.Fatalf("empty plaintext came back as %q", got)
			}
			// hmac works on every key type (with the version's HMAC key).
			mac := str(t, write(t, lg, "transit/hmac/"+name, map[string]any{"input": b64(msg)}).Data, "hmac")
			if !strings.HasPrefix(mac, "vault:v1:") || len(sigBytes(t, mac, false)) != 32 {
				t.Fatalf("hmac %q", mac)
			}
			if !verifyValid(t, lg, "transit/verify/"+name, map[string]any{"input": b64(msg), "hmac": mac}) {
				t.Fatal("hmac does not verify")
			}
			// Signing is refused.
			writeErr(t, lg, "transit/sign/"+name, map[string]any{"input": b64(msg)}, 400, "key type "+tc.typ+" does not support signing")
			writeErr(t, lg, "transit/verify/"+name, map[string]any{"input": b64(msg), "signature": "vault:v1:AAAA"}, 400, "does not support verification")
			// Creating it again keeps it, with no warning (as Vault).
			s := write(t, lg, "transit/keys/"+name, map[string]any{"type": "aes128-gcm96"})
			if s.Data["type"] != tc.typ || len(s.Warnings) != 0 {
				t.Fatalf("re-create: type %v warnings %v", s.Data["type"], s.Warnings)
			}
		})
	}

	t.Run("ed25519", func(t *testing.T) {
		write(t, lg, "transit/keys/ed", map[string]any{"type": "ed25519"})
		v1 := asymVersion(t, keyInfo(t, lg, "ed", "ed25519", false, true, true), "ed25519")
		pub := ed25519.PublicKey(unb64(t, str(t, v1, "public_key")))
		if len(pub) != ed25519.PublicKeySize {
			t.Fatalf("public key of %d bytes", len(pub))
		}
		s := write(t, lg, "transit/sign/ed", map[string]any{"input": b64(msg)}).Data
		sig := str(t, s, "signature")
		if num(t, s["key_version"]) != 1 || !ed25519.Verify(pub, msg, sigBytes(t, sig, false)) {
			t.Fatalf("signature %q does not verify with the published key", sig)
		}
		if !verifyValid(t, lg, "transit/verify/ed", map[string]any{"input": b64(msg), "signature": sig}) {
			t.Fatal("verify of its own signature: false")
		}
		if verifyValid(t, lg, "transit/verify/ed", map[string]any{"input": b64s("another message"), "signature": sig}) {
			t.Fatal("verify of another message: true")
		}
		// A signature made locally with another key does not verify.
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		forged := "vault:v1:" + b64(ed25519.Sign(other, msg))
		if verifyValid(t, lg, "transit/verify/ed", map[string]any{"input": b64(msg), "signature": forged}) {
			t.Fatal("a foreign signature verified")
		}
		writeErr(t, lg, "transit/encrypt/ed", map[string]any{"plaintext": b64(msg)}, 400, "message encryption not supported for key type ed25519")
		writeErr(t, lg, "transit/decrypt/ed", map[string]any{"ciphertext": "vault:v1:" + b64(make([]byte, 40))}, 400, "message decryption not supported")
		writeErr(t, lg, "transit/datakey/plaintext/ed", nil, 400, "message encryption not supported")
	})

	for _, tc := range []struct {
		typ, curve string
		hashes     map[string]crypto.Hash
		size       int
	}{
		{"ecdsa-p256", "P-256", map[string]crypto.Hash{"sha2-256": crypto.SHA256, "sha2-384": crypto.SHA384}, 32},
		{"ecdsa-p384", "P-384", map[string]crypto.Hash{"sha2-384": crypto.SHA384, "sha3-256": crypto.SHA3_256}, 48},
		{"ecdsa-p521", "P-521", map[string]crypto.Hash{"sha2-512": crypto.SHA512, "sha2-224": crypto.SHA224}, 66},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			name := "ec-" + tc.typ
			write(t, lg, "transit/keys/"+name, map[string]any{"type": tc.typ})
			v1 := asymVersion(t, keyInfo(t, lg, name, tc.typ, false, true, false), tc.curve)
			pub, ok := parsePEMPublic(t, str(t, v1, "public_key")).(*ecdsa.PublicKey)
			if !ok || pub.Curve.Params().Name != tc.curve {
				t.Fatalf("public key is not on %s", tc.curve)
			}
			digest := func(h crypto.Hash, in []byte) []byte {
				hh := h.New()
				hh.Write(in)
				return hh.Sum(nil)
			}
			for alg, h := range tc.hashes {
				// Body parameter hash_algorithm, ASN.1 signature (default).
				sig := str(t, write(t, lg, "transit/sign/"+name, map[string]any{"input": b64(msg), "hash_algorithm": alg}).Data, "signature")
				if !ecdsa.VerifyASN1(pub, digest(h, msg), sigBytes(t, sig, false)) {
					t.Fatalf("%s ASN.1 signature does not verify locally", alg)
				}
				// URL form sign/<name>/<alg>, verify/<name>/<alg>.
				if !verifyValid(t, lg, "transit/verify/"+name+"/"+alg, map[string]any{"input": b64(msg), "signature": sig}) {
					t.Fatalf("%s: verify of own signature false", alg)
				}
				// jws: r ‖ s, each of the curve's size, base64url unpadded.
				jws := str(t, write(t, lg, "transit/sign/"+name+"/"+alg, map[string]any{"input": b64(msg), "marshaling_algorithm": "jws"}).Data, "signature")
				raw := sigBytes(t, jws, true)
				if len(raw) != 2*tc.size {
					t.Fatalf("jws signature of %d bytes, want %d", len(raw), 2*tc.size)
				}
				r, s := new(big.Int).SetBytes(raw[:tc.size]), new(big.Int).SetBytes(raw[tc.size:])
				if !ecdsa.Verify(pub, digest(h, msg), r, s) {
					t.Fatalf("%s jws signature does not verify locally", alg)
				}
				if !verifyValid(t, lg, "transit/verify/"+name, map[string]any{"input": b64(msg), "signature": jws, "hash_algorithm": alg, "marshaling_algorithm": "jws"}) {
					t.Fatalf("%s: verify of jws signature false", alg)
				}
			}
			// prehashed: the input is the digest and is signed as is.
			d := digest(crypto.SHA256, msg)
			sig := str(t, write(t, lg, "transit/sign/"+name, map[string]any{"input": b64(d), "prehashed": "true"}).Data, "signature")
			if !ecdsa.VerifyASN1(pub, d, sigBytes(t, sig, false)) {
				t.Fatal("prehashed signature does not verify locally")
			}
			if !verifyValid(t, lg, "transit/verify/"+name, map[string]any{"input": b64(msg), "signature": sig}) {
				t.Fatal("prehashed signature does not verify against the message")
			}
			// A signature made locally with the wrong key does not verify.
			other, _ := ecdsa.GenerateKey(pub.Curve, rand.Reader)
			foreign, _ := ecdsa.SignASN1(rand.Reader, other, d)
			if verifyValid(t, lg, "transit/verify/"+name, map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(foreign)}) {
				t.Fatal("a foreign signature verified")
			}
			// Trailing data after the DER signature is refused.
			der := sigBytes(t, sig, false)
			writeErr(t, lg, "transit/verify/"+name, map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(append(der, 0))}, 400, "extra data")
			writeErr(t, lg, "transit/sign/"+name, map[string]any{"input": b64(msg), "hash_algorithm": "md5"}, 400, "invalid hash algorithm")
			writeErr(t, lg, "transit/sign/"+name, map[string]any{"input": b64(msg), "marshaling_algorithm": "xml"}, 400, "invalid marshaling type")
			writeErr(t, lg, "transit/encrypt/"+name, map[string]any{"plaintext": b64(msg)}, 400, "message encryption not supported for key type "+tc.typ)
		})
	}

	t.Run("rsa-2048", func(t *testing.T) {
		write(t, lg, "transit/keys/rsa", map[string]any{"type": "rsa-2048"})
		v1 := asymVersion(t, keyInfo(t, lg, "rsa", "rsa-2048", true, true, false), "rsa-2048")
		pub, ok := parsePEMPublic(t, str(t, v1, "public_key")).(*rsa.PublicKey)
		if !ok || pub.N.BitLen() != 2048 {
			t.Fatal("public key is not RSA-2048")
		}
		sum256 := sha256.Sum256(msg)
		sum512 := sha512.Sum512(msg)
		sign := func(data map[string]any) []byte {
			t.Helper()
			data["input"] = b64(msg)
			return sigBytes(t, str(t, write(t, lg, "transit/sign/rsa", data).Data, "signature"), false)
		}
		// PSS by default, salt length auto.
		if err := rsa.VerifyPSS(pub, crypto.SHA256, sum256[:], sign(map[string]any{}), nil); err != nil {
			t.Fatalf("default (pss, sha2-256) signature: %v", err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA512, sum512[:], sign(map[string]any{"signature_algorithm": "pss", "hash_algorithm": "sha2-512"}), nil); err != nil {
			t.Fatalf("pss sha2-512 signature: %v", err)
		}
		// salt_length=hash: the salt is as long as the digest.
		if err := rsa.VerifyPSS(pub, crypto.SHA256, sum256[:], sign(map[string]any{"salt_length": "hash"}), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatalf("pss salt_length=hash signature: %v", err)
		}
		p15 := sign(map[string]any{"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-512"})
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA512, sum512[:], p15); err != nil {
			t.Fatalf("pkcs1v15 sha2-512 signature: %v", err)
		}
		if !verifyValid(t, lg, "transit/verify/rsa/sha2-512", map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(p15), "signature_algorithm": "pkcs1v15"}) {
			t.Fatal("verify of pkcs1v15 signature false")
		}
		// The same signature is not a valid PSS one.
		if verifyValid(t, lg, "transit/verify/rsa/sha2-512", map[string]any{"input": b64(msg), "signature": "vault:v1:" + b64(p15)}) {
			t.Fatal("pkcs1v15 signature verified as pss")
		}
		// prehashed with sha2-256: the digest is signed with the SHA-256 DigestInfo.
		pre := sigBytes(t, str(t, write(t, lg, "transit/sign/rsa", map[string]any{"input": b64(sum256[:]), "prehashed": true, "signature_algorithm": "pkcs1v15"}).Data, "signature"), false)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum256[:], pre); err != nil {
			t.Fatalf("prehashed pkcs1v15: %v", err)
		}
		// hash_algorithm=none: raw PKCS #1 v1.5 of the input, which must be prehashed.
		raw := sigBytes(t, str(t, write(t, lg, "transit/sign/rsa", map[string]any{"input": b64(sum256[:]), "hash_algorithm": "none", "prehashed": "true", "signature_algorithm": "pkcs1v15"}).Data, "signature"), false)
		if err := rsa.VerifyPKCS1v15(pub, 0, sum256[:], raw); err != nil {
			t.Fatalf("hash_algorithm=none: %v", err)
		}
		writeErr(t, lg, "transit/sign/rsa", map[string]any{"input": b64(msg), "hash_algorithm": "none"}, 400, "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15")
		writeErr(t, lg, "transit/sign/rsa", map[string]any{"input": b64(msg), "signature_algorithm": "rsa-kem"}, 400, "unsupported rsa signature algorithm")
		writeErr(t, lg, "transit/sign/rsa", map[string]any{"input": b64(msg), "salt_length": "lots"}, 400, "salt length")
		// Encryption: RSA-OAEP with SHA-256. A ciphertext made locally with
		// the published key decrypts (a known-answer round trip).
		local, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := decrypt(t, lg, "rsa", "vault:v1:"+b64(local), nil); !bytes.Equal(got, msg) {
			t.Fatalf("locally made OAEP ciphertext decrypted to %q", got)
		}
		ct := encrypt(t, lg, "rsa", msg, nil)
		if _, body := splitCiphertext(t, ct); len(body) != 256 {
			t.Fatalf("RSA ciphertext of %d bytes", len(body))
		}
		if got := decrypt(t, lg, "rsa", ct, nil); !bytes.Equal(got, msg) {
			t.Fatalf("RSA round trip gave %q", got)
		}
		// RSA is not an AEAD, and is not derivable.
		writeErr(t, lg, "transit/encrypt/rsa", map[string]any{"plaintext": b64(msg), "associated_data": b64s("ad")}, 400, "non-AEAD cipher suite")
		writeErr(t, lg, "transit/keys/rsa-derived", map[string]any{"type": "rsa-2048", "derived": true}, 400, "key derivation and convergent encryption not supported")
	})

	t.Run("hmac", func(t *testing.T) {
		// key_size as a JSON number, and the CLI's string form.
		write(t, lg, "transit/keys/mac", map[string]any{"type": "hmac", "key_size": 48, "exportable": true})
		d := read(t, lg, "transit/keys/mac").Data
		if d["type"] != "hmac" || num(t, d["key_size"]) != 48 || num(t, d["latest_version"]) != 1 ||
			d["supports_encryption"] != false || d["supports_signing"] != false || d["supports_derivation"] != false {
			t.Fatalf("hmac key: %v", d)
		}
		write(t, lg, "transit/keys/mac2", map[string]any{"type": "hmac", "key_size": "64"})
		if got := num(t, read(t, lg, "transit/keys/mac2").Data["key_size"]); got != 64 {
			t.Fatalf("key_size %d, want 64", got)
		}
		key := unb64(t, str(t, read(t, lg, "transit/export/hmac-key/mac/1").Data["keys"].(map[string]any), "1"))
		if len(key) != 48 {
			t.Fatalf("exported HMAC key of %d bytes", len(key))
		}
		for alg, h := range map[string]crypto.Hash{"sha2-256": crypto.SHA256, "sha2-512": crypto.SHA512, "sha3-256": crypto.SHA3_256, "sha1": crypto.SHA1} {
			mac := str(t, write(t, lg, "transit/hmac/mac/"+alg, map[string]any{"input": b64(msg)}).Data, "hmac")
			m := hmac.New(h.New, key)
			m.Write(msg)
			if want := "vault:v1:" + b64(m.Sum(nil)); mac != want {
				t.Fatalf("hmac %s = %q, want %q", alg, mac, want)
			}
			// algorithm in the body gives the same.
			if body := str(t, write(t, lg, "transit/hmac/mac", map[string]any{"input": b64(msg), "algorithm": alg}).Data, "hmac"); body != mac {
				t.Fatalf("hmac with algorithm=%s in the body: %q != %q", alg, body, mac)
			}
			if !verifyValid(t, lg, "transit/verify/mac/"+alg, map[string]any{"input": b64(msg), "hmac": mac}) {
				t.Fatalf("verify hmac %s false", alg)
			}
			if verifyValid(t, lg, "transit/verify/mac", map[string]any{"input": b64s("tampered"), "hmac": mac, "hash_algorithm": alg}) {
				t.Fatalf("verify hmac %s of other input true", alg)
			}
		}
		writeErr(t, lg, "transit/hmac/mac/none", map[string]any{"input": b64(msg)}, 400, "unsupported algorithm")
		writeErr(t, lg, "transit/encrypt/mac", map[string]any{"plaintext": b64(msg)}, 400, "message encryption not supported for key type hmac")
		writeErr(t, lg, "transit/sign/mac", map[string]any{"input": b64(msg)}, 400, "key type hmac does not support signing")
		writeErr(t, lg, "transit/keys/mac3", map[string]any{"type": "hmac", "key_size": 8}, 400, "invalid key_size")
		writeErr(t, lg, "transit/keys/aes-sized", map[string]any{"type": "aes256-gcm96", "key_size": 32}, 400, "key_size is not valid")
	})

	t.Run("unknown type", func(t *testing.T) {
		writeErr(t, lg, "transit/keys/nope", map[string]any{"type": "des3"}, 400, "unknown key type des3")
	})
}
