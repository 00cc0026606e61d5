package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestTransitDecryptUniformity checks that decrypt and rewrap cannot tell
// a missing key from the wrong key or a damaged ciphertext: every case
// answers 400 with the same single message, and malformed ciphertexts are
// refused alike whether the key exists or not.
func TestTransitDecryptUniformity(t *testing.T) {
	_, lg := transitServer(t)
	write(t, lg, "transit/keys/k1", nil)
	write(t, lg, "transit/keys/k2", nil)
	write(t, lg, "transit/keys/kc", map[string]any{"type": "chacha20-poly1305"})
	write(t, lg, "transit/keys/kd", map[string]any{"derived": true})
	ct := encrypt(t, lg, "k1", []byte("uniform"), nil)
	_, raw := splitCiphertext(t, ct)
	flip := func(i int) string {
		b := slices.Clone(raw)
		b[i] ^= 0x01
		return "vault:v1:" + b64(b)
	}
	cases := []struct{ name, key, ct string }{
		{"missing key", "no-such-key", ct},
		{"wrong key", "k2", ct},
		{"wrong key type", "kc", ct},
		{"tampered nonce", "k1", flip(0)},
		{"tampered body", "k1", flip(14)},
		{"tampered tag", "k1", flip(len(raw) - 1)},
		{"truncated", "k1", "vault:v1:" + b64(raw[:len(raw)-1])},
		{"shorter than a nonce", "k1", "vault:v1:" + b64(raw[:5])},
		{"empty body", "k1", "vault:v1:"},
		{"version too new", "k1", "vault:v7:" + b64(raw)},
		{"version too new, missing key", "no-such-key", "vault:v7:" + b64(raw)},
	}
	var first []string
	for _, tc := range cases {
		for _, op := range []string{"decrypt", "rewrap"} {
			msgs := writeErr(t, lg, "transit/"+op+"/"+tc.key, map[string]any{"ciphertext": tc.ct}, 400, "")
			if len(msgs) != 1 || msgs[0] != msgAuthFailed {
				t.Fatalf("%s %s: %q, want only %q", op, tc.name, msgs, msgAuthFailed)
			}
			if first == nil {
				first = msgs
			} else if !slices.Equal(first, msgs) {
				t.Fatalf("%s %s: %q differs from %q", op, tc.name, msgs, first)
			}
		}
	}
	// A ciphertext with a context for a non-derived key, and a derived key
	// given the wrong context, fail the same way.
	writeErr(t, lg, "transit/decrypt/k2", map[string]any{"ciphertext": ct, "context": b64s("ctx")}, 400, msgAuthFailed)
	dct := encrypt(t, lg, "kd", []byte("d"), map[string]any{"context": b64s("a")})
	writeErr(t, lg, "transit/decrypt/kd", map[string]any{"ciphertext": dct, "context": b64s("b")}, 400, msgAuthFailed)
	writeErr(t, lg, "transit/decrypt/no-such-key", map[string]any{"ciphertext": dct, "context": b64s("a")}, 400, msgAuthFailed)

	// Malformed input is refused with the same message whether the key
	// exists or not.
	for _, bad := range []string{"vault:v1:!!notbase64", "vault:1:" + b64(raw), "vault:vx:" + b64(raw), "vault:v-1:" + b64(raw), "nope:v1:" + b64(raw), "vault:v1"} {
		a := writeErr(t, lg, "transit/decrypt/k1", map[string]any{"ciphertext": bad}, 400, "invalid ciphertext")
		b := writeErr(t, lg, "transit/decrypt/no-such-key", map[string]any{"ciphertext": bad}, 400, "invalid ciphertext")
		if !slices.Equal(a, b) {
			t.Fatalf("%q: existing key %q, missing key %q", bad, a, b)
		}
	}
	// In a batch, every failing item carries the same message.
	items := []map[string]any{}
	for _, tc := range cases[1:] {
		if tc.key == "k1" {
			items = append(items, map[string]any{"ciphertext": tc.ct})
		}
	}
	code, body := rawWrite(t, lg, "transit/decrypt/k1", map[string]any{"batch_input": items})
	if code != 400 {
		t.Fatalf("batch of bad ciphertexts: HTTP %d", code)
	}
	for i, r := range results(t, body["data"].(map[string]any), len(items)) {
		if r["error"] != msgAuthFailed {
			t.Fatalf("batch item %d: %v", i, r)
		}
	}
}

// TestTransitBadInput covers refusals of malformed requests: bad base64,
// bad ciphertext prefixes and fields, a version too new, missing fields,
// unparsable JSON and typed values, an oversized batch (10,001 items, one
// over MaxBatchItems) next to a full one, bad datakey bits, and unknown
// paths and methods.
func TestTransitBadInput(t *testing.T) {
	_, lg := transitServer(t)
	write(t, lg, "transit/keys/k", nil)
	ct := encrypt(t, lg, "k", []byte("x"), nil)
	_, raw := splitCiphertext(t, ct)

	for _, tc := range []struct {
		path string
		data map[string]any
		want string
	}{
		{"transit/encrypt/k", map[string]any{"plaintext": "not base64!"}, "illegal base64 data"},
		{"transit/encrypt/k", map[string]any{}, "missing plaintext to encrypt"},
		{"transit/encrypt/k", map[string]any{"plaintext": b64s("x"), "key_version": 2}, "higher than the latest key version"},
		{"transit/encrypt/k", map[string]any{"plaintext": b64s("x"), "context": "%%"}, "illegal base64"},
		{"transit/encrypt/k", map[string]any{"plaintext": []string{"a"}}, "failed to parse JSON input"},
		{"transit/encrypt/k", map[string]any{"plaintext": b64s("x"), "key_version": 1.5}, "cannot parse"},
		{"transit/decrypt/k", map[string]any{}, "missing ciphertext to decrypt"},
		{"transit/decrypt/k", map[string]any{"ciphertext": "vault:v1:" + b64(raw)[1:]}, "invalid ciphertext: could not decode base64"},
		{"transit/decrypt/k", map[string]any{"ciphertext": "vault:v1:@@@@"}, "invalid ciphertext: could not decode base64"},
		{"transit/decrypt/k", map[string]any{"ciphertext": "vault1:" + b64(raw)}, "invalid ciphertext: no prefix"},
		{"transit/decrypt/k", map[string]any{"ciphertext": "VAULT:v1:" + b64(raw)}, "invalid ciphertext: no prefix"},
		{"transit/decrypt/k", map[string]any{"ciphertext": b64(raw)}, "invalid ciphertext: no prefix"},
		{"transit/decrypt/k", map[string]any{"ciphertext": "vault:v1"}, "invalid ciphertext: wrong number of fields"},
		{"transit/decrypt/k", map[string]any{"ciphertext": "vault:vone:" + b64(raw)}, "invalid ciphertext: version number could not be decoded"},
		{"transit/decrypt/k", map[string]any{"ciphertext": "vault:v2:" + b64(raw)}, msgAuthFailed},
		{"transit/decrypt/k", map[string]any{"ciphertext": "vault:v99999999999999999999:" + b64(raw)}, "version number could not be decoded"},
		{"transit/decrypt/k", map[string]any{"ciphertext": ct, "context": "%%"}, "illegal base64"},
		{"transit/rewrap/k", map[string]any{"ciphertext": "vault:v1:@@"}, "invalid ciphertext: could not decode base64"},
		{"transit/rewrap/k", map[string]any{}, "missing ciphertext"},
		{"transit/sign/k", map[string]any{"input": "%%"}, "key type aes256-gcm96 does not support signing"},
		{"transit/hmac/k", map[string]any{"input": "%%"}, "unable to decode input as base64"},
		{"transit/hmac/k", map[string]any{}, "missing input for HMAC"},
		{"transit/hmac/missing", map[string]any{"input": b64s("x")}, "encryption key not found"},
		{"transit/sign/missing", map[string]any{"input": b64s("x")}, "signing key not found"},
		{"transit/verify/missing", map[string]any{"input": b64s("x"), "signature": "vault:v1:AA=="}, "signature verification key not found"},
		{"transit/verify/k", map[string]any{"input": b64s("x")}, "neither a 'signature' nor an 'hmac' were given to verify"},
		{"transit/verify/k", map[string]any{"input": b64s("x"), "hmac": "nope"}, "invalid HMAC to verify: no prefix"},
		{"transit/verify/k", map[string]any{"input": b64s("x"), "hmac": "vault:v1:%%"}, "unable to decode verification HMAC as base64"},
		{"transit/verify/k", map[string]any{"input": b64s("x"), "hmac": "vault:v9:AAAA"}, "version is too new"},
		{"transit/datakey/plaintext/k", map[string]any{"bits": 64}, "invalid bit length"},
		{"transit/datakey/wrapped/k", map[string]any{"bits": "257"}, "invalid bit length"},
		{"transit/datakey/wrapped/k", map[string]any{"bits": true}, "cannot parse"},
		{"transit/keys/k2", map[string]any{"derived": "maybe"}, "cannot parse"},
		{"transit/keys/k2", map[string]any{"auto_rotate_period": "10m"}, "auto rotate period must be 0 to disable or at least an hour"},
		{"transit/keys/k/config", map[string]any{"min_decryption_version": "x"}, "cannot parse"},
		{"transit/keys/k/config", map[string]any{"auto_rotate_period": "30s"}, "at least an hour"},
	} {
		writeErr(t, lg, tc.path, tc.data, 400, tc.want)
	}
	// Raw bodies that are not JSON objects.
	for _, body := range []string{"{not json", "[1,2]", `"plaintext"`} {
		code, resp := rawWrite(t, lg, "transit/encrypt/k", []byte(body))
		if code != 400 || !strings.Contains(fmt.Sprint(resp["errors"]), "failed to parse JSON input") {
			t.Fatalf("body %q: HTTP %d %v", body, code, resp)
		}
	}

	// A full batch of MaxBatchItems (10,000) works; one more is refused.
	const maxItems = 10_000
	full := make([]map[string]any, maxItems)
	for i := range full {
		full[i] = map[string]any{"plaintext": ""}
	}
	res := results(t, write(t, lg, "transit/encrypt/k", map[string]any{"batch_input": full}).Data, maxItems)
	dec := make([]map[string]any, maxItems)
	for i, r := range res {
		dec[i] = map[string]any{"ciphertext": r["ciphertext"]}
	}
	results(t, write(t, lg, "transit/decrypt/k", map[string]any{"batch_input": dec}).Data, maxItems)
	over := append(full, map[string]any{"plaintext": ""})
	writeErr(t, lg, "transit/encrypt/k", map[string]any{"batch_input": over}, 400, "batch_input has 10001 items; at most 10000 are allowed")
	dec = append(dec, dec[0])
	for _, path := range []string{"transit/decrypt/k", "transit/rewrap/k"} {
		writeErr(t, lg, path, map[string]any{"batch_input": dec}, 400, "at most 10000 are allowed")
	}
	sign := make([]map[string]any, maxItems+1)
	for i := range sign {
		sign[i] = map[string]any{"input": ""}
	}
	writeErr(t, lg, "transit/hmac/k", map[string]any{"batch_input": sign}, 400, "at most 10000 are allowed")
	writeErr(t, lg, "transit/sign/k", map[string]any{"batch_input": sign}, 400, "at most 10000 are allowed")
	// The oversized batch as a string (batch_input=@file.json) too.
	writeErr(t, lg, "transit/encrypt/k", map[string]any{"batch_input": "[" + strings.Repeat(`{"plaintext":""},`, maxItems) + `{"plaintext":""}]`}, 400, "at most 10000 are allowed")
	// No key was created or changed by the refusals.
	if v := num(t, read(t, lg, "transit/keys/k").Data["latest_version"]); v != 1 {
		t.Fatalf("latest_version %d", v)
	}

	// Unknown paths answer 404; wrong methods 405.
	for _, p := range []string{"transit/nothing", "transit/keys/k/nothing", "transit/encrypt/a/b", "transit/keys/-bad"} {
		_, err := lg.Write(p, map[string]any{"plaintext": ""})
		wantStatus(t, err, 404, "")
	}
	for _, p := range []string{"transit/encrypt/k", "transit/decrypt/k", "transit/hash", "transit/random"} {
		_, err := lg.Read(p)
		wantStatus(t, err, 405, "")
	}
	resp, err := lg.ReadRaw("transit/keys/k/rotate")
	if resp != nil {
		resp.Body.Close()
	}
	wantStatus(t, err, 405, "")
}
