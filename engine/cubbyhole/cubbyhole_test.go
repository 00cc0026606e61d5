package cubbyhole

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/sealtest"
)

func newToken(t *testing.T, b *seal.Barrier) string {
	t.Helper()
	var tok string
	err := b.Update(context.Background(), func(tx *seal.Tx) error {
		var err error
		tok, err = token.Create(tx, &token.Entry{Policies: []string{"default"}, CreationTime: time.Now().Unix(), Type: "service"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokensSeeOnlyTheirOwn: two tokens write the same path; each reads
// its own value, lists only its own keys, and a revoked token's records
// are gone while the other's stay.
func TestTokensSeeOnlyTheirOwn(t *testing.T) {
	b := sealtest.Unsealed(t)
	ctx := context.Background()
	be := &Backend{Barrier: b}
	t1, t2 := newToken(t, b), newToken(t, b)
	do := func(tok string, op engine.Operation, path, body string) (*engine.Response, error) {
		return be.HandleRequest(ctx, &engine.Request{Operation: op, MountPath: MountPath, Path: path, Body: []byte(body), ClientToken: tok})
	}
	for tok, v := range map[string]string{t1: "one", t2: "two"} {
		if _, err := do(tok, engine.OpUpdate, "p/q", `{"v":"`+v+`","ttl":"1h"}`); err != nil {
			t.Fatal(err)
		}
	}
	for tok, v := range map[string]string{t1: "one", t2: "two"} {
		resp, err := do(tok, engine.OpRead, "p/q", "")
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		raw, _ := json.Marshal(resp.Data)
		if json.Unmarshal(raw, &got) != nil || got["v"] != v || resp.LeaseDuration != 0 {
			t.Fatalf("token %s read %s (lease %d), want %s", tok[:8], raw, resp.LeaseDuration, v)
		}
	}
	if _, err := do(t1, engine.OpUpdate, "only-one", `{"a":"b"}`); err != nil {
		t.Fatal(err)
	}
	resp, err := do(t2, engine.OpList, "", "")
	if raw, _ := json.Marshal(resp.Data); err != nil || string(raw) != `{"keys":["p/"]}` {
		t.Fatalf("t2's list: %s %v", raw, err)
	}
	if ok, err := be.Exists(ctx, &engine.Request{Operation: engine.OpUpdate, Path: "only-one", ClientToken: t2}); err != nil || ok {
		t.Fatalf("t2 sees t1's record as existing: %v %v", ok, err)
	}
	if ok, err := be.Exists(ctx, &engine.Request{Operation: engine.OpUpdate, Path: "only-one", ClientToken: t1}); err != nil || !ok {
		t.Fatalf("t1's record does not exist for t1: %v %v", ok, err)
	}

	if err := b.Update(ctx, func(tx *seal.Tx) error {
		th, err := token.Hash(&tx.ReadTx, t1)
		if err != nil {
			return err
		}
		return token.RevokeTree(tx, th)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := do(t1, engine.OpRead, "p/q", ""); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a revoked token's record: %v", err)
	}
	if resp, err := do(t2, engine.OpRead, "p/q", ""); err != nil || resp == nil {
		t.Fatalf("the other token's record after the revocation: %v", err)
	}

	// Refusals: no token, a malformed one, a write without data, PATCH.
	if _, err := do("", engine.OpRead, "p/q", ""); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("no token: %v", err)
	}
	if _, err := do("nope", engine.OpRead, "p/q", ""); !errors.Is(err, engine.ErrPermissionDenied) {
		t.Fatalf("malformed token: %v", err)
	}
	if _, err := do(t2, engine.OpUpdate, "e", `{}`); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("empty write: %v", err)
	}
	if _, err := do(t2, engine.OpPatch, "p/q", `{"v":"x"}`); !errors.Is(err, engine.ErrUnsupportedOperation) {
		t.Fatalf("patch: %v", err)
	}
	// The deprecation warning on cubbyhole/response.
	if _, err := do(t2, engine.OpUpdate, ResponsePath, `{"response":"{}"}`); err != nil {
		t.Fatal(err)
	}
	if resp, err := do(t2, engine.OpRead, ResponsePath, ""); err != nil || len(resp.Warnings) != 1 {
		t.Fatalf("read of response: %+v %v", resp, err)
	}
}
