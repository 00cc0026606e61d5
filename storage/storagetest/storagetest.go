// Package storagetest is the conformance suite every storage backend
// passes. A backend's tests call Run with a function that opens a fresh,
// empty Store:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			s, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite sees only the Store interface and SetLarge; the physical layout
// (chunk sizes, orphaned chunks) is checked by the storage package's own
// tests. Production code must not import this package.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
)

// Run runs the conformance suite, one subtest per behaviour. open must
// return a new, empty Store for each call; Run closes it at the end of the
// subtest (closing twice is allowed by the contract).
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"Basics", testBasics},
		{"InvalidKeys", testInvalidKeys},
		{"OwnWrites", testOwnWrites},
		{"FailingFnCommitsNothing", testFailingFn},
		{"TxUsedAfterFn", testTxUsedAfterFn},
		{"RangeOrder", testRangeOrder},
		{"RangeOptions", testRangeOptions},
		{"RangeBounds", testRangeBounds},
		{"Paging", testPaging},
		{"DeleteRange", testDeleteRange},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ConcurrentOutcomes", testConcurrentOutcomes},
		{"ConcurrentSetLarge", testConcurrentSetLarge},
		{"ViewSnapshot", testViewSnapshot},
		{"RetryOnConflict", testRetryOnConflict},
		{"ConflictRetriesBounded", testConflictBounded},
		{"Context", testContext},
		{"KeySizeLimit", testKeySizeLimit},
		{"ChunkedValues", testChunkedValues},
		{"ChunkedRangeLimit", testChunkedRangeLimit},
		{"TxSizeLimit", testTxSizeLimit},
		{"LargeValues", testLargeValues},
		{"SetLarge", testSetLarge},
		{"Watch", testWatch},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// errBoom is a caller error that must come back from Update unchanged.
var errBoom = errors.New("storagetest: boom")

// Set writes the pairs key, value, ... of kv in one Update, failing the
// test on an error.
func Set(t *testing.T, s storage.Store, kv ...string) {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatal("set: odd number of arguments")
	}
	if err := s.Update(t.Context(), func(tx storage.Tx) error { return SetPairs(tx, kv...) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// SetPairs sets the pairs key, value, ... of kv in tx.
func SetPairs(tx storage.Tx, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := tx.Set([]byte(kv[i]), []byte(kv[i+1])); err != nil {
			return err
		}
	}
	return nil
}

func get(t *testing.T, s storage.Store, key []byte) ([]byte, error) {
	t.Helper()
	var v []byte
	err := s.View(t.Context(), func(tx storage.ReadTx) error {
		var err error
		v, err = tx.Get(key)
		return err
	})
	return v, err
}

func mustGet(t *testing.T, s storage.Store, key []byte) []byte {
	t.Helper()
	v, err := get(t, s, key)
	if err != nil {
		t.Fatalf("Get(%.40q): %v", key, err)
	}
	return v
}

func wantMissing(t *testing.T, s storage.Store, key []byte) {
	t.Helper()
	if _, err := get(t, s, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(%.40q) = %v, want ErrNotFound", key, err)
	}
}

func getRange(t *testing.T, s storage.Store, r storage.Range) []storage.KeyValue {
	t.Helper()
	var kvs []storage.KeyValue
	err := s.View(t.Context(), func(tx storage.ReadTx) error {
		var err error
		kvs, err = tx.GetRange(r)
		return err
	})
	if err != nil {
		t.Fatalf("GetRange: %v", err)
	}
	return kvs
}

func keysOf(kvs []storage.KeyValue) []string {
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = string(kv.Key)
	}
	return keys
}

// randomBytes returns n deterministic pseudo-random bytes for seed.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// filler is a few pages of data, so that a backend's storage is past its
// smallest form (bbolt keeps a tiny bucket inline, copied on every read,
// which would hide a returned slice that aliases the memory map).
func filler(t *testing.T, s storage.Store) {
	t.Helper()
	Set(t, s, "filler", string(randomBytes(0, 20_000)))
}

func testBasics(t *testing.T, s storage.Store) {
	filler(t, s)
	wantMissing(t, s, []byte("a"))
	Set(t, s, "a", "1", "b", "2")
	if v := mustGet(t, s, []byte("a")); string(v) != "1" {
		t.Fatalf("Get(a) = %q, want 1", v)
	}
	Set(t, s, "a", "one")
	if v := mustGet(t, s, []byte("a")); string(v) != "one" {
		t.Fatalf("Get(a) after overwrite = %q, want one", v)
	}
	// The returned slice is the caller's: changing it changes nothing stored.
	v := mustGet(t, s, []byte("a"))
	v[0] = 'X'
	if v := mustGet(t, s, []byte("a")); string(v) != "one" {
		t.Fatalf("Get(a) after changing a returned slice = %q", v)
	}
	// So is the slice given to Set, once Set returns.
	buf := []byte("value")
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("c"), buf); err != nil {
			return err
		}
		copy(buf, "XXXXX")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := mustGet(t, s, []byte("c")); string(v) != "value" {
		t.Fatalf("Get(c) = %q: Set kept the caller's buffer", v)
	}
	// Empty values are values.
	Set(t, s, "empty", "")
	if v := mustGet(t, s, []byte("empty")); len(v) != 0 {
		t.Fatalf("Get(empty) = %q", v)
	}
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Delete([]byte("a")); err != nil {
			return err
		}
		return tx.Delete([]byte("never-set")) // not an error
	})
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMissing(t, s, []byte("a"))
	if v := mustGet(t, s, []byte("b")); string(v) != "2" {
		t.Fatalf("Get(b) = %q after deleting a", v)
	}
}

func testInvalidKeys(t *testing.T, s storage.Store) {
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set(nil, []byte("v")); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Set(nil) = %v, want ErrInvalidKey", err)
		}
		if err := tx.Set([]byte{}, []byte("v")); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Set(empty) = %v, want ErrInvalidKey", err)
		}
		if _, err := tx.Get(nil); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Get(nil) = %v, want ErrInvalidKey", err)
		}
		if err := tx.Delete(nil); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(nil) = %v, want ErrInvalidKey", err)
		}
		// A refused key does not spoil the transaction.
		return tx.Set([]byte("ok"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, []byte("ok"))
}

func testOwnWrites(t *testing.T, s storage.Store) {
	Set(t, s, "k1", "old", "k3", "gone")
	big := randomBytes(1, 250_000)
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("k1"), []byte("new")); err != nil {
			return err
		}
		if err := tx.Set([]byte("k2"), big); err != nil {
			return err
		}
		if err := tx.Delete([]byte("k3")); err != nil {
			return err
		}
		if v, err := tx.Get([]byte("k1")); err != nil || string(v) != "new" {
			t.Errorf("own write: Get(k1) = %q, %v", v, err)
		}
		if v, err := tx.Get([]byte("k2")); err != nil || !bytes.Equal(v, big) {
			t.Errorf("own write: Get(k2) = %d bytes, %v", len(v), err)
		}
		if _, err := tx.Get([]byte("k3")); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("own delete: Get(k3) = %v, want ErrNotFound", err)
		}
		kvs, err := tx.GetRange(storage.PrefixRange([]byte("k")))
		if err != nil {
			return err
		}
		if got := keysOf(kvs); !slices.Equal(got, []string{"k1", "k2"}) {
			t.Errorf("own writes: GetRange keys = %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testFailingFn(t *testing.T, s storage.Store) {
	Set(t, s, "keep", "1")
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("keep"), []byte("2")); err != nil {
			return err
		}
		if err := tx.Set([]byte("new"), randomBytes(2, 300_000)); err != nil {
			return err
		}
		if err := tx.Delete([]byte("keep")); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	err = s.Update(t.Context(), func(tx storage.Tx) error { return errBoom })
	if err != errBoom { // identity: the contract says "as is"
		t.Fatalf("Update = %v, want errBoom itself", err)
	}
	if v := mustGet(t, s, []byte("keep")); string(v) != "1" {
		t.Fatalf("Get(keep) = %q after a failed Update", v)
	}
	wantMissing(t, s, []byte("new"))
	err = s.View(t.Context(), func(tx storage.ReadTx) error { return errBoom })
	if err != errBoom { // identity: returned as is
		t.Fatalf("View = %v, want errBoom itself", err)
	}
}

func testTxUsedAfterFn(t *testing.T, s storage.Store) {
	var kept storage.Tx
	if err := s.Update(t.Context(), func(tx storage.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := kept.Set([]byte("late"), []byte("v")); err == nil {
		t.Fatal("Set on a finished transaction succeeded")
	}
	if _, err := kept.Get([]byte("late")); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get on a finished transaction = %v, want an error", err)
	}
	wantMissing(t, s, []byte("late"))
}

// orderedKeys holds keys whose byte order is easy to get wrong.
var orderedKeys = []string{
	"\x00", "\x00\x00", "\x00\xff", "\x01",
	"a", "a\x00", "a\x00\x00", "a\x00\x01", "a\x00\xff", "a\x01", "aa", "a\xfe", "a\xff", "a\xff\x00", "a\xff\xff",
	"b", "b\x00", "\xfe", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff",
}

func testRangeOrder(t *testing.T, s storage.Store) {
	shuffled := slices.Clone(orderedKeys)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	var kv []string
	for _, k := range shuffled {
		kv = append(kv, k, "v:"+k)
	}
	Set(t, s, kv...)
	want := slices.Clone(orderedKeys)
	slices.SortFunc(want, func(a, b string) int { return bytes.Compare([]byte(a), []byte(b)) })
	if !slices.Equal(want, orderedKeys) {
		t.Fatal("orderedKeys is not sorted")
	}
	kvs := getRange(t, s, storage.Range{})
	if got := keysOf(kvs); !slices.Equal(got, want) {
		t.Fatalf("GetRange(all) keys =\n%q\nwant\n%q", got, want)
	}
	for _, kv := range kvs {
		if string(kv.Value) != "v:"+string(kv.Key) {
			t.Fatalf("GetRange: value of %q = %q", kv.Key, kv.Value)
		}
	}
	rev := getRange(t, s, storage.Range{Reverse: true})
	wantRev := slices.Clone(want)
	slices.Reverse(wantRev)
	if got := keysOf(rev); !slices.Equal(got, wantRev) {
		t.Fatalf("GetRange(all, Reverse) keys =\n%q\nwant\n%q", got, wantRev)
	}
	for _, prefix := range []string{"a", "a\x00", "a\xff", "\x00", "\xff", "\xff\xff", "b", "c"} {
		var wantP []string
		for _, k := range want {
			if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
				wantP = append(wantP, k)
			}
		}
		got := keysOf(getRange(t, s, storage.PrefixRange([]byte(prefix))))
		if !slices.Equal(got, wantP) {
			t.Errorf("PrefixRange(%q) keys = %q, want %q", prefix, got, wantP)
		}
	}
	for _, b := range orderedKeys {
		for _, e := range orderedKeys {
			var wantR []string
			for _, k := range want {
				if k >= b && k < e {
					wantR = append(wantR, k)
				}
			}
			got := keysOf(getRange(t, s, storage.Range{Begin: []byte(b), End: []byte(e)}))
			if !slices.Equal(got, wantR) {
				t.Fatalf("Range[%q, %q) keys = %q, want %q", b, e, got, wantR)
			}
		}
	}
}

func testRangeOptions(t *testing.T, s storage.Store) {
	var kv []string
	for i := range 20 {
		kv = append(kv, fmt.Sprintf("r/%02d", i), fmt.Sprintf("value %d", i))
	}
	Set(t, s, append(kv, "q", "before", "s", "after")...)
	filler(t, s)
	pr := storage.PrefixRange([]byte("r/"))

	r := pr
	r.Limit = 5
	if got := keysOf(getRange(t, s, r)); !slices.Equal(got, []string{"r/00", "r/01", "r/02", "r/03", "r/04"}) {
		t.Errorf("Limit 5: %q", got)
	}
	r.Reverse = true
	if got := keysOf(getRange(t, s, r)); !slices.Equal(got, []string{"r/19", "r/18", "r/17", "r/16", "r/15"}) {
		t.Errorf("Limit 5, Reverse: %q", got)
	}
	r = pr
	r.Limit = 100
	if got := getRange(t, s, r); len(got) != 20 {
		t.Errorf("Limit 100 over 20 keys: %d entries", len(got))
	}
	r = pr
	r.KeysOnly = true
	kvs := getRange(t, s, r)
	if len(kvs) != 20 {
		t.Fatalf("KeysOnly: %d entries", len(kvs))
	}
	for _, kv := range kvs {
		if kv.Value != nil {
			t.Fatalf("KeysOnly: value of %q = %q, want nil", kv.Key, kv.Value)
		}
	}
	r = storage.Range{Begin: []byte("r/05"), End: []byte("r/08")}
	kvs = getRange(t, s, r)
	if got := keysOf(kvs); !slices.Equal(got, []string{"r/05", "r/06", "r/07"}) {
		t.Errorf("[r/05, r/08): %q", got)
	}
	if string(kvs[0].Value) != "value 5" {
		t.Errorf("[r/05, r/08): first value %q", kvs[0].Value)
	}
	r.Reverse = true
	if got := keysOf(getRange(t, s, r)); !slices.Equal(got, []string{"r/07", "r/06", "r/05"}) {
		t.Errorf("[r/05, r/08) Reverse: %q", got)
	}
	// The returned slices are the caller's.
	kvs[0].Key[0], kvs[0].Value[0] = 'X', 'X'
	if v := mustGet(t, s, []byte("r/05")); string(v) != "value 5" {
		t.Errorf("changing GetRange's result changed the store: %q", v)
	}
}

func testRangeBounds(t *testing.T, s storage.Store) {
	Set(t, s, "a", "1", "b", "2", "c", "3")
	cases := []struct {
		begin, end []byte
		want       []string
	}{
		{nil, nil, []string{"a", "b", "c"}},
		{[]byte{}, []byte{}, []string{"a", "b", "c"}},
		{[]byte("b"), nil, []string{"b", "c"}},
		{nil, []byte("b"), []string{"a"}},
		{[]byte("b"), []byte("b"), nil},
		{[]byte("c"), []byte("a"), nil}, // inverted: empty, not an error
		{[]byte("a\x00"), []byte("c"), []string{"b"}},
		{storage.PrefixEnd([]byte("c")), nil, nil},
	}
	for _, c := range cases {
		got := keysOf(getRange(t, s, storage.Range{Begin: c.begin, End: c.end}))
		if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("Range[%q, %q) = %q, want %q", c.begin, c.end, got, c.want)
		}
	}
	if e := storage.PrefixEnd([]byte("\xff\xff")); e != nil {
		t.Errorf("PrefixEnd(ff ff) = %q, want nil", e)
	}
	err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.DeleteRange([]byte("c"), []byte("a")) })
	if err != nil {
		t.Fatalf("inverted DeleteRange: %v", err)
	}
	if got := keysOf(getRange(t, s, storage.Range{})); len(got) != 3 {
		t.Fatalf("inverted DeleteRange removed keys: %q", got)
	}
}

func testPaging(t *testing.T, s storage.Store) {
	const n = 10_001
	key := func(i int) []byte { return fmt.Appendf(nil, "page/%05d", i) }
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		for i := range n {
			if err := tx.Set(key(i), fmt.Appendf(nil, "%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	Set(t, s, "pagf", "outside", "pag", "outside")

	// Forward: Begin = last key + 0x00.
	r := storage.PrefixRange([]byte("page/"))
	r.Limit = 997
	seen, pages := 0, 0
	for {
		kvs := getRange(t, s, r)
		for _, kv := range kvs {
			if !bytes.Equal(kv.Key, key(seen)) || string(kv.Value) != fmt.Sprint(seen) {
				t.Fatalf("forward paging: entry %d is %q=%q", seen, kv.Key, kv.Value)
			}
			seen++
		}
		if len(kvs) < r.Limit {
			break
		}
		pages++
		r.Begin = append(kvs[len(kvs)-1].Key, 0x00)
	}
	if seen != n {
		t.Fatalf("forward paging saw %d keys, want %d", seen, n)
	}

	// Backward: End = last key seen (End is exclusive).
	r = storage.PrefixRange([]byte("page/"))
	r.Limit, r.Reverse, r.KeysOnly = 1000, true, true
	seen = 0
	for {
		kvs := getRange(t, s, r)
		for _, kv := range kvs {
			if !bytes.Equal(kv.Key, key(n-1-seen)) || kv.Value != nil {
				t.Fatalf("backward paging: entry %d is %q", seen, kv.Key)
			}
			seen++
		}
		if len(kvs) < r.Limit {
			break
		}
		r.End = kvs[len(kvs)-1].Key
	}
	if seen != n {
		t.Fatalf("backward paging saw %d keys, want %d", seen, n)
	}
}

func testDeleteRange(t *testing.T, s storage.Store) {
	var kv []string
	for c := 'a'; c <= 'z'; c++ {
		kv = append(kv, string(c), string(c))
	}
	Set(t, s, kv...)
	big := randomBytes(3, 350_000)
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("d-big"), big); err != nil {
			return err
		}
		return tx.Set([]byte("x-big"), big)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.DeleteRange([]byte("c"), []byte("f")); err != nil {
			return err
		}
		// Own writes: the range is gone inside the transaction already.
		kvs, err := tx.GetRange(storage.Range{Begin: []byte("c"), End: []byte("f")})
		if err != nil {
			return err
		}
		if len(kvs) != 0 {
			t.Errorf("inside the transaction, [c, f) still holds %q", keysOf(kvs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "b", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "x-big", "y", "z"}
	if got := keysOf(getRange(t, s, storage.Range{KeysOnly: true})); !slices.Equal(got, want) {
		t.Fatalf("after DeleteRange[c, f): %q", got)
	}
	if v := mustGet(t, s, []byte("x-big")); !bytes.Equal(v, big) {
		t.Fatal("DeleteRange damaged a chunked value outside the range")
	}
	// Open-ended ranges.
	err = s.Update(t.Context(), func(tx storage.Tx) error { return tx.DeleteRange([]byte("x"), nil) })
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(getRange(t, s, storage.Range{Begin: []byte("w")})); !slices.Equal(got, []string{"w"}) {
		t.Fatalf("after DeleteRange[x, end): %q", got)
	}
	err = s.Update(t.Context(), func(tx storage.Tx) error { return tx.DeleteRange(nil, []byte("g")) })
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(getRange(t, s, storage.Range{End: []byte("h")})); !slices.Equal(got, []string{"g"}) {
		t.Fatalf("after DeleteRange[start, g): %q", got)
	}
	err = s.Update(t.Context(), func(tx storage.Tx) error { return tx.DeleteRange(nil, nil) })
	if err != nil {
		t.Fatal(err)
	}
	if got := getRange(t, s, storage.Range{}); len(got) != 0 {
		t.Fatalf("after DeleteRange(all): %q", keysOf(got))
	}
}

// inc adds one to the decimal counter at key (missing means 0).
func inc(tx storage.Tx, key []byte) error {
	n := 0
	v, err := tx.Get(key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return err
	default:
		if _, err := fmt.Sscan(string(v), &n); err != nil {
			return fmt.Errorf("bad counter %q: %w", v, err)
		}
	}
	return tx.Set(key, fmt.Append(nil, n+1))
}

// testConcurrentIncrements runs read-modify-write transactions from many
// goroutines on one counter: a serializable store loses no increment, on
// a backend with optimistic concurrency through conflicts and retries.
func testConcurrentIncrements(t *testing.T, s storage.Store) {
	const workers, rounds = 8, 50
	counter := []byte("counter")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			own := fmt.Appendf(nil, "worker/%d", w)
			for range rounds {
				err := s.Update(t.Context(), func(tx storage.Tx) error {
					if err := inc(tx, counter); err != nil {
						return err
					}
					return inc(tx, own)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	if v := mustGet(t, s, counter); string(v) != fmt.Sprint(workers*rounds) {
		t.Fatalf("counter = %s, want %d: an update was lost", v, workers*rounds)
	}
	for w := range workers {
		if v := mustGet(t, s, fmt.Appendf(nil, "worker/%d", w)); string(v) != fmt.Sprint(rounds) {
			t.Fatalf("worker/%d = %s, want %d", w, v, rounds)
		}
	}
}

// testConcurrentOutcomes runs Updates from many goroutines at once, most of
// them incrementing one counter, where some functions succeed and the others
// fail: before writing, after writing (their own error, a Set over MaxTxSize,
// a transaction that grows over MaxTxSize, an ErrTxTooLarge ignored). A
// backend that runs concurrent Updates in one shared transaction (group
// commit) must still commit every successful one exactly once, nothing of a
// failed one, and report each outcome to its own caller; MaxTxSize counts
// per Update.
func testConcurrentOutcomes(t *testing.T, s storage.Store) {
	const workers, rounds = 16, 25
	total := []byte("mix/total")
	huge := make([]byte, storage.MaxTxSize+1) // refused before it is written
	big := randomBytes(60, 6_000_000)         // two of them go over MaxTxSize
	want := map[string]bool{}                 // key -> committed
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				key := fmt.Appendf(nil, "mix/%02d/%02d", w, i)
				kind := (w*7 + i) % 6
				if kind == 5 && i >= 10 {
					kind = 0 // few 12 MB transactions
				}
				err := s.Update(t.Context(), func(tx storage.Tx) error {
					if kind == 1 {
						if _, err := tx.Get(total); err != nil && !errors.Is(err, storage.ErrNotFound) {
							return err
						}
						return errBoom // before writing
					}
					if err := inc(tx, total); err != nil {
						return err
					}
					if err := tx.Set(key, []byte("committed")); err != nil {
						return err
					}
					switch kind {
					case 2:
						return fmt.Errorf("after writing: %w", errBoom)
					case 3:
						return tx.Set(fmt.Appendf(nil, "%s/huge", key), huge)
					case 4:
						_ = tx.Set(fmt.Appendf(nil, "%s/huge", key), huge) // ignored
					case 5:
						if err := tx.Set(fmt.Appendf(nil, "%s/a", key), big); err != nil {
							return err
						}
						return tx.Set(fmt.Appendf(nil, "%s/b", key), big)
					}
					return nil
				})
				switch kind {
				case 0:
					if err != nil {
						t.Errorf("%s: succeeding Update = %v", key, err)
					}
				case 1:
					if err != errBoom {
						t.Errorf("%s: Update failing before writing = %v, want errBoom itself", key, err)
					}
				case 2:
					if !errors.Is(err, errBoom) {
						t.Errorf("%s: Update failing after writing = %v, want errBoom", key, err)
					}
				default:
					if !errors.Is(err, storage.ErrTxTooLarge) {
						t.Errorf("%s: Update over MaxTxSize (kind %d) = %v, want ErrTxTooLarge", key, kind, err)
					}
				}
				mu.Lock()
				want[string(key)] = err == nil
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	committed := 0
	for _, ok := range want {
		if ok {
			committed++
		}
	}
	if committed == 0 || committed == len(want) {
		t.Fatalf("%d of %d Updates committed: the mix is broken", committed, len(want))
	}
	if v := mustGet(t, s, total); string(v) != fmt.Sprint(committed) {
		t.Errorf("counter = %s, want %d (one per successful Update)", v, committed)
	}
	got := map[string]bool{}
	for _, kv := range getRange(t, s, storage.PrefixRange([]byte("mix/"))) {
		if !bytes.Equal(kv.Key, total) {
			got[string(kv.Key)] = true
			if string(kv.Value) != "committed" {
				t.Errorf("%s = %.20q", kv.Key, kv.Value)
			}
		}
	}
	for key, ok := range want {
		if ok != got[key] {
			t.Errorf("%s: committed=%v, but present=%v", key, ok, got[key])
		}
		delete(got, key)
	}
	for key := range got {
		t.Errorf("%s: written by a failed Update", key)
	}
}

// testConcurrentSetLarge runs SetLarge calls over several transactions from
// several goroutines, half of them with a failing fn, next to small Updates
// and CollectGarbage: each value commits with its fn's writes or not at all,
// and nothing staged is left behind.
func testConcurrentSetLarge(t *testing.T, s storage.Store) {
	const workers = 4
	values := make([][]byte, workers)
	for w := range values {
		values[w] = randomBytes(uint64(70+w), 5<<20)
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Update(t.Context(), func(tx storage.Tx) error { return inc(tx, []byte("cl/small")) }); err != nil {
				t.Errorf("small Update: %v", err)
				return
			}
			if i%10 == 0 {
				if n, err := storage.CollectGarbage(t.Context(), s, time.Hour); err != nil || n != 0 {
					t.Errorf("CollectGarbage(1h) during SetLarge = %d, %v; want 0, nil", n, err)
				}
			}
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			key := fmt.Appendf(nil, "cl/%d", w)
			err := storage.SetLarge(t.Context(), s, key, values[w], func(tx storage.Tx) error {
				if err := tx.Set(fmt.Appendf(nil, "%s/meta", key), []byte("v")); err != nil {
					return err
				}
				if w%2 == 1 {
					return errBoom
				}
				return nil
			})
			switch {
			case w%2 == 1 && err != errBoom:
				t.Errorf("SetLarge(%s) with a failing fn = %v, want errBoom", key, err)
			case w%2 == 0 && err != nil:
				t.Errorf("SetLarge(%s) = %v", key, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	for w := range workers {
		key := fmt.Appendf(nil, "cl/%d", w)
		if w%2 == 1 {
			wantMissing(t, s, key)
			wantMissing(t, s, fmt.Appendf(nil, "%s/meta", key))
			continue
		}
		if v := mustGet(t, s, key); !bytes.Equal(v, values[w]) {
			t.Errorf("Get(%s): %d bytes, not the value set", key, len(v))
		}
		mustGet(t, s, fmt.Appendf(nil, "%s/meta", key))
	}
	if n, err := storage.CollectGarbage(t.Context(), s, 0); err != nil || n != 0 {
		t.Errorf("CollectGarbage(0) after the SetLarge calls = %d, %v; want 0, nil (failed calls clean up)", n, err)
	}
}

// testViewSnapshot checks that a View sees one snapshot: a writer always
// changes two keys together, and every View reads them equal, even when it
// reads them with writes in between.
func testViewSnapshot(t *testing.T, s storage.Store) {
	Set(t, s, "pair/a", "0", "pair/b", "0")
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := s.Update(t.Context(), func(tx storage.Tx) error {
				v := fmt.Append(nil, i)
				if err := tx.Set([]byte("pair/a"), v); err != nil {
					return err
				}
				return tx.Set([]byte("pair/b"), v)
			})
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			writes.Add(1)
		}
	})
	deadline := time.Now().Add(300 * time.Millisecond)
	views := 0
	for time.Now().Before(deadline) || writes.Load() < 3 {
		err := s.View(t.Context(), func(tx storage.ReadTx) error {
			a, err := tx.Get([]byte("pair/a"))
			if err != nil {
				return err
			}
			if views%2 == 0 {
				time.Sleep(time.Millisecond) // let the writer commit in between
			}
			b, err := tx.Get([]byte("pair/b"))
			if err != nil {
				return err
			}
			kvs, err := tx.GetRange(storage.PrefixRange([]byte("pair/")))
			if err != nil {
				return err
			}
			if string(a) != string(b) || len(kvs) != 2 ||
				string(kvs[0].Value) != string(a) || string(kvs[1].Value) != string(a) {
				return fmt.Errorf("inconsistent snapshot: a=%s b=%s range=%q", a, b, kvs)
			}
			return nil
		})
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		views++
		if time.Now().After(deadline.Add(5 * time.Second)) {
			break
		}
	}
	close(stop)
	wg.Wait()
	if writes.Load() == 0 {
		t.Fatal("the writer never committed while views ran")
	}
	t.Logf("%d views, %d writes", views, writes.Load())
}

func testRetryOnConflict(t *testing.T, s storage.Store) {
	calls := 0
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		calls++
		if calls == 1 {
			if err := tx.Set([]byte("retry/first"), []byte("x")); err != nil {
				return err
			}
			if err := tx.Set([]byte("retry/shared"), []byte("first")); err != nil {
				return err
			}
			return fmt.Errorf("simulated: %w", storage.ErrConflict)
		}
		if _, err := tx.Get([]byte("retry/first")); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second attempt sees the first attempt's write: %v", err)
		}
		if _, err := tx.Get([]byte("retry/shared")); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("second attempt sees the first attempt's write: %v", err)
		}
		return tx.Set([]byte("retry/shared"), []byte("second"))
	})
	if err != nil {
		t.Fatalf("Update = %v, want success on the second attempt", err)
	}
	if calls != 2 {
		t.Fatalf("fn ran %d times, want 2", calls)
	}
	wantMissing(t, s, []byte("retry/first"))
	if v := mustGet(t, s, []byte("retry/shared")); string(v) != "second" {
		t.Fatalf("retry/shared = %q, want second", v)
	}
}

func testConflictBounded(t *testing.T, s storage.Store) {
	calls := 0
	start := time.Now()
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		calls++
		if err := tx.Set([]byte("never"), []byte("x")); err != nil {
			return err
		}
		return storage.ErrConflict
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Update = %v, want ErrConflict", err)
	}
	if calls < 2 || calls > 100 {
		t.Fatalf("fn ran %d times, want a few retries and then a stop", calls)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("giving up took %s", d)
	}
	wantMissing(t, s, []byte("never"))
	t.Logf("gave up after %d attempts in %s", calls, time.Since(start))
}

func testContext(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(tx storage.Tx) error { called = true; return nil })
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("Update(cancelled ctx) = %v, want ErrTimeout and context.Canceled", err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error { called = true; return nil })
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("View(cancelled ctx) = %v, want ErrTimeout and context.Canceled", err)
	}
	if called {
		t.Error("a function ran under a cancelled context")
	}
	if err := storage.SetLarge(ctx, s, []byte("k"), randomBytes(4, 5<<20), nil); !errors.Is(err, storage.ErrTimeout) {
		t.Errorf("SetLarge(cancelled ctx) = %v, want ErrTimeout", err)
	}

	dctx, dcancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer dcancel()
	err = s.Update(dctx, func(tx storage.Tx) error { return nil })
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update(expired ctx) = %v, want ErrTimeout and DeadlineExceeded", err)
	}

	// Cancelled while fn runs: nothing commits, no retry.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	err = s.Update(ctx, func(tx storage.Tx) error {
		calls++
		if err := tx.Set([]byte("cancelled"), []byte("x")); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("Update cancelled during fn = %v, want ErrTimeout and context.Canceled", err)
	}
	wantMissing(t, s, []byte("cancelled"))

	// Cancelled between retries: the loop stops.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	calls = 0
	err = s.Update(ctx, func(tx storage.Tx) error {
		calls++
		cancel()
		return storage.ErrConflict
	})
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("Update cancelled before a retry = %v, want ErrTimeout and context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("fn ran %d times after its context was cancelled, want 1", calls)
	}
}

func testKeySizeLimit(t *testing.T, s storage.Store) {
	maxKey := bytes.Repeat([]byte{'k'}, storage.MaxKeySize)
	// The worst case for escaping: every byte is 0x00.
	maxZeros := make([]byte, storage.MaxKeySize)
	tooBig := bytes.Repeat([]byte{'k'}, storage.MaxKeySize+1)
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set(maxKey, []byte("max")); err != nil {
			return fmt.Errorf("Set(%d-byte key): %w", len(maxKey), err)
		}
		if err := tx.Set(maxZeros, []byte("zeros")); err != nil {
			return fmt.Errorf("Set(%d zero bytes): %w", len(maxZeros), err)
		}
		if err := tx.Set(tooBig, []byte("x")); !errors.Is(err, storage.ErrKeyTooLarge) {
			t.Errorf("Set(%d-byte key) = %v, want ErrKeyTooLarge", len(tooBig), err)
		}
		if _, err := tx.Get(tooBig); !errors.Is(err, storage.ErrKeyTooLarge) {
			t.Errorf("Get(%d-byte key) = %v, want ErrKeyTooLarge", len(tooBig), err)
		}
		if err := tx.Delete(tooBig); !errors.Is(err, storage.ErrKeyTooLarge) {
			t.Errorf("Delete(%d-byte key) = %v, want ErrKeyTooLarge", len(tooBig), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, s, tooBig); !errors.Is(err, storage.ErrKeyTooLarge) {
		t.Errorf("View Get(%d-byte key) = %v, want ErrKeyTooLarge", len(tooBig), err)
	}
	if v := mustGet(t, s, maxKey); string(v) != "max" {
		t.Fatalf("Get(max key) = %q", v)
	}
	if v := mustGet(t, s, maxZeros); string(v) != "zeros" {
		t.Fatalf("Get(max zero key) = %q", v)
	}
	// Range bounds may be longer: paging past the longest key works.
	kvs := getRange(t, s, storage.Range{Begin: append(slices.Clone(maxKey), 0x00)})
	if len(kvs) != 0 {
		t.Fatalf("range after the max key: %d entries", len(kvs))
	}
	kvs = getRange(t, s, storage.Range{Begin: maxZeros, End: append(slices.Clone(maxZeros), 0)})
	if len(kvs) != 1 || !bytes.Equal(kvs[0].Key, maxZeros) {
		t.Fatalf("range [max zero key, +0x00): %d entries", len(kvs))
	}
	kvs = getRange(t, s, storage.Range{Begin: []byte("k"), End: append(slices.Clone(tooBig), 'k')})
	if len(kvs) != 1 || !bytes.Equal(kvs[0].Key, maxKey) {
		t.Fatalf("range with a long End: %d entries", len(kvs))
	}
}

// valueSizes crosses the chunk boundary and reaches well into chunked values.
var valueSizes = []int{
	storage.MaxChunkSize - 2, storage.MaxChunkSize - 1, storage.MaxChunkSize,
	storage.MaxChunkSize + 1, 2 * storage.MaxChunkSize, 1 << 20, 5 << 20,
}

func testChunkedValues(t *testing.T, s storage.Store) {
	values := map[string][]byte{}
	for i, n := range valueSizes {
		k := fmt.Sprintf("v/%d", n)
		values[k] = randomBytes(uint64(10+i), n)
		Set(t, s, k, string(values[k]))
	}
	for k, want := range values {
		if got := mustGet(t, s, []byte(k)); !bytes.Equal(got, want) {
			t.Fatalf("Get(%s): %d bytes, want %d, equal=%v", k, len(got), len(want), bytes.Equal(got, want))
		}
	}
	kvs := getRange(t, s, storage.PrefixRange([]byte("v/")))
	if len(kvs) != len(values) {
		t.Fatalf("GetRange: %d entries, want %d", len(kvs), len(values))
	}
	for _, kv := range kvs {
		if !bytes.Equal(kv.Value, values[string(kv.Key)]) {
			t.Fatalf("GetRange: value of %s differs (%d bytes)", kv.Key, len(kv.Value))
		}
	}
	// Overwrite chunked with small, small with chunked, chunked with chunked.
	k1, k2, k3 := "v/1048576", fmt.Sprintf("v/%d", storage.MaxChunkSize-2), "v/5242880"
	big := randomBytes(99, 3*storage.MaxChunkSize+7)
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set([]byte(k1), []byte("small now")); err != nil {
			return err
		}
		if err := tx.Set([]byte(k2), big); err != nil {
			return err
		}
		return tx.Set([]byte(k3), big)
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := mustGet(t, s, []byte(k1)); string(v) != "small now" {
		t.Fatalf("chunked overwritten by small: %d bytes", len(v))
	}
	for _, k := range []string{k2, k3} {
		if v := mustGet(t, s, []byte(k)); !bytes.Equal(v, big) {
			t.Fatalf("%s overwritten by a chunked value: %d bytes", k, len(v))
		}
	}
	err = s.Update(t.Context(), func(tx storage.Tx) error { return tx.Delete([]byte(k3)) })
	if err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, []byte(k3))
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		return tx.Set([]byte("too-big"), make([]byte, storage.MaxValueSize+1))
	})
	if !errors.Is(err, storage.ErrValueTooLarge) {
		t.Fatalf("Set(MaxValueSize+1) = %v, want ErrValueTooLarge", err)
	}
}

// testChunkedRangeLimit checks that Limit counts logical keys, not chunks.
func testChunkedRangeLimit(t *testing.T, s storage.Store) {
	vals := [][]byte{randomBytes(20, 250_000), []byte("small"), randomBytes(21, 350_000), randomBytes(22, 100_001)}
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		for i, v := range vals {
			if err := tx.Set(fmt.Appendf(nil, "c/%d", i), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 2, 3, 4, 5} {
		for _, rev := range []bool{false, true} {
			r := storage.PrefixRange([]byte("c/"))
			r.Limit, r.Reverse = limit, rev
			kvs := getRange(t, s, r)
			if want := min(limit, len(vals)); len(kvs) != want {
				t.Fatalf("Limit %d Reverse %v: %d entries, want %d", limit, rev, len(kvs), want)
			}
			for j, kv := range kvs {
				i := j
				if rev {
					i = len(vals) - 1 - j
				}
				if string(kv.Key) != fmt.Sprintf("c/%d", i) || !bytes.Equal(kv.Value, vals[i]) {
					t.Fatalf("Limit %d Reverse %v: entry %d is %q with %d bytes", limit, rev, j, kv.Key, len(kv.Value))
				}
			}
		}
	}
}

func testTxSizeLimit(t *testing.T, s storage.Store) {
	mb := randomBytes(30, 1_000_000)
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		for i := range 11 {
			if err := tx.Set(fmt.Appendf(nil, "tx/%02d", i), mb); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, storage.ErrTxTooLarge) {
		t.Fatalf("11 x 1 MB in one Update = %v, want ErrTxTooLarge", err)
	}
	if kvs := getRange(t, s, storage.PrefixRange([]byte("tx/"))); len(kvs) != 0 {
		t.Fatalf("a refused transaction left %d keys", len(kvs))
	}
	// A function that ignores the error does not get its writes committed.
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		for i := range 11 {
			_ = tx.Set(fmt.Appendf(nil, "tx/%02d", i), mb)
		}
		return nil
	})
	if !errors.Is(err, storage.ErrTxTooLarge) {
		t.Fatalf("ignoring the error: Update = %v, want ErrTxTooLarge", err)
	}
	if kvs := getRange(t, s, storage.PrefixRange([]byte("tx/"))); len(kvs) != 0 {
		t.Fatalf("a refused transaction left %d keys", len(kvs))
	}
	// One value over the limit is refused before it is written.
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		return tx.Set([]byte("tx/huge"), make([]byte, storage.MaxTxSize+1))
	})
	if !errors.Is(err, storage.ErrTxTooLarge) {
		t.Fatalf("one %d-byte Set = %v, want ErrTxTooLarge", storage.MaxTxSize+1, err)
	}
	// 9 MB fits.
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		for i := range 9 {
			if err := tx.Set(fmt.Appendf(nil, "tx/%02d", i), mb); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("9 x 1 MB in one Update: %v", err)
	}
	kvs := getRange(t, s, storage.PrefixRange([]byte("tx/")))
	if len(kvs) != 9 {
		t.Fatalf("after a 9 MB transaction: %d keys, want 9", len(kvs))
	}
	for _, kv := range kvs {
		if !bytes.Equal(kv.Value, mb) {
			t.Fatalf("%s: %d bytes differ", kv.Key, len(kv.Value))
		}
	}
}

// testLargeValues stores 32 MiB and 40 MiB values with SetLarge, over
// several transactions, and overwrites and deletes them.
func testLargeValues(t *testing.T, s storage.Store) {
	v32 := randomBytes(32, 32<<20)
	v40 := randomBytes(40, 40<<20)
	check := func(key []byte, want []byte) {
		t.Helper()
		got := mustGet(t, s, key)
		if len(got) != len(want) || sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("Get(%s): %d bytes, want %d (digest differs)", key, len(got), len(want))
		}
	}
	if err := storage.SetLarge(t.Context(), s, []byte("large/32"), v32, nil); err != nil {
		t.Fatalf("SetLarge(32 MiB): %v", err)
	}
	if err := storage.SetLarge(t.Context(), s, []byte("large/40"), v40, nil); err != nil {
		t.Fatalf("SetLarge(40 MiB): %v", err)
	}
	check([]byte("large/32"), v32)
	check([]byte("large/40"), v40)
	kvs := getRange(t, s, storage.PrefixRange([]byte("large/")))
	if len(kvs) != 2 || !bytes.Equal(kvs[0].Value, v32) || !bytes.Equal(kvs[1].Value, v40) {
		t.Fatalf("GetRange of large values: %d entries", len(kvs))
	}
	kvs = getRange(t, s, storage.Range{Begin: []byte("large/"), KeysOnly: true})
	if got := keysOf(kvs); !slices.Equal(got, []string{"large/32", "large/40"}) || kvs[0].Value != nil {
		t.Fatalf("KeysOnly over large values: %q", got)
	}

	// Overwrite large with large, then large with small, then delete.
	if err := storage.SetLarge(t.Context(), s, []byte("large/40"), v32, nil); err != nil {
		t.Fatalf("SetLarge over a large value: %v", err)
	}
	check([]byte("large/40"), v32)
	Set(t, s, "large/32", "small")
	if v := mustGet(t, s, []byte("large/32")); string(v) != "small" {
		t.Fatalf("large value overwritten by Set: %d bytes", len(v))
	}
	err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Delete([]byte("large/40")) })
	if err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, []byte("large/40"))
	if err := storage.SetLarge(t.Context(), s, []byte("large/x"), make([]byte, storage.MaxValueSize+1), nil); !errors.Is(err, storage.ErrValueTooLarge) {
		t.Fatalf("SetLarge(MaxValueSize+1) = %v, want ErrValueTooLarge", err)
	}
	if err := storage.SetLarge(t.Context(), s, bytes.Repeat([]byte{1}, storage.MaxKeySize+1), []byte("v"), nil); !errors.Is(err, storage.ErrKeyTooLarge) {
		t.Fatalf("SetLarge(long key) = %v, want ErrKeyTooLarge", err)
	}
}

// testSetLarge checks SetLarge's transaction function: its writes commit
// with the value, and its failure leaves the previous value.
func testSetLarge(t *testing.T, s storage.Store) {
	old := randomBytes(50, 6<<20)
	next := randomBytes(51, 12<<20)
	key := []byte("sl/key")
	err := storage.SetLarge(t.Context(), s, key, old, func(tx storage.Tx) error {
		v, err := tx.Get(key)
		if err != nil || !bytes.Equal(v, old) {
			return fmt.Errorf("inside SetLarge's fn: Get = %d bytes, %v", len(v), err)
		}
		return tx.Set([]byte("sl/meta"), []byte("v1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := mustGet(t, s, []byte("sl/meta")); string(v) != "v1" {
		t.Fatalf("meta = %q", v)
	}
	err = storage.SetLarge(t.Context(), s, key, next, func(tx storage.Tx) error {
		if err := tx.Set([]byte("sl/meta"), []byte("v2")); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom { // identity: returned as is
		t.Fatalf("SetLarge with a failing fn = %v, want errBoom", err)
	}
	if v := mustGet(t, s, key); !bytes.Equal(v, old) {
		t.Fatal("a failed SetLarge changed the value")
	}
	if v := mustGet(t, s, []byte("sl/meta")); string(v) != "v1" {
		t.Fatalf("a failed SetLarge committed fn's write: meta = %q", v)
	}
	// A conflict in the final transaction is retried like Update's.
	calls := 0
	err = storage.SetLarge(t.Context(), s, key, next, func(tx storage.Tx) error {
		calls++
		if calls == 1 {
			return storage.ErrConflict
		}
		return tx.Set([]byte("sl/meta"), []byte("v3"))
	})
	if err != nil || calls != 2 {
		t.Fatalf("SetLarge with one conflict = %v after %d calls", err, calls)
	}
	if v := mustGet(t, s, key); !bytes.Equal(v, next) {
		t.Fatal("SetLarge after a conflict: wrong value")
	}
	if v := mustGet(t, s, []byte("sl/meta")); string(v) != "v3" {
		t.Fatalf("meta = %q", v)
	}
	// Small values go through too.
	if err := storage.SetLarge(t.Context(), s, []byte("sl/small"), []byte("tiny"), nil); err != nil {
		t.Fatal(err)
	}
	if v := mustGet(t, s, []byte("sl/small")); string(v) != "tiny" {
		t.Fatalf("small SetLarge: %q", v)
	}
	if n, err := storage.CollectGarbage(t.Context(), s, 0); err != nil || n != 0 {
		t.Fatalf("CollectGarbage after clean SetLarge calls = %d, %v; want 0, nil", n, err)
	}
}

func testClose(t *testing.T, s storage.Store) {
	Set(t, s, "a", "1")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	called := false
	if err := s.Update(t.Context(), func(tx storage.Tx) error { called = true; return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	if err := s.View(t.Context(), func(tx storage.ReadTx) error { called = true; return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := storage.SetLarge(t.Context(), s, []byte("k"), randomBytes(5, 5<<20), nil); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("SetLarge after Close = %v, want ErrClosed", err)
	}
	if err := storage.SetLarge(t.Context(), s, []byte("k"), []byte("v"), nil); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("small SetLarge after Close = %v, want ErrClosed", err)
	}
	if _, err := storage.CollectGarbage(t.Context(), s, time.Hour); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("CollectGarbage after Close = %v, want ErrClosed", err)
	}
	if called {
		t.Error("a function ran on a closed store")
	}
}

// fired reports whether ch is closed within d.
func fired(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// testWatch: a watch fires once a committed transaction writes its key
// (Set, Delete, DeleteRange, SetLarge), not for other keys, not for a
// failed transaction, and when its context ends or the store closes.
func testWatch(t *testing.T, s storage.Store) {
	w, ok := s.(storage.Watcher)
	if !ok {
		t.Fatal("the store does not implement storage.Watcher")
	}
	ctx := t.Context()
	put := func(fn func(tx storage.Tx) error) error { return s.Update(ctx, fn) }
	epoch := []byte("tenant/a/epoch")
	ch, err := w.Watch(ctx, epoch)
	if err != nil {
		t.Fatal(err)
	}
	put(func(tx storage.Tx) error { return tx.Set([]byte("tenant/a/other"), []byte("x")) })
	if fired(ch, 50*time.Millisecond) {
		t.Fatal("a write to another key fired the watch")
	}
	put(func(tx storage.Tx) error {
		if err := tx.Set(epoch, []byte("1")); err != nil {
			return err
		}
		return errBoom
	})
	if fired(ch, 50*time.Millisecond) {
		t.Fatal("a failed transaction fired the watch")
	}
	if err := put(func(tx storage.Tx) error { return tx.Set(epoch, []byte("2")) }); err != nil {
		t.Fatal(err)
	}
	if !fired(ch, time.Second) {
		t.Fatal("a committed write did not fire the watch")
	}
	for name, write := range map[string]func(tx storage.Tx) error{
		"Delete":      func(tx storage.Tx) error { return tx.Delete(epoch) },
		"DeleteRange": func(tx storage.Tx) error { return tx.DeleteRange([]byte("tenant/a/"), []byte("tenant/b")) },
	} {
		ch, _ := w.Watch(ctx, epoch)
		if err := put(write); err != nil {
			t.Fatal(err)
		}
		if !fired(ch, time.Second) {
			t.Fatalf("%s did not fire the watch", name)
		}
	}
	ch, _ = w.Watch(ctx, epoch)
	if err := storage.SetLarge(ctx, s, epoch, bytes.Repeat([]byte("e"), 5<<20), nil); err != nil {
		t.Fatal(err)
	}
	if !fired(ch, time.Second) {
		t.Fatal("SetLarge did not fire the watch")
	}
	cctx, cancel := context.WithCancel(ctx)
	ch, _ = w.Watch(cctx, epoch)
	cancel()
	if !fired(ch, time.Second) {
		t.Fatal("the watch did not end with its context")
	}
	ch, _ = w.Watch(ctx, epoch)
	s.Close()
	if !fired(ch, time.Second) {
		t.Fatal("the watch did not end when the store closed")
	}
	if _, err := w.Watch(ctx, epoch); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Watch on a closed store: %v", err)
	}
}
