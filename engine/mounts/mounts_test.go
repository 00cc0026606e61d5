package mounts

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/sealtest"
)

// echoBackend is a minimal engine for routing tests: it records its view
// and answers with its mount path.
type echoBackend struct {
	entry *Entry
	view  *seal.View
}

func (b *echoBackend) HandleRequest(ctx context.Context, r *engine.Request) (*engine.Response, error) {
	if r.Operation == engine.OpUpdate {
		return nil, b.view.Update(ctx, func(tx *seal.Tx) error { return tx.Set([]byte(r.Path), r.Body) })
	}
	return &engine.Response{Data: map[string]any{"mount": b.entry.Path, "rest": r.Path}}, nil
}

func newTable(t *testing.T) (*Table, *seal.Barrier) {
	t.Helper()
	b := sealtest.Unsealed(t)
	f := func(e *Entry, v *seal.View) (engine.Backend, error) { return &echoBackend{entry: e, view: v}, nil }
	return New(b, map[string]Factory{"kv": f, "transit": f}), b
}

func TestMountRouteUnmount(t *testing.T) {
	tbl, b := newTable(t)
	ctx := context.Background()
	if err := tbl.Mount(ctx, "secret", MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Mount(ctx, "team/a/", MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Mount(ctx, "team", MountInput{Type: "transit"}); !errors.Is(err, ErrPathInUse) {
		t.Fatalf("overlapping mount: %v", err)
	}
	if err := tbl.Mount(ctx, "secret/sub", MountInput{Type: "kv"}); !errors.Is(err, ErrPathInUse) {
		t.Fatalf("nested mount: %v", err)
	}
	for _, p := range []string{"sys", "sys/x", "auth/x", "cubbyhole"} {
		if err := tbl.Mount(ctx, p, MountInput{Type: "kv"}); !errors.Is(err, ErrReservedPath) {
			t.Fatalf("mount at %s: %v", p, err)
		}
	}
	for _, p := range []string{"", "/", "a//b", "a/../b", "./x"} {
		if err := tbl.Mount(ctx, p, MountInput{Type: "kv"}); !errors.Is(err, engine.ErrBadRequest) {
			t.Fatalf("mount at %q: %v", p, err)
		}
	}
	if err := tbl.Mount(ctx, "x", MountInput{Type: "nope"}); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
	if err := tbl.Mount(ctx, "x", MountInput{Type: "kv", Options: map[string]string{"version": "3"}}); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("kv version 3: %v", err)
	}
	if err := tbl.Mount(ctx, "x", MountInput{Type: "transit", Options: map[string]string{"version": "2"}}); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("transit with a version: %v", err)
	}
	// As in Vault, a plain kv mount keeps no version (it is version 1).
	list, _ := tbl.List(ctx)
	if len(list) != 2 || list[0].Path != "secret/" || list[0].Options["version"] != "2" || len(list[1].Options) != 0 {
		t.Fatalf("list: %+v", list)
	}
	if err := tbl.Tune(ctx, "team/a", TuneInput{Options: map[string]string{"version": "2"}}); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("tuning a plain kv mount to version 2: %v", err)
	}
	e, _, rest, err := tbl.Route(ctx, "team/a/x/y")
	if err != nil || e.Path != "team/a/" || rest != "x/y" {
		t.Fatalf("route: %+v %q %v", e, rest, err)
	}
	if e, _, rest, err = tbl.Route(ctx, "secret"); err != nil || e.Path != "secret/" || rest != "" {
		t.Fatalf("route to the mount itself: %+v %q %v", e, rest, err)
	}
	if _, _, _, err := tbl.Route(ctx, "teams/x"); !errors.Is(err, ErrNoMount) {
		t.Fatalf("route without mount: %v", err)
	}

	// Data of a mount lives in its own subspace and goes with it.
	_, be, _, _ := tbl.Route(ctx, "secret/k")
	if _, err := be.HandleRequest(ctx, &engine.Request{Operation: engine.OpUpdate, Path: "k", Body: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	countMount := func() int {
		var n int
		b.View(ctx, func(tx *seal.ReadTx) error {
			keys, err := tx.List(tbl.dataPrefix(list[0].UUID), nil, 0)
			n = len(keys)
			return err
		})
		return n
	}
	if countMount() != 1 {
		t.Fatal("mount record not written")
	}
	if err := tbl.Unmount(ctx, "secret/"); err != nil {
		t.Fatal(err)
	}
	if countMount() != 0 {
		t.Fatal("unmount left the mount's records")
	}
	if err := tbl.Unmount(ctx, "never-mounted"); err != nil {
		t.Fatalf("unmount of nothing: %v", err)
	}

	// The table survives a reseal (reload from storage).
	tbl.Reset()
	list, err = tbl.List(ctx)
	if err != nil || len(list) != 1 || list[0].Path != "team/a/" {
		t.Fatalf("reloaded list: %+v %v", list, err)
	}
}

func TestTune(t *testing.T) {
	tbl, _ := newTable(t)
	ctx := context.Background()
	tbl.Mount(ctx, "kv1", MountInput{Type: "kv"})
	tbl.Mount(ctx, "kv2", MountInput{Type: "kv", Options: map[string]string{"version": "2"}})
	ttl := TuneTTL{Seconds: 3600}
	desc := "team secrets"
	if err := tbl.Tune(ctx, "kv2", TuneInput{MaxLeaseTTL: &ttl, Description: &desc}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Tune(ctx, "kv2", TuneInput{Options: map[string]string{"version": "1"}}); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("downgrade: %v", err)
	}
	if err := tbl.Tune(ctx, "missing", TuneInput{}); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("tune missing: %v", err)
	}
	list, _ := tbl.List(ctx)
	if list[1].Config.MaxLeaseTTL != 3600 || list[1].Description != "team secrets" {
		t.Fatalf("tuned: %+v", list[1])
	}
}

// TestTwoTablesOneStore: two nodes' tables over one barrier. A mount made
// through one is routed by the other after Reload; a write computed from a
// table another node changed since is refused and writes nothing; and a
// mount operation starts from the stored table, so it keeps the other
// node's mounts.
func TestTwoTablesOneStore(t *testing.T) {
	t1, b := newTable(t)
	t2 := New(b, t1.factories)
	ctx := context.Background()
	if err := t1.Mount(ctx, "a", MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := t2.Route(ctx, "a/x"); err != nil {
		t.Fatalf("t2 routes a/: %v", err)
	}
	_, backendA, _, _ := t2.Route(ctx, "a/x")
	if err := t1.Mount(ctx, "b", MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := t2.Route(ctx, "b/x"); !errors.Is(err, ErrNoMount) {
		t.Fatalf("t2 routed b/ before reloading: %v", err)
	}
	if err := t2.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	_, backendA2, _, err := t2.Route(ctx, "a/x")
	if err != nil || backendA2 != backendA {
		t.Fatalf("unchanged mount a/ was rebuilt (%v)", err)
	}
	if _, _, _, err := t2.Route(ctx, "b/x"); err != nil {
		t.Fatalf("t2 after reload: %v", err)
	}

	// t2 computes a table from its copy while t1 changes the stored one.
	if err := t1.Mount(ctx, "c", MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	t2.mu.Lock()
	err = b.Update(ctx, func(tx *seal.Tx) error { return t2.saveLocked(tx, t2.entries[:1]) })
	t2.mu.Unlock()
	if !errors.Is(err, errTableChanged) {
		t.Fatalf("stale table write: %v", err)
	}
	// Through the API t2 starts from storage and keeps a/, b/ and c/.
	if err := t2.Mount(ctx, "d", MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if err := t1.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := t1.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range list {
		got[e.Path] = true
	}
	for _, p := range []string{"a/", "b/", "c/", "d/"} {
		if !got[p] {
			t.Fatalf("mounts after both nodes' changes: %v, missing %s", got, p)
		}
	}
}

// TestRemount: the mount moves with its UUID, so its records follow; the
// old path routes nowhere; a table loaded afresh (another node) sees the
// move; overlaps, reserved paths and a missing source are refused.
func TestRemount(t *testing.T) {
	tbl, b := newTable(t)
	ctx := context.Background()
	if err := tbl.Mount(ctx, "a", MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Mount(ctx, "other", MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	e, be, _, err := tbl.Route(ctx, "a/x")
	if err != nil {
		t.Fatal(err)
	}
	uuid := e.UUID
	if _, err := be.HandleRequest(ctx, &engine.Request{Operation: engine.OpUpdate, Path: "x", Body: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Remount(ctx, "a", "b/c"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := tbl.Route(ctx, "a/x"); !errors.Is(err, ErrNoMount) {
		t.Fatalf("old path: %v", err)
	}
	for _, fresh := range []*Table{tbl, New(b, tbl.factories)} {
		e, be, rest, err := fresh.Route(ctx, "b/c/x")
		if err != nil || e.UUID != uuid || rest != "x" {
			t.Fatalf("new path: %+v %q %v", e, rest, err)
		}
		var got []byte
		if err := be.(*echoBackend).view.View(ctx, func(tx *seal.ReadTx) error { got, err = tx.Get([]byte("x")); return err }); err != nil || string(got) != "v" {
			t.Fatalf("the record at the new path: %q %v", got, err)
		}
	}
	for _, tc := range []struct {
		from, to string
		want     error
	}{
		{"nope", "z", ErrNoMount},
		{"b/c", "other", ErrPathInUse},
		{"b/c", "b/c/d", ErrPathInUse},
		{"other", "sys/x", ErrReservedPath},
		{"other", "a//b", engine.ErrBadRequest},
	} {
		if err := tbl.Remount(ctx, tc.from, tc.to); !errors.Is(err, tc.want) {
			t.Fatalf("%s -> %s: %v, want %v", tc.from, tc.to, err, tc.want)
		}
	}
}

// TestUnmountReserved: disabling the system's own paths is refused, in
// Vault's words, not answered with a success that did nothing.
func TestUnmountReserved(t *testing.T) {
	tbl, b := newTable(t)
	ctx := context.Background()
	for _, p := range []string{"sys", "cubbyhole", "identity/", "auth/x"} {
		if err := tbl.Unmount(ctx, p); !errors.Is(err, ErrReservedPath) || !strings.Contains(err.Error(), "cannot unmount") {
			t.Fatalf("unmount %s: %v", p, err)
		}
	}
	auths := NewAuth(b, nil)
	if err := auths.Unmount(ctx, "token"); !errors.Is(err, ErrReservedPath) || err.Error() != "token credential backend cannot be disabled" {
		t.Fatalf("disable token: %v", err)
	}
	if err := tbl.Unmount(ctx, "nothing-here"); err != nil {
		t.Fatalf("unmounting a path with no mount is no error, as in Vault: %v", err)
	}
}

// TestTuneTTL reads tune TTLs as Vault does: "" keeps, "system" resets,
// numbers and duration strings set, negatives and junk are 400s.
func TestTuneTTL(t *testing.T) {
	for in, want := range map[string]TuneTTL{
		`""`: {Keep: true}, `" "`: {Keep: true}, `"system"`: {}, `3600`: {Seconds: 3600}, `"1h"`: {Seconds: 3600},
		`"90"`: {Seconds: 90}, `"2d"`: {Seconds: 172800},
	} {
		var got TuneTTL
		if err := got.UnmarshalJSON([]byte(in)); err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{`-5`, `"-1h"`, `"abc"`, `true`, `{}`, `1.5`} {
		var got TuneTTL
		if err := got.UnmarshalJSON([]byte(in)); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("%s: %+v %v, want a 400", in, got, err)
		}
	}
	tbl, _ := newTable(t)
	ctx := context.Background()
	tbl.Mount(ctx, "kv1", MountInput{Type: "kv"})
	if err := tbl.Tune(ctx, "kv1", TuneInput{DefaultLeaseTTL: &TuneTTL{Seconds: 7200}, MaxLeaseTTL: &TuneTTL{Seconds: 3600}}); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("default above max: %v", err)
	}
	if err := tbl.Tune(ctx, "kv1", TuneInput{TokenType: new("service")}); !errors.Is(err, engine.ErrBadRequest) {
		t.Fatalf("token_type on a secrets engine: %v", err)
	}
}
