package approle

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// TestTidySecretIDs: tidy/secret-id answers Vault's 202 and warning, and
// deletes the expired secret IDs with their accessors, and accessors whose
// secret ID is gone, across roles and past one batch; live secret IDs stay.
func TestTidySecretIDs(t *testing.T) {
	e := newEnv(t)
	e.must(t, engine.OpUpdate, "role/short", `{"secret_id_ttl":"1m"}`)
	e.must(t, engine.OpUpdate, "role/long", `{}`)
	for range tidyBatch + 3 {
		e.must(t, engine.OpUpdate, "role/short/secret-id", "")
	}
	keep := data(e.must(t, engine.OpUpdate, "role/long/secret-id", ""))["secret_id_accessor"]
	e.now = e.now.Add(30 * time.Second)
	fresh := data(e.must(t, engine.OpUpdate, "role/short/secret-id", ""))["secret_id_accessor"]
	// An accessor whose secret ID is gone (as a crash between two writes
	// of an older version could leave).
	if err := e.bar.Update(context.Background(), func(tx *seal.Tx) error {
		return tx.Set(accessorKey("long", "dangling"), []byte("no such hash"))
	}); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(45 * time.Second) // the first ones expired, fresh not

	r := e.must(t, engine.OpUpdate, "tidy/secret-id", "")
	if r.Status != http.StatusAccepted || len(r.Warnings) != 1 || r.Warnings[0] != msgTidyStarted {
		t.Fatalf("tidy answer: %+v", r)
	}
	for role, want := range map[string]any{"short": fresh, "long": keep} {
		keys := data(e.must(t, engine.OpList, "role/"+role+"/secret-id", ""))["keys"].([]string)
		if len(keys) != 1 || keys[0] != want {
			t.Errorf("%s after tidy: %q, want only %v", role, keys, want)
		}
	}
	e.now = e.now.Add(time.Minute)
	e.must(t, engine.OpUpdate, "tidy/secret-id", "")
	if _, err := e.do(t, engine.OpList, "role/short/secret-id", ""); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("short after the second tidy: %v", err)
	}
}
