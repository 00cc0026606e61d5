package transit

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

// allowed reports whether err is an answer the backend may give to any
// input: none, or a refusal (400) or not found (404).
func allowed(err error) bool {
	return err == nil || errors.Is(err, engine.ErrBadRequest) || errors.Is(err, engine.ErrNotFound)
}

// FuzzDecrypt feeds ciphertext strings to decrypt: the backend answers
// them, or refuses them with a 400; it never panics or fails otherwise.
func FuzzDecrypt(f *testing.F) {
	b := newBackend(f)
	ok(f, b, engine.OpUpdate, "keys/k", nil)
	ok(f, b, engine.OpUpdate, "keys/d", map[string]any{"derived": true})
	ok(f, b, engine.OpUpdate, "keys/x", map[string]any{"type": "xchacha20-poly1305"})
	ct := str(f, ok(f, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("seed")}), "ciphertext")
	for _, s := range []string{ct, ct[:len(ct)-2], "vault:v1:", "vault:v0:AAAA", "vault:v-1:AAAA", "vault:v99999999999999999999:AA==",
		"vault:v1:" + ct, "", "vault:v1::", "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s, "")
		f.Add(s, b64("ctx"))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, ciphertext, context string) {
		for _, key := range []string{"k", "d", "x", "missing"} {
			body, _ := json.Marshal(map[string]any{"ciphertext": ciphertext, "context": context})
			resp, err := b.HandleRequest(ctx, &engine.Request{Operation: engine.OpUpdate, Path: "decrypt/" + key, Body: body})
			if !allowed(err) {
				t.Fatalf("decrypt/%s %q: %v", key, ciphertext, err)
			}
			if err == nil && resp.Data.(*decryptResponse).Plaintext == "" && ciphertext != ct {
				// Only an authentic ciphertext decrypts; an empty plaintext
				// would mean a forgery of the empty message.
				t.Fatalf("decrypt/%s %q succeeded", key, ciphertext)
			}
		}
	})
}

// FuzzParseCiphertext checks the ciphertext parser alone.
func FuzzParseCiphertext(f *testing.F) {
	for _, s := range []string{"vault:v1:AAAA", "vault:v", "vault:v1", ":", "vault:v+1:", "vault:v1:====", "vault:v1:A\nAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ver, raw, err := parseCiphertext(s, "vault:v", ":")
		if err != nil {
			if !errors.Is(err, engine.ErrBadRequest) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if ver < -1<<62 || raw == nil && len(s) > 100 {
			t.Fatalf("%q: %d %x", s, ver, raw)
		}
	})
}

// FuzzRequestBody feeds raw bodies to the request paths: every answer is a
// success or a 400/404, never a panic or an internal error.
func FuzzRequestBody(f *testing.F) {
	b := newBackend(f)
	ok(f, b, engine.OpUpdate, "keys/k", nil)
	ok(f, b, engine.OpUpdate, "keys/ed", map[string]any{"type": "ed25519"})
	ok(f, b, engine.OpUpdate, "keys/ec", map[string]any{"type": "ecdsa-p256"})
	ct := str(f, ok(f, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("seed")}), "ciphertext")
	for _, s := range []string{
		`{"plaintext":"YQ=="}`, `{"plaintext":"YQ==","key_version":"1"}`, `{"batch_input":[{"plaintext":"YQ==","reference":"r"}]}`,
		`{"batch_input":"[{\"plaintext\":\"YQ==\"}]"}`, `{"ciphertext":"` + ct + `"}`, `{"batch_input":[{"ciphertext":"` + ct + `"}]}`,
		`{"input":"YQ==","hash_algorithm":"sha2-512","marshaling_algorithm":"jws"}`, `{"input":"YQ==","signature":"vault:v1:AA=="}`,
		`{"input":"YQ==","hmac":"vault:v1:AA=="}`, `{"bits":"512"}`, `{"key_version":1e3}`, `{"batch_input":null}`, `[]`, `null`, `{`,
		`{"partial_failure_response_code":"abc"}`, `{"batch_input":[{"plaintext":"YQ==","key_version":-1}],"partial_failure_response_code":207}`,
	} {
		f.Add(s)
	}
	paths := []string{"encrypt/k", "decrypt/k", "rewrap/k", "datakey/plaintext/k", "hmac/k", "verify/k", "sign/ed", "verify/ed",
		"sign/ec", "verify/ec", "hash", "random", "decrypt/missing"}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			_, err := b.HandleRequest(ctx, &engine.Request{Operation: engine.OpUpdate, Path: p, Body: []byte(body)})
			if !allowed(err) {
				t.Fatalf("%s %q: %v", p, body, err)
			}
		}
	})
}

// FuzzKWPUnwrap checks that unwrapping never panics and refuses what it
// does not authenticate.
func FuzzKWPUnwrap(f *testing.F) {
	w, _ := kwpWrap(seq(0, 32), seq(1, 20))
	f.Add(w)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, c []byte) {
		p, err := kwpUnwrap(seq(0, 32), c)
		if err == nil && string(c) != string(w) {
			t.Fatalf("unwrapped a forgery: %x → %x", c, p)
		}
	})
}

// FuzzTools feeds paths below sys/tools/ and bodies to Tools: every answer
// is a success or a 400/404/405, never a panic or an internal error.
func FuzzTools(f *testing.F) {
	for _, s := range [][2]string{
		{"random", ``}, {"random/16", `{"format":"hex"}`}, {"random/platform/8", ``}, {"random/seal/1/x", ``},
		{"random/0", ``}, {"hash", `{"input":"YQ=="}`}, {"hash/sha3-256", `{"input":"YQ==","format":"base64"}`},
		{"hash/md5", `{"input":"YQ=="}`}, {"nope", ``}, {"random", `{"bytes":"1e9"}`},
	} {
		f.Add(s[0], s[1])
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, path, body string) {
		_, err := Tools(ctx, &engine.Request{Operation: engine.OpUpdate, Path: path, Body: []byte(body)})
		if err != nil && !allowed(err) && !errors.Is(err, engine.ErrUnsupportedOperation) && !errors.Is(err, engine.ErrUnsupportedPath) {
			t.Fatalf("%q %q: %v", path, body, err)
		}
	})
}
