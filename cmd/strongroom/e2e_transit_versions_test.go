package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestTransitVersionLifecycle covers rotate, key_version on encrypt,
// rewrap, keys/<name>/config min_decryption_version and
// min_encryption_version (with their bounds), and trim: versions below
// min_available_version are gone for good.
func TestTransitVersionLifecycle(t *testing.T) {
	_, lg := transitServer(t)
	msg := []byte("versioned")
	write(t, lg, "transit/keys/ver", map[string]any{"exportable": true})
	c1 := encrypt(t, lg, "ver", msg, nil)
	// vault write -f transit/keys/ver/rotate, twice.
	if d := write(t, lg, "transit/keys/ver/rotate", nil).Data; num(t, d["latest_version"]) != 2 {
		t.Fatalf("rotate answered %v", d)
	}
	write(t, lg, "transit/keys/ver/rotate", nil)
	if vs := keyVersions(t, lg, "ver"); !slices.Equal(vs, []string{"1", "2", "3"}) {
		t.Fatalf("versions after two rotations: %v", vs)
	}
	c3 := encrypt(t, lg, "ver", msg, nil)
	c1b := encrypt(t, lg, "ver", msg, map[string]any{"key_version": 1})  // JSON number
	c2 := encrypt(t, lg, "ver", msg, map[string]any{"key_version": "2"}) // CLI string
	for want, ct := range map[string]string{"vault:v1:": c1b, "vault:v2:": c2, "vault:v3:": c3} {
		if !strings.HasPrefix(ct, want) {
			t.Fatalf("ciphertext %q, want prefix %s", ct, want)
		}
	}
	s := write(t, lg, "transit/encrypt/ver", map[string]any{"plaintext": b64(msg), "key_version": 2})
	if num(t, s.Data["key_version"]) != 2 {
		t.Fatalf("encrypt key_version answer: %v", s.Data)
	}
	for _, ct := range []string{c1, c1b, c2, c3} {
		if got := decrypt(t, lg, "ver", ct, nil); !bytes.Equal(got, msg) {
			t.Fatalf("decrypt %q gave %q", ct, got)
		}
	}
	// The v1 ciphertext is sealed with version 1's exported key, v3 with version 3's.
	keys := exportKeys(t, lg, "transit/export/encryption-key/ver")
	_, raw1 := splitCiphertext(t, c1)
	_, raw3 := splitCiphertext(t, c3)
	if !bytes.Equal(gcmOpen(t, unb64(t, keys["1"]), raw1, nil), msg) || !bytes.Equal(gcmOpen(t, unb64(t, keys["3"]), raw3, nil), msg) {
		t.Fatal("ciphertexts do not open with their version's exported key")
	}
	writeErr(t, lg, "transit/encrypt/ver", map[string]any{"plaintext": b64(msg), "key_version": 4}, 400, "higher than the latest key version")
	writeErr(t, lg, "transit/encrypt/ver", map[string]any{"plaintext": b64(msg), "key_version": -1}, 400, "negative")
	writeErr(t, lg, "transit/encrypt/ver", map[string]any{"plaintext": b64(msg), "key_version": "two"}, 400, "cannot parse")

	// vault write transit/rewrap/ver ciphertext=<v1>: to the latest, or to key_version.
	rw := write(t, lg, "transit/rewrap/ver", map[string]any{"ciphertext": c1}).Data
	if !strings.HasPrefix(str(t, rw, "ciphertext"), "vault:v3:") || num(t, rw["key_version"]) != 3 {
		t.Fatalf("rewrap: %v", rw)
	}
	if got := decrypt(t, lg, "ver", rw["ciphertext"].(string), nil); !bytes.Equal(got, msg) {
		t.Fatal("rewrapped ciphertext does not decrypt")
	}
	if rw2 := str(t, write(t, lg, "transit/rewrap/ver", map[string]any{"ciphertext": c1, "key_version": "2"}).Data, "ciphertext"); !strings.HasPrefix(rw2, "vault:v2:") {
		t.Fatalf("rewrap to key_version 2: %q", rw2)
	}

	// min_decryption_version: older ciphertexts are refused, as too old.
	if d := write(t, lg, "transit/keys/ver/config", map[string]any{"min_decryption_version": "2"}).Data; num(t, d["min_decryption_version"]) != 2 {
		t.Fatalf("config answer: %v", d)
	}
	for _, ct := range []string{c1, c1b} {
		writeErr(t, lg, "transit/decrypt/ver", map[string]any{"ciphertext": ct}, 400, "ciphertext or signature version is disallowed by policy (too old)")
		writeErr(t, lg, "transit/rewrap/ver", map[string]any{"ciphertext": ct}, 400, "too old")
	}
	if got := decrypt(t, lg, "ver", c2, nil); !bytes.Equal(got, msg) {
		t.Fatal("v2 refused at min_decryption_version 2")
	}
	if vs := keyVersions(t, lg, "ver"); !slices.Equal(vs, []string{"2", "3"}) {
		t.Fatalf("keys shown at min_decryption_version 2: %v", vs)
	}
	// Export lists the versions from min_decryption_version up, and refuses below.
	if ex := exportKeys(t, lg, "transit/export/encryption-key/ver"); len(ex) != 2 || ex["1"] != "" {
		t.Fatalf("export at min_decryption_version 2: %v", ex)
	}
	_, err := lg.Read("transit/export/encryption-key/ver/1")
	wantStatus(t, err, 400, "below minimum decryption version")
	// As in Vault (keysutil archives the versions below
	// min_decryption_version), they cannot encrypt either.
	writeErr(t, lg, "transit/encrypt/ver", map[string]any{"plaintext": b64(msg), "key_version": 1}, 400, "no such key version")
	writeErr(t, lg, "transit/keys/ver/config", map[string]any{"min_decryption_version": 4}, 400, "cannot set min decryption version of 4, latest key version is 3")
	writeErr(t, lg, "transit/keys/ver/config", map[string]any{"min_decryption_version": -1}, 400, "cannot be negative")

	// min_encryption_version.
	write(t, lg, "transit/keys/ver/config", map[string]any{"min_encryption_version": 3})
	writeErr(t, lg, "transit/encrypt/ver", map[string]any{"plaintext": b64(msg), "key_version": 2}, 400, "less than the minimum encryption key version")
	writeErr(t, lg, "transit/rewrap/ver", map[string]any{"ciphertext": c2, "key_version": 2}, 400, "less than the minimum encryption key version")
	writeErr(t, lg, "transit/datakey/plaintext/ver", map[string]any{"key_version": 2}, 400, "less than the minimum encryption key version")
	if ct := encrypt(t, lg, "ver", msg, nil); !strings.HasPrefix(ct, "vault:v3:") {
		t.Fatalf("encrypt at min_encryption_version 3: %q", ct)
	}
	if d := read(t, lg, "transit/keys/ver").Data; num(t, d["min_encryption_version"]) != 3 || num(t, d["min_decryption_version"]) != 2 {
		t.Fatalf("key after config: %v", d)
	}
	writeErr(t, lg, "transit/keys/ver/config", map[string]any{"min_encryption_version": 1}, 400, "must be greater than or equal to min decryption version")
	writeErr(t, lg, "transit/keys/ver/config", map[string]any{"min_encryption_version": 9}, 400, "cannot set min encryption version of 9")

	// Lowering min_decryption_version brings v1 back.
	write(t, lg, "transit/keys/ver/config", map[string]any{"min_decryption_version": 1})
	if got := decrypt(t, lg, "ver", c1, nil); !bytes.Equal(got, msg) {
		t.Fatal("v1 not back after lowering min_decryption_version")
	}

	// trim: bounded by min_decryption_version and min_encryption_version.
	writeErr(t, lg, "transit/keys/ver/trim", map[string]any{"min_available_version": 2}, 400, "cannot be greater than minimum decryption version")
	writeErr(t, lg, "transit/keys/ver/trim", map[string]any{}, 400, "missing min_available_version")
	write(t, lg, "transit/keys/ver/config", map[string]any{"min_decryption_version": 2})
	writeErr(t, lg, "transit/keys/ver/trim", map[string]any{"min_available_version": 0}, 400, "should be positive")
	writeErr(t, lg, "transit/keys/ver/trim", map[string]any{"min_available_version": 3}, 400, "cannot be greater than minimum decryption version")
	// vault write transit/keys/ver/trim min_available_version=2
	d := write(t, lg, "transit/keys/ver/trim", map[string]any{"min_available_version": "2"}).Data
	if num(t, d["min_available_version"]) != 2 {
		t.Fatalf("trim answered %v", d)
	}
	if vs := keyVersions(t, lg, "ver"); !slices.Equal(vs, []string{"2", "3"}) {
		t.Fatalf("versions after trim: %v", vs)
	}
	writeErr(t, lg, "transit/keys/ver/config", map[string]any{"min_decryption_version": 1}, 400, "min decryption version should not be less then min available version")
	writeErr(t, lg, "transit/keys/ver/trim", map[string]any{"min_available_version": 1}, 400, "cannot be decremented")
	writeErr(t, lg, "transit/decrypt/ver", map[string]any{"ciphertext": c1}, 400, "too old")
	writeErr(t, lg, "transit/encrypt/ver", map[string]any{"plaintext": b64(msg), "key_version": 1}, 400, "less than the minimum encryption key version")
	if got := decrypt(t, lg, "ver", c2, nil); !bytes.Equal(got, msg) {
		t.Fatal("v2 lost by trimming to 2")
	}
	// Trimmed versions are gone from backups of the key too.
	write(t, lg, "transit/keys/ver/config", map[string]any{"allow_plaintext_backup": true})
	backup := str(t, read(t, lg, "transit/backup/ver").Data, "backup")
	writeNoData(t, lg, "transit/restore/ver-restored", map[string]any{"backup": backup})
	writeErr(t, lg, "transit/keys/ver-restored/config", map[string]any{"min_decryption_version": 1}, 400, "min available version")
	if got := decrypt(t, lg, "ver-restored", c3, nil); !bytes.Equal(got, msg) {
		t.Fatal("restored trimmed key does not decrypt v3")
	}
	// A rotation after the trim still works and numbers on.
	if d := write(t, lg, "transit/keys/ver/rotate", nil).Data; num(t, d["latest_version"]) != 4 {
		t.Fatalf("rotate after trim: %v", d)
	}

	// trim needs min_encryption_version to be set.
	write(t, lg, "transit/keys/notrim", nil)
	write(t, lg, "transit/keys/notrim/rotate", nil)
	write(t, lg, "transit/keys/notrim/config", map[string]any{"min_decryption_version": 2})
	writeErr(t, lg, "transit/keys/notrim/trim", map[string]any{"min_available_version": 2}, 400, "minimum encryption version is not set")
	// min_decryption_version=0 is forced to 1, with Vault's warning.
	s = write(t, lg, "transit/keys/notrim/config", map[string]any{"min_decryption_version": 0})
	if num(t, s.Data["min_decryption_version"]) != 1 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "forcing minimum to 1") {
		t.Fatalf("min_decryption_version=0: %v %v", s.Data["min_decryption_version"], s.Warnings)
	}
	// auto_rotate_period as a duration string, read back in seconds.
	write(t, lg, "transit/keys/auto", map[string]any{"auto_rotate_period": "24h"})
	if p := num(t, read(t, lg, "transit/keys/auto").Data["auto_rotate_period"]); p != 86400 {
		t.Fatalf("auto_rotate_period %d", p)
	}
	write(t, lg, "transit/keys/auto/config", map[string]any{"auto_rotate_period": 7200})
	if p := num(t, read(t, lg, "transit/keys/auto").Data["auto_rotate_period"]); p != 7200 {
		t.Fatalf("auto_rotate_period after config %d", p)
	}
	writeErr(t, lg, "transit/keys/missing/trim", map[string]any{"min_available_version": 1}, 400, "invalid key name")
	writeErr(t, lg, "transit/keys/missing/rotate", nil, 400, "key not found")
}

// TestTransitSignatureVersions covers versions for signatures and HMACs:
// key_version on sign and hmac, and verification refused below
// min_decryption_version.
func TestTransitSignatureVersions(t *testing.T) {
	_, lg := transitServer(t)
	msg := b64s("signed")
	write(t, lg, "transit/keys/sv", map[string]any{"type": "ecdsa-p256"})
	sig1 := str(t, write(t, lg, "transit/sign/sv", map[string]any{"input": msg}).Data, "signature")
	mac1 := str(t, write(t, lg, "transit/hmac/sv", map[string]any{"input": msg}).Data, "hmac")
	write(t, lg, "transit/keys/sv/rotate", nil)
	sig2 := str(t, write(t, lg, "transit/sign/sv", map[string]any{"input": msg}).Data, "signature")
	old := write(t, lg, "transit/sign/sv", map[string]any{"input": msg, "key_version": "1"}).Data
	if !strings.HasPrefix(sig2, "vault:v2:") || !strings.HasPrefix(str(t, old, "signature"), "vault:v1:") || num(t, old["key_version"]) != 1 {
		t.Fatalf("signatures %q, key_version 1: %v", sig2, old)
	}
	if mac := str(t, write(t, lg, "transit/hmac/sv", map[string]any{"input": msg, "key_version": 1}).Data, "hmac"); mac != mac1 {
		t.Fatalf("hmac with key_version 1 %q != %q", mac, mac1)
	}
	for _, sig := range []string{sig1, sig2} {
		if !verifyValid(t, lg, "transit/verify/sv", map[string]any{"input": msg, "signature": sig}) {
			t.Fatalf("verify %q false", sig)
		}
	}
	// A v1 signature does not verify as v2.
	if verifyValid(t, lg, "transit/verify/sv", map[string]any{"input": msg, "signature": "vault:v2:" + strings.TrimPrefix(sig1, "vault:v1:")}) {
		t.Fatal("v1 signature verified under v2")
	}
	writeErr(t, lg, "transit/verify/sv", map[string]any{"input": msg, "signature": "vault:v3:" + strings.TrimPrefix(sig1, "vault:v1:")}, 400, "version is too new")
	writeErr(t, lg, "transit/sign/sv", map[string]any{"input": msg, "key_version": 3}, 400, "higher than the latest key version")
	write(t, lg, "transit/keys/sv/config", map[string]any{"min_decryption_version": 2})
	writeErr(t, lg, "transit/verify/sv", map[string]any{"input": msg, "signature": sig1}, 400, "too old")
	writeErr(t, lg, "transit/verify/sv", map[string]any{"input": msg, "hmac": mac1}, 400, "too old")
	if !verifyValid(t, lg, "transit/verify/sv", map[string]any{"input": msg, "signature": sig2}) {
		t.Fatal("v2 signature refused at min_decryption_version 2")
	}
	write(t, lg, "transit/keys/sv/config", map[string]any{"min_encryption_version": 2})
	writeErr(t, lg, "transit/sign/sv", map[string]any{"input": msg, "key_version": 1}, 400, "less than the minimum encryption key version")
	writeErr(t, lg, "transit/hmac/sv", map[string]any{"input": msg, "key_version": 1}, 400, "too old")
}

// TestTransitDatakey covers datakey/plaintext and datakey/wrapped with bits
// 128, 256 (default) and 512, as numbers and strings: the ciphertext
// decrypts to the plaintext key, and opens locally with the exported key.
func TestTransitDatakey(t *testing.T) {
	_, lg := transitServer(t)
	write(t, lg, "transit/keys/dk", map[string]any{"exportable": true})
	kek := unb64(t, exportKeys(t, lg, "transit/export/encryption-key/dk/1")["1"])
	for _, tc := range []struct {
		bits any
		n    int
	}{{128, 16}, {"256", 32}, {512, 64}, {nil, 32}} {
		data := map[string]any{}
		if tc.bits != nil {
			data["bits"] = tc.bits
		}
		// vault write transit/datakey/plaintext/dk bits=...
		d := write(t, lg, "transit/datakey/plaintext/dk", data).Data
		pt := unb64(t, str(t, d, "plaintext"))
		ct := str(t, d, "ciphertext")
		if len(pt) != tc.n || num(t, d["key_version"]) != 1 || !strings.HasPrefix(ct, "vault:v1:") {
			t.Fatalf("bits %v: %d-byte key, answer %v", tc.bits, len(pt), d)
		}
		if got := decrypt(t, lg, "dk", ct, nil); !bytes.Equal(got, pt) {
			t.Fatalf("bits %v: ciphertext decrypts to another key", tc.bits)
		}
		_, raw := splitCiphertext(t, ct)
		if got := gcmOpen(t, kek, raw, nil); !bytes.Equal(got, pt) {
			t.Fatalf("bits %v: local open gives another key", tc.bits)
		}
		// vault write transit/datakey/wrapped/dk bits=...: no plaintext.
		w := write(t, lg, "transit/datakey/wrapped/dk", data).Data
		if _, ok := w["plaintext"]; ok {
			t.Fatalf("wrapped datakey has a plaintext: %v", w)
		}
		wk := decrypt(t, lg, "dk", str(t, w, "ciphertext"), nil)
		if len(wk) != tc.n || bytes.Equal(wk, pt) {
			t.Fatalf("bits %v: wrapped key of %d bytes (equal to the plaintext one: %v)", tc.bits, len(wk), bytes.Equal(wk, pt))
		}
	}
	// After rotation, key_version picks the wrapping version.
	write(t, lg, "transit/keys/dk/rotate", nil)
	if ct := str(t, write(t, lg, "transit/datakey/wrapped/dk", map[string]any{"key_version": 1}).Data, "ciphertext"); !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("datakey key_version 1: %q", ct)
	}
	if ct := str(t, write(t, lg, "transit/datakey/wrapped/dk", nil).Data, "ciphertext"); !strings.HasPrefix(ct, "vault:v2:") {
		t.Fatalf("datakey default version: %q", ct)
	}
	// Derived key: context required and used.
	write(t, lg, "transit/keys/dk-der", map[string]any{"derived": true})
	writeErr(t, lg, "transit/datakey/plaintext/dk-der", nil, 400, "missing 'context'")
	d := write(t, lg, "transit/datakey/plaintext/dk-der", map[string]any{"context": b64s("c")}).Data
	if got := decrypt(t, lg, "dk-der", str(t, d, "ciphertext"), map[string]any{"context": b64s("c")}); b64(got) != d["plaintext"] {
		t.Fatal("derived datakey does not decrypt to its plaintext")
	}
	// Refusals.
	for _, bits := range []any{100, "1024", 0, -256} {
		writeErr(t, lg, "transit/datakey/plaintext/dk", map[string]any{"bits": bits}, 400, "invalid bit length")
	}
	writeErr(t, lg, "transit/datakey/wrapped/dk", map[string]any{"bits": "many"}, 400, "cannot parse")
	writeErr(t, lg, "transit/datakey/raw/dk", nil, 400, "Invalid path, must be 'plaintext' or 'wrapped'")
	writeErr(t, lg, "transit/datakey/plaintext/missing", nil, 400, "encryption key not found")
	writeErr(t, lg, "transit/datakey/plaintext/dk", map[string]any{"context": "%%"}, 400, "failed to base64-decode context")
	_, err := lg.Read("transit/datakey/plaintext/dk")
	wantStatus(t, err, 405, "")
}
