package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// scrape returns the metrics text of sys/metrics?format=prometheus.
func scrape(t *testing.T, addr, token string) (string, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", addr+"/v1/sys/metrics?format=prometheus", nil)
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// metricValue finds one sample's value by its name and label text.
func metricValue(t *testing.T, text, name, labels string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+labels) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no sample %s%s in:\n%s", name, labels, grepLines(text, name))
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetrics scrapes sys/metrics after a known workload on a pkcs11 node:
// request counts by family and status, seal state, PKCS#11 calls, storage
// commits and token-cache hits.
func TestMetrics(t *testing.T) {
	f := newHSMFixture(t)
	p := startServerEnv(t, f.env(), "-config", f.config(t, f.pkcs11("")))
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(res.RootToken)
	if _, code := scrape(t, p.addr, ""); code != 403 {
		t.Fatalf("metrics without a token: %d", code)
	}
	if err := c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := c.KVv2("secret").Put(context.Background(), fmt.Sprintf("k%d", i), map[string]any{"v": i}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		c.KVv2("secret").Get(context.Background(), "missing")
	}
	text, code := scrape(t, p.addr, res.RootToken)
	if code != 200 {
		t.Fatalf("scrape: %d %s", code, text)
	}
	if v := metricValue(t, text, "strongroom_http_requests_total", `{code="200",family="secret/"}`); v != 10 {
		t.Errorf("200s on secret/: %v, want 10", v)
	}
	if v := metricValue(t, text, "strongroom_http_requests_total", `{code="404",family="secret/"}`); v != 5 {
		t.Errorf("404s on secret/: %v, want 5", v)
	}
	if v := metricValue(t, text, "strongroom_http_request_duration_seconds_count", `{family="secret/"}`); v != 15 {
		t.Errorf("latency samples on secret/: %v, want 15", v)
	}
	if v := metricValue(t, text, "strongroom_seal_sealed", `{tenant="root"}`); v != 0 {
		t.Errorf("sealed gauge: %v", v)
	}
	// A namespace's seal state, once it is loaded.
	if _, err := c.Logical().Write("sys/namespaces/acme", map[string]any{"seal_type": "auto"}); err != nil {
		t.Fatal(err)
	}
	acme := nsClient(t, p.addr, "acme", "")
	ares, err := acme.Sys().Init(&vault.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	text, _ = scrape(t, p.addr, res.RootToken)
	if v := metricValue(t, text, "strongroom_seal_sealed", `{tenant="acme"}`); v != 0 {
		t.Errorf("acme sealed gauge after init: %v", v)
	}
	if v := metricValue(t, text, "strongroom_tenants_loaded", ``); v != 1 {
		t.Errorf("tenants loaded: %v", v)
	}
	acme.SetToken(ares.RootToken)
	if err := acme.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	text, _ = scrape(t, p.addr, res.RootToken)
	if v := metricValue(t, text, "strongroom_seal_sealed", `{tenant="acme"}`); v != 1 {
		t.Errorf("acme sealed gauge after seal: %v", v)
	}
	if v := metricValue(t, text, "strongroom_pkcs11_calls_total", `{function="C_Encrypt"}`); v < 1 {
		t.Errorf("C_Encrypt calls: %v", v)
	}
	if v := metricValue(t, text, "strongroom_storage_commits_total", ``); v < 10 {
		t.Errorf("commits: %v", v)
	}
	if v := metricValue(t, text, "strongroom_storage_read_cache_entries", ``); v < 1 {
		t.Errorf("read cache entries after reads: %v", v)
	}
	if v := metricValue(t, text, "strongroom_storage_read_cache_bytes", ``); v < 1 {
		t.Errorf("read cache bytes after reads: %v", v)
	}
	if v := metricValue(t, text, "strongroom_storage_read_cache_misses_total", ``); v < 1 {
		t.Errorf("read cache misses: %v (the first reads miss)", v)
	}
	if v := metricValue(t, text, "strongroom_storage_transaction_duration_seconds_count", `{kind="update"}`); v < 10 {
		t.Errorf("update transactions: %v, want at least the 10 puts", v)
	}
	if v := metricValue(t, text, "strongroom_storage_transaction_duration_seconds_count", `{kind="view"}`); v < 5 {
		t.Errorf("view transactions: %v, want at least the 5 gets", v)
	}
	// bolt serialises writers: no conflicts on one node.
	if v := metricValue(t, text, "strongroom_storage_conflicts_total", ``); v != 0 {
		t.Errorf("conflicts on a single bolt node: %v", v)
	}
	metricValue(t, text, "strongroom_storage_retries_total", ``)
	if v := metricValue(t, text, "strongroom_cache_hits_total", `{cache="token"}`); v < 10 {
		t.Errorf("token cache hits: %v", v)
	}
	if err := c.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	// Sealed, only the seal endpoints answer: metrics say 503 like the rest.
	if _, code := scrape(t, p.addr, res.RootToken); code != 503 {
		t.Fatalf("metrics while sealed: %d", code)
	}
}

// TestUnauthenticatedMetrics: a listener with telemetry
// unauthenticated_metrics_access serves metrics without a token.
func TestUnauthenticatedMetrics(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, strings.Replace(boltConfig(dir), "tls_disable = true", "tls_disable = true\n  telemetry {\n    unauthenticated_metrics_access = true\n  }", 1))
	p := startServer(t, "-config", cfg)
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.Sys().Unseal(res.Keys[0])
	text, code := scrape(t, p.addr, "")
	if code != 200 || !strings.Contains(text, "strongroom_seal_sealed") {
		t.Fatalf("unauthenticated scrape: %d", code)
	}
}

var metricsRE = regexp.MustCompile(`Metrics \(no token\) on (\S+)`)

// TestMetricsListener: telemetry metrics_address serves /metrics without a
// token on its own listener, while sealed and unsealed, and nothing else.
func TestMetricsListener(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, "-config", writeConfig(t, dir, boltConfig(dir)+"telemetry {\n  metrics_address = \"127.0.0.1:0\"\n}\n"))
	// The banner line follows the "Listening on" line startServer waits for.
	var m []string
	waitFor(t, 5*time.Second, func() bool { m = metricsRE.FindStringSubmatch(p.out()); return m != nil })
	get := func(method, url string) (string, int) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.StatusCode
	}
	text, code := get("GET", m[1])
	if code != 200 {
		t.Fatalf("metrics listener while uninitialised: %d", code)
	}
	if v := metricValue(t, text, "strongroom_seal_sealed", `{tenant="root"}`); v != 1 {
		t.Fatalf("sealed gauge before unseal: %v", v)
	}
	c := newClient(t, p.addr)
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sys().Unseal(res.Keys[0]); err != nil {
		t.Fatal(err)
	}
	c.SetToken(res.RootToken)
	for range 4 {
		if _, err := c.Auth().Token().LookupSelf(); err != nil {
			t.Fatal(err)
		}
	}
	text, _ = get("GET", m[1])
	if v := metricValue(t, text, "strongroom_seal_sealed", `{tenant="root"}`); v != 0 {
		t.Fatalf("sealed gauge after unseal: %v", v)
	}
	if v := metricValue(t, text, "strongroom_http_requests_total", `{code="200",family="auth/token/"}`); v != 4 {
		t.Fatalf("token lookups counted: %v, want 4", v)
	}
	base := strings.TrimSuffix(m[1], "/metrics")
	if _, code := get("GET", base+"/v1/sys/health"); code != 404 {
		t.Fatalf("the metrics listener served the API: %d", code)
	}
	if _, code := get("POST", m[1]); code != 405 {
		t.Fatalf("POST /metrics: %d", code)
	}
	// The API's own sys/metrics still wants a token.
	if _, code := scrape(t, p.addr, ""); code != 403 {
		t.Fatalf("sys/metrics without a token: %d", code)
	}
}

// TestReadCacheConfig checks that `read_cache_mb = 0` turns the bolt
// store's read cache off: secrets read again and again leave it empty
// (with the default, TestMetrics finds it holding records).
func TestReadCacheConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := strings.Replace(boltConfig(dir), "storage \"bolt\" {\n", "storage \"bolt\" {\n  read_cache_mb = 0\n", 1)
	if !strings.Contains(cfg, "read_cache_mb = 0") {
		t.Fatal("config not rewritten")
	}
	p := startServer(t, "-config", writeConfig(t, dir, cfg))
	c := newClient(t, p.addr)
	res := initAndUnseal(t, c, 1, 1)
	if err := c.Sys().Mount("kv", &vault.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	kv := c.KVv2("kv")
	if _, err := kv.Put(t.Context(), "s", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := kv.Get(t.Context(), "s"); err != nil {
			t.Fatal(err)
		}
	}
	text, _ := scrape(t, p.addr, res.RootToken)
	if v := metricValue(t, text, "strongroom_storage_read_cache_entries", ``); v != 0 {
		t.Fatalf("read cache entries with read_cache_mb = 0: %v", v)
	}
	if v := metricValue(t, text, "strongroom_storage_read_cache_misses_total", ``); v != 0 {
		t.Fatalf("read cache misses counted with the cache off: %v", v)
	}
}
