package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// send makes a request with optional headers and returns the status and
// the body.
func (f *fixture) send(t testing.TB, method, path, tok, body string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("X-Vault-Token", tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// rawContains reports whether any stored key or value holds needle.
func (f *fixture) rawContains(t testing.TB, needle []byte) bool {
	t.Helper()
	found := false
	err := f.store.View(context.Background(), func(tx storage.ReadTx) error {
		kvs, err := tx.GetRange(storage.Range{Begin: []byte{0}, End: []byte{0xff}})
		for _, kv := range kvs {
			if bytes.Contains(kv.Key, needle) || bytes.Contains(kv.Value, needle) {
				found = true
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// childToken creates a token with the default policy and, if expire is
// set, that expiry.
func (f *fixture) childToken(t testing.TB, expire time.Time) string {
	t.Helper()
	var tok string
	err := f.sys.Barrier.Update(context.Background(), func(tx *seal.Tx) error {
		var err error
		e := &token.Entry{Policies: []string{"default"}, Path: "auth/token/create", DisplayName: "token",
			CreationTime: time.Now().Unix(), Type: "service", Renewable: true}
		if !expire.IsZero() {
			e.ExpireTime, e.TTL = expire.Unix(), time.Hour
		}
		tok, err = token.Create(tx, e)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestCubbyholeGoesWithItsToken: a token's cubbyhole records, a large
// (chunked) one included, leave the store when the token is revoked, and
// when it expires and the tidy loop revokes it; no plaintext of them is
// ever stored.
func TestCubbyholeGoesWithItsToken(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.initUnseal(t)
	ctx := context.Background()
	// Warm up: the first revocation creates the token epoch's record.
	warm := f.childToken(t, time.Time{})
	if st, _ := f.send(t, "POST", "/v1/auth/token/revoke", root, `{"token":"`+warm+`"}`, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	base := f.keyCount(t)

	tok := f.childToken(t, time.Time{})
	afterToken := f.keyCount(t)
	large := strings.Repeat("L", 300_000) // chunked: above storage.MaxValueSize's single-record limit
	for path, body := range map[string]string{
		"a":     `{"v":"cubby-plaintext-a"}`,
		"d/e/f": `{"v":"cubby-plaintext-f"}`,
		"big":   `{"v":"` + large + `"}`,
	} {
		if st, b := f.send(t, "POST", "/v1/cubbyhole/"+path, tok, body, nil); st != 204 {
			t.Fatalf("write %s: %d %s", path, st, b)
		}
	}
	if st, b := f.send(t, "GET", "/v1/cubbyhole/big", tok, "", nil); st != 200 || !bytes.Contains(b, []byte(large)) {
		t.Fatalf("read big: %d (%d bytes)", st, len(b))
	}
	if f.keyCount(t) <= afterToken+3 {
		t.Fatalf("the records are not where expected: %d keys after the token, %d with its cubbyhole", afterToken, f.keyCount(t))
	}
	for _, p := range []string{"cubby-plaintext-a", "cubby-plaintext-f", "LLLLLLLLLLLLLLLL"} {
		if f.rawContains(t, []byte(p)) {
			t.Fatalf("%q is stored in plaintext", p)
		}
	}
	if st, _ := f.send(t, "POST", "/v1/auth/token/revoke", root, `{"token":"`+tok+`"}`, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if n := f.keyCount(t); n != base {
		t.Fatalf("%d keys after the revocation, %d before the token", n, base)
	}

	// Expiry: the tidy loop's revocation takes the cubbyhole too.
	exp := f.childToken(t, time.Now().Add(2*time.Second))
	if st, b := f.send(t, "POST", "/v1/cubbyhole/x", exp, `{"v":"1"}`, nil); st != 204 {
		t.Fatalf("write: %d %s", st, b)
	}
	ts := &token.Backend{Barrier: f.sys.Barrier, Now: func() time.Time { return time.Now().Add(time.Hour) }}
	if n, err := ts.Tidy(ctx, 100); err != nil || n != 1 {
		t.Fatalf("tidy: %d %v", n, err)
	}
	if n := f.keyCount(t); n != base {
		t.Fatalf("%d keys after the expiry, %d before the token", n, base)
	}
}

// TestWrapLeavesNothing: a wrapped response is stored encrypted, and
// unwrapping it removes every record the wrapping made. Two unwraps at once
// give the response once.
func TestWrapLeavesNothing(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.initUnseal(t)
	warm := f.childToken(t, time.Time{})
	f.send(t, "POST", "/v1/auth/token/revoke", root, `{"token":"`+warm+`"}`, nil)
	base := f.keyCount(t)

	wrapped := func() string {
		st, b := f.send(t, "POST", "/v1/sys/wrapping/wrap", root, `{"secret":"wrapped-plaintext"}`, map[string]string{wrapTTLHeader: "90"})
		var env struct {
			WrapInfo *wrapInfo `json:"wrap_info"`
		}
		if st != 200 || json.Unmarshal(b, &env) != nil || env.WrapInfo == nil || env.WrapInfo.TTL != 90 {
			t.Fatalf("wrap: %d %s", st, b)
		}
		return env.WrapInfo.Token
	}
	wt := wrapped()
	if f.keyCount(t) <= base {
		t.Fatal("wrapping stored nothing")
	}
	if f.rawContains(t, []byte("wrapped-plaintext")) || f.rawContains(t, []byte(wt)) {
		t.Fatal("the wrapped response or the wrapping token is stored in plaintext")
	}
	st, b := f.send(t, "POST", "/v1/sys/wrapping/unwrap", root, `{"token":"`+wt+`"}`, nil)
	if st != 200 || !bytes.Contains(b, []byte(`"secret":"wrapped-plaintext"`)) {
		t.Fatalf("unwrap: %d %s", st, b)
	}
	if n := f.keyCount(t); n != base {
		t.Fatalf("%d keys after the unwrap, %d before the wrap", n, base)
	}

	// Concurrent unwraps of one token: exactly one gets the response.
	for range 5 {
		wt := wrapped()
		var got, refused atomic.Int32
		done := make(chan struct{})
		for range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				st, b := f.send(t, "POST", "/v1/sys/wrapping/unwrap", "", `{}`, map[string]string{"X-Vault-Token": wt})
				switch {
				case st == 200 && bytes.Contains(b, []byte("wrapped-plaintext")):
					got.Add(1)
				case st == 400 || st == 403:
					refused.Add(1)
				}
			}()
		}
		for range 4 {
			<-done
		}
		if got.Load() != 1 || refused.Load() != 3 {
			t.Fatalf("concurrent unwraps: %d answered, %d refused", got.Load(), refused.Load())
		}
	}
}

// FuzzWrappingEndpoints sends any body to sys/wrapping/{wrap,unwrap,lookup,
// rewrap} and cubbyhole/, with and without a wrap TTL: the answer is a
// success or a 4xx in Vault's format, never a 5xx, and a refused request
// leaves the store as it was.
func FuzzWrappingEndpoints(f *testing.F) {
	fx := newFixture(f, Options{})
	root := fx.initUnseal(f)
	for _, s := range []string{`{"token":"srs.x"}`, `{}`, ``, `{"a":"b"}`, `{"token":1}`, `[1]`, `{"token":"` + root + `"}`, `{"a":{"b":[1,2]}}`, `nul`} {
		for op := range uint8(5) {
			f.Add(op, s, true)
		}
	}
	paths := []string{"sys/wrapping/wrap", "sys/wrapping/unwrap", "sys/wrapping/lookup", "sys/wrapping/rewrap", "cubbyhole/f"}
	f.Fuzz(func(t *testing.T, op uint8, body string, ttl bool) {
		path := paths[int(op)%len(paths)]
		hdr := map[string]string{}
		if ttl {
			hdr[wrapTTLHeader] = "30s"
		}
		before := fx.keyCount(t)
		st, raw := fx.send(t, "POST", "/v1/"+path, root, body, hdr)
		switch {
		case st == 200 || st == 204:
		case st == 400 || st == 403 || st == 404:
			var eb struct {
				Errors []string `json:"errors"`
			}
			if err := json.Unmarshal(raw, &eb); err != nil || eb.Errors == nil {
				t.Fatalf("%s %q: %d %s is not Vault's error body", path, body, st, raw)
			}
			if n := fx.keyCount(t); n != before {
				t.Fatalf("%s %q: refused (%d %s) but %d keys became %d", path, body, st, raw, before, n)
			}
		default:
			t.Fatalf("%s %q: %d %s", path, body, st, raw)
		}
	})
}

// TestRewrapNeedsPolicy: a caller whose policies do not allow
// sys/wrapping/rewrap (the default policy does not) is refused with 403
// for a valid wrapping token, which stays unused.
func TestRewrapNeedsPolicy(t *testing.T) {
	f := newFixture(t, Options{})
	root := f.initUnseal(t)
	user := f.childToken(t, time.Time{})
	st, b := f.send(t, "POST", "/v1/sys/wrapping/wrap", root, `{"a":"b"}`, map[string]string{wrapTTLHeader: "60"})
	var env struct {
		WrapInfo *wrapInfo `json:"wrap_info"`
	}
	if st != 200 || json.Unmarshal(b, &env) != nil || env.WrapInfo == nil {
		t.Fatalf("wrap: %d %s", st, b)
	}
	if st, b := f.send(t, "POST", "/v1/sys/wrapping/rewrap", user, `{"token":"`+env.WrapInfo.Token+`"}`, nil); st != 403 {
		t.Fatalf("rewrap by a default-policy token: %d %s", st, b)
	}
	if st, b := f.send(t, "POST", "/v1/sys/wrapping/unwrap", user, `{"token":"`+env.WrapInfo.Token+`"}`, nil); st != 200 || !bytes.Contains(b, []byte(`"a":"b"`)) {
		t.Fatalf("unwrap after the refused rewrap: %d %s", st, b)
	}
}
