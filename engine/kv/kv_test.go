package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/sealtest"
	"github.com/strongroom/strongroom/storage/tuple"
)

// newView returns the view of a mount on a fresh bolt store behind an
// initialised, unsealed barrier.
func newView(t testing.TB) *seal.View {
	t.Helper()
	return sealtest.Unsealed(t).Sub(tuple.Pack("mount", "test"))
}

// testClock is an injectable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts the reads of the store it wraps.
type countingStore struct {
	store
	mu       sync.Mutex
	gets     int
	lists    int
	maxLimit int
	unpaged  bool // a List without limit was made
}

type countingReader struct {
	reader
	c *countingStore
}

func (r countingReader) Get(key []byte) ([]byte, error) {
	r.c.mu.Lock()
	r.c.gets++
	r.c.mu.Unlock()
	return r.reader.Get(key)
}

func (r countingReader) GetDecoded(c *seal.DecodedCache, key []byte, decode func([]byte) (any, error)) (any, error) {
	r.c.mu.Lock()
	r.c.gets++
	r.c.mu.Unlock()
	return r.reader.GetDecoded(c, key, decode)
}

func (r countingReader) List(prefix, after []byte, limit int) ([][]byte, error) {
	r.c.mu.Lock()
	r.c.lists++
	if limit == 0 {
		r.c.unpaged = true
	}
	r.c.maxLimit = max(r.c.maxLimit, limit)
	r.c.mu.Unlock()
	return r.reader.List(prefix, after, limit)
}

func (c *countingStore) view(ctx context.Context, fn func(r reader) error) error {
	return c.store.view(ctx, func(r reader) error { return fn(countingReader{r, c}) })
}

type v2Env struct {
	b     *v2Backend
	view  *seal.View
	clock *testClock
}

func newV2(t testing.TB) *v2Env {
	t.Helper()
	view := newView(t)
	clock := newClock()
	b := NewV2(view, Options{Now: clock.Now}).(*v2Backend)
	return &v2Env{b: b, view: view, clock: clock}
}

func newV1(t testing.TB) (*v1Backend, *seal.View) {
	t.Helper()
	view := newView(t)
	return NewV1(view, Options{}).(*v1Backend), view
}

// call makes one request. query is "k=v&..." (may be "").
func call(b engine.Backend, op engine.Operation, path, body, query string) (*engine.Response, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	req := &engine.Request{ID: "test", Operation: op, MountPath: "secret/", Path: path, Body: []byte(body), Query: q}
	if op == engine.OpPatch {
		req.ContentType = "application/merge-patch+json"
	}
	return b.HandleRequest(context.Background(), req)
}

// ok makes a request that must succeed with status 0.
func ok(t testing.TB, b engine.Backend, op engine.Operation, path, body, query string) *engine.Response {
	t.Helper()
	resp, err := call(b, op, path, body, query)
	if err != nil {
		t.Fatalf("%v %s %s: %v", op, path, body, err)
	}
	if resp != nil && resp.Status != 0 {
		t.Fatalf("%v %s: status %d", op, path, resp.Status)
	}
	return resp
}

// fails makes a request that must fail with an error matching kind and,
// when msg is not "", that exact message.
func fails(t testing.TB, b engine.Backend, op engine.Operation, path, body, query string, kind error, msg string) {
	t.Helper()
	resp, err := call(b, op, path, body, query)
	if !errors.Is(err, kind) {
		t.Fatalf("%v %s %q: got %+v, %v; want %v", op, path, body, resp, err, kind)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("%v %s %q: message %q, want %q", op, path, body, err.Error(), msg)
	}
}

// dataOf returns resp.Data as it is sent on the wire, decoded with
// json.Number numbers.
func dataOf(t testing.TB, resp *engine.Response) map[string]any {
	t.Helper()
	if resp == nil {
		t.Fatal("nil response")
	}
	raw, err := json.Marshal(resp.Data)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

// wire returns v as compact JSON.
func wire(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// rawKeys lists the view's keys that start with prefix.
func rawKeys(t testing.TB, view *seal.View, prefix []byte) [][]byte {
	t.Helper()
	var keys [][]byte
	err := view.View(context.Background(), func(tx *seal.ReadTx) error {
		var err error
		keys, err = tx.List(prefix, nil, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestFactory(t *testing.T) {
	view := newView(t)
	for v, want := range map[string]string{"": "*kv.v1Backend", "1": "*kv.v1Backend", "2": "*kv.v2Backend"} {
		b, err := Factory(&mounts.Entry{Path: "secret/", Type: "kv", Options: map[string]string{"version": v}}, view)
		if err != nil {
			t.Fatal(err)
		}
		if got := typeName(b); got != want {
			t.Errorf("version %q: %s, want %s", v, got, want)
		}
	}
	if _, err := Factory(&mounts.Entry{Options: map[string]string{"version": "3"}}, view); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("version 3: %v", err)
	}
}

func typeName(b engine.Backend) string {
	switch b.(type) {
	case *v1Backend:
		return "*kv.v1Backend"
	case *v2Backend:
		return "*kv.v2Backend"
	}
	return "?"
}

var errFailing = errors.New("storage is down")

// failingStore fails every transaction.
type failingStore struct{}

func (failingStore) view(context.Context, func(reader) error) error   { return errFailing }
func (failingStore) update(context.Context, func(writer) error) error { return errFailing }
func (failingStore) setLarge(context.Context, []byte, []byte, func(writer) error) error {
	return errFailing
}
func (failingStore) scrub(context.Context) error { return errFailing }
func (failingStore) forget()                     {}
