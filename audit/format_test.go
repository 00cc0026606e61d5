package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestRequestLine(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	auth, req, _ := sample()
	if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1", len(lines))
	}
	l := lines[0]

	if _, err := time.Parse(time.RFC3339Nano, str(l, "time")); err != nil {
		t.Errorf("time %q: %v", str(l, "time"), err)
	}
	h := d.Hash
	want := map[string]any{
		"type":                          "request",
		"auth.client_token":             h(rawToken),
		"auth.accessor":                 h(rawAccessor),
		"auth.display_name":             "token-payments",
		"auth.policies":                 []any{"default", "transit-user"},
		"auth.token_policies":           []any{"default", "transit-user"},
		"auth.metadata":                 map[string]any{"team": "payments"},
		"auth.entity_id":                "7d2e3179-f69b-450c-7179-ac8ee8bd8ca9",
		"auth.token_type":               "service",
		"auth.token_ttl":                json.Number("3600"),
		"request.id":                    "a1b2c3d4-0000-4000-8000-000000000001",
		"request.operation":             "update",
		"request.mount_type":            "transit",
		"request.mount_point":           "transit/",
		"request.client_token":          h(rawToken),
		"request.client_token_accessor": h(rawAccessor),
		"request.namespace":             map[string]any{"id": "root"},
		"request.path":                  "transit/encrypt/payments",
		"request.remote_address":        "192.0.2.10",
		"request.remote_port":           json.Number("51234"),
		"request.headers":               map[string]any{"x-request-id": []any{"req-42"}},
		"request.data": map[string]any{
			"plaintext": h(rawPlaintext),
			"nested":    map[string]any{"list": []any{h("a"), h("b")}},
			"n":         json.Number("3"),
			"flag":      true,
			"none":      nil,
		},
		"response": nil,
		"error":    nil,
	}
	for k, w := range want {
		if got := get(l, strings.Split(k, ".")...); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
	if got := h(rawPlaintext); got != "hmac-sha256:d4576dd8ebef8c4db518e5fd076e7640208eeedaa128d3094d319a8394b490d4" {
		t.Errorf("Hash(%q) = %s, want the value openssl gives", rawPlaintext, got)
	}
}

func TestResponseLine(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	auth, req, resp := sample()
	if err := d.LogResponse(t.Context(), auth, req, resp, errors.New("1 error occurred: nope")); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1", len(lines))
	}
	l := lines[0]
	h := d.Hash
	want := map[string]any{
		"type":                          "response",
		"error":                         "1 error occurred: nope",
		"auth.client_token":             h(rawToken),
		"auth.accessor":                 h(rawAccessor),
		"request.client_token":          h(rawToken),
		"request.client_token_accessor": h(rawAccessor),
		"request.data.plaintext":        h(rawPlaintext),
		"response.mount_type":           "transit",
		"response.mount_point":          "transit/",
		"response.warnings":             []any{"key is near its rotation period"},
		"response.auth.client_token":    h(rawNewToken),
		"response.auth.accessor":        h(rawNewAcc),
		"response.auth.token_type":      "batch",
		"response.auth.token_ttl":       json.Number("60"),
		"response.data": map[string]any{
			"ciphertext":  h(rawCiphertext),
			"key_version": json.Number("1"),
			"batch":       []any{map[string]any{"ciphertext": h(rawCiphertext), "index": json.Number("0")}},
		},
		"response.status": nil, // Vault's format has no status
	}
	for k, w := range want {
		if got := get(l, strings.Split(k, ".")...); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
}

// TestNoRawSecretsInLog greps the whole file, as an auditor would, for the
// raw token, accessors and secret data after a request and a response.
func TestNoRawSecretsInLog(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	auth, req, resp := sample()
	if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{rawToken, rawAccessor, rawPlaintext, rawCiphertext, rawNewToken, rawNewAcc} {
		if bytes.Contains(log, []byte(secret)) {
			t.Errorf("log contains raw %q", secret)
		}
		if !bytes.Contains(log, []byte(d.Hash(secret))) {
			t.Errorf("log lacks Hash(%q)", secret)
		}
	}
	for _, salt := range [][]byte{testSalt(0), []byte(string(testSalt(0)))} {
		if bytes.Contains(log, salt) {
			t.Error("log contains the salt")
		}
	}
}

func TestLogRaw(t *testing.T) {
	d, path := newFile(t, "raw/", func(c *FileConfig) { c.LogRaw = true })
	auth, req, resp := sample()
	if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	for _, l := range lines {
		for k, w := range map[string]string{
			"auth.client_token":             rawToken,
			"auth.accessor":                 rawAccessor,
			"request.client_token":          rawToken,
			"request.client_token_accessor": rawAccessor,
			"request.data.plaintext":        rawPlaintext,
		} {
			if got := str(l, strings.Split(k, ".")...); got != w {
				t.Errorf("%s line: %s = %q, want %q", str(l, "type"), k, got, w)
			}
		}
	}
	if got := get(lines[0], "request", "data", "nested", "list"); !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Errorf("nested list = %v", got)
	}
	if got := str(lines[1], "response", "data", "ciphertext"); got != rawCiphertext {
		t.Errorf("response ciphertext = %q", got)
	}
	if got := str(lines[1], "response", "auth", "client_token"); got != rawNewToken {
		t.Errorf("response token = %q", got)
	}
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(hmacPrefix)) {
		t.Error("a raw log contains a hash")
	}
}

func TestHMACAccessorFalse(t *testing.T) {
	d, path := newFile(t, "file/", func(c *FileConfig) { c.HMACAccessor = false })
	auth, req, resp := sample()
	if err := d.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
		t.Fatal(err)
	}
	l := readLines(t, path)[0]
	for k, w := range map[string]string{
		"auth.accessor":                 rawAccessor,
		"request.client_token_accessor": rawAccessor,
		"response.auth.accessor":        rawNewAcc,
		"auth.client_token":             d.Hash(rawToken),
		"request.client_token":          d.Hash(rawToken),
		"response.auth.client_token":    d.Hash(rawNewToken),
		"request.data.plaintext":        d.Hash(rawPlaintext),
	} {
		if got := str(l, strings.Split(k, ".")...); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
}

// TestRequestTokenNotAuths covers a request whose token is not its auth's
// (the auth's hashes must not be reused for it).
func TestRequestTokenNotAuths(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	auth, req, _ := sample()
	req.ClientToken, req.ClientTokenAccessor = "s.other-token-value", "other-accessor-value"
	if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.LogRequest(t.Context(), nil, req, nil); err != nil {
		t.Fatal(err)
	}
	for i, l := range readLines(t, path) {
		if got := str(l, "request", "client_token"); got != d.Hash("s.other-token-value") {
			t.Errorf("line %d: client_token = %q", i, got)
		}
		if got := str(l, "request", "client_token_accessor"); got != d.Hash("other-accessor-value") {
			t.Errorf("line %d: client_token_accessor = %q", i, got)
		}
	}
}

func TestSaltsDiffer(t *testing.T) {
	d1, p1 := newFile(t, "one/", nil)
	d2, p2 := newFile(t, "two/", func(c *FileConfig) { c.Salt = testSalt(100) })
	auth, req, _ := sample()
	for _, d := range []*Device{d1, d2} {
		if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
			t.Fatal(err)
		}
	}
	l1, l2 := readLines(t, p1)[0], readLines(t, p2)[0]
	for _, k := range []string{"auth.client_token", "auth.accessor", "request.data.plaintext"} {
		keys := strings.Split(k, ".")
		if str(l1, keys...) == str(l2, keys...) {
			t.Errorf("%s is the same under two salts: %s", k, str(l1, keys...))
		}
	}
	if str(l1, "request", "data", "plaintext") != d1.Hash(rawPlaintext) ||
		str(l2, "request", "data", "plaintext") != d2.Hash(rawPlaintext) {
		t.Error("a device's line does not match its own Hash")
	}
}

func TestUnauthenticatedRequest(t *testing.T) {
	d, path := newFile(t, "file/", nil)
	req := &Request{ID: "r", Operation: "update", Path: "sys/unseal", RemoteAddr: "[2001:db8::1]:8200", Namespace: "team-a"}
	if err := d.LogRequest(t.Context(), nil, req, errors.New("permission denied")); err != nil {
		t.Fatal(err)
	}
	if err := d.LogResponse(t.Context(), nil, req, nil, errors.New("permission denied")); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	for _, l := range lines {
		// Vault writes an auth with only the default token type.
		if got := get(l, "auth"); !reflect.DeepEqual(got, map[string]any{"token_type": "default"}) {
			t.Errorf("auth = %v", got)
		}
		if got := get(l, "request", "namespace"); !reflect.DeepEqual(got, map[string]any{"id": "team-a", "path": "team-a/"}) {
			t.Errorf("namespace = %v", got)
		}
		if got := str(l, "request", "remote_address"); got != "2001:db8::1" {
			t.Errorf("remote_address = %q", got)
		}
		if got := str(l, "error"); got != "permission denied" {
			t.Errorf("error = %q", got)
		}
		if get(l, "request", "data") != nil || get(l, "request", "client_token") != nil {
			t.Errorf("empty fields written: %v", l)
		}
	}
	if got := get(lines[1], "response"); !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("response = %v, want {} (no mount)", got)
	}
}

func TestPrefix(t *testing.T) {
	d, path := newFile(t, "file/", func(c *FileConfig) { c.Prefix = "@cee: " })
	auth, req, resp := sample()
	if err := d.LogRequest(t.Context(), auth, req, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(parseLines(t, b, "@cee: ")); n != 2 {
		t.Fatalf("got %d lines, want 2", n)
	}
}

// TestDataNotModified checks that hashing works on a copy: the caller's
// maps and slices are unchanged.
func TestDataNotModified(t *testing.T) {
	d, _ := newFile(t, "file/", nil)
	auth, req, resp := sample()
	auth2, req2, resp2 := sample()
	if err := d.LogResponse(t.Context(), auth, req, resp, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(auth, auth2) || !reflect.DeepEqual(req, req2) || !reflect.DeepEqual(resp, resp2) {
		t.Error("logging modified its input")
	}
}

type named string

type secretStruct struct {
	Secret  string `json:"secret"`
	Count   int    `json:"count"`
	private string
}

func TestHashDataTypes(t *testing.T) {
	h := newHasher(testSalt(0))
	when := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	in := map[string]any{
		"string":    "s",
		"named":     named("n"),
		"bytes":     []byte("hi"),
		"nilbytes":  []byte(nil),
		"time":      when,
		"struct":    secretStruct{Secret: "x", Count: 2, private: "p"},
		"ptr":       &secretStruct{Secret: "y"},
		"strmap":    map[string]string{"k": "v"},
		"strs":      []string{"a"},
		"nilmap":    map[string]any(nil),
		"ints":      []int{1, 2},
		"int64":     int64(1) << 60,
		"float":     2.5,
		"number":    json.Number("12345678901234567890"),
		"raw":       json.RawMessage(`{"k":["v",1]}`),
		"deep":      []any{[]any{map[string]any{"x": []any{"y"}}}},
		"bool":      false,
		"intkeymap": map[int]string{7: "seven"},
		"maps":      []map[string]any{{"k": "v"}, nil},
	}
	got, err := h.hashData(in, "request data")
	if err != nil {
		t.Fatal(err)
	}
	H := h.hash
	want := map[string]any{
		"string":    H("s"),
		"named":     H("n"),
		"bytes":     H("aGk="), // the base64 text encoding/json writes
		"nilbytes":  nil,
		"time":      H("2025-06-01T12:00:00Z"),
		"struct":    map[string]any{"secret": H("x"), "count": json.Number("2")},
		"ptr":       map[string]any{"secret": H("y"), "count": json.Number("0")},
		"strmap":    map[string]any{"k": H("v")},
		"strs":      []any{H("a")},
		"nilmap":    nil,
		"ints":      []any{json.Number("1"), json.Number("2")},
		"int64":     int64(1) << 60,
		"float":     2.5,
		"number":    json.Number("12345678901234567890"),
		"raw":       map[string]any{"k": []any{H("v"), json.Number("1")}},
		"deep":      []any{[]any{map[string]any{"x": []any{H("y")}}}},
		"bool":      false,
		"intkeymap": map[string]any{"7": H("seven")},
		"maps":      []any{map[string]any{"k": H("v")}, nil},
	}
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s: got %#v, want %#v", k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d", len(got), len(want))
	}
}

type leaky struct{}

func (leaky) MarshalJSON() ([]byte, error) { return nil, errors.New("cannot marshal " + rawToken) }

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("boom " + rawToken) }

// TestUnencodableData checks that data that cannot be encoded fails the
// device with ErrEncode, in hashed and raw mode, without hanging on a cycle
// and without quoting the value in the error.
func TestUnencodableData(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	cases := map[string]any{
		"cycle":   cyclic,
		"nan":     math.NaN(),
		"chan":    make(chan int),
		"leaky":   leaky{},
		"panicky": panicky{},
		"func":    []any{func() {}},
	}
	for _, raw := range []bool{false, true} {
		d, path := newFile(t, "file/", func(c *FileConfig) { c.LogRaw = raw })
		for name, v := range cases {
			_, req, _ := sample()
			req.Data["bad"] = v
			err := d.LogRequest(t.Context(), nil, req, nil)
			if !errors.Is(err, ErrEncode) {
				t.Errorf("raw=%t %s: err = %v, want ErrEncode", raw, name, err)
				continue
			}
			if strings.Contains(err.Error(), rawToken) || strings.Contains(err.Error(), rawPlaintext) {
				t.Errorf("raw=%t %s: error quotes a secret: %v", raw, name, err)
			}
		}
		if b, _ := os.ReadFile(path); len(b) != 0 {
			t.Errorf("raw=%t: failed entries wrote %q", raw, b)
		}
	}
}

// TestGolden freezes the lines we ship: field names, nesting, order and
// hashes. Run with -update to rewrite testdata/golden.log after a change
// that is meant.
func TestGolden(t *testing.T) {
	clock := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 600700800, time.UTC) }
	var out bytes.Buffer
	for _, raw := range []bool{false, true} {
		f := formatter{h: newHasher(testSalt(0)), raw: raw, hmacAccessor: true, now: clock}
		auth, req, resp := sample()
		req.Data["html"] = "<a&b>"
		if err := f.formatRequest(&out, auth, req, nil); err != nil {
			t.Fatal(err)
		}
		if err := f.formatResponse(&out, auth, req, resp, nil); err != nil {
			t.Fatal(err)
		}
		anon := &Request{ID: "r2", Operation: "read", Path: "sys/health", Namespace: "team-a/"}
		if err := f.formatRequest(&out, nil, anon, errors.New("permission denied")); err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "golden.log")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("lines differ from %s (run with -update if the change is meant):\ngot:\n%s\nwant:\n%s", golden, out.Bytes(), want)
	}
}
