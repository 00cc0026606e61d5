package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveTransit imitates a transit mount at transit/: keys/<name> (POST
// creates unless it exists, GET describes), encrypt/<name> (plaintext or
// batch_input) and decrypt/<name>. It encrypts and decrypts nothing: a
// ciphertext is "vault:v1:" and the base64 of "<key>|<plaintext>", so that a
// decrypt of a ciphertext it did not make, or made under another key,
// fails. Unlike Vault, encrypt does not create a missing key.
func (fv *fakeVault) serveTransit(w http.ResponseWriter, r *http.Request, body []byte) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/transit/")
	op, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		vaultError(w, 404, "unsupported path")
		return
	}
	fv.mu.Lock()
	if fv.transitKeys == nil {
		fv.transitKeys = map[string]string{}
	}
	typ, exists := fv.transitKeys[name]
	fv.mu.Unlock()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()

	switch {
	case op == "keys" && r.Method == http.MethodPost:
		var in struct {
			Type string `json:"type"`
		}
		if err := dec.Decode(&in); err != nil {
			vaultError(w, 400, "bad JSON: "+err.Error())
			return
		}
		fv.mu.Lock()
		defer fv.mu.Unlock()
		if exists {
			fv.transitExists++
			if fv.transitExists400 {
				vaultError(w, 400, fmt.Sprintf("key %q already exists", name))
				return
			}
			writeJSON(w, 200, map[string]any{"data": map[string]any{"name": name, "type": typ}})
			return
		}
		if in.Type == "" {
			in.Type = "aes256-gcm96"
		}
		fv.transitKeys[name] = in.Type
		w.WriteHeader(204) // as Vault before 1.14
	case op == "keys" && r.Method == http.MethodGet:
		if !exists {
			writeJSON(w, 404, map[string][]string{"errors": {}})
			return
		}
		writeJSON(w, 200, map[string]any{"data": map[string]any{"name": name, "type": typ, "latest_version": 1}})
	case (op == "encrypt" || op == "decrypt") && r.Method == http.MethodPost:
		if !exists {
			vaultError(w, 400, "encryption key not found")
			return
		}
		var in struct {
			Plaintext  *string `json:"plaintext"`
			Ciphertext *string `json:"ciphertext"`
			BatchInput []struct {
				Plaintext string `json:"plaintext"`
			} `json:"batch_input"`
		}
		if err := dec.Decode(&in); err != nil {
			vaultError(w, 400, "bad JSON: "+err.Error())
			return
		}
		encrypt := func(p string) (string, error) {
			raw, err := base64.StdEncoding.DecodeString(p)
			if err != nil {
				return "", fmt.Errorf("failed to base64-decode plaintext")
			}
			return "vault:v1:" + base64.StdEncoding.EncodeToString(append([]byte(name+"|"), raw...)), nil
		}
		switch {
		case op == "encrypt" && in.Plaintext != nil && in.Ciphertext == nil && in.BatchInput == nil:
			c, err := encrypt(*in.Plaintext)
			if err != nil {
				vaultError(w, 400, err.Error())
				return
			}
			writeJSON(w, 200, map[string]any{"data": map[string]any{"ciphertext": c, "key_version": 1}})
		case op == "encrypt" && in.Plaintext == nil && in.Ciphertext == nil && len(in.BatchInput) > 0:
			var results []map[string]any
			for _, item := range in.BatchInput {
				c, err := encrypt(item.Plaintext)
				if err != nil {
					vaultError(w, 400, err.Error())
					return
				}
				results = append(results, map[string]any{"ciphertext": c, "key_version": 1})
			}
			writeJSON(w, 200, map[string]any{"data": map[string]any{"batch_results": results}})
		case op == "decrypt" && in.Ciphertext != nil && in.Plaintext == nil && in.BatchInput == nil:
			b64, ok := strings.CutPrefix(*in.Ciphertext, "vault:v1:")
			raw, err := base64.StdEncoding.DecodeString(b64)
			key, plain, ok2 := strings.Cut(string(raw), "|")
			if !ok || err != nil || !ok2 || key != name {
				vaultError(w, 400, "cipher: message authentication failed")
				return
			}
			writeJSON(w, 200, map[string]any{"data": map[string]any{
				"plaintext": base64.StdEncoding.EncodeToString([]byte(plain))}})
		default:
			vaultError(w, 400, "missing plaintext or ciphertext")
		}
	default:
		vaultError(w, 405, "unsupported operation")
	}
}

// transitBody is any body srload sends to transit, decoded strictly.
type transitBody struct {
	Type       *string            `json:"type"`
	Plaintext  *string            `json:"plaintext"`
	Ciphertext *string            `json:"ciphertext"`
	BatchInput []transitPlaintext `json:"batch_input"`
}

func decodeTransitBody(t *testing.T, r seenRequest) transitBody {
	t.Helper()
	var b transitBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("%s %s: body %s: %v", r.method, r.path, r.body, err)
	}
	return b
}

// checkPlaintext checks that p is the base64 of size bytes.
func checkPlaintext(t *testing.T, p string, size int) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(p)
	if err != nil || len(raw) != size {
		t.Fatalf("plaintext %q: %d bytes, err %v; want %d base64-encoded bytes", p, len(raw), err, size)
	}
}

// checkTransitRequest checks one transit request of srload: a POST to path
// with the token, the namespace and a JSON body, which it returns.
func checkTransitRequest(t *testing.T, r seenRequest, path string) transitBody {
	t.Helper()
	if r.method != "POST" || r.path != path || r.query != "" {
		t.Fatalf("request %s %s?%s, want POST %s", r.method, r.path, r.query, path)
	}
	if r.token != testToken || r.namespace != "team1" || r.userAgent != userAgent || r.ctype != "application/json" {
		t.Fatalf("%s %s: token %q namespace %q user agent %q Content-Type %q", r.method, r.path, r.token, r.namespace, r.userAgent, r.ctype)
	}
	return decodeTransitBody(t, r)
}

func TestTransitRequestShapes(t *testing.T) {
	const (
		n     = 300
		size  = 33
		batch = 7
	)
	for _, tc := range []struct {
		workload string
		path     string // of the timed requests
		setup    int    // setup requests after keys/ POST and GET
	}{
		{"transit-encrypt", "/v1/transit/encrypt/bench", 1},
		{"transit-batch-encrypt", "/v1/transit/encrypt/bench", 1},
		{"transit-decrypt", "/v1/transit/decrypt/bench", transitDecryptPool + 1},
	} {
		t.Run(tc.workload, func(t *testing.T) {
			fv, srv := newFakeVault(t)
			bl := recordBaseline(t)
			code, rep, errOut := runJSON(t, "-addr", srv.URL, "-token", testToken, "-namespace", "team1",
				"-workload", tc.workload, "-c", "4", "-n", fmt.Sprint(n), "-warmup", "0",
				"-size", fmt.Sprint(size), "-batch", fmt.Sprint(batch), "-transit-mount", "/transit/", "-key", "bench")
			if code != 0 || rep == nil {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			setup := 2 + tc.setup
			if rep.Requests != n || rep.OK != n || rep.Errors != 0 || rep.SetupRequests != int64(setup) {
				t.Errorf("report: requests %d ok %d errors %d setup %d, want %d ok and %d setup",
					rep.Requests, rep.OK, rep.Errors, rep.SetupRequests, n, setup)
			}
			if rep.Mount != "/transit/" || rep.TransitKey != "bench" || rep.KeyType != "aes256-gcm96" || rep.Size != size ||
				rep.Keys != 0 || rep.KeyPrefix != "" {
				t.Errorf("report: mount %q transit_key %q key_type %q size %d keys %d key_prefix %q",
					rep.Mount, rep.TransitKey, rep.KeyType, rep.Size, rep.Keys, rep.KeyPrefix)
			}
			b := rep.Baseline
			if b == nil || b.Requests != n || b.OK != n || b.SetupRequests != 0 || b.TransitKey != "bench" {
				t.Fatalf("baseline %+v", b)
			}
			if tc.workload == "transit-batch-encrypt" {
				if rep.Batch != batch || rep.ItemsPerSecond == nil || *rep.ItemsPerSecond != rep.Throughput*batch ||
					b.ItemsPerSecond == nil || *b.ItemsPerSecond != b.Throughput*batch {
					t.Errorf("batch %d, items_per_second %v (throughput %v), baseline %v (%v)",
						rep.Batch, rep.ItemsPerSecond, rep.Throughput, b.ItemsPerSecond, b.Throughput)
				}
			} else if rep.Batch != 0 || rep.ItemsPerSecond != nil || b.ItemsPerSecond != nil {
				t.Errorf("batch %d, items_per_second %v without batches", rep.Batch, rep.ItemsPerSecond)
			}

			seen := fv.requests()
			if p := seen[0]; p.method != "GET" || p.path != "/v1/sys/health" {
				t.Fatalf("first request %s %s, want the preflight health check", p.method, p.path)
			}
			seen = seen[1:]
			if len(seen) != setup+n {
				t.Fatalf("server saw %d requests after the preflight, want %d setup + %d", len(seen), setup, n)
			}
			// The setup: the key created and described, then the checks.
			if in := checkTransitRequest(t, seen[0], "/v1/transit/keys/bench"); in.Type == nil || *in.Type != "aes256-gcm96" ||
				in.Plaintext != nil || in.Ciphertext != nil || in.BatchInput != nil {
				t.Errorf("key creation body %s", seen[0].body)
			}
			if g := seen[1]; g.method != "GET" || g.path != "/v1/transit/keys/bench" || g.token != testToken {
				t.Errorf("second setup request %s %s", g.method, g.path)
			}
			fv.mu.Lock()
			typ := fv.transitKeys["bench"]
			fv.mu.Unlock()
			if typ != "aes256-gcm96" {
				t.Errorf("key type %q", typ)
			}
			pool := map[string]bool{} // transit-decrypt: the ciphertexts of the setup
			for i, r := range seen[2:setup] {
				switch {
				case tc.workload == "transit-decrypt" && i < transitDecryptPool:
					in := checkTransitRequest(t, r, "/v1/transit/encrypt/bench")
					if in.Plaintext == nil || in.BatchInput != nil || in.Ciphertext != nil {
						t.Fatalf("pool encryption body %s", r.body)
					}
					checkPlaintext(t, *in.Plaintext, size)
					pool["vault:v1:"+base64.StdEncoding.EncodeToString(append([]byte("bench|"), mustBase64(t, *in.Plaintext)...))] = true
				default: // the check: a request of the workload
					checkTimedTransit(t, tc.workload, tc.path, r, size, batch, nil)
				}
			}
			if tc.workload == "transit-decrypt" && len(pool) != transitDecryptPool {
				t.Errorf("pool of %d distinct ciphertexts, want %d", len(pool), transitDecryptPool)
			}

			// The timed requests, on the target and on the baseline server
			// (which gets no setup): the same shapes; for transit-decrypt,
			// the ciphertexts of the target's pool.
			seenBodies := map[string]bool{}
			for _, r := range seen[setup:] {
				checkTimedTransit(t, tc.workload, tc.path, r, size, batch, pool)
				seenBodies[string(r.body)] = true
			}
			bseen := bl.requests()
			if len(bseen) != n {
				t.Fatalf("baseline server saw %d requests, want %d", len(bseen), n)
			}
			for _, r := range bseen {
				checkTimedTransit(t, tc.workload, tc.path, r, size, batch, pool)
				seenBodies[string(r.body)] = true
			}
			want := transitDistinctBodies
			if tc.workload == "transit-decrypt" {
				want = transitDecryptPool
			}
			if len(seenBodies) != want {
				t.Errorf("%d distinct bodies, want %d", len(seenBodies), want)
			}
		})
	}
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// checkTimedTransit checks a request of a transit workload; the
// ciphertext of a decrypt must be in pool when pool is not nil.
func checkTimedTransit(t *testing.T, workload, path string, r seenRequest, size, batch int, pool map[string]bool) {
	t.Helper()
	in := checkTransitRequest(t, r, path)
	if in.Type != nil {
		t.Fatalf("body with a type: %s", r.body)
	}
	switch workload {
	case "transit-encrypt":
		if in.Plaintext == nil || in.Ciphertext != nil || in.BatchInput != nil {
			t.Fatalf("encrypt body %s", r.body)
		}
		checkPlaintext(t, *in.Plaintext, size)
	case "transit-batch-encrypt":
		if in.Plaintext != nil || in.Ciphertext != nil || len(in.BatchInput) != batch {
			t.Fatalf("batch encrypt body with %d items, want %d: %s", len(in.BatchInput), batch, r.body)
		}
		distinct := map[string]bool{}
		for _, item := range in.BatchInput {
			checkPlaintext(t, item.Plaintext, size)
			distinct[item.Plaintext] = true
		}
		if len(distinct) != batch {
			t.Errorf("batch of %d items with %d distinct plaintexts", batch, len(distinct))
		}
	case "transit-decrypt":
		if in.Ciphertext == nil || in.Plaintext != nil || in.BatchInput != nil {
			t.Fatalf("decrypt body %s", r.body)
		}
		if pool != nil && !pool[*in.Ciphertext] {
			t.Fatalf("decrypt of %q, not a ciphertext of the setup", *in.Ciphertext)
		}
	}
}

// The setup stops a run on a mount that is not transit, a key of another
// type, a wrong token; a key that exists with the type is kept.
func TestTransitSetup(t *testing.T) {
	fv, srv := newFakeVault(t)
	common := []string{"-addr", srv.URL, "-token", testToken, "-c", "2", "-n", "20", "-warmup", "0"}
	args := func(extra ...string) []string { return append(append([]string(nil), common...), extra...) }

	// A second run keeps the key of the first, whether the server answers
	// the creation 200 (Strongroom, Vault 1.14+) or 400 "already exists".
	for i, workload := range []string{"transit-encrypt", "transit-decrypt", "transit-batch-encrypt"} {
		fv.mu.Lock()
		fv.transitExists400 = i == 2
		fv.mu.Unlock()
		if code, out, errOut := runTool(t, args("-workload", workload)...); code != 0 ||
			!strings.Contains(errOut, "setup: key /v1/transit/keys/srload (aes256-gcm96) ready") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", workload, code, out, errOut)
		}
	}
	fv.mu.Lock()
	if len(fv.transitKeys) != 1 || fv.transitKeys["srload"] != "aes256-gcm96" || fv.transitExists != 2 {
		t.Errorf("keys %v, %d creations of an existing key", fv.transitKeys, fv.transitExists)
	}
	fv.transitExists400 = false
	fv.mu.Unlock()

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"KV v1 mount", []string{"-workload", "transit-encrypt", "-transit-mount", "kv"},
			[]string{"setup: POST /v1/kv/encrypt/srload: the answer has no transit ciphertext", "is -transit-mount kv a transit mount?"}},
		{"KV v1 mount, batch", []string{"-workload", "transit-batch-encrypt", "-transit-mount", "kv"},
			[]string{"setup: POST /v1/kv/encrypt/srload: 0 items in data.batch_results for 100", "is -transit-mount kv a transit mount?"}},
		{"KV v1 mount, decrypt", []string{"-workload", "transit-decrypt", "-transit-mount", "kv"},
			[]string{"setup: POST /v1/kv/encrypt/srload: the answer has no transit ciphertext", "is -transit-mount kv a transit mount?"}},
		{"no mount", []string{"-workload", "transit-encrypt", "-transit-mount", "nope"},
			[]string{"setup: POST /v1/nope/keys/srload: 404 Not Found", "check -transit-mount"}},
		{"wrong token", []string{"-workload", "transit-decrypt", "-token", "wrong"},
			[]string{"setup: POST /v1/transit/keys/srload: 403 Forbidden", "check -token"}},
		{"other key type", []string{"-workload", "transit-encrypt", "-key-type", "chacha20-poly1305"},
			[]string{"the key /v1/transit/keys/srload exists with type aes256-gcm96, not -key-type chacha20-poly1305"}},
		{"bad key name", []string{"-workload", "transit-encrypt", "-key", "a/b"}, []string{`-key "a/b" is not a key name`}},
	} {
		start := time.Now()
		code, out, errOut := runTool(t, args(tc.args...)...)
		if code != 1 || out != "" {
			t.Errorf("%s: exit %d, stdout %q", tc.name, code, out)
		}
		for _, want := range tc.want {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: stderr %q lacks %q", tc.name, errOut, want)
			}
		}
		if strings.Contains(errOut, "baseline") || time.Since(start) > 10*time.Second {
			t.Errorf("%s: stopped after %v, stderr %q; should stop in the setup", tc.name, time.Since(start), errOut)
		}
	}

	// A new key gets -key-type.
	if code, _, errOut := runTool(t, args("-workload", "transit-encrypt", "-key", "cc", "-key-type", "chacha20-poly1305")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	fv.mu.Lock()
	if typ := fv.transitKeys["cc"]; typ != "chacha20-poly1305" {
		t.Errorf("key cc of type %q", typ)
	}
	fv.mu.Unlock()

	if code, _, errOut := runTool(t, args("-workload", "transit-batch-encrypt", "-batch", "0")...); code != 2 || !strings.Contains(errOut, "-batch must be at least 1") {
		t.Errorf("-batch 0: exit %d, stderr %q", code, errOut)
	}
}

// Items/s is req/s × -batch, in the text report and in the JSON, for the
// baseline too.
func TestTransitBatchReport(t *testing.T) {
	stats := func(ok int) *runStats {
		h := newHistogram()
		for range ok {
			h.record(time.Millisecond)
		}
		return &runStats{started: time.Unix(0, 0), elapsed: 2 * time.Second, hist: h, ok: int64(ok),
			errors: map[int]int64{}, samples: map[int]string{}}
	}
	cfg := &config{addr: "http://x", workload: "transit-batch-encrypt", conns: 32, duration: 10 * time.Second,
		size: 128, keys: 1000, mount: "secret", keyPrefix: "srload-", transitMount: "transit", transitKey: "srload",
		keyType: "aes256-gcm96", batch: 100}
	info := workloads[cfg.workload]
	rep := newReport(cfg, info, stats(1000), nil)
	base := newReport(cfg, info, stats(1250), nil)
	base.Addr = inProcessAddr
	rep.setBaseline(base)

	var b strings.Builder
	if err := rep.writeText(&b); err != nil {
		t.Fatal(err)
	}
	want := "workload=transit-batch-encrypt c=32 d=10s size=128 key=srload key-type=aes256-gcm96 batch=100: " +
		"500 req/s 50000 items/s (1000 requests in 2.00s), " +
		"mean 1.00ms p50 1.00ms p90 1.00ms p99 1.00ms p99.9 1.00ms max 1.00ms, errors 0\n" +
		"baseline: workload=transit-batch-encrypt c=32 d=10s size=128 key=srload key-type=aes256-gcm96 batch=100: " +
		"625 req/s 62500 items/s (1250 requests in 2.00s), " +
		"mean 1.00ms p50 1.00ms p90 1.00ms p99 1.00ms p99.9 1.00ms max 1.00ms, errors 0\n" +
		"ratio: throughput 0.80 of baseline, p99 1.0x baseline\n"
	if b.String() != want {
		t.Errorf("text report\n got %q\nwant %q", b.String(), want)
	}

	var buf bytes.Buffer
	if err := rep.writeJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(buf.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	bj, _ := top["baseline"].(map[string]any)
	if top["items_per_second"] != 50000.0 || top["throughput_rps"] != 500.0 || top["batch"] != 100.0 ||
		top["transit_key"] != "srload" || top["key_type"] != "aes256-gcm96" || top["mount"] != "transit" ||
		top["keys"] != nil || top["key_prefix"] != nil || bj == nil || bj["items_per_second"] != 62500.0 {
		t.Errorf("JSON %s", buf.Bytes())
	}

	// Without batches: req/s alone, no batch fields.
	cfg.workload = "transit-encrypt"
	b.Reset()
	buf.Reset()
	rep = newReport(cfg, workloads[cfg.workload], stats(1000), nil)
	_ = rep.writeText(&b)
	_ = rep.writeJSON(&buf)
	if !strings.HasPrefix(b.String(), "workload=transit-encrypt c=32 d=10s size=128 key=srload key-type=aes256-gcm96: 500 req/s (1000 requests in 2.00s), ") ||
		strings.Contains(buf.String(), "items_per_second") || strings.Contains(buf.String(), `"batch"`) {
		t.Errorf("transit-encrypt: text %q, JSON %s", b.String(), buf.Bytes())
	}
}

// A transit workload's requests can be built without its setup (the
// placeholders of the decrypt pool), from any worker.
func TestTransitWorkerWithoutSetup(t *testing.T) {
	cfg := &config{conns: 3, size: 10, transitMount: "transit", transitKey: "k", keyType: "aes256-gcm96", batch: 2}
	base, _ := parseAddr("http://127.0.0.1:8200")
	w, err := workloads["transit-decrypt"].build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for id := range cfg.conns {
		req := w.worker(id, newTarget(context.Background(), base, cfg))()
		var in transitCiphertext
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil || req.URL.Path != "/v1/transit/decrypt/k" {
			t.Fatalf("worker %d: %s %s: %v", id, req.Method, req.URL, err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(in.Ciphertext, "vault:v1:"))
		if !strings.HasPrefix(in.Ciphertext, "vault:v1:") || err != nil || len(raw) != 12+10+16 {
			t.Errorf("placeholder %q: %d bytes, %v", in.Ciphertext, len(raw), err)
		}
	}
}
