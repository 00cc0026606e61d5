package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// Helpers of the transit end-to-end tests (e2e_transit_*_test.go). Every
// request goes through the Vault Go client to a real server process.

// msgAuthFailed is the one answer of decrypt for a ciphertext no key of the
// mount opens (engine/transit/doc.go, "Decryption does not tell keys apart").
const msgAuthFailed = "cipher: message authentication failed"

// transitServer starts an initialised, unsealed server with the transit
// engine mounted at transit/ (`vault secrets enable transit`).
func transitServer(t *testing.T) (*vault.Client, *vault.Logical) {
	t.Helper()
	_, c, _ := initUnsealed(t, 1, 1)
	if err := c.Sys().Mount("transit", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	return c, c.Logical()
}

func b64(b []byte) string  { return base64.StdEncoding.EncodeToString(b) }
func b64s(s string) string { return b64([]byte(s)) }
func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64: %q: %v", s, err)
	}
	return b
}

// write is `vault write path k=v...`: it fails the test on an error or an
// empty answer.
func write(t *testing.T, lg *vault.Logical, path string, data map[string]any) *vault.Secret {
	t.Helper()
	s, err := lg.Write(path, data)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if s == nil {
		t.Fatalf("write %s: no response data", path)
	}
	return s
}

// writeNoData is a write that answers 204 (import, restore, delete).
func writeNoData(t *testing.T, lg *vault.Logical, path string, data map[string]any) {
	t.Helper()
	s, err := lg.Write(path, data)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if s != nil && len(s.Data) != 0 {
		t.Fatalf("write %s: unexpected data %v", path, s.Data)
	}
}

// read is `vault read path`; it fails the test on an error or a 404.
func read(t *testing.T, lg *vault.Logical, path string) *vault.Secret {
	t.Helper()
	s, err := lg.Read(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if s == nil {
		t.Fatalf("read %s: not found", path)
	}
	return s
}

// writeErr writes and wants an error with HTTP code and text contains; it
// returns the error's messages.
func writeErr(t *testing.T, lg *vault.Logical, path string, data map[string]any, code int, contains string) []string {
	t.Helper()
	s, err := lg.Write(path, data)
	if err == nil {
		t.Fatalf("write %s %v: want HTTP %d, got success %v", path, data, code, s)
	}
	wantStatus(t, err, code, contains)
	return errMessages(err)
}

// errMessages returns the "errors" of a Vault client error.
func errMessages(err error) []string {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		return re.Errors
	}
	return nil
}

// str returns data[key] as a string, failing the test otherwise.
func str(t *testing.T, data map[string]any, key string) string {
	t.Helper()
	s, ok := data[key].(string)
	if !ok {
		t.Fatalf("%q is %T (%v), want a string; data %v", key, data[key], data[key], data)
	}
	return s
}

// num returns v (a json.Number from the client, or a float64) as an int64.
func num(t *testing.T, v any) int64 {
	t.Helper()
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			t.Fatalf("number %q: %v", n, err)
		}
		return i
	case float64:
		return int64(n)
	}
	t.Fatalf("%v is %T, not a number", v, v)
	return 0
}

// encrypt is `vault write transit/encrypt/<key> plaintext=<b64> ...`.
func encrypt(t *testing.T, lg *vault.Logical, key string, pt []byte, extra map[string]any) string {
	t.Helper()
	data := map[string]any{"plaintext": b64(pt)}
	for k, v := range extra {
		data[k] = v
	}
	return str(t, write(t, lg, "transit/encrypt/"+key, data).Data, "ciphertext")
}

// decrypt is `vault write transit/decrypt/<key> ciphertext=...`; it returns
// the decoded plaintext.
func decrypt(t *testing.T, lg *vault.Logical, key, ct string, extra map[string]any) []byte {
	t.Helper()
	data := map[string]any{"ciphertext": ct}
	for k, v := range extra {
		data[k] = v
	}
	return unb64(t, str(t, write(t, lg, "transit/decrypt/"+key, data).Data, "plaintext"))
}

// splitCiphertext parses "vault:v<N>:<base64>".
func splitCiphertext(t *testing.T, ct string) (int, []byte) {
	t.Helper()
	parts := strings.SplitN(ct, ":", 3)
	if len(parts) != 3 || parts[0] != "vault" || !strings.HasPrefix(parts[1], "v") {
		t.Fatalf("not a Vault ciphertext: %q", ct)
	}
	v, err := strconv.Atoi(parts[1][1:])
	if err != nil {
		t.Fatalf("ciphertext version %q: %v", parts[1], err)
	}
	return v, unb64(t, parts[2])
}

// gcmSeal makes a ciphertext of Vault's format with AES-GCM under key:
// "vault:v<ver>:" + base64(nonce ‖ ciphertext ‖ tag).
func gcmSeal(t *testing.T, key []byte, ver int, pt, ad []byte) string {
	t.Helper()
	g := newGCM(t, key)
	nonce := make([]byte, g.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		t.Fatal(err)
	}
	return "vault:v" + strconv.Itoa(ver) + ":" + b64(g.Seal(nonce, nonce, pt, ad))
}

// gcmOpen opens a Vault AES-GCM ciphertext body (nonce ‖ ciphertext ‖ tag).
func gcmOpen(t *testing.T, key, raw, ad []byte) []byte {
	t.Helper()
	g := newGCM(t, key)
	if len(raw) < g.NonceSize() {
		t.Fatalf("ciphertext of %d bytes is too short", len(raw))
	}
	pt, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], ad)
	if err != nil {
		t.Fatalf("local AES-GCM open: %v", err)
	}
	return pt
}

func newGCM(t *testing.T, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// kwpWrapRFC5649 is AES Key Wrap with Padding (RFC 5649, section 4.1),
// written from the RFC for the BYOK test: the alternative initial value
// A65959A6 ‖ MLI (32-bit big-endian length of the key), the key padded with
// zeros to a multiple of 8 bytes, then one AES block encryption when that
// is 8 bytes, else the wrapping process W of RFC 3394 (section 2.2.1).
func kwpWrapRFC5649(kek, key []byte) []byte {
	block, err := aes.NewCipher(kek)
	if err != nil {
		panic(err)
	}
	var a [8]byte
	binary.BigEndian.PutUint32(a[:4], 0xA65959A6)
	binary.BigEndian.PutUint32(a[4:], uint32(len(key)))
	r := make([]byte, (len(key)+7)/8*8)
	copy(r, key)
	if len(r) == 8 {
		out := append(a[:], r...)
		block.Encrypt(out, out)
		return out
	}
	n := len(r) / 8
	var b [16]byte
	for j := 0; j <= 5; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], a[:])
			copy(b[8:], r[8*(i-1):8*i])
			block.Encrypt(b[:], b[:])
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^uint64(n*j+i))
			copy(r[8*(i-1):8*i], b[8:])
		}
	}
	return append(a[:], r...)
}
