package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/policy"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

type fixture struct {
	store storage.Store
	sys   *sys.Sys
	srv   *httptest.Server
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, sys: &sys.Sys{Barrier: seal.New(st, []byte("root"), seal.Options{}), StorageType: "bolt", Version: "test"}}
	opts.Sys = f.sys
	if opts.TokenStore == nil {
		opts.TokenStore = &token.Backend{Barrier: f.sys.Barrier}
	}
	if opts.Policies == nil {
		opts.Policies = &policy.Store{Barrier: f.sys.Barrier}
	}
	f.srv = httptest.NewServer(New(opts))
	t.Cleanup(func() { f.srv.Close(); st.Close() })
	return f
}

// do sends a raw request and returns the status and the decoded error list.
func (f *fixture) do(t testing.TB, method, path, token, body string) (int, []string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb struct {
		Errors []string `json:"errors"`
	}
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &eb); err != nil || eb.Errors == nil {
			t.Fatalf("%s %s: %d with a body not in Vault's error format: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, eb.Errors, resp.Header
}

func (f *fixture) keyCount(t testing.TB) int {
	t.Helper()
	var n int
	f.store.View(context.Background(), func(tx storage.ReadTx) error {
		kvs, err := tx.GetRange(storage.Range{Begin: []byte{0}, End: []byte{0xff}, KeysOnly: true})
		n = len(kvs)
		return err
	})
	return n
}

func (f *fixture) initUnseal(t testing.TB) string {
	t.Helper()
	res, err := f.sys.Init(context.Background(), sys.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sys.Unseal(context.Background(), sys.UnsealRequest{Key: res.Keys[0]}); err != nil {
		t.Fatal(err)
	}
	return res.RootToken
}

// TestInitBadInput: every malformed init request is a 400 in Vault's error
// format, and the store stays empty.
func TestInitBadInput(t *testing.T) {
	f := newFixture(t, Options{})
	cases := []struct{ body, want string }{
		{`{"secret_shares":5,"secret_threshold":`, "failed to parse JSON input"},
		{`{"secret_shares":"5","secret_threshold":3}`, "must be of type int"},
		{`{"secret_shares":5,"secret_threshold":3} {}`, "unexpected data"},
		{`[1,2]`, "failed to parse JSON input"},
		{`{"secret_shares":3,"secret_threshold":5}`, "threshold cannot be larger than shares"},
		{`{"secret_shares":256,"secret_threshold":3}`, "shares must be less than 256"},
		{`{"secret_shares":5,"secret_threshold":0}`, "threshold must be at least one"},
		{`{"secret_shares":0,"secret_threshold":0}`, "shares must be at least one"},
		{`{"secret_shares":5,"secret_threshold":1}`, "threshold must be greater than one"},
		{`{"secret_shares":5,"secret_threshold":3,"recovery_shares":5}`, "not applicable to seal type shamir"},
		{`{"secret_shares":5,"secret_threshold":3,"pgp_keys":["x"]}`, "PGP"},
		{``, "shares must be at least one"},
	}
	for _, c := range cases {
		code, errs, _ := f.do(t, "PUT", "/v1/sys/init", "", c.body)
		if code != 400 || len(errs) != 1 || !strings.Contains(errs[0], c.want) {
			t.Errorf("init %q: %d %q, want 400 mentioning %q", c.body, code, errs, c.want)
		}
	}
	if n := f.keyCount(t); n != 0 {
		t.Fatalf("refused init requests left %d keys in storage", n)
	}
	if code, _, _ := f.do(t, "PUT", "/v1/sys/init", "", `{"secret_shares":5,"secret_threshold":3}`); code != 200 {
		t.Fatalf("valid init after refusals: %d", code)
	}
	n := f.keyCount(t)
	code, errs, _ := f.do(t, "PUT", "/v1/sys/init", "", `{"secret_shares":5,"secret_threshold":3}`)
	if code != 400 || errs[0] != "Vault is already initialized" || f.keyCount(t) != n {
		t.Fatalf("init twice: %d %q (keys %d -> %d)", code, errs, n, f.keyCount(t))
	}
}

func TestUnsealBadInput(t *testing.T) {
	f := newFixture(t, Options{})
	code, errs, _ := f.do(t, "PUT", "/v1/sys/unseal", "", `{"key":"abcd"}`)
	if code != 400 || !strings.Contains(errs[0], "not initialized") {
		t.Fatalf("unseal before init: %d %q", code, errs)
	}
	f.do(t, "PUT", "/v1/sys/init", "", `{"secret_shares":3,"secret_threshold":2}`)
	before := f.keyCount(t)
	cases := []struct{ body, want string }{
		{`{"key":`, "failed to parse JSON input"},
		{`{"key":12}`, "must be of type string"},
		{`{}`, "'key' must be specified"},
		{`{"key":"!!!"}`, "valid hex or base64"},
		{`{"key":"abcd"}`, "33 bytes"},
		{`{"migrate":true,"key":"abcd"}`, "seal migration"},
	}
	for _, c := range cases {
		code, errs, _ := f.do(t, "PUT", "/v1/sys/unseal", "", c.body)
		if code != 400 || len(errs) != 1 || !strings.Contains(errs[0], c.want) {
			t.Errorf("unseal %q: %d %q, want 400 mentioning %q", c.body, code, errs, c.want)
		}
	}
	if f.keyCount(t) != before {
		t.Fatal("refused unseal requests changed storage")
	}
}

func TestStatusCodesAndHeaders(t *testing.T) {
	f := newFixture(t, Options{MaxRequestSize: 1024})
	// Sealed (uninitialised): every path but the seal endpoints is 503.
	for _, p := range []string{"/v1/auth/token/lookup-self", "/v1/secret/data/x", "/v1/sys/mounts"} {
		if code, errs, _ := f.do(t, "GET", p, "", ""); code != 503 || errs[0] != "Vault is sealed" {
			t.Errorf("GET %s while sealed: %d %q", p, code, errs)
		}
	}
	root := f.initUnseal(t)
	cases := []struct {
		method, path, token, body string
		code                      int
	}{
		{"DELETE", "/v1/sys/init", "", "", 405},
		{"POST", "/v1/sys/seal-status", "", "", 405},
		{"GET", "/v1/sys/unseal", "", "", 405},
		{"GET", "/v1/auth/token/lookup-self", "", "", 403},
		{"GET", "/v1/auth/token/lookup-self", "srs.forged", "", 403},
		{"GET", "/v1/auth/token/lookup-self", "hvs.other-prefix", "", 403},
		{"GET", "/v1/nothing/here", "", "", 403},
		{"GET", "/v1/nothing/here", root, "", 404},
		{"LIST", "/v1/nothing/", root, "", 404},
		{"GET", "/not-v1", "", "", 404},
		{"PUT", "/v1/sys/init", "", strings.Repeat("x", 2048), 413},
		{"PUT", "/v1/sys/seal", "srs.forged", "", 403},
	}
	for _, c := range cases {
		code, _, hdr := f.do(t, c.method, c.path, c.token, c.body)
		if code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, code, c.code)
		}
		if hdr.Get("Cache-Control") != "no-store" && strings.HasPrefix(c.path, "/v1/") {
			t.Errorf("%s %s: Cache-Control %q", c.method, c.path, hdr.Get("Cache-Control"))
		}
	}
	// A 413 without Content-Length (chunked) is caught while reading.
	req, _ := http.NewRequest("PUT", f.srv.URL+"/v1/sys/unseal", io.MultiReader(strings.NewReader(strings.Repeat("y", 4096))))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 413 {
		t.Fatalf("chunked oversize body: %v %v", resp, err)
	}
	resp.Body.Close()
	// Authorization: Bearer is accepted like X-Vault-Token.
	req, _ = http.NewRequest("GET", f.srv.URL+"/v1/auth/token/lookup-self", nil)
	req.Header.Set("Authorization", "Bearer "+root)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bearer token: %v %v", resp, err)
	}
	var env map[string]any
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	for _, k := range []string{"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"} {
		if _, ok := env[k]; !ok {
			t.Errorf("envelope lacks %q", k)
		}
	}
}

// TestVaultClientErrors checks that the Vault Go client turns our errors
// into the ResponseError the CLI prints.
func TestVaultClientErrors(t *testing.T) {
	f := newFixture(t, Options{})
	cfg := vault.DefaultConfig()
	cfg.Address = f.srv.URL
	c, _ := vault.NewClient(cfg)
	_, err := c.Sys().Init(&vault.InitRequest{SecretShares: 2, SecretThreshold: 3})
	var re *vault.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || len(re.Errors) != 1 ||
		re.Errors[0] != "invalid seal configuration: threshold cannot be larger than shares" {
		t.Fatalf("client error: %#v", err)
	}
}

func TestStatusOfIsExhaustive(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{seal.ErrSealed, 503}, {engine.ErrPermissionDenied, 403}, {engine.ErrNotFound, 404}, {engine.ErrNotFoundNoBody, 404},
		{engine.ErrUnsupportedOperation, 405}, {engine.ErrBadRequest, 400}, {errRequestTooLarge, 413},
		{storage.ErrTimeout, 503}, {fmt.Errorf("namespace %q not found: %w", "acme", seal.ErrGone), 404},
		{errors.New("anything else"), 500},
	} {
		if got, _ := statusOf(c.err); got != c.code {
			t.Errorf("statusOf(%v) = %d, want %d", c.err, got, c.code)
		}
	}
	if _, msg := statusOf(errors.New("secret detail")); strings.Contains(msg, "secret") {
		t.Fatal("a 500 shows the internal error to the client")
	}
}

// FuzzDecodeRequests feeds arbitrary bodies to the decoders of sys/init and
// sys/unseal: they never panic, and a refusal is always a bad request.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{`{"secret_shares":5,"secret_threshold":3}`, `{"key":"abcd","reset":true}`, `{`, `[]`, `null`, `{"key":1e400}`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ir sys.InitRequest
		if err := decodeJSON(body, &ir); err != nil && !errors.Is(err, engine.ErrBadRequest) {
			t.Fatalf("init decode: %v", err)
		}
		var ur sys.UnsealRequest
		if err := decodeJSON(body, &ur); err != nil {
			if !errors.Is(err, engine.ErrBadRequest) {
				t.Fatalf("unseal decode: %v", err)
			}
			if bytes.Contains([]byte(err.Error()), body) && len(body) > 8 {
				t.Fatalf("error echoes the request body: %v", err)
			}
		}
	})
}

// FuzzUnsealEndpoint sends arbitrary bodies to sys/unseal on an initialised,
// sealed node: the answer is 200 or 400, never a 5xx.
func FuzzUnsealEndpoint(f *testing.F) {
	fx := newFixture(f, Options{})
	fx.do(f, "PUT", "/v1/sys/init", "", `{"secret_shares":3,"secret_threshold":2}`)
	for _, s := range []string{`{"key":"00"}`, `{"reset":true}`, `{"key":"` + strings.Repeat("a", 66) + `"}`, `{"Key":"zz"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		code, _, _ := fx.do(t, "PUT", "/v1/sys/unseal", "", body)
		if code != 200 && code != 400 {
			t.Fatalf("unseal %q: %d", body, code)
		}
	})
}

// TestRequestDurationLimit: a request that outlives max_request_duration is
// cut off with a 503 before it touches storage.
func TestRequestDurationLimit(t *testing.T) {
	f := newFixture(t, Options{MaxRequestDuration: time.Nanosecond})
	code, errs, _ := f.do(t, "GET", "/v1/sys/seal-status", "", "")
	if code != 503 || errs[0] != "request timed out" {
		t.Fatalf("seal-status past its deadline: %d %q", code, errs)
	}
}
