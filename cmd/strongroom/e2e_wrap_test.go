package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWrapTTLRefused: response wrapping is not implemented, so a request
// that asks for it (the header the vault CLI sends for -wrap-ttl, whose
// value is a Go duration such as "5m0s") is refused with a 400 before
// anything is done, and its answer carries no secret. Empty and zero TTLs
// ask for nothing, as in Vault; malformed and negative ones are 400s.
func TestWrapTTLRefused(t *testing.T) {
	_, c, _ := kvServer(t)
	lg := c.Logical()
	const refused = "response wrapping (X-Vault-Wrap-TTL) is not supported"
	wrapTTL := func(v string) { c.SetWrappingLookupFunc(func(string, string) string { return v }) }

	// vault kv put -wrap-ttl=5m -mount=secret w k=v: the preflight goes
	// unwrapped (the CLI clears the lookup for it), the write asks.
	if mp, v := cliPreflight(t, c, "secret/w"); mp != "secret/" || v != "2" {
		t.Fatalf("preflight: %q %q", mp, v)
	}
	wrapTTL((5 * time.Minute).String())
	_, err := lg.Write("secret/data/w", map[string]any{"data": map[string]any{"k": "wrapped-put-value"}})
	wantStatus(t, err, http.StatusBadRequest, refused)
	wrapTTL("")
	if s, err := lg.Read("secret/data/w"); err != nil || s != nil {
		t.Fatalf("the refused put was carried out: %v %v", s, err)
	}

	// vault kv get -wrap-ttl=5m -mount=secret w: refused, without the value.
	if _, err := lg.Write("secret/data/w", map[string]any{"data": map[string]any{"k": "the-secret-value"}}); err != nil {
		t.Fatal(err)
	}
	wrapTTL("5m0s")
	_, err = lg.Read("secret/data/w")
	wantStatus(t, err, http.StatusBadRequest, refused)
	if strings.Contains(err.Error(), "the-secret-value") {
		t.Fatalf("the refusal carries the secret: %v", err)
	}
	// vault token create -wrap-ttl=1m: refused too.
	wrapTTL("60")
	_, err = c.Auth().Token().Create(nil)
	wantStatus(t, err, http.StatusBadRequest, refused)

	for _, tc := range []struct{ ttl, want string }{
		{"abc", `invalid duration "abc"`},
		{"-5s", "requested wrap ttl cannot be negative"},
	} {
		wrapTTL(tc.ttl)
		_, err := lg.Read("secret/data/w")
		wantStatus(t, err, http.StatusBadRequest, tc.want)
	}
	wrapTTL("0")
	s, err := lg.Read("secret/data/w")
	if err != nil || s == nil || s.Data["data"].(map[string]any)["k"] != "the-secret-value" {
		t.Fatalf("a zero wrap TTL asks for nothing: %v %v", s, err)
	}
}
