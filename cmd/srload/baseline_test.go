package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// baselineRecorder keeps the requests the baseline server gets.
type baselineRecorder struct {
	mu   sync.Mutex
	seen []seenRequest
	tls  atomic.Int64 // requests over TLS
}

// recordBaseline records the requests of the baseline servers started
// until the end of the test.
func recordBaseline(t *testing.T) *baselineRecorder {
	rec := &baselineRecorder{}
	baselineObserve = func(r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.TLS != nil {
			rec.tls.Add(1)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.seen = append(rec.seen, seenRequest{
			method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
			token: r.Header.Get("X-Vault-Token"), namespace: r.Header.Get("X-Vault-Namespace"),
			ctype: r.Header.Get("Content-Type"), userAgent: r.Header.Get("User-Agent"), body: body,
		})
	}
	t.Cleanup(func() { baselineObserve = nil })
	return rec
}

func (rec *baselineRecorder) requests() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.seen)
}

// openBaseline checks a "vault:v1:" ciphertext of the baseline server and
// returns its nonce: it must open with the fixed key to the fixed plaintext.
func openBaseline(t *testing.T, ciphertext string) []byte {
	t.Helper()
	b64, ok := strings.CutPrefix(ciphertext, "vault:v1:")
	if !ok {
		t.Fatalf("ciphertext %q lacks the vault:v1: prefix", ciphertext)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("ciphertext %q: %v", ciphertext, err)
	}
	block, err := aes.NewCipher(baselineKey)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 12+32+16 {
		t.Fatalf("ciphertext of %d bytes, want nonce 12 + 32 + tag 16", len(raw))
	}
	nonce := raw[:aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, raw[aead.NonceSize():], nil)
	if err != nil || !bytes.Equal(plain, baselinePlaintext) || len(plain) != 32 {
		t.Fatalf("ciphertext %q opens to %q, %v; want the fixed 32-byte plaintext", ciphertext, plain, err)
	}
	return nonce
}

// The baseline server answers every request with Vault's envelope of a
// transit encrypt answer whose ciphertext opens with the fixed key, with a
// fresh nonce each time, over one keep-alive connection; with TLS when
// -addr is https.
func TestBaselineServerResponse(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			rec := recordBaseline(t)
			cfg := &config{conns: 1, timeout: 5 * time.Second, caCert: "/nonexistent", insecure: false}
			bs, err := startBaselineServer(cfg, scheme)
			if err != nil {
				t.Fatal(err)
			}
			defer bs.close()
			if bs.url.Scheme != scheme || !strings.HasPrefix(bs.url.Host, "127.0.0.1:") {
				t.Fatalf("server at %s", bs.url)
			}
			tr := bs.client.Transport.(*http.Transport)
			if tr.MaxConnsPerHost != 1 || tr.TLSNextProto == nil || len(tr.TLSNextProto) != 0 || !tr.DisableCompression {
				t.Errorf("client settings differ from the target's: %+v", tr)
			}

			var nonces, ciphertexts []string
			for i, method := range []string{http.MethodPost, http.MethodGet, http.MethodPut} {
				var body io.Reader
				if method != http.MethodGet {
					body = bytes.NewReader(bytes.Repeat([]byte("x"), 1<<16*i)) // read and discarded
				}
				req, err := http.NewRequest(method, bs.url.String()+"/v1/transit/encrypt/k?x=1", body)
				if err != nil {
					t.Fatal(err)
				}
				var reused bool
				req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
				}))
				resp, err := bs.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
					resp.ContentLength != int64(len(raw)) || resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
					t.Fatalf("%s: %s %s, Content-Type %q, Content-Length %d for %d bytes",
						method, resp.Proto, resp.Status, resp.Header.Get("Content-Type"), resp.ContentLength, len(raw))
				}
				if i > 0 && !reused {
					t.Errorf("%s: a new connection; want keep-alive", method)
				}

				var fields map[string]json.RawMessage
				if err := json.Unmarshal(raw, &fields); err != nil {
					t.Fatalf("body %s: %v", raw, err)
				}
				want := []string{"auth", "data", "lease_duration", "lease_id", "renewable", "request_id", "warnings", "wrap_info"}
				if got := slices.Sorted(maps.Keys(fields)); !slices.Equal(got, want) {
					t.Errorf("envelope fields %v, want %v", got, want)
				}
				var env struct {
					RequestID     string   `json:"request_id"`
					LeaseID       string   `json:"lease_id"`
					Renewable     bool     `json:"renewable"`
					LeaseDuration int      `json:"lease_duration"`
					WrapInfo      any      `json:"wrap_info"`
					Warnings      []string `json:"warnings"`
					Auth          any      `json:"auth"`
					Data          struct {
						Ciphertext string `json:"ciphertext"`
						KeyVersion int    `json:"key_version"`
					} `json:"data"`
				}
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&env); err != nil {
					t.Fatalf("body %s: %v", raw, err)
				}
				if len(env.RequestID) != 36 || env.LeaseID != "" || env.Renewable || env.LeaseDuration != 0 ||
					env.WrapInfo != nil || env.Warnings != nil || env.Auth != nil || env.Data.KeyVersion != 1 {
					t.Errorf("envelope %+v", env)
				}
				nonces = append(nonces, string(openBaseline(t, env.Data.Ciphertext)))
				ciphertexts = append(ciphertexts, env.Data.Ciphertext)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(ciphertexts)))) != 3 ||
				len(slices.Compact(slices.Sorted(slices.Values(nonces)))) != 3 {
				t.Errorf("ciphertexts %q: want a fresh nonce each", ciphertexts)
			}

			seen := rec.requests()
			if len(seen) != 3 || seen[0].method != "POST" || seen[0].path != "/v1/transit/encrypt/k" || seen[2].method != "PUT" ||
				len(seen[2].body) != 1<<17 {
				t.Errorf("server saw %+v", seen)
			}
			if tls := rec.tls.Load(); (scheme == "https") != (tls == 3) {
				t.Errorf("%d of 3 requests over TLS", tls)
			}
		})
	}
}

// The ratios are of the target to the baseline; a ratio without a success
// on the side it needs is absent.
func TestReportRatios(t *testing.T) {
	stats := func(ok int, latency time.Duration) *runStats {
		h := newHistogram()
		for range ok {
			h.record(latency)
		}
		return &runStats{started: time.Unix(0, 0), elapsed: 2 * time.Second, hist: h, ok: int64(ok),
			errors: map[int]int64{}, samples: map[int]string{}}
	}
	cfg := &config{addr: "http://x", workload: "kv2-read", conns: 32, duration: 10 * time.Second, warmup: time.Second,
		size: 128, keys: 1000, mount: "secret", keyPrefix: "srload-"}
	info := workloads[cfg.workload]
	withBaseline := func(target, base *runStats) *report {
		rep := newReport(cfg, info, target, nil)
		b := newReport(cfg, info, base, nil)
		b.Addr = inProcessAddr
		rep.setBaseline(b)
		return rep
	}

	// 500 req/s with p99 2ms against 625 req/s with p99 1ms.
	rep := withBaseline(stats(1000, 2*time.Millisecond), stats(1250, time.Millisecond))
	if rep.RatioThroughput == nil || *rep.RatioThroughput != 0.8 {
		t.Errorf("ratio_throughput %v, want 0.8", rep.RatioThroughput)
	}
	if rep.RatioP99 == nil || *rep.RatioP99 != 2 || rep.LatencyMS.P99 != 2 || rep.Baseline.LatencyMS.P99 != 1 {
		t.Errorf("ratio_p99 %v, want 2 (%v / %v)", rep.RatioP99, rep.LatencyMS.P99, rep.Baseline.LatencyMS.P99)
	}
	var b strings.Builder
	if err := rep.writeText(&b); err != nil {
		t.Fatal(err)
	}
	want := "workload=kv2-read c=32 d=10s size=128 keys=1000: 500 req/s (1000 requests in 2.00s), " +
		"mean 2.00ms p50 2.00ms p90 2.00ms p99 2.00ms p99.9 2.00ms max 2.00ms, errors 0\n" +
		"baseline: workload=kv2-read c=32 d=10s size=128 keys=1000: 625 req/s (1250 requests in 2.00s), " +
		"mean 1.00ms p50 1.00ms p90 1.00ms p99 1.00ms p99.9 1.00ms max 1.00ms, errors 0\n" +
		"ratio: throughput 0.80 of baseline, p99 2.0x baseline\n"
	if b.String() != want {
		t.Errorf("text report\n got %q\nwant %q", b.String(), want)
	}

	// JSON: a baseline object with the report's fields, and the ratios.
	var buf bytes.Buffer
	if err := rep.writeJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(buf.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	base, _ := top["baseline"].(map[string]any)
	if base == nil || top["ratio_throughput"] != 0.8 || top["ratio_p99"] != *rep.RatioP99 {
		t.Fatalf("JSON %s", buf.Bytes())
	}
	for k := range top {
		if _, ok := base[k]; !ok && k != "baseline" && k != "ratio_throughput" && k != "ratio_p99" {
			t.Errorf("baseline object lacks %q", k)
		}
	}
	for k := range base {
		if _, ok := top[k]; !ok {
			t.Errorf("baseline object has %q, the report does not", k)
		}
	}
	if base["addr"] != "in-process" || base["throughput_rps"] != 625.0 || base["setup_requests"] != 0.0 {
		t.Errorf("baseline object %v", base)
	}

	// No success on the target: throughput 0 of the baseline, no p99.
	rep = withBaseline(stats(0, 0), stats(1250, time.Millisecond))
	if rep.RatioThroughput == nil || *rep.RatioThroughput != 0 || rep.RatioP99 != nil {
		t.Errorf("no target success: ratios %v %v", rep.RatioThroughput, rep.RatioP99)
	}
	b.Reset()
	_ = rep.writeText(&b)
	if !strings.HasSuffix(b.String(), "\nratio: throughput 0 of baseline, p99 n/a\n") {
		t.Errorf("text report %q", b.String())
	}
	// No success on the baseline: no ratio.
	rep = withBaseline(stats(1000, time.Millisecond), stats(0, 0))
	b.Reset()
	_ = rep.writeText(&b)
	if rep.RatioThroughput != nil || rep.RatioP99 != nil || !strings.HasSuffix(b.String(), "\nratio: throughput n/a, p99 n/a\n") {
		t.Errorf("no baseline success: ratios %v %v, text %q", rep.RatioThroughput, rep.RatioP99, b.String())
	}

	for v, want := range map[float64]string{0.0312: "0.031", 0.834: "0.83", 1.62: "1.6", 12.4: "12", 123.4: "123"} {
		if got := fmtRatio(v); got != want {
			t.Errorf("fmtRatio(%v) = %q, want %q", v, got, want)
		}
	}
}

// By default the text report has the target's line, the baseline's and the
// ratios; -baseline=false leaves the baseline server alone.
func TestBaselineFlag(t *testing.T) {
	fv, srv := newFakeVault(t)
	bl := recordBaseline(t)
	common := []string{"-addr", srv.URL, "-c", "2", "-n", "51", "-warmup", "0"}

	code, out, errOut := runTool(t, common...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "workload=health c=2 n=51: ") ||
		!strings.HasPrefix(lines[1], "baseline: workload=health c=2 n=51: ") ||
		!regexp.MustCompile(`^ratio: throughput [0-9.e+-]+ of baseline, p99 [0-9.e+-]+x baseline$`).MatchString(lines[2]) {
		t.Fatalf("exit %d, stderr %q, text report:\n%s", code, errOut, out)
	}
	// -n 51: 26 requests before the run, 25 after.
	if got := len(bl.requests()); got != 51 || !strings.Contains(lines[1], "(51 requests in ") {
		t.Errorf("baseline server saw %d requests, want 51: %s", got, lines[1])
	}
	if got := len(fv.requests()); got != 1+51 {
		t.Errorf("target saw %d requests, want 1+51", got)
	}

	for _, args := range [][]string{
		append(slices.Clone(common), "-baseline=false"),
		append(slices.Clone(common), "-baseline=false", "-json"),
	} {
		bl.mu.Lock()
		bl.seen = nil
		bl.mu.Unlock()
		code, out, errOut = runTool(t, args...)
		if code != 0 || strings.Count(out, "\n") != 1 || strings.Contains(out, "baseline") ||
			strings.Contains(out, "ratio_") || strings.Contains(out, "ratio:") {
			t.Errorf("%v: exit %d, stderr %q, report %q", args, code, errOut, out)
		}
		if got := len(bl.requests()); got != 0 {
			t.Errorf("%v: the baseline server saw %d requests", args, got)
		}
	}
}

// A workload's setup is done on the target only: the baseline server gets
// the timed requests and nothing else.
func TestBaselineSkipsSetup(t *testing.T) {
	fv, srv := newFakeVault(t)
	bl := recordBaseline(t)
	code, rep, errOut := runJSON(t, "-addr", srv.URL, "-token", testToken, "-workload", "kv2-read",
		"-keys", "500", "-c", "2", "-n", "10", "-warmup", "0")
	if code != 0 || rep == nil {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := len(fv.requests()); got != 1+1+500+10 || rep.SetupRequests != 501 {
		t.Errorf("target saw %d requests, setup_requests %d; want 1 + 501 setup + 10", got, rep.SetupRequests)
	}
	seen := bl.requests()
	if len(seen) != 10 || rep.Baseline == nil || rep.Baseline.SetupRequests != 0 || rep.Baseline.Requests != 10 {
		t.Fatalf("baseline server saw %d requests, baseline report %+v", len(seen), rep.Baseline)
	}
	for _, r := range seen {
		if r.method != "GET" || !strings.HasPrefix(r.path, "/v1/secret/data/srload-") {
			t.Errorf("baseline server saw %s %s", r.method, r.path)
		}
	}
}

// -workload baseline measures only the baseline server, with health's
// requests, and does not contact -addr.
func TestBaselineWorkloadAlone(t *testing.T) {
	fv, srv := newFakeVault(t)
	bl := recordBaseline(t)
	code, rep, errOut := runJSON(t, "-addr", srv.URL, "-token", testToken, "-namespace", "team1",
		"-workload", "baseline", "-c", "3", "-n", "77", "-warmup", "0")
	if code != 0 || rep == nil {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if rep.Workload != "baseline" || rep.Addr != "in-process" || rep.Requests != 77 || rep.OK != 77 ||
		rep.Baseline != nil || rep.RatioThroughput != nil || rep.ServerVersion != "" {
		t.Errorf("report %+v", rep)
	}
	if got := len(fv.requests()); got != 0 {
		t.Errorf("-addr saw %d requests", got)
	}
	seen := bl.requests()
	if len(seen) != 77 {
		t.Fatalf("baseline server saw %d requests, want 77 (whole -n)", len(seen))
	}
	var reads int
	for _, r := range seen {
		checkShape(t, "health", "", false, false, false, true, 0, 0, r, &reads)
	}

	// Nothing listens at -addr: no matter.
	srv.Close()
	if code, out, errOut := runTool(t, "-addr", srv.URL, "-workload", "baseline", "-n", "10", "-c", "1"); code != 0 ||
		!strings.HasPrefix(out, "workload=baseline c=1 n=10: ") || strings.Count(out, "\n") != 1 {
		t.Errorf("exit %d, stderr %q, report %q", code, errOut, out)
	}
}

// The baseline is measured in two halves of -d and -n around the run.
func TestBaselineHalves(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		n      int64
		first  string
		second string
	}{
		{d: 10 * time.Second, first: "10s 5s 0", second: "10s 5s 0"},
		{d: 3, first: "10s 2ns 0", second: "10s 1ns 0"},
		{n: 7, first: "10s 0s 4", second: "10s 0s 3"},
		{n: 1, first: "10s 0s 1", second: "nil"},
		{d: time.Second, n: 1, first: "10s 500ms 1", second: "nil"},
		{d: 1, n: 10, first: "10s 1ns 5", second: "nil"},
	} {
		cfg := &config{warmup: 10 * time.Second, duration: tc.d, maxRequests: tc.n, conns: 3}
		h := baselineHalves(cfg)
		show := func(c *config) string {
			if c == nil {
				return "nil"
			}
			if c.conns != 3 {
				t.Errorf("conns %d", c.conns)
			}
			return strings.Join([]string{c.warmup.String(), c.duration.String(), strconv.FormatInt(c.maxRequests, 10)}, " ")
		}
		if got := show(h[0]); got != tc.first {
			t.Errorf("d=%v n=%d: first half %s, want %s", tc.d, tc.n, got, tc.first)
		}
		if got := show(h[1]); got != tc.second {
			t.Errorf("d=%v n=%d: second half %s, want %s", tc.d, tc.n, got, tc.second)
		}
	}
}

// Ctrl-C during the run prints the report with the baseline's first half;
// during the first half, nothing.
func TestBaselineInterrupted(t *testing.T) {
	var (
		n      atomic.Int64
		cancel context.CancelFunc
	)
	srv := newCountingServer(t, func() {
		if n.Add(1) == 1+30 { // the preflight, then 30 requests of the run
			cancel()
		}
	})
	bl := recordBaseline(t)
	ctx, c := context.WithCancel(context.Background())
	cancel = c
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-addr", srv, "-c", "2", "-n", "200", "-warmup", "0"}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if code != 130 || len(lines) != 3 || !strings.HasSuffix(lines[0], "(interrupted)") ||
		!strings.HasPrefix(lines[1], "baseline: workload=health c=2 n=200: ") || !strings.Contains(lines[1], "(100 requests in ") ||
		strings.HasSuffix(lines[1], "(interrupted)") || !strings.HasPrefix(lines[2], "ratio: ") {
		t.Errorf("exit %d, stderr %q, report:\n%s", code, stderr.String(), stdout.String())
	}
	if got := len(bl.requests()); got != 100 {
		t.Errorf("baseline server saw %d requests: the second half ran", got)
	}

	// In the first half.
	var m atomic.Int64
	srv = newCountingServer(t, func() { m.Add(1) })
	ctx, cancel = context.WithCancel(context.Background())
	var bn atomic.Int64
	baselineObserve = func(*http.Request) {
		if bn.Add(1) == 10 {
			cancel()
		}
	}
	stdout.Reset()
	stderr.Reset()
	code = run(ctx, []string{"-addr", srv, "-c", "2", "-n", "200", "-warmup", "0"}, &stdout, &stderr)
	if code != 130 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "srload: interrupted") || m.Load() != 1 {
		t.Errorf("exit %d, target saw %d requests (want the preflight), stdout %q, stderr %q", code, m.Load(), stdout.String(), stderr.String())
	}
}

// newCountingServer is a server that answers 200 to everything, calling
// each first.
func newCountingServer(t *testing.T, each func()) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		each()
		writeJSON(w, 200, map[string]any{"initialized": true})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBaselineHandlerWork: with work set (-serve-work), the handler takes at
// least that long per request and still answers a sealed envelope; without
// it, a request takes less than that on this machine's order of magnitude.
func TestBaselineHandlerWork(t *testing.T) {
	const work = 100 * time.Millisecond
	bh, err := newBaselineHandler(nil)
	if err != nil {
		t.Fatal(err)
	}
	serve := func() (time.Duration, *httptest.ResponseRecorder) {
		rec := httptest.NewRecorder()
		start := time.Now()
		bh.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/transit/encrypt/k", strings.NewReader(`{"plaintext":"QUFB"}`)))
		return time.Since(start), rec
	}
	bh.work = work
	took, rec := serve()
	if took < work {
		t.Errorf("a request with %v of work took %v", work, took)
	}
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ciphertext":"vault:v1:`) {
		t.Errorf("answer with work: %d %s", rec.Code, rec.Body)
	}
	bh.work = 0
	if took, _ := serve(); took >= work {
		t.Errorf("a request without work took %v", took)
	}
}

// TestServeBaseline runs `srload -serve-baseline 127.0.0.1:0`: it serves
// the baseline's answer over HTTP until interrupted, and a second srload
// measures it like any server.
func TestServeBaseline(t *testing.T) {
	if code := run(context.Background(), []string{"-serve-baseline", "not an address"}, io.Discard, io.Discard); code != 1 {
		t.Fatalf("a bad -serve-baseline address: exit %d, want 1", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-serve-baseline", "127.0.0.1:0"}, io.Discard, pw)
		pw.Close()
	}()
	line := make([]byte, 200)
	n, err := pr.Read(line)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`).FindSubmatch(line[:n])
	if m == nil {
		t.Fatalf("no address in %q", line[:n])
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr := string(m[1])

	resp, err := http.Post(addr+"/v1/transit/encrypt/k", "application/json", strings.NewReader(`{"plaintext":"QUFB"}`))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Data struct {
			Ciphertext string `json:"ciphertext"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(env.Data.Ciphertext, "vault:v1:") {
		t.Fatalf("answer: %d %+v %v", resp.StatusCode, env, err)
	}

	var out, errOut bytes.Buffer
	if c := run(context.Background(), []string{"-addr", addr, "-token", "x", "-workload", "transit-encrypt",
		"-c", "2", "-n", "50", "-warmup", "0", "-baseline=false", "-json"}, &out, &errOut); c != 0 {
		t.Fatalf("measuring the served baseline: exit %d, %s %s", c, out.String(), errOut.String())
	}
	var rep struct {
		Requests int64 `json:"requests"`
		Errors   int64 `json:"errors"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Requests != 50 || rep.Errors != 0 {
		t.Fatalf("report %s: %v", out.String(), err)
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d after the interrupt", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still serving after the interrupt")
	}
}

// -baseline-addr measures a baseline served elsewhere, in the same halves
// and with the workload's timed requests only; the in-process one is not
// started, and the report names the address. Bad uses are flag errors.
func TestBaselineAddr(t *testing.T) {
	fv, srv := newFakeVault(t)
	inProc := recordBaseline(t)
	var remote atomic.Int64
	bh, err := newBaselineHandler(func(*http.Request) { remote.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	served := httptest.NewServer(bh)
	t.Cleanup(served.Close)

	code, rep, errOut := runJSON(t, "-addr", srv.URL, "-token", testToken, "-workload", "kv2-read",
		"-keys", "20", "-c", "2", "-n", "31", "-warmup", "0", "-baseline-addr", served.URL)
	if code != 0 || rep == nil || rep.Baseline == nil {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := remote.Load(); got != 31 || rep.Baseline.Requests != 31 || rep.Baseline.Addr != served.URL {
		t.Errorf("served baseline saw %d requests; baseline report: %d requests, addr %q (want 31, %q)",
			got, rep.Baseline.Requests, rep.Baseline.Addr, served.URL)
	}
	if n := len(inProc.requests()); n != 0 {
		t.Errorf("the in-process baseline saw %d requests", n)
	}
	if got := len(fv.requests()); got != 1+1+20+31 {
		t.Errorf("target saw %d requests, want 1 + 21 setup + 31", got)
	}
	if rep.RatioThroughput == nil || *rep.RatioThroughput <= 0 {
		t.Errorf("no throughput ratio: %+v", rep.RatioThroughput)
	}

	for _, args := range [][]string{
		{"-baseline-addr", "127.0.0.1:8300"},
		{"-baseline-addr", served.URL, "-baseline=false"},
		{"-baseline-addr", served.URL, "-workload", "baseline"},
	} {
		if code, _, errOut := runTool(t, append([]string{"-addr", srv.URL, "-n", "5"}, args...)...); code != 2 ||
			!strings.Contains(errOut, "-baseline-addr") {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming -baseline-addr", args, code, errOut)
		}
	}
}
