package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine/kv"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/engine/transit"
	"github.com/strongroom/strongroom/metrics"
)

// BenchmarkKVv2Read measures one GET secret/data/<key> through the whole
// front door (token lookup, routing, KV read, envelope), in process,
// without the network.
func BenchmarkKVv2Read(b *testing.B) {
	f := newFixture(b, Options{})
	root := f.initUnseal(b)
	tbl := mounts.New(f.sys.Barrier, map[string]mounts.Factory{"kv": kv.Factory})
	if err := tbl.Mount(context.Background(), "secret", mounts.MountInput{Type: "kv-v2"}); err != nil {
		b.Fatal(err)
	}
	h := New(Options{Sys: f.sys, Mounts: tbl, Tokens: token.NewCache(1000, 5*time.Second), TokenStore: &token.Backend{Barrier: f.sys.Barrier}, Audits: &sys.Audits{Barrier: f.sys.Barrier}, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	put := httptest.NewRequest("PUT", "/v1/secret/data/k", strings.NewReader(`{"data":{"value":"`+strings.Repeat("x", 170)+`"}}`))
	put.Header.Set("X-Vault-Token", root)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, put)
	if w.Code != 200 {
		b.Fatalf("put: %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/secret/data/k", nil)
		req.Header.Set("X-Vault-Token", root)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkHealth measures the front door's own cost on its cheapest
// request, sys/health.
func BenchmarkHealth(b *testing.B) {
	f := newFixture(b, Options{})
	f.initUnseal(b)
	h := New(Options{Sys: f.sys, Audits: &sys.Audits{Barrier: f.sys.Barrier}})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/sys/health", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkTransitEncrypt measures one POST transit/encrypt/<key> through
// the whole front door, in process, without the network.
func BenchmarkTransitEncrypt(b *testing.B) {
	f := newFixture(b, Options{})
	root := f.initUnseal(b)
	tbl := mounts.New(f.sys.Barrier, map[string]mounts.Factory{"transit": transit.Factory})
	if err := tbl.Mount(context.Background(), "transit", mounts.MountInput{Type: "transit"}); err != nil {
		b.Fatal(err)
	}
	h := New(Options{Sys: f.sys, Mounts: tbl, Tokens: token.NewCache(1000, 5*time.Second), TokenStore: &token.Backend{Barrier: f.sys.Barrier}, Audits: &sys.Audits{Barrier: f.sys.Barrier}, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	do := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-Vault-Token", root)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	if c := do("POST", "/v1/transit/keys/k", ""); c != http.StatusOK && c != http.StatusNoContent {
		b.Fatalf("create key: %d", c)
	}
	body := `{"plaintext":"` + strings.Repeat("QUFB", 43) + `"}`
	b.ReportAllocs()
	for b.Loop() {
		if c := do("POST", "/v1/transit/encrypt/k", body); c != http.StatusOK {
			b.Fatal(c)
		}
	}
}

// BenchmarkWrapUnwrap measures one wrapped KV v2 read (a wrapping token,
// its cubbyhole records and indexes written durably) followed by its
// unwrap (read and revoke in one transaction), through the front door.
func BenchmarkWrapUnwrap(b *testing.B) {
	f := newFixture(b, Options{})
	root := f.initUnseal(b)
	tbl := mounts.New(f.sys.Barrier, map[string]mounts.Factory{"kv": kv.Factory})
	if err := tbl.Mount(context.Background(), "secret", mounts.MountInput{Type: "kv-v2"}); err != nil {
		b.Fatal(err)
	}
	h := New(Options{Sys: f.sys, Mounts: tbl, Tokens: token.NewCache(1000, 5*time.Second), TokenStore: &token.Backend{Barrier: f.sys.Barrier}, Audits: &sys.Audits{Barrier: f.sys.Barrier}})
	do := func(method, path, body string, wrapTTL string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-Vault-Token", root)
		if wrapTTL != "" {
			req.Header.Set(wrapTTLHeader, wrapTTL)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := do("PUT", "/v1/secret/data/k", `{"data":{"value":"v"}}`, ""); w.Code != 200 {
		b.Fatalf("put: %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := do("GET", "/v1/secret/data/k", "", "60")
		i := strings.Index(w.Body.String(), `"token":"`)
		if w.Code != 200 || i < 0 {
			b.Fatalf("wrap: %d %s", w.Code, w.Body)
		}
		tok := w.Body.String()[i+9 : i+9+36]
		if w := do("POST", "/v1/sys/wrapping/unwrap", `{"token":"`+tok+`"}`, ""); w.Code != 200 {
			b.Fatalf("unwrap: %d %s", w.Code, w.Body)
		}
	}
}
