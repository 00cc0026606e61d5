package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests run srload against httptest servers that imitate the Vault
// endpoints it uses; they test the tool, not a server.

const testToken = "s.test-token"

// seenRequest is one request as the fake server saw it.
type seenRequest struct {
	method, path, query     string
	token, namespace, ctype string
	userAgent               string
	body                    []byte
}

// fakeVault imitates sys/health, a KV v2 mount at secret/, a KV v1 mount
// at kv/ and a transit mount at transit/ (workload_transit_test.go), checks
// the token, and records every request.
type fakeVault struct {
	mu   sync.Mutex
	seen []seenRequest
	kv   map[string]string // full path → value

	transitKeys      map[string]string // key name → type
	transitExists    int               // creations of a key that existed
	transitExists400 bool              // answer those 400 "already exists"
}

func newFakeVault(t *testing.T) (*fakeVault, *httptest.Server) {
	fv := &fakeVault{kv: map[string]string{}}
	srv := httptest.NewServer(fv)
	t.Cleanup(srv.Close)
	return fv, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func vaultError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string][]string{"errors": {msg}})
}

func (fv *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fv.mu.Lock()
	fv.seen = append(fv.seen, seenRequest{
		method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
		token: r.Header.Get("X-Vault-Token"), namespace: r.Header.Get("X-Vault-Namespace"),
		ctype: r.Header.Get("Content-Type"), userAgent: r.Header.Get("User-Agent"), body: body,
	})
	fv.mu.Unlock()

	if r.URL.Path == "/v1/sys/health" && r.Method == http.MethodGet {
		writeJSON(w, 200, map[string]any{"initialized": true, "sealed": false, "standby": false, "version": "0.0.0-fake"})
		return
	}
	if r.Header.Get("X-Vault-Token") != testToken {
		vaultError(w, 403, "permission denied")
		return
	}
	var v2 bool
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/transit/"):
		fv.serveTransit(w, r, body)
		return
	case r.URL.Path == "/v1/auth/token/create" && r.Method == http.MethodPost:
		var in struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(body, &in) != nil || (in.Type != "service" && in.Type != "batch") {
			vaultError(w, 400, "bad token create")
			return
		}
		writeJSON(w, 200, map[string]any{"auth": map[string]any{"client_token": "t-" + in.Type}})
		return
	case strings.HasPrefix(r.URL.Path, "/v1/secret/data/"):
		v2 = true
	case strings.HasPrefix(r.URL.Path, "/v1/kv/"):
	default:
		vaultError(w, 404, "no handler for route "+r.URL.Path)
		return
	}
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		var in struct {
			Value string `json:"value"`
			Data  *struct {
				Value string `json:"value"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			vaultError(w, 400, "bad JSON: "+err.Error())
			return
		}
		value := in.Value
		if v2 {
			if in.Data == nil {
				vaultError(w, 400, "no data provided")
				return
			}
			value = in.Data.Value
		}
		fv.mu.Lock()
		fv.kv[r.URL.Path] = value
		fv.mu.Unlock()
		if v2 {
			writeJSON(w, 200, map[string]any{"data": map[string]any{"version": 1}})
		} else {
			w.WriteHeader(204)
		}
	case http.MethodGet:
		fv.mu.Lock()
		value, ok := fv.kv[r.URL.Path]
		fv.mu.Unlock()
		switch {
		case !ok:
			writeJSON(w, 404, map[string][]string{"errors": {}})
		case v2:
			writeJSON(w, 200, map[string]any{"data": map[string]any{"data": map[string]string{"value": value}}})
		default:
			writeJSON(w, 200, map[string]any{"data": map[string]string{"value": value}})
		}
	default:
		vaultError(w, 405, "unsupported operation")
	}
}

func (fv *fakeVault) requests() []seenRequest {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	return append([]seenRequest(nil), fv.seen...)
}

// runTool runs srload with args and returns the exit code, stdout, stderr.
func runTool(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runJSON runs srload with -json and decodes the report.
func runJSON(t *testing.T, args ...string) (int, *report, string) {
	t.Helper()
	code, out, errOut := runTool(t, append(args, "-json")...)
	if out == "" {
		return code, nil, errOut
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad -json output %q: %v", out, err)
	}
	return code, &rep, errOut
}

func TestRequestShapes(t *testing.T) {
	const (
		n    = 300
		keys = 40
		size = 33
	)
	for _, tc := range []struct {
		workload, mount string
		prefix          string // request path of a key, up to its number
		v2              bool
		reads, writes   bool // timed requests
	}{
		{workload: "health"},
		{workload: "kv2-write", mount: "secret", prefix: "/v1/secret/data/srload-", v2: true, writes: true},
		{workload: "kv2-read", mount: "secret", prefix: "/v1/secret/data/srload-", v2: true, reads: true},
		{workload: "kv1-write", mount: "kv", prefix: "/v1/kv/srload-", writes: true},
		{workload: "kv1-read", mount: "/kv/", prefix: "/v1/kv/srload-", reads: true},
		{workload: "kv2-mixed", mount: "secret", prefix: "/v1/secret/data/srload-", v2: true, reads: true, writes: true},
		{workload: "mixed", mount: "secret", prefix: "/v1/secret/data/srload-", v2: true, reads: true, writes: true},
		{workload: "kv1-mixed", mount: "kv", prefix: "/v1/kv/srload-", reads: true, writes: true},
	} {
		t.Run(tc.workload, func(t *testing.T) {
			fv, srv := newFakeVault(t)
			bl := recordBaseline(t)
			args := []string{"-addr", srv.URL + "/", "-token", testToken, "-namespace", "team1",
				"-workload", tc.workload, "-c", "4", "-n", fmt.Sprint(n), "-warmup", "0",
				"-keys", fmt.Sprint(keys), "-size", fmt.Sprint(size)}
			if tc.mount != "" {
				args = append(args, "-mount", tc.mount)
			}
			code, rep, errOut := runJSON(t, args...)
			if code != 0 || rep == nil {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			if rep.Requests != n || rep.OK != n || rep.Errors != 0 || rep.WarmupRequests != 0 {
				t.Errorf("report: requests %d ok %d errors %d warmup %d, want %d ok",
					rep.Requests, rep.OK, rep.Errors, rep.WarmupRequests, n)
			}
			if rep.ServerVersion != "0.0.0-fake" {
				t.Errorf("server_version %q", rep.ServerVersion)
			}
			// The baseline: the same number of requests, no setup.
			if b := rep.Baseline; b == nil || b.Requests != n || b.OK != n || b.SetupRequests != 0 || b.Addr != "in-process" ||
				b.Workload != tc.workload || rep.RatioThroughput == nil || rep.RatioP99 == nil {
				t.Errorf("baseline %+v, ratios %v %v", b, rep.RatioThroughput, rep.RatioP99)
			}

			seen := fv.requests()
			// The first request is the preflight sys/health.
			if p := seen[0]; p.method != "GET" || p.path != "/v1/sys/health" {
				t.Fatalf("first request %s %s, want the preflight health check", p.method, p.path)
			}
			seen = seen[1:]
			setup := 0
			if tc.v2 {
				setup = 1 // the check that the mount is KV v2
			}
			if tc.reads {
				setup += keys
			}
			if len(seen) != setup+n || rep.SetupRequests != int64(setup) {
				t.Fatalf("server saw %d requests, report says %d setup; want %d setup + %d", len(seen), rep.SetupRequests, setup, n)
			}
			// Setup: every key written once (key 0 twice on KV v2), before
			// any timed request.
			written := map[string]int{}
			for _, r := range seen[:setup] {
				if r.method != "PUT" {
					t.Fatalf("setup request %s %s", r.method, r.path)
				}
				written[r.path]++
			}
			if tc.v2 && written[tc.prefix+"0"] == 0 {
				t.Errorf("no KV v2 check")
			}
			for i := range keys {
				want := 0
				if tc.reads {
					want = 1
				}
				if i == 0 && tc.v2 {
					want++
				}
				if c := written[tc.prefix+fmt.Sprint(i)]; c != want {
					t.Errorf("setup wrote key %d %d times, want %d", i, c, want)
				}
			}

			// check checks the requests seen by a server whose first setup
			// ones are the setup's, and returns the number of reads.
			check := func(seen []seenRequest, setup int) (reads int) {
				t.Helper()
				for i, r := range seen {
					checkShape(t, tc.workload, tc.prefix, tc.v2, tc.reads, tc.writes, i >= setup, keys, size, r, &reads)
				}
				return reads
			}
			reads := check(seen, setup)
			// The baseline server sees the same timed requests, and no
			// setup: every request of a read workload is a read.
			bseen := bl.requests()
			if len(bseen) != n {
				t.Fatalf("baseline server saw %d requests, want %d", len(bseen), n)
			}
			breads := check(bseen, 0)
			for _, reads := range []int{reads, breads} {
				switch {
				case tc.reads && !tc.writes:
					if reads != n {
						t.Errorf("%d reads, want %d", reads, n)
					}
				case tc.reads && tc.writes:
					// 90% of 300, with fixed seeds; allow for whichever
					// worker got to send more.
					if reads < n*80/100 || reads > n*97/100 {
						t.Errorf("%d reads of %d, want about 90%%", reads, n)
					}
				}
			}
			if tc.reads && tc.writes && (rep.ReadPercent == nil || *rep.ReadPercent != 90) {
				t.Errorf("read_percent %v", rep.ReadPercent)
			}
		})
	}
}

// checkShape checks one request of a workload: timed, or of the setup.
func checkShape(t *testing.T, workload, prefix string, v2, reads, writes, timed bool, keys, size int, r seenRequest, nreads *int) {
	t.Helper()
	if r.token != testToken || r.namespace != "team1" || r.userAgent != userAgent {
		t.Fatalf("%s %s: token %q namespace %q user agent %q", r.method, r.path, r.token, r.namespace, r.userAgent)
	}
	switch {
	case workload == "health":
		if r.method != "GET" || r.path != "/v1/sys/health" || r.query != "standbyok=true&sealedcode=200&uninitcode=200" {
			t.Fatalf("health request %s %s?%s", r.method, r.path, r.query)
		}
	case r.method == "GET" && reads:
		*nreads++
		if r.query != "" || len(r.body) != 0 {
			t.Fatalf("read %s?%s with body %q", r.path, r.query, r.body)
		}
		checkKey(t, r.path, prefix, keys)
	case r.method == "PUT" && (writes || !timed):
		if r.ctype != "application/json" {
			t.Fatalf("write Content-Type %q", r.ctype)
		}
		checkKey(t, r.path, prefix, keys)
		checkValue(t, r.body, v2, size)
	default:
		t.Fatalf("unexpected request %s %s", r.method, r.path)
	}
}

func checkKey(t *testing.T, path, prefix string, keys int) {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(strings.TrimPrefix(path, prefix), "%d", &i); err != nil || i < 0 || i >= keys || prefix+fmt.Sprint(i) != path {
		t.Fatalf("key of %s is not a number in [0,%d)", path, keys)
	}
}

func checkValue(t *testing.T, body []byte, v2 bool, size int) {
	t.Helper()
	var v struct {
		Value string `json:"value"`
		Data  struct {
			Value string `json:"value"`
		} `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	value := v.Value
	if v2 {
		if v.Value != "" {
			t.Fatalf("KV v2 body with a top-level value: %s", body)
		}
		value = v.Data.Value
	} else if v.Data.Value != "" {
		t.Fatalf("KV v1 body with data: %s", body)
	}
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(raw) != size {
		t.Fatalf("value %q: %d bytes, err %v; want %d base64-encoded bytes", value, len(raw), err, size)
	}
}

// With one worker the keys go round robin: every key the same number of
// times, in order.
func TestRoundRobinAndRandomKeys(t *testing.T) {
	fv, srv := newFakeVault(t)
	code, _, errOut := runTool(t, "-addr", srv.URL, "-token", testToken, "-workload", "kv2-write",
		"-c", "1", "-n", "30", "-warmup", "0", "-keys", "10")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for i, r := range fv.requests()[2:] { // after the preflight and the KV v2 check
		if want := fmt.Sprintf("/v1/secret/data/srload-%d", i%10); r.path != want {
			t.Fatalf("request %d: %s, want %s", i, r.path, want)
		}
	}

	fv, srv = newFakeVault(t)
	code, _, errOut = runTool(t, "-addr", srv.URL, "-token", testToken, "-workload", "kv2-write",
		"-c", "1", "-n", "200", "-warmup", "0", "-keys", "10", "-random", "-prefix", "r/")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	counts := map[string]int{}
	sequential := true
	for i, r := range fv.requests()[2:] {
		counts[r.path]++
		if r.path != fmt.Sprintf("/v1/secret/data/r/%d", i%10) {
			sequential = false
		}
	}
	if len(counts) != 10 || sequential {
		t.Errorf("-random: %d distinct keys (want 10), sequential %v", len(counts), sequential)
	}
}

// Errors are counted by status, measured ones only, and the run goes on.
func TestErrorsCountedByStatus(t *testing.T) {
	var (
		mu      sync.Mutex
		n       int
		byCode  = map[int]int{}
		codeFor = func(i int) int {
			switch {
			case i%10 == 3:
				return 500
			case i%10 == 7:
				return 403
			case i%25 == 24:
				return 429
			case i%50 == 11:
				return 307 // a standby's redirect: not followed, an error
			}
			return 200
		}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		code := codeFor(n)
		n++
		byCode[code]++
		mu.Unlock()
		switch code {
		case 200:
			writeJSON(w, 200, map[string]any{"initialized": true})
		case 307:
			http.Redirect(w, r, "http://127.0.0.1:1/v1/sys/health", http.StatusTemporaryRedirect)
		default:
			vaultError(w, code, fmt.Sprintf("error %d", code))
		}
	}))
	defer srv.Close()

	code, rep, errOut := runJSON(t, "-addr", srv.URL, "-c", "8", "-n", "1000", "-warmup", "0")
	if code != 1 || rep == nil {
		t.Fatalf("exit %d (want 1: errors), stderr %s", code, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	byCode[200]-- // the preflight
	if n != 1001 || rep.Requests != 1000 {
		t.Fatalf("server saw %d requests, report %d; want 1 + 1000", n, rep.Requests)
	}
	want := map[string]int64{}
	for c, k := range byCode {
		if c != 200 {
			want[fmt.Sprint(c)] = int64(k)
		}
	}
	if fmt.Sprint(rep.ErrorsByStatus) != fmt.Sprint(want) {
		t.Errorf("errors_by_status %v, server sent %v", rep.ErrorsByStatus, want)
	}
	if rep.OK != int64(byCode[200]) || rep.Errors != 1000-rep.OK {
		t.Errorf("ok %d errors %d, server sent %d 200s", rep.OK, rep.Errors, byCode[200])
	}
	if s := rep.ErrorSamples["500"]; !strings.Contains(s, "500 Internal Server Error") || !strings.Contains(s, "error 500") {
		t.Errorf("sample of 500: %q", s)
	}
	if rep.Throughput <= 0 || rep.LatencyMS.P50 <= 0 {
		t.Errorf("throughput %v p50 %v", rep.Throughput, rep.LatencyMS.P50)
	}

	// The text report lists them too.
	mu.Unlock()
	code, out, _ := runTool(t, "-addr", srv.URL, "-c", "2", "-n", "100", "-warmup", "0")
	mu.Lock()
	if code != 1 || !strings.Contains(out, "errors ") || !strings.Contains(out, "403: ") || !strings.Contains(out, "\n  500: 500 Internal Server Error") {
		t.Errorf("exit %d, text report:\n%s", code, out)
	}
}

// When everything fails the run stops early and says why.
func TestStopsWhenAllFail(t *testing.T) {
	fv, srv := newFakeVault(t)
	start := time.Now()
	// Without the baseline's first half before the run: kv1-write has no
	// setup, only the timed requests can fail.
	code, out, errOut := runTool(t, "-addr", srv.URL, "-token", "wrong", "-workload", "kv1-write", "-mount", "kv", "-c", "4", "-d", "30s", "-warmup", "0", "-baseline=false")
	if code != 1 || out != "" {
		t.Fatalf("exit %d stdout %q", code, out)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v; should stop at once", time.Since(start))
	}
	for _, want := range []string{"all of the first 20 requests failed", "403 Forbidden", "permission denied", "check -token"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
	if got := len(fv.requests()); got > 1+20+4 {
		t.Errorf("server saw %d requests before the stop", got)
	}

	// With it, the same failure after the first half.
	code, out, errOut = runTool(t, "-addr", srv.URL, "-token", "wrong", "-workload", "kv1-write", "-mount", "kv", "-c", "4", "-d", "200ms", "-warmup", "0")
	if code != 1 || out != "" || !strings.Contains(errOut, "all of the first 20 requests failed: 403 Forbidden") {
		t.Errorf("with the baseline: exit %d stdout %q stderr %q", code, out, errOut)
	}

	// A read workload fails in its setup, with the request, before the
	// baseline is measured.
	start = time.Now()
	_, _, errOut = runTool(t, "-addr", srv.URL, "-token", testToken, "-workload", "kv2-read", "-mount", "nope", "-c", "4", "-d", "30s", "-warmup", "0")
	if !strings.Contains(errOut, "setup: PUT /v1/nope/data/srload-") || !strings.Contains(errOut, "404 Not Found") || !strings.Contains(errOut, "check -mount") {
		t.Errorf("setup failure: %q", errOut)
	}
	if time.Since(start) > 10*time.Second || strings.Contains(errOut, "baseline") {
		t.Errorf("setup failure after %v, stderr %q; should stop before the baseline", time.Since(start), errOut)
	}

	// A KV v2 workload on a KV v1 mount.
	code, _, errOut = runTool(t, "-addr", srv.URL, "-token", testToken, "-workload", "kv2-write", "-mount", "kv", "-n", "10")
	if code != 1 || !strings.Contains(errOut, "-mount kv looks like a KV v1 mount") {
		t.Errorf("kv2 on v1: exit %d, stderr %q", code, errOut)
	}

	// A KV v2 workload with a wrong token fails in the KV v2 check.
	_, _, errOut = runTool(t, "-addr", srv.URL, "-token", "wrong", "-workload", "kv2-write", "-n", "10")
	if !strings.Contains(errOut, "setup: PUT /v1/secret/data/srload-0: 403 Forbidden") || !strings.Contains(errOut, "check -token") {
		t.Errorf("kv2 with a wrong token: %q", errOut)
	}

	// Nothing listening.
	srv.Close()
	code, _, errOut = runTool(t, "-addr", srv.URL, "-n", "10")
	if code != 1 || !strings.Contains(errOut, "cannot reach "+srv.URL) || !strings.Contains(errOut, "connection refused") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// Requests started during the warmup are not in the statistics, and the
// measured time starts after the warmup.
func TestWarmupExcluded(t *testing.T) {
	var (
		first atomic.Int64 // unix nanos of the first request after the preflight
		total atomic.Int64
		slow  atomic.Int64
	)
	const slowFor, slowBy = 150 * time.Millisecond, 200 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if total.Add(1) == 1 {
			writeJSON(w, 200, map[string]any{"initialized": true}) // the preflight
			return
		}
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		// The server is slow at first: only the warmup sees it.
		if time.Duration(now-first.Load()) < slowFor {
			slow.Add(1)
			time.Sleep(slowBy)
		}
		writeJSON(w, 200, map[string]any{"initialized": true})
	}))
	defer srv.Close()

	code, rep, errOut := runJSON(t, "-addr", srv.URL, "-c", "4", "-warmup", "500ms", "-d", "300ms")
	if code != 0 || rep == nil {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if slow.Load() < 4 || rep.WarmupRequests < slow.Load() {
		t.Fatalf("%d slow requests, %d warmup requests", slow.Load(), rep.WarmupRequests)
	}
	if rep.LatencyMS.Max >= float64(slowBy/time.Millisecond) {
		t.Errorf("max latency %vms: a warmup request was measured", rep.LatencyMS.Max)
	}
	if got := total.Load(); got != 1+rep.WarmupRequests+rep.Requests {
		t.Errorf("server saw %d requests; report: 1 preflight + %d warmup + %d measured", got, rep.WarmupRequests, rep.Requests)
	}
	if rep.ElapsedSeconds < 0.3 || rep.ElapsedSeconds > 0.45 {
		t.Errorf("elapsed %vs, want the 300ms after the warmup", rep.ElapsedSeconds)
	}
	if want := float64(rep.OK) / rep.ElapsedSeconds; rep.Throughput != want {
		t.Errorf("throughput %v, want %v", rep.Throughput, want)
	}
}

// -n caps the measured requests (warmup requests come on top); without -d
// there is no time limit.
func TestMaxRequests(t *testing.T) {
	fv, srv := newFakeVault(t)
	code, rep, errOut := runJSON(t, "-addr", srv.URL, "-c", "8", "-n", "137", "-warmup", "0")
	if code != 0 || rep == nil {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := len(fv.requests()); got != 1+137 || rep.Requests != 137 || rep.Duration != "0s" {
		t.Errorf("server saw %d requests, report %d requests, duration %s; want 1+137, 137, 0s", got, rep.Requests, rep.Duration)
	}

	fv, srv = newFakeVault(t)
	code, rep, errOut = runJSON(t, "-addr", srv.URL, "-c", "3", "-n", "50", "-warmup", "100ms")
	if code != 0 || rep == nil {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := len(fv.requests()); rep.Requests != 50 || rep.WarmupRequests == 0 || int64(got) != 1+rep.WarmupRequests+50 {
		t.Errorf("server saw %d, report: %d warmup + %d measured", got, rep.WarmupRequests, rep.Requests)
	}

	// With -d as well, whichever comes first.
	_, srv = newFakeVault(t)
	code, rep, _ = runJSON(t, "-addr", srv.URL, "-c", "2", "-n", "1000000000", "-d", "200ms", "-warmup", "0")
	if code != 0 || rep == nil || rep.Requests >= 1000000000 || rep.ElapsedSeconds > 1 {
		t.Errorf("exit %d report %+v", code, rep)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(&fakeVault{kv: map[string]string{}})
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure below is expected
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"-addr", srv.URL, "-n", "20", "-c", "2", "-warmup", "0"}
	bl := recordBaseline(t)

	if code, _, errOut := runTool(t, common...); code != 1 || !strings.Contains(errOut, "certificate") {
		t.Errorf("unknown CA: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runTool(t, append(common, "-ca-cert", caFile)...); code != 0 || !strings.Contains(out, "workload=health") {
		t.Errorf("-ca-cert: exit %d, stderr %q", code, errOut)
	}
	// The baseline server speaks TLS too, with its own certificate.
	if got := bl.tls.Load(); got != 20 || len(bl.requests()) != 20 {
		t.Errorf("baseline server: %d of %d requests over TLS, want 20", got, len(bl.requests()))
	}
	if code, _, errOut := runTool(t, append(common, "-insecure")...); code != 0 {
		t.Errorf("-insecure: exit %d, stderr %q", code, errOut)
	}
	t.Setenv("VAULT_CACERT", caFile)
	if code, _, errOut := runTool(t, common...); code != 0 {
		t.Errorf("$VAULT_CACERT: exit %d, stderr %q", code, errOut)
	}
}

func TestFlags(t *testing.T) {
	fv, srv := newFakeVault(t)
	t.Setenv("VAULT_ADDR", srv.URL)
	t.Setenv("VAULT_TOKEN", testToken)
	t.Setenv("VAULT_NAMESPACE", "ns-env")

	// -help: exit 0, every workload listed, the token not shown.
	code, _, errOut := runTool(t, "-help")
	if code != 0 || strings.Contains(errOut, testToken) {
		t.Errorf("-help: exit %d, shows the token: %v", code, strings.Contains(errOut, testToken))
	}
	for name := range workloads {
		if !strings.Contains(errOut, "  "+name+" ") {
			t.Errorf("-help does not list %s", name)
		}
	}

	// Defaults from the environment.
	if code, _, errOut := runTool(t, "-workload", "kv2-write", "-n", "5", "-c", "1", "-warmup", "0"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if r := fv.requests()[2]; r.token != testToken || r.namespace != "ns-env" {
		t.Errorf("token %q namespace %q from the environment", r.token, r.namespace)
	}

	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.conns != 32 || cfg.duration != 10*time.Second || cfg.warmup != time.Second ||
		cfg.size != 128 || cfg.keys != 1000 || cfg.mount != "secret" || cfg.workload != "health" || cfg.json || !cfg.baseline ||
		cfg.transitMount != "transit" || cfg.transitKey != "srload" || cfg.keyType != "aes256-gcm96" || cfg.batch != 100 {
		t.Errorf("defaults: %+v %v", cfg, err)
	}

	for _, bad := range [][]string{
		{"-workload", "nope"},
		{"-c", "0"},
		{"-d", "0"},
		{"-keys", "0"},
		{"-reads", "101"},
		{"-size", "-1"},
		{"-batch", "0"},
		{"-server-pid", "-1"},
		{"-serve-work", "3us"}, // without -serve-baseline
		{"-serve-baseline", "127.0.0.1:0", "-serve-work", "-1us"},
		{"-bogus"},
		{"extra"},
	} {
		if code, _, errOut := runTool(t, bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errOut)
		}
	}
}

func TestTextReport(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * 10 * time.Microsecond)
	}
	st := &runStats{started: time.Now(), elapsed: 2 * time.Second, hist: h, ok: 1000,
		errors: map[int]int64{503: 2, 0: 1}, samples: map[int]string{503: "503 Service Unavailable: sealed", 0: "connection reset"}}
	cfg := &config{addr: "http://x", workload: "kv2-read", conns: 32, duration: 10 * time.Second, size: 128, keys: 1000, mount: "secret"}
	var b strings.Builder
	if err := newReport(cfg, workloads["kv2-read"], st, nil).writeText(&b); err != nil {
		t.Fatal(err)
	}
	want := "workload=kv2-read c=32 d=10s size=128 keys=1000: 500 req/s (1003 requests in 2.00s), " +
		"mean 5.00ms p50 5.01ms p90 9.04ms p99 9.96ms p99.9 10.0ms max 10.0ms, errors 3 (503: 2, transport: 1)\n" +
		"  503: 503 Service Unavailable: sealed\n" +
		"  transport: connection reset\n"
	if b.String() != want {
		t.Errorf("text report\n got %q\nwant %q", b.String(), want)
	}
}

// The cost of building one request, the tool's own share of each request.
func BenchmarkBuildRequest(b *testing.B) {
	cfg := &config{conns: 1, keys: 1000, size: 128, mount: "secret", keyPrefix: "srload-", token: testToken,
		transitMount: "transit", transitKey: "srload", keyType: "aes256-gcm96", batch: 100}
	base, _ := parseAddr("http://127.0.0.1:8200")
	for _, name := range []string{"health", "kv2-write", "kv2-read", "transit-encrypt", "transit-decrypt", "transit-batch-encrypt", "token-create-batch"} {
		b.Run(name, func(b *testing.B) {
			w, err := workloads[name].build(cfg)
			if err != nil {
				b.Fatal(err)
			}
			next := w.worker(0, newTarget(context.Background(), base, cfg))
			b.ReportAllocs()
			for b.Loop() {
				_ = next()
			}
		})
	}
}

// TestTokenCreateWorkloads: each request is a POST of auth/token/create
// asking for its token type, with the token.
func TestTokenCreateWorkloads(t *testing.T) {
	for _, typ := range []string{"service", "batch"} {
		fv, srv := newFakeVault(t)
		code, _, errOut := runTool(t, "-addr", srv.URL, "-token", testToken, "-workload", "token-create-"+typ, "-n", "20", "-c", "2", "-warmup", "0", "-baseline=false")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", typ, code, errOut)
		}
		n := 0
		for _, r := range fv.requests() {
			if r.path != "/v1/auth/token/create" {
				continue
			}
			n++
			if r.method != http.MethodPost || r.token != testToken || !strings.Contains(string(r.body), `"type":"`+typ+`"`) {
				t.Fatalf("%s: request %+v", typ, r)
			}
		}
		if n < 20 {
			t.Fatalf("%s: %d token creations", typ, n)
		}
	}
}
