package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Raw values that must never reach a hashed log. They are long and unusual
// enough that a grep of the file cannot match them by chance.
const (
	rawToken      = "s.6pL0aKx7QwErTyUiOpAsDfGh"
	rawAccessor   = "acc9Zy8Xw7Vu6Ts5Rq4Pp3Oo"
	rawPlaintext  = "c2VjcmV0"
	rawCiphertext = "vault:v1:Zm9vYmFyLXNlY3JldC1jaXBoZXI="
	rawNewToken   = "s.NEWtokenISSUEDbyLOGIN42"
	rawNewAcc     = "accNEWaccessorFROMlogin77"
)

// testSalt returns 32 bytes first, first+1, ...
func testSalt(first byte) []byte {
	s := make([]byte, MinSaltSize)
	for i := range s {
		s[i] = first + byte(i)
	}
	return s
}

// newFile returns a file device on a new file in a temporary directory,
// hashing accessors, with the salt testSalt(0); mod may change the config.
func newFile(t testing.TB, name string, mod func(*FileConfig)) (*Device, string) {
	t.Helper()
	cfg := FileConfig{
		Name:         name,
		FilePath:     filepath.Join(t.TempDir(), "audit.log"),
		Salt:         testSalt(0),
		HMACAccessor: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := NewFileDevice(cfg)
	if err != nil {
		t.Fatalf("NewFileDevice(%v): %v", cfg, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, cfg.FilePath
}

// sample returns the auth, request and response the tests log: a transit
// encrypt whose data nests maps, slices, numbers and booleans.
func sample() (*Auth, *Request, *Response) {
	auth := &Auth{
		ClientToken:   rawToken,
		Accessor:      rawAccessor,
		DisplayName:   "token-payments",
		Policies:      []string{"default", "transit-user"},
		TokenPolicies: []string{"default", "transit-user"},
		Metadata:      map[string]string{"team": "payments"},
		TokenType:     "service",
		TokenTTL:      3600,
		EntityID:      "7d2e3179-f69b-450c-7179-ac8ee8bd8ca9",
	}
	req := &Request{
		ID:                  "a1b2c3d4-0000-4000-8000-000000000001",
		Operation:           "update",
		MountType:           "transit",
		MountPoint:          "transit/",
		Path:                "transit/encrypt/payments",
		ClientToken:         rawToken,
		ClientTokenAccessor: rawAccessor,
		Data: map[string]any{
			"plaintext": rawPlaintext,
			"nested":    map[string]any{"list": []any{"a", "b"}},
			"n":         3,
			"flag":      true,
			"none":      nil,
		},
		RemoteAddr: "192.0.2.10:51234",
		Namespace:  "root",
		Headers:    map[string][]string{"X-Request-Id": {"req-42"}},
	}
	resp := &Response{
		Data: map[string]any{
			"ciphertext":  rawCiphertext,
			"key_version": 1,
			"batch":       []map[string]any{{"ciphertext": rawCiphertext, "index": 0}},
		},
		Auth: &Auth{
			ClientToken: rawNewToken,
			Accessor:    rawNewAcc,
			Policies:    []string{"default"},
			TokenType:   "batch",
			TokenTTL:    60,
		},
		Status:   200,
		Warnings: []string{"key is near its rotation period"},
	}
	return auth, req, resp
}

// readLines parses every line of the file at path as one JSON object,
// keeping numbers as json.Number, and fails the test on any other line.
func readLines(t testing.TB, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseLines(t, b, "")
}

func parseLines(t testing.TB, b []byte, prefix string) []map[string]any {
	t.Helper()
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("log does not end with a newline: %q", b[max(0, len(b)-80):])
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte(prefix))
		if !ok {
			t.Fatalf("line lacks prefix %q: %s", prefix, sc.Bytes())
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("line is not a JSON object: %v: %s", err, line)
		}
		if dec.More() {
			t.Fatalf("line holds more than one JSON value: %s", line)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// get walks m along keys and returns what it finds, or nil.
func get(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// str is get for a string; "" if absent.
func str(m map[string]any, keys ...string) string {
	s, _ := get(m, keys...).(string)
	return s
}
