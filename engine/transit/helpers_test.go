package transit

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/sealtest"
	"github.com/strongroom/strongroom/storage/tuple"
)

// RSA keys are slow to generate (a 4096-bit key takes seconds on a shared
// core), so tests share a small pool, generated once per test binary.
var (
	rsaPoolMu sync.Mutex
	rsaPool   = map[int][]*rsa.PrivateKey{}
	rsaNext   = map[int]int{}
)

// poolSizes is how many distinct keys of each size the pool holds.
var poolSizes = map[int]int{2048: 3, 3072: 1, 4096: 1}

// testRSA is an Options.GenerateRSA that serves pooled keys round robin.
func testRSA(_ io.Reader, bits int) (*rsa.PrivateKey, error) {
	rsaPoolMu.Lock()
	defer rsaPoolMu.Unlock()
	n := poolSizes[bits]
	if n == 0 {
		n = 1
	}
	for len(rsaPool[bits]) < n {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, err
		}
		rsaPool[bits] = append(rsaPool[bits], k)
	}
	i := rsaNext[bits] % n
	rsaNext[bits]++
	// A copy, so that wiping a policy does not wipe the pool.
	src := rsaPool[bits][i]
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: cloneBig(src.N), E: src.E}, D: cloneBig(src.D)}
	for _, p := range src.Primes {
		k.Primes = append(k.Primes, cloneBig(p))
	}
	k.Precompute()
	return k, nil
}

// testEnv is a backend over a real bolt store and barrier.
type testEnv struct {
	b       *Backend
	barrier *seal.Barrier
	view    *seal.View
}

func newEnv(t testing.TB, opts ...func(*Options)) *testEnv {
	t.Helper()
	bar := sealtest.Unsealed(t)
	view := bar.Sub(tuple.Pack("mount", "t"))
	o := Options{GenerateRSA: testRSA}
	for _, f := range opts {
		f(&o)
	}
	b := New(view, o)
	t.Cleanup(func() { _ = b.Close() })
	return &testEnv{b: b, barrier: bar, view: view}
}

func newBackend(t testing.TB) *Backend { return newEnv(t).b }

// call sends one request; body is marshalled to JSON unless it is nil,
// []byte or a string.
func call(t testing.TB, b *Backend, op engine.Operation, path string, body any) (*engine.Response, error) {
	t.Helper()
	var raw []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return b.HandleRequest(context.Background(), &engine.Request{Operation: op, Path: path, Body: raw, MountPath: "transit/"})
}

// data returns the response data as generic JSON, as a client sees it.
func data(t testing.TB, resp *engine.Response) map[string]any {
	t.Helper()
	if resp == nil || resp.Data == nil {
		return nil
	}
	raw, err := json.Marshal(resp.Data)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// ok sends a request that must succeed with status 200 or 204 and returns
// its data.
func ok(t testing.TB, b *Backend, op engine.Operation, path string, body any) map[string]any {
	t.Helper()
	resp, err := call(t, b, op, path, body)
	if err != nil {
		t.Fatalf("%v %s: %v", op, path, err)
	}
	if resp != nil && resp.Status != 0 && resp.Status != 200 {
		t.Fatalf("%v %s: status %d: %v", op, path, resp.Status, data(t, resp))
	}
	return data(t, resp)
}

// fails sends a request that must fail with a 400 and returns the message.
func fails(t testing.TB, b *Backend, op engine.Operation, path string, body any) string {
	t.Helper()
	resp, err := call(t, b, op, path, body)
	if err == nil {
		t.Fatalf("%v %s: succeeded with %v", op, path, data(t, resp))
	}
	if !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("%v %s: error %v is not a bad request", op, path, err)
	}
	return err.Error()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// str returns m[k] as a string.
func str(t testing.TB, m map[string]any, k string) string {
	t.Helper()
	s, okk := m[k].(string)
	if !okk {
		t.Fatalf("%s is %T (%v), not a string", k, m[k], m[k])
	}
	return s
}

func num(t testing.TB, m map[string]any, k string) int {
	t.Helper()
	f, okk := m[k].(float64)
	if !okk {
		t.Fatalf("%s is %T (%v), not a number", k, m[k], m[k])
	}
	return int(f)
}

func wantContains(t testing.TB, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("got %q, want it to contain %q", got, want)
	}
}

// results returns the batch_results of a response.
func results(t testing.TB, m map[string]any) []map[string]any {
	t.Helper()
	raw, okk := m["batch_results"].([]any)
	if !okk {
		t.Fatalf("no batch_results in %v", m)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

var allTypes = []string{
	"aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "xchacha20-poly1305",
	"ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072", "rsa-4096", "hmac",
}

var aeadTypes = []string{"aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "xchacha20-poly1305"}
