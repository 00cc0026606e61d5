package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/storage/storagetest"
)

func TestConformanceWithoutReadCache(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithReadCacheSize(0))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceTinyReadCache runs the suite with a cache that holds a
// few records at most, so that it is always evicting.
func TestConformanceTinyReadCache(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithReadCacheSize(600))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func wantValue(t *testing.T, s storage.Store, key, want string) {
	t.Helper()
	v, err := get(t, s, key)
	if want == "" {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s: got %q, %v; want not found", key, v, err)
		}
		return
	}
	if err != nil || string(v) != want {
		t.Fatalf("%s: got %q, %v; want %q", key, v, err, want)
	}
}

// TestReadCacheServesWarmReads checks that a second read of a key is
// served by the cache (no miss counted), and that every kind of write
// (set, delete, range delete, with and without group commit) is seen by
// the next read.
func TestReadCacheServesWarmReads(t *testing.T) {
	for _, opts := range [][]bolt.Option{nil, {bolt.WithoutGroupCommit()}} {
		raw, s := openGroup(t, opts...)
		storagetest.Set(t, s, "a", "1", "b", "1")
		wantValue(t, s, "a", "1")
		if st := raw.CacheStats(); st.Stored != 0 {
			t.Fatalf("a key read once was cached: %+v", st)
		}
		wantValue(t, s, "a", "1") // the second miss keeps it
		misses := raw.CacheStats().Misses
		wantValue(t, s, "a", "1")
		if m := raw.CacheStats().Misses; m != misses {
			t.Fatalf("a warm read missed the cache (%d misses, then %d)", misses, m)
		}
		if st := raw.CacheStats(); st.Entries == 0 || st.Bytes == 0 {
			t.Fatalf("cache holds nothing after reads: %+v", st)
		}

		storagetest.Set(t, s, "a", "2")
		wantValue(t, s, "a", "2")
		wantValue(t, s, "a", "2")
		wantValue(t, s, "a", "2")
		wantValue(t, s, "b", "1")
		wantValue(t, s, "b", "1")
		err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Delete([]byte("a")) })
		if err != nil {
			t.Fatal(err)
		}
		wantValue(t, s, "a", "")
		wantValue(t, s, "b", "1")
		err = s.Update(t.Context(), func(tx storage.Tx) error { return tx.DeleteRange([]byte("a"), []byte("c")) })
		if err != nil {
			t.Fatal(err)
		}
		wantValue(t, s, "b", "")
		storagetest.Set(t, s, "b", "3")
		wantValue(t, s, "b", "3")
		wantValue(t, s, "b", "3")
	}
}

// TestReadCacheKeepsSnapshots checks the two ways a cache could show a
// read transaction a value from after its snapshot: a value cached by a
// newer transaction, and a value cached by an older one that a commit has
// since replaced.
func TestReadCacheKeepsSnapshots(t *testing.T) {
	_, s := openGroup(t)
	// A writer waits for the readers when bbolt grows its memory map: grow
	// it now, so that the writes below do not wait for the transactions
	// this test holds open.
	storagetest.Set(t, s, "filler", string(bytes.Repeat([]byte("f"), 4<<20)))
	storagetest.Set(t, s, "k", "1", "j", "1")

	// An old transaction must not be given a value cached after it began.
	began, wrote := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.View(context.Background(), func(tx storage.ReadTx) error {
			close(began)
			<-wrote
			v, err := tx.Get([]byte("k"))
			if err != nil || string(v) != "1" {
				return fmt.Errorf("old transaction read k = %q, %v; want its snapshot's 1", v, err)
			}
			return nil
		})
	}()
	<-began
	setBeside(t, s, wrote, "k", "2")
	wantValue(t, s, "k", "2")
	wantValue(t, s, "k", "2") // cached now (a second miss), by a newer transaction
	close(wrote)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	// A transaction that read k from the cache must read j as of the same
	// snapshot after a commit changed both.
	wantValue(t, s, "j", "1")
	wantValue(t, s, "j", "1")
	wantValue(t, s, "k", "2")
	readK, wrote := make(chan struct{}), make(chan struct{})
	go func() {
		errc <- s.View(context.Background(), func(tx storage.ReadTx) error {
			if v, err := tx.Get([]byte("k")); err != nil || string(v) != "2" {
				return fmt.Errorf("k = %q, %v; want 2", v, err)
			}
			close(readK)
			<-wrote
			for _, key := range []string{"j", "k"} {
				if v, err := tx.Get([]byte(key)); err != nil || (key == "j" && string(v) != "1") || (key == "k" && string(v) != "2") {
					return fmt.Errorf("after a commit, the transaction read %s = %q, %v: not its snapshot", key, v, err)
				}
			}
			return nil
		})
	}()
	<-readK
	setBeside(t, s, wrote, "k", "3", "j", "3")
	close(wrote)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// The old transaction's reads must not have been cached.
	wantValue(t, s, "j", "3")
	wantValue(t, s, "k", "3")
}

// setBeside is set while a read transaction is held open until release is
// closed. Should the write wait for that reader after all (bbolt growing
// its memory map), the reader is released and the test fails instead of
// hanging.
func setBeside(t *testing.T, s storage.Store, release chan struct{}, kv ...string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx storage.Tx) error { return storagetest.SetPairs(tx, kv...) })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("a write waited 10 s for an open read transaction")
	}
}

// TestReadCacheConsistentUnderWrites runs writers that set a group of
// keys to one value per transaction (and now and then delete them all by
// range) against readers that read the group in one transaction, in a
// random order, and fail if they ever see two values. The writers pause
// between transactions, so that readers cache values and are served from
// the cache most of the time; the test checks that they were. Half the
// readers first try a storage.WithCacheOnly view, as the KV engine does,
// which must see one snapshot too.
func TestReadCacheConsistentUnderWrites(t *testing.T) {
	raw, s := openGroup(t)
	const keys = 6
	key := func(i int) []byte { return []byte("group/" + strconv.Itoa(i)) }
	write := func(n int) error {
		return s.Update(context.Background(), func(tx storage.Tx) error {
			if n%50 == 49 {
				return tx.DeleteRange([]byte("group/"), []byte("group0"))
			}
			for i := range keys {
				if err := tx.Set(key(i), []byte(strconv.Itoa(n))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var (
		wg        sync.WaitGroup
		reads     atomic.Uint64
		cacheOnly atomic.Uint64 // views answered wholly from the cache
		failed    atomic.Pointer[string]
		writerErr atomic.Pointer[error]
	)
	for w := range 2 {
		wg.Go(func() {
			for n := 1 + w; ; n += 2 {
				select {
				case <-stop:
					return
				default:
				}
				if err := write(n); err != nil {
					writerErr.Store(&err)
					return
				}
				time.Sleep(time.Duration(n%5) * 100 * time.Microsecond)
			}
		})
	}
	for r := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				read := func(tx storage.ReadTx) error {
					var first []byte
					for j := range keys {
						v, err := tx.Get(key((j + i + r) % keys))
						if errors.Is(err, storage.ErrNotFound) {
							v, err = []byte("none"), nil
						}
						if err != nil {
							return err
						}
						if j == 0 {
							first = v
						} else if !bytes.Equal(v, first) {
							return fmt.Errorf("one transaction read %q and %q", first, v)
						}
					}
					return nil
				}
				var err error
				if r%2 == 0 {
					// As the KV engine reads: from the cache alone, then,
					// on a miss, in a transaction.
					err = s.View(storage.WithCacheOnly(context.Background()), read)
					if err == nil {
						cacheOnly.Add(1)
					} else if errors.Is(err, storage.ErrCacheMiss) {
						err = s.View(context.Background(), read)
					}
				} else {
					err = s.View(context.Background(), read)
				}
				reads.Add(keys)
				if err != nil {
					msg := err.Error()
					failed.Store(&msg)
					return
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if e := writerErr.Load(); e != nil {
		t.Fatal(*e)
	}
	if m := failed.Load(); m != nil {
		t.Fatalf("a reader saw two snapshots: %s", *m)
	}
	st := raw.CacheStats()
	n := reads.Load()
	t.Logf("%d point reads, %d cache misses, %d values cached, %d views without a transaction", n, st.Misses, st.Stored, cacheOnly.Load())
	if n < 1000 || st.Misses > n*9/10 || cacheOnly.Load() == 0 {
		t.Fatalf("%d reads, %d missed the cache, %d views from the cache alone: the cache was not exercised", n, st.Misses, cacheOnly.Load())
	}
}

// TestReadCacheBounded checks that the cache stays within its size, that
// chunks of large values are not kept, and that evicted values read back.
func TestReadCacheBounded(t *testing.T) {
	const limit = 64 << 10
	raw, s := openGroup(t, bolt.WithReadCacheSize(limit))
	val := bytes.Repeat([]byte("v"), 1000)
	for i := range 200 {
		storagetest.Set(t, s, fmt.Sprintf("key%03d", i), string(val)+strconv.Itoa(i))
	}
	for range 2 {
		for i := range 200 {
			wantValue(t, s, fmt.Sprintf("key%03d", i), string(val)+strconv.Itoa(i))
		}
	}
	st := raw.CacheStats()
	if st.Bytes > limit || st.Entries >= 200 || st.Entries == 0 {
		t.Fatalf("cache of %d bytes holds %d entries, %d bytes", limit, st.Entries, st.Bytes)
	}

	raw, s = openGroup(t)
	big := bytes.Repeat([]byte("0123456789"), 100_000) // chunked
	err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Set([]byte("big"), big) })
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		v, err := get(t, s, "big")
		if err != nil || !bytes.Equal(v, big) {
			t.Fatalf("big value: %d bytes, %v", len(v), err)
		}
	}
	if st := raw.CacheStats(); st.Bytes > 1024 {
		t.Fatalf("reading a %d-byte value cached %d bytes (%d entries): its chunks were kept", len(big), st.Bytes, st.Entries)
	}
}

// TestCacheOnlyView: under storage.WithCacheOnly a view answers warm keys
// from the cache, and a cold key, a key a commit changed, and any range
// with storage.ErrCacheMiss; with the cache off it is an ordinary view.
func TestCacheOnlyView(t *testing.T) {
	ctx := storage.WithCacheOnly(context.Background())
	get := func(s storage.Store, k string) (string, error) {
		var v []byte
		err := s.View(ctx, func(tx storage.ReadTx) error {
			var err error
			v, err = tx.Get([]byte(k))
			return err
		})
		return string(v), err
	}
	raw, s := openGroup(t)
	storagetest.Set(t, s, "k", "v1")
	if _, err := get(s, "k"); !errors.Is(err, storage.ErrCacheMiss) {
		t.Fatalf("a cold key: %v", err)
	}
	for range 2 { // a value is kept on its second miss
		wantValue(t, s, "k", "v1")
	}
	misses := raw.CacheStats().Misses
	if v, err := get(s, "k"); err != nil || v != "v1" {
		t.Fatalf("a warm key: %q %v", v, err)
	}
	if _, err := get(s, "none"); !errors.Is(err, storage.ErrCacheMiss) {
		t.Fatalf("a missing key: %v", err)
	}
	if got := raw.CacheStats().Misses; got != misses {
		t.Fatalf("cache-only reads counted %d misses; the view run again counts them", got-misses)
	}
	storagetest.Set(t, s, "k", "v2")
	if v, err := get(s, "k"); !errors.Is(err, storage.ErrCacheMiss) {
		t.Fatalf("a key a commit changed: %q %v", v, err)
	}
	err := s.View(ctx, func(tx storage.ReadTx) error {
		_, err := tx.GetRange(storage.PrefixRange([]byte("k")))
		return err
	})
	if !errors.Is(err, storage.ErrCacheMiss) {
		t.Fatalf("a range: %v", err)
	}

	// One snapshot: a value cached after the view's first read, by a
	// commit that came after it, is not served to it.
	storagetest.Set(t, s, "a", "1", "b", "1")
	for range 2 {
		wantValue(t, s, "a", "1")
		wantValue(t, s, "b", "1")
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		if a, err := tx.Get([]byte("a")); err != nil || string(a) != "1" {
			return fmt.Errorf("a: %q %v", a, err)
		}
		storagetest.Set(t, s, "a", "2", "b", "2")
		for range 2 {
			wantValue(t, s, "b", "2") // cached again, at a later generation
		}
		b, err := tx.Get([]byte("b"))
		if err == nil {
			return fmt.Errorf("the view read a=1, then b=%q", b)
		}
		return err
	})
	if !errors.Is(err, storage.ErrCacheMiss) {
		t.Fatalf("a view across a commit: %v", err)
	}

	_, off := openGroup(t, bolt.WithReadCacheSize(0))
	storagetest.Set(t, off, "k", "v1")
	if v, err := get(off, "k"); err != nil || v != "v1" {
		t.Fatalf("with the cache off: %q %v", v, err)
	}
}
