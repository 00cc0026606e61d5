package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The transit workloads, on a transit mount (-transit-mount, default
// "transit", which must already exist: `vault secrets enable transit`) with
// the key -key (default "srload"):
//
//	transit-encrypt        POST /v1/<mount>/encrypt/<key> {"plaintext":"<base64 of -size random bytes>"}
//	transit-decrypt        POST /v1/<mount>/decrypt/<key> {"ciphertext":"vault:v1:..."}, round robin
//	                       over a pool of 64 ciphertexts made by the setup
//	transit-batch-encrypt  POST /v1/<mount>/encrypt/<key> {"batch_input":[{"plaintext":...}, ... -batch items]};
//	                       the report adds items/s (req/s × -batch)
//
// The setup of each (on the target only, as every setup) creates the key:
// POST /v1/<mount>/keys/<key> {"type":"<-key-type>"}. A key that exists
// already is kept (Vault answers 204 or 200, Strongroom 200 with a
// warning; a 400 "already exists" is taken as that too), and when
// GET /v1/<mount>/keys/<key> says its type is not -key-type the run stops
// rather than measure another key type (when that GET fails, for a token
// that may not read keys, the type is not checked).
//
// Then the setup checks that the mount is a transit engine, since another
// engine could answer 2xx to the timed requests (a KV v1 mount takes the
// POST as a write): transit-encrypt sends its first request body and
// wants data.ciphertext "vault:v<n>:...", transit-batch-encrypt likewise
// for each of the -batch items of data.batch_results; transit-decrypt
// encrypts the 64 plaintexts of its pool one by one (-size random bytes
// each), checks each ciphertext so, and decrypts the first one back to its
// plaintext.
//
// The bodies are built before the run (for transit-decrypt, by its setup):
// 16 different plaintexts for transit-encrypt; 16 different batches for
// transit-batch-encrypt, fewer when they would take more than 64 MiB; the
// 64 ciphertexts of the pool for transit-decrypt. Each worker goes round
// robin over them from its own offset.
//
// The baseline server gets exactly the same bodies. For transit-decrypt
// these are the target's ciphertexts: the target's setup runs before the
// baseline's first half (see run in main.go). Until the setup has run, the
// pool holds placeholders of the same shape and length, "vault:v1:" and the
// base64 of as many random bytes as an AES-GCM ciphertext of -size bytes
// (nonce, ciphertext, tag); they are sent only where no setup runs (the
// benchmarks of srload itself).

const (
	transitDistinctBodies = 16
	transitDecryptPool    = 64
	transitMaxBodyBytes   = 64 << 20
	// transitCiphertextPrefix starts every transit ciphertext: "vault:v"
	// and the key version.
	transitCiphertextPrefix = "vault:v"
)

type transitOp int

const (
	transitEncrypt transitOp = iota
	transitDecrypt
	transitBatchEncrypt
)

func init() {
	const notFound = " (check -transit-mount: a transit secrets engine must be mounted there, e.g. `vault secrets enable transit`)"
	for _, w := range []struct {
		name, summary string
		op            transitOp
	}{
		{"transit-encrypt", `POST /v1/<transit-mount>/encrypt/<key> {"plaintext":...} (setup creates the key)`, transitEncrypt},
		{"transit-decrypt", `POST /v1/<transit-mount>/decrypt/<key> {"ciphertext":...}, over 64 ciphertexts made by the setup`, transitDecrypt},
		{"transit-batch-encrypt", `POST /v1/<transit-mount>/encrypt/<key> {"batch_input":[-batch items]}; reports items/s too`, transitBatchEncrypt},
	} {
		register(workloadInfo{
			name:           w.name,
			summary:        "transit: " + w.summary,
			usesTransitKey: true,
			batch:          w.op == transitBatchEncrypt,
			needsUnsealed:  true,
			notFoundHint:   notFound,
			build:          transitBuilder(w.op),
		})
	}
}

type transitWorkload struct {
	cfg         *config
	op          transitOp
	mount       string // -transit-mount without its slashes
	keyPath     string // /v1/<mount>/keys/<key>
	encryptPath string // /v1/<mount>/encrypt/<key>
	path        string // of the timed requests
	bodies      []*body
	plaintexts  []string // transit-decrypt: the pool's plaintexts, base64
}

// The request bodies.
type (
	transitPlaintext struct {
		Plaintext string `json:"plaintext"`
	}
	transitCiphertext struct {
		Ciphertext string `json:"ciphertext"`
	}
	transitBatch struct {
		BatchInput []transitPlaintext `json:"batch_input"`
	}
)

// transitAnswer is the part of transit's answers the setup looks at.
type transitAnswer struct {
	Data struct {
		Type         string `json:"type"` // keys/<key>
		Ciphertext   string `json:"ciphertext"`
		Plaintext    string `json:"plaintext"`
		BatchResults []struct {
			Ciphertext string `json:"ciphertext"`
			Error      string `json:"error"`
		} `json:"batch_results"`
	} `json:"data"`
}

func transitBuilder(op transitOp) func(cfg *config) (workload, error) {
	return func(cfg *config) (workload, error) {
		mount := strings.Trim(cfg.transitMount, "/")
		switch {
		case mount == "":
			return nil, fmt.Errorf("-transit-mount is empty")
		case cfg.transitKey == "" || strings.Contains(cfg.transitKey, "/"):
			return nil, fmt.Errorf("-key %q is not a key name", cfg.transitKey)
		case cfg.keyType == "":
			return nil, fmt.Errorf("-key-type is empty")
		}
		prefix := "/v1/" + mount + "/"
		w := &transitWorkload{
			cfg:         cfg,
			op:          op,
			mount:       mount,
			keyPath:     prefix + "keys/" + cfg.transitKey,
			encryptPath: prefix + "encrypt/" + cfg.transitKey,
			path:        prefix + "encrypt/" + cfg.transitKey,
		}
		var bodies []any
		switch op {
		case transitEncrypt:
			for range transitDistinctBodies {
				bodies = append(bodies, transitPlaintext{randomBase64(cfg.size)})
			}
		case transitBatchEncrypt:
			item := len(`{"plaintext":""},`) + base64.StdEncoding.EncodedLen(cfg.size)
			n := min(transitDistinctBodies, max(1, transitMaxBodyBytes/(cfg.batch*item)))
			for range n {
				b := transitBatch{BatchInput: make([]transitPlaintext, cfg.batch)}
				for i := range b.BatchInput {
					b.BatchInput[i].Plaintext = randomBase64(cfg.size)
				}
				bodies = append(bodies, b)
			}
		case transitDecrypt:
			w.path = prefix + "decrypt/" + cfg.transitKey
			for range transitDecryptPool {
				w.plaintexts = append(w.plaintexts, randomBase64(cfg.size))
				placeholder := "vault:v1:" + randomBase64(12+cfg.size+16)
				bodies = append(bodies, transitCiphertext{placeholder})
			}
		}
		var err error
		if w.bodies, err = jsonBodies(bodies); err != nil {
			return nil, err
		}
		return w, nil
	}
}

// randomBase64 is the base64 of n random bytes.
func randomBase64(n int) string {
	raw := make([]byte, n)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func jsonBodies(vs []any) ([]*body, error) {
	out := make([]*body, len(vs))
	for i, v := range vs {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[i] = newBody(data)
	}
	return out, nil
}

func (w *transitWorkload) worker(id int, t *target) func() *http.Request {
	n := len(w.bodies)
	p := &keyPicker{n: n, next: int(int64(id) * int64(n) / int64(max(w.cfg.conns, 1)))}
	return func() *http.Request {
		return t.request(http.MethodPost, w.path, "", w.bodies[p.pick()])
	}
}

func (w *transitWorkload) setup(ctx context.Context, r *runner) error {
	start := time.Now()
	t := newTarget(ctx, r.base, r.cfg)
	if err := w.createKey(r, t); err != nil {
		return err
	}
	switch w.op {
	case transitEncrypt:
		if _, err := w.encrypt(r, t, w.bodies[0]); err != nil {
			return err
		}
	case transitBatchEncrypt:
		req := t.request(http.MethodPost, w.path, "", w.bodies[0])
		var ans transitAnswer
		if _, err := r.callJSON(req, &ans); err != nil {
			return err
		}
		results := ans.Data.BatchResults
		if len(results) != w.cfg.batch {
			return fmt.Errorf("%s %s: %d items in data.batch_results for %d in batch_input; is -transit-mount %s a transit mount?",
				req.Method, req.URL.Path, len(results), w.cfg.batch, w.cfg.transitMount)
		}
		for i, res := range results {
			if res.Error != "" {
				return fmt.Errorf("%s %s: item %d failed: %s", req.Method, req.URL.Path, i, res.Error)
			}
			if err := w.checkCiphertext(req, fmt.Sprintf("data.batch_results[%d].ciphertext", i), res.Ciphertext); err != nil {
				return err
			}
		}
	case transitDecrypt:
		if err := w.fillPool(r, t); err != nil {
			return err
		}
	}
	r.logf("setup: done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// createKey creates the key, or keeps it when it exists, and checks its
// type when it may be read.
func (w *transitWorkload) createKey(r *runner, t *target) error {
	data, err := json.Marshal(map[string]string{"type": w.cfg.keyType})
	if err != nil {
		return err
	}
	req := t.request(http.MethodPost, w.keyPath, "", newBody(data))
	status, errBody, err := call(r.client, req)
	r.setupRequests.Add(1)
	switch {
	case err == nil && status/100 == 2:
	case err == nil && status == http.StatusBadRequest && strings.Contains(errBody, "already exist"):
	default:
		return fmt.Errorf("%s %s: %s%s", req.Method, req.URL.Path, describeFailure(status, errBody, err), r.hint(status))
	}
	var desc transitAnswer
	if _, err := r.callJSON(t.get(w.keyPath, ""), &desc); err != nil {
		r.logf("setup: the type of the key is not checked: %v", err)
	} else if typ := desc.Data.Type; typ != "" && typ != w.cfg.keyType {
		return fmt.Errorf("the key %s exists with type %s, not -key-type %s: give -key-type %s, or another -key",
			w.keyPath, typ, w.cfg.keyType, typ)
	}
	r.logf("setup: key %s (%s) ready", w.keyPath, w.cfg.keyType)
	return nil
}

// encrypt sends one encrypt request of body b and returns its checked
// ciphertext.
func (w *transitWorkload) encrypt(r *runner, t *target, b *body) (string, error) {
	req := t.request(http.MethodPost, w.encryptPath, "", b)
	var ans transitAnswer
	if _, err := r.callJSON(req, &ans); err != nil {
		return "", err
	}
	return ans.Data.Ciphertext, w.checkCiphertext(req, "data.ciphertext", ans.Data.Ciphertext)
}

// checkCiphertext fails when field of the answer to req is not a transit
// ciphertext: a mount of another engine.
func (w *transitWorkload) checkCiphertext(req *http.Request, field, ciphertext string) error {
	if strings.HasPrefix(ciphertext, transitCiphertextPrefix) {
		return nil
	}
	shown := ciphertext
	if len(shown) > 40 {
		shown = shown[:40] + "..."
	}
	return fmt.Errorf("%s %s: the answer has no transit ciphertext (%s %q, want \"vault:v1:...\"): is -transit-mount %s a transit mount?",
		req.Method, req.URL.Path, field, shown, w.cfg.transitMount)
}

// fillPool encrypts the plaintexts of the decrypt pool, replaces the
// placeholders with their ciphertexts, and checks that the first decrypts
// back to its plaintext.
func (w *transitWorkload) fillPool(r *runner, t *target) error {
	r.logf("setup: encrypting the %d plaintexts of the decrypt pool", len(w.plaintexts))
	ciphertexts := make([]any, len(w.plaintexts))
	for i, p := range w.plaintexts {
		data, err := json.Marshal(transitPlaintext{p})
		if err != nil {
			return err
		}
		c, err := w.encrypt(r, t, newBody(data))
		if err != nil {
			return err
		}
		ciphertexts[i] = transitCiphertext{c}
	}
	bodies, err := jsonBodies(ciphertexts)
	if err != nil {
		return err
	}
	req := t.request(http.MethodPost, w.path, "", bodies[0])
	var ans transitAnswer
	if _, err := r.callJSON(req, &ans); err != nil {
		return err
	}
	if ans.Data.Plaintext != w.plaintexts[0] {
		return fmt.Errorf("%s %s: data.plaintext is not the plaintext that was encrypted: is -transit-mount %s a transit mount?",
			req.Method, req.URL.Path, w.cfg.transitMount)
	}
	w.bodies = bodies
	return nil
}
