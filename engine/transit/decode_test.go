package transit

import (
	"encoding/base64"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

// TestWeakStringParameters: as in Vault (FieldData's weak decoding of
// TypeString), a top-level string parameter given as a JSON number or
// boolean is taken as its text; batch items stay strict.
func TestWeakStringParameters(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	// 1234 is valid base64 (3 bytes), so it encrypts as those bytes.
	ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/k", `{"plaintext": 1234}`), "ciphertext")
	pt := str(t, ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct}), "plaintext")
	if want := "1234"; pt != want {
		t.Fatalf("round trip of plaintext 1234: %q, want %q", pt, want)
	}
	raw, _ := base64.StdEncoding.DecodeString(pt)
	if len(raw) != 3 {
		t.Fatalf("decoded %d bytes", len(raw))
	}
	// Other members of the same request keep their values.
	ok(t, b, engine.OpUpdate, "keys/d", map[string]any{"derived": true})
	ctx := "MTIzNA==" // the context is base64 too
	ct = str(t, ok(t, b, engine.OpUpdate, "encrypt/d", `{"plaintext": 1234, "context": "`+ctx+`"}`), "ciphertext")
	if pt := str(t, ok(t, b, engine.OpUpdate, "decrypt/d", map[string]any{"ciphertext": ct, "context": ctx}), "plaintext"); pt != "1234" {
		t.Fatalf("derived round trip: %q", pt)
	}
	// A boolean becomes "1" or "0", which are not valid base64.
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", `{"plaintext": true}`), "base64")
	// Objects and arrays are still refused, and batch items are strict.
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", `{"plaintext": {"a": 1}}`), "failed to parse JSON input")
	wantContains(t, fails(t, b, engine.OpUpdate, "encrypt/k", `{"batch_input": [{"plaintext": 1234}]}`), "failed to parse batch input")
}

// FuzzWeakenStrings: the rewrite never panics and, when it succeeds,
// yields JSON that decodes into the request struct or fails as a 400.
func FuzzWeakenStrings(f *testing.F) {
	f.Add([]byte(`{"plaintext": 1234, "context": true, "key_version": 2}`))
	f.Add([]byte(`{"plaintext": -1e3}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in encryptRequest
		if err := decodeJSON(raw, &in); err != nil && !isUserError(err) {
			t.Fatalf("not a 400: %v", err)
		}
	})
}
