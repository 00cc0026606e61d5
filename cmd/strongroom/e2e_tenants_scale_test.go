package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// scaleTenants is how many tenants TestManyTenants creates:
// STRONGROOM_SCALE_TENANTS, or 10,000 (1,000 with -short).
func scaleTenants(t *testing.T) int {
	if v := os.Getenv("STRONGROOM_SCALE_TENANTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			t.Fatalf("STRONGROOM_SCALE_TENANTS=%q", v)
		}
		return n
	}
	if testing.Short() {
		return 1000
	}
	return 10_000
}

// startAutoNode starts an in-process node on store directory dir with the
// pkcs11 auto-unseal seal on tok's token, and the tenants block given.
func startAutoNode(t *testing.T, ctx context.Context, dir, lib, label, tenants string) *node {
	t.Helper()
	src := boltConfig(dir)
	src = src[:len(src)-len("seal \"shamir\" {}\nlog_level = \"debug\"\n")] + fmt.Sprintf(`
seal "pkcs11" {
  lib          = %q
  token_label  = %q
  key_label    = "strongroom-master"
  generate_key = true
}
log_level = "warn"
%s
`, lib, label, tenants)
	cfg, err := ParseConfig("scale.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := start(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return nd
}

// TestManyTenants: with 10,000 auto tenants on one node, a restart
// unwraps none of them, each is unsealed on its first request, the node
// keeps at most max_loaded of them in memory, and an idle one is unloaded
// and comes back on its next request. The durations (creation, start,
// first requests) and the heap are logged; docs/benchmarks.md records a run.
func TestManyTenants(t *testing.T) {
	n := scaleTenants(t)
	tok := softhsmtest.New(t)
	t.Setenv("VAULT_HSM_PIN", tok.PIN)
	dir := t.TempDir()
	const maxLoaded = 300
	tenantsBlock := fmt.Sprintf("tenants {\n  max_loaded = %d\n}\n", maxLoaded)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nd := startAutoNode(t, ctx, dir, tok.Lib, tok.Label, tenantsBlock)
	firstNode, firstClosed := nd, false
	defer func() {
		// On a failure before the restart, close the first node too: its
		// HSM sessions would otherwise outlive the test and stall the
		// next test's HSM start.
		if !firstClosed {
			firstNode.close(context.Background())
		}
	}()
	c := newClient(t, nd.addrs[0])
	res, err := c.Sys().Init(&vault.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(res.RootToken)

	// Create and initialise n auto tenants, 16 at a time.
	roots := make([]string, n)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			tc := newClient(t, nd.addrs[0]) // one connection per worker
			for i := range work {
				name := fmt.Sprintf("t%05d", i)
				if _, err := c.Logical().Write("sys/namespaces/"+name, map[string]any{"seal_type": "auto"}); err != nil {
					errs <- err
					return
				}
				tc.SetNamespace(name)
				ir, err := tc.Sys().Init(&vault.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
				if err != nil {
					errs <- err
					return
				}
				roots[i] = ir.RootToken
			}
		})
	}
	for i := range n {
		select {
		case work <- i:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	created := time.Since(start)
	if got := nd.tenants.Loaded(); got > maxLoaded {
		t.Fatalf("%d tenants loaded after creating %d, max_loaded is %d", got, n, maxLoaded)
	}
	c.CloneConfig().HttpClient.CloseIdleConnections()
	nd.close(context.Background())
	firstClosed = true

	// Restart: the node starts without unwrapping any tenant.
	runtime.GC()
	start = time.Now()
	nd = startAutoNode(t, ctx, dir, tok.Lib, tok.Label, tenantsBlock)
	defer nd.close(context.Background())
	startup := time.Since(start)
	if nd.sys.Barrier.Sealed() {
		t.Fatal("the cluster did not auto-unseal")
	}
	if got := nd.tenants.Loaded(); got != 0 {
		t.Fatalf("%d tenants loaded at start", got)
	}
	hsmBefore := nd.hsm.h.Load().Stats()

	// First requests to random tenants: each one unseals its tenant.
	order := rand.Perm(n)
	samples := min(200, n)
	lat := make([]time.Duration, 0, samples)
	tc := newClient(t, nd.addrs[0])
	for _, i := range order[:samples] {
		tc.SetNamespace(fmt.Sprintf("t%05d", i))
		tc.SetToken(roots[i])
		t0 := time.Now()
		s, err := tc.Auth().Token().LookupSelf()
		lat = append(lat, time.Since(t0))
		if err != nil || s.Data["policies"] == nil {
			t.Fatalf("first request to t%05d: %v", i, err)
		}
	}
	slices.Sort(lat)
	hsmAfter := nd.hsm.h.Load().Stats()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("%d tenants: created and initialised in %v (%.0f/s); restart %v; first request p50 %v p99 %v max %v over %d tenants; %d tenants loaded; heap %.1f MiB; PKCS#11 calls for them: %d",
		n, created.Round(time.Millisecond), float64(n)/created.Seconds(), startup.Round(time.Microsecond),
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], samples, nd.tenants.Loaded(), float64(ms.HeapAlloc)/(1<<20), sumCalls(hsmAfter.Calls)-sumCalls(hsmBefore.Calls))

	// Memory stays bounded: past max_loaded, the least recently used
	// auto tenants are unloaded.
	for _, i := range order[samples : samples+min(maxLoaded, n-samples)] {
		tc.SetNamespace(fmt.Sprintf("t%05d", i))
		tc.SetToken(roots[i])
		if _, err := tc.Auth().Token().LookupSelf(); err != nil {
			t.Fatal(err)
		}
	}
	if got := nd.tenants.Loaded(); got > maxLoaded {
		t.Fatalf("%d tenants loaded, max_loaded is %d", got, maxLoaded)
	}
	// An unloaded tenant comes back on its next request, unsealed again.
	first := order[0]
	tc.SetNamespace(fmt.Sprintf("t%05d", first))
	tc.SetToken(roots[first])
	if _, err := tc.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("reloading an unloaded tenant: %v", err)
	}
}

func sumCalls(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}
