package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

var update = flag.Bool("update", false, "rewrite testdata/layout.golden")

// faultyRaw wraps the real bolt raw layer to inject faults. It is not a
// backend: it only decides, per Update call, to fail before the transaction
// or to turn a successful fn into a failed commit (rolled back).
type faultyRaw struct {
	storage.RawStore
	mu      sync.Mutex
	updates int
	// before runs before Update call n (from 1); an error fails the call
	// without a transaction.
	before func(n int) error
	// commit runs after fn succeeded in Update call n; an error rolls the
	// transaction back and is returned, as a failed commit would be.
	commit func(n int) error
}

func (f *faultyRaw) Update(ctx context.Context, fn func(tx storage.RawTx) error) error {
	f.mu.Lock()
	f.updates++
	n, before, commit := f.updates, f.before, f.commit
	f.mu.Unlock()
	if before != nil {
		if err := before(n); err != nil {
			return err
		}
	}
	return f.RawStore.Update(ctx, func(tx storage.RawTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if commit != nil {
			return commit(n)
		}
		return nil
	})
}

func (f *faultyRaw) set(before, commit func(n int) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates, f.before, f.commit = 0, before, commit
}

func openRaw(t *testing.T) (*bolt.DB, *faultyRaw, storage.Store) {
	t.Helper()
	raw, err := bolt.OpenRaw(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyRaw{RawStore: raw}
	s := storage.Wrap(f)
	t.Cleanup(func() { _ = s.Close() })
	return raw, f, s
}

type entry struct{ key, value []byte }

// dump returns every physical entry.
func dump(t *testing.T, raw storage.RawStore) []entry {
	t.Helper()
	var out []entry
	err := raw.View(t.Context(), func(tx storage.RawReadTx) error {
		return tx.Range(storage.RawRange{}, func(k, v []byte) bool {
			out = append(out, entry{bytes.Clone(k), bytes.Clone(v)})
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// layoutStats counts the physical entries by area.
type layoutStats struct {
	heads, refs, chunks, staged int
	maxValue                    int
}

// checkLayout checks the invariants of the physical layout: no physical
// value over MaxChunkSize, every reference backed by its index entry and
// all its chunks, and no chunk that belongs to nothing (staged blobs, which
// belong to their staging record, are allowed only if allowStaged).
func checkLayout(t *testing.T, raw storage.RawStore, allowStaged bool) layoutStats {
	t.Helper()
	var st layoutStats
	index := map[string]string{}   // logical key encoding -> blob id
	refs := map[string]uint32{}    // blob id -> chunk count, from heads
	chunks := map[string]uint32{}  // blob id -> chunks present
	staged := map[string]bool{}    // blob id -> staging record present
	headIDs := map[string]string{} // key encoding -> blob id, from heads
	for _, e := range dump(t, raw) {
		st.maxValue = max(st.maxValue, len(e.value))
		if len(e.value) > storage.MaxChunkSize {
			t.Errorf("physical value of %d bytes at %x", len(e.value), e.key[:min(len(e.key), 24)])
		}
		if len(e.value) == 0 {
			t.Errorf("empty physical value at %x", e.key)
		}
		switch e.key[0] {
		case 0x01:
			st.heads++
			if e.value[0] == 0x02 {
				st.refs++
				id := string(e.value[1:17])
				refs[id] = binary.BigEndian.Uint32(e.value[25:])
				headIDs[string(e.key[1:])] = id
			}
		case 0x02:
			index[string(e.key[1:])] = string(e.value)
		case 0x03:
			st.chunks++
			id := string(e.key[1:17])
			if i := binary.BigEndian.Uint32(e.key[17:]); i != chunks[id] {
				t.Errorf("blob %x: chunk %d where %d was expected", id, i, chunks[id])
			}
			chunks[id]++
		case 0x04:
			st.staged++
			staged[string(e.key[1:])] = true
		default:
			t.Errorf("physical key in a reserved area: %x", e.key)
		}
	}
	for k, id := range headIDs {
		if index[k] != id {
			t.Errorf("head %x refers to blob %x but the index holds %x", k, id, index[k])
		}
	}
	for k, id := range index {
		if headIDs[k] != id {
			t.Errorf("index entry %x (blob %x) without a matching head", k, id)
		}
	}
	for id, n := range refs {
		if chunks[id] != n {
			t.Errorf("blob %x: %d chunks stored, %d referenced", id, chunks[id], n)
		}
	}
	for id := range chunks {
		if _, ok := refs[id]; !ok && !staged[id] {
			t.Errorf("orphan blob %x: %d chunks, no reference and no staging record", id, chunks[id])
		}
		if _, ok := refs[id]; ok && staged[id] {
			t.Errorf("blob %x is both linked and staged", id)
		}
	}
	if !allowStaged && st.staged > 0 {
		t.Errorf("%d staging records left", st.staged)
	}
	return st
}

func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

func mustUpdate(t *testing.T, s storage.Store, fn func(tx storage.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func getValue(t *testing.T, s storage.Store, key string) ([]byte, error) {
	t.Helper()
	var v []byte
	err := s.View(t.Context(), func(tx storage.ReadTx) error {
		var err error
		v, err = tx.Get([]byte(key))
		return err
	})
	return v, err
}

func TestChunkSizes(t *testing.T) {
	raw, _, s := openRaw(t)
	sizes := map[string]int{"100000": 100_000, "100001": 100_001, "1MiB": 1 << 20, "5MiB": 5 << 20}
	values := map[string][]byte{}
	for name, n := range sizes {
		values[name] = randomBytes(uint64(n), n)
		mustUpdate(t, s, func(tx storage.Tx) error { return tx.Set([]byte(name), values[name]) })
	}
	v32 := randomBytes(32, 32<<20)
	if err := storage.SetLarge(t.Context(), s, []byte("32MiB"), v32, nil); err != nil {
		t.Fatal(err)
	}
	values["32MiB"] = v32
	st := checkLayout(t, raw, false)
	if st.maxValue != storage.MaxChunkSize {
		t.Errorf("largest physical value is %d bytes, want exactly %d (full chunks)", st.maxValue, storage.MaxChunkSize)
	}
	wantChunks := 0
	for _, v := range values {
		wantChunks += (len(v) + storage.MaxChunkSize - 1) / storage.MaxChunkSize
	}
	if st.chunks != wantChunks || st.refs != len(values) {
		t.Errorf("%d chunks in %d blobs, want %d in %d", st.chunks, st.refs, wantChunks, len(values))
	}
	for name, want := range values {
		got, err := getValue(t, s, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	// A value one byte under the inline limit stays inline.
	mustUpdate(t, s, func(tx storage.Tx) error { return tx.Set([]byte("inline"), make([]byte, storage.MaxChunkSize-1)) })
	if st2 := checkLayout(t, raw, false); st2.refs != st.refs || st2.heads != st.heads+1 {
		t.Errorf("a %d-byte value was not stored inline", storage.MaxChunkSize-1)
	}
}

// TestNoOrphans overwrites and deletes chunked and large values in every
// way and checks after each step that no chunk is left behind.
func TestNoOrphans(t *testing.T) {
	raw, _, s := openRaw(t)
	ctx := t.Context()
	big := randomBytes(1, 1<<20)
	v40 := randomBytes(40, 40<<20)
	v32 := randomBytes(32, 32<<20)
	steps := []struct {
		name string
		do   func() error
	}{
		{"Set chunked", func() error {
			return s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), big) })
		}},
		{"Set chunked over chunked", func() error {
			return s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), big[:500_000]) })
		}},
		{"Set twice in one transaction", func() error {
			return s.Update(ctx, func(tx storage.Tx) error {
				if err := tx.Set([]byte("k"), big); err != nil {
					return err
				}
				return tx.Set([]byte("k"), big[:300_000])
			})
		}},
		{"Set small over chunked", func() error {
			return s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), []byte("small")) })
		}},
		{"SetLarge 40 MiB", func() error { return storage.SetLarge(ctx, s, []byte("L"), v40, nil) }},
		{"SetLarge 32 MiB over 40 MiB", func() error { return storage.SetLarge(ctx, s, []byte("L"), v32, nil) }},
		{"Set chunked over large", func() error {
			return s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("L"), big) })
		}},
		{"SetLarge over chunked", func() error { return storage.SetLarge(ctx, s, []byte("L"), v40, nil) }},
		{"Delete large", func() error {
			return s.Update(ctx, func(tx storage.Tx) error { return tx.Delete([]byte("L")) })
		}},
		{"SetLarge with failing fn", func() error {
			err := storage.SetLarge(ctx, s, []byte("L"), v32, func(storage.Tx) error { return errBoom })
			if !errors.Is(err, errBoom) {
				return fmt.Errorf("SetLarge = %v, want errBoom", err)
			}
			return nil
		}},
		{"SetLarge several, DeleteRange", func() error {
			for _, k := range []string{"r/1", "r/2", "r/3"} {
				if err := storage.SetLarge(ctx, s, []byte(k), v32[:5<<20], nil); err != nil {
					return err
				}
			}
			if err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("r/4"), big) }); err != nil {
				return err
			}
			return s.Update(ctx, func(tx storage.Tx) error { return tx.DeleteRange([]byte("r/2"), nil) })
		}},
		{"DeleteRange everything", func() error {
			return s.Update(ctx, func(tx storage.Tx) error { return tx.DeleteRange(nil, nil) })
		}},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		checkLayout(t, raw, false)
		if t.Failed() {
			t.Fatalf("after %q", step.name)
		}
	}
	if left := dump(t, raw); len(left) != 0 {
		t.Fatalf("%d physical entries left after deleting everything", len(left))
	}
}

func TestRetryInjectedCommitConflicts(t *testing.T) {
	_, f, s := openRaw(t)
	for _, conflicts := range []int{1, 3, storage.MaxAttempts - 1} {
		f.set(nil, func(n int) error {
			if n <= conflicts {
				return fmt.Errorf("injected: %w", storage.ErrConflict)
			}
			return nil
		})
		calls := 0
		key := fmt.Sprintf("c%d", conflicts)
		err := s.Update(t.Context(), func(tx storage.Tx) error {
			calls++
			// Every attempt starts from the committed state.
			if _, err := tx.Get([]byte(key)); !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("attempt %d sees an earlier attempt's write: %v", calls, err)
			}
			return tx.Set([]byte(key), fmt.Append(nil, calls))
		})
		if err != nil || calls != conflicts+1 {
			t.Fatalf("%d injected conflicts: Update = %v after %d calls", conflicts, err, calls)
		}
		if v, err := getValue(t, s, key); err != nil || string(v) != fmt.Sprint(calls) {
			t.Fatalf("%s = %q, %v", key, v, err)
		}
	}

	f.set(nil, func(int) error { return storage.ErrConflict })
	calls := 0
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		calls++
		return tx.Set([]byte("never"), []byte("x"))
	})
	if !errors.Is(err, storage.ErrConflict) || calls != storage.MaxAttempts {
		t.Fatalf("always conflicting: Update = %v after %d calls, want ErrConflict after %d", err, calls, storage.MaxAttempts)
	}
	if _, err := getValue(t, s, "never"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a conflicting transaction committed: %v", err)
	}

	// The context ends the pauses between attempts.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	calls = 0
	start := time.Now()
	err = s.Update(ctx, func(tx storage.Tx) error { calls++; return nil })
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("conflicts until the deadline: Update = %v", err)
	}
	if calls >= storage.MaxAttempts || time.Since(start) > time.Second {
		t.Fatalf("the deadline did not stop the retries: %d calls in %s", calls, time.Since(start))
	}

	// Other commit errors are not retried.
	f.set(nil, func(int) error { return storage.ErrUnavailable })
	calls = 0
	err = s.Update(t.Context(), func(tx storage.Tx) error { calls++; return nil })
	if !errors.Is(err, storage.ErrUnavailable) || calls != 1 {
		t.Fatalf("unavailable: Update = %v after %d calls", err, calls)
	}
}

// errBoom is a caller error.
var errBoom = errors.New("boom")

func TestSetLargeFailureCleansUp(t *testing.T) {
	raw, f, s := openRaw(t)
	old := randomBytes(7, 200_000)
	mustUpdate(t, s, func(tx storage.Tx) error { return tx.Set([]byte("k"), old) })
	value := randomBytes(8, 10<<20) // 3 staging transactions, then the final one
	for _, failAt := range []int{2, 3, 4} {
		f.set(func(n int) error {
			if n == failAt {
				return fmt.Errorf("injected: %w", storage.ErrUnavailable)
			}
			return nil
		}, nil)
		err := storage.SetLarge(t.Context(), s, []byte("k"), value, nil)
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("failing transaction %d: SetLarge = %v", failAt, err)
		}
		if v, err := getValue(t, s, "k"); err != nil || !bytes.Equal(v, old) {
			t.Fatalf("failing transaction %d: the old value is gone (%d bytes, %v)", failAt, len(v), err)
		}
		if st := checkLayout(t, raw, false); st.refs != 1 {
			t.Fatalf("failing transaction %d: %d blobs left, want 1", failAt, st.refs)
		}
	}
	f.set(nil, nil)
	if err := storage.SetLarge(t.Context(), s, []byte("k"), value, nil); err != nil {
		t.Fatal(err)
	}
	if v, err := getValue(t, s, "k"); err != nil || !bytes.Equal(v, value) {
		t.Fatalf("after a successful SetLarge: %d bytes, %v", len(v), err)
	}
	checkLayout(t, raw, false)
}

func TestCollectGarbage(t *testing.T) {
	raw, f, s := openRaw(t)
	value := randomBytes(9, 12<<20)
	// The first two staging transactions commit; the rest fail, and so does
	// the cleanup: the staged chunks stay behind, as after a crash.
	f.set(func(n int) error {
		if n > 2 {
			return fmt.Errorf("injected: %w", storage.ErrUnavailable)
		}
		return nil
	}, nil)
	if err := storage.SetLarge(t.Context(), s, []byte("k"), value, nil); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("SetLarge = %v, want the injected error", err)
	}
	f.set(nil, nil)
	st := checkLayout(t, raw, true)
	if st.staged != 1 || st.chunks != 80 || st.refs != 0 {
		t.Fatalf("after the failed SetLarge: %+v, want 1 staged blob of 80 chunks", st)
	}
	if _, err := getValue(t, s, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the staged value is visible: %v", err)
	}
	// A linked blob must survive collection.
	if err := storage.SetLarge(t.Context(), s, []byte("kept"), value, nil); err != nil {
		t.Fatal(err)
	}

	n, err := storage.CollectGarbage(t.Context(), s, time.Hour)
	if err != nil || n != 0 {
		t.Fatalf("CollectGarbage(1h) = %d, %v; want 0: the staging is recent", n, err)
	}
	if st := checkLayout(t, raw, true); st.staged != 1 {
		t.Fatalf("CollectGarbage(1h) removed a recent staging: %+v", st)
	}
	n, err = storage.CollectGarbage(t.Context(), s, 0)
	if err != nil || n != 1 {
		t.Fatalf("CollectGarbage(0) = %d, %v; want 1", n, err)
	}
	st = checkLayout(t, raw, false)
	if st.refs != 1 || st.chunks != 126 {
		t.Fatalf("after CollectGarbage: %+v, want only the linked blob of 126 chunks", st)
	}
	if v, err := getValue(t, s, "kept"); err != nil || !bytes.Equal(v, value) {
		t.Fatalf("CollectGarbage damaged a linked value: %d bytes, %v", len(v), err)
	}
	if n, err := storage.CollectGarbage(t.Context(), s, 0); err != nil || n != 0 {
		t.Fatalf("second CollectGarbage = %d, %v", n, err)
	}
}

// TestSetLargeCollectedWhileStaging runs CollectGarbage between two staging
// transactions of a SetLarge: SetLarge must notice, fail with ErrTimeout
// and leave nothing behind.
func TestSetLargeCollectedWhileStaging(t *testing.T) {
	raw, f, s := openRaw(t)
	var collected int
	var gcErr error
	f.set(func(n int) error {
		if n == 2 {
			collected, gcErr = storage.CollectGarbage(context.Background(), s, 0)
		}
		return nil
	}, nil)
	err := storage.SetLarge(t.Context(), s, []byte("k"), randomBytes(10, 10<<20), nil)
	f.set(nil, nil)
	if gcErr != nil || collected != 1 {
		t.Fatalf("CollectGarbage during staging = %d, %v", collected, gcErr)
	}
	if !errors.Is(err, storage.ErrTimeout) {
		t.Fatalf("SetLarge whose staging was collected = %v, want ErrTimeout", err)
	}
	if left := dump(t, raw); len(left) != 0 {
		t.Fatalf("%d physical entries left", len(left))
	}
}

// TestTxSizeCountsPhysicalBytes checks that the size limit counts what is
// written physically, keys included: 10 MB of values in many small keys
// does not fit.
func TestTxSizeCountsPhysicalBytes(t *testing.T) {
	_, _, s := openRaw(t)
	value := make([]byte, 990)
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		for i := range 10_000 { // 9.9 MB of values, over 10 MB with keys
			if err := tx.Set(fmt.Appendf(nil, "key/%06d", i), value); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, storage.ErrTxTooLarge) {
		t.Fatalf("Update = %v, want ErrTxTooLarge", err)
	}
}

func TestSetLargeOnOtherStore(t *testing.T) {
	// A Store that is not from Wrap gets one Update.
	_, _, inner := openRaw(t)
	s := struct{ storage.Store }{inner}
	if err := storage.SetLarge(t.Context(), s, []byte("k"), []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := getValue(t, s, "k"); err != nil || string(v) != "v" {
		t.Fatalf("k = %q, %v", v, err)
	}
	if err := storage.SetLarge(t.Context(), s, []byte("k"), make([]byte, 11<<20), nil); !errors.Is(err, storage.ErrTxTooLarge) {
		t.Fatalf("an 11 MiB SetLarge through a plain Store = %v, want ErrTxTooLarge", err)
	}
	if n, err := storage.CollectGarbage(t.Context(), s, 0); n != 0 || err != nil {
		t.Fatalf("CollectGarbage = %d, %v", n, err)
	}
}

// TestLayoutGolden freezes the physical layout: a release must keep reading
// what earlier ones wrote. Run with -update after a deliberate change (and
// a migration).
func TestLayoutGolden(t *testing.T) {
	raw, _, s := openRaw(t)
	chunked := randomBytes(42, 240_000)
	mustUpdate(t, s, func(tx storage.Tx) error {
		for _, kv := range [][2]string{
			{"a", "value"}, {"a\x00b", ""}, {"\xff", "\x00\xff"}, {"tenant/\x01\x02/key", "v"},
		} {
			if err := tx.Set([]byte(kv[0]), []byte(kv[1])); err != nil {
				return err
			}
		}
		return tx.Set([]byte("big"), chunked)
	})
	var b strings.Builder
	ids := map[string]string{}
	for _, e := range dump(t, raw) {
		line := hex.EncodeToString(e.key) + " -> "
		if len(e.value) <= 48 {
			line += hex.EncodeToString(e.value)
		} else {
			sum := sha256.Sum256(e.value)
			line += fmt.Sprintf("%d bytes, sha256 %x", len(e.value), sum[:8])
		}
		// Blob ids are random: name them in order of appearance.
		switch e.key[0] {
		case 0x01:
			if e.value[0] == 0x02 {
				id := hex.EncodeToString(e.value[1:17])
				if _, ok := ids[id]; !ok {
					ids[id] = fmt.Sprintf("<blob%d>", len(ids)+1)
				}
			}
		}
		for id, name := range ids {
			line = strings.ReplaceAll(line, id, name)
		}
		b.WriteString(line + "\n")
	}
	got := b.String()
	path := filepath.Join("testdata", "layout.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./storage -run TestLayoutGolden -update)", err)
	}
	if got != string(want) {
		t.Fatalf("physical layout changed:\n--- got\n%s--- want\n%s", got, want)
	}
}
