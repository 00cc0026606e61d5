package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/storage/storagetest"
)

func open(t testing.TB) storage.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "strongroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t) })
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789"), 25_000)
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("small"), []byte("v")); err != nil {
			return err
		}
		return tx.Set([]byte("big"), big)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(tx storage.ReadTx) error {
		if v, err := tx.Get([]byte("small")); err != nil || string(v) != "v" {
			return fmt.Errorf("small = %q, %v", v, err)
		}
		if v, err := tx.Get([]byte("big")); err != nil || !bytes.Equal(v, big) {
			return fmt.Errorf("big = %d bytes, %v", len(v), err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("file mode = %v, want 0600", mode)
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A second Open takes a new file description, so the flock conflicts
	// as it would with another process.
	start := time.Now()
	s2, err := bolt.Open(path, bolt.WithLockTimeout(200*time.Millisecond))
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("second Open = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should name the file and say it is locked", err)
	}
	if elapsed < 100*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("second Open gave up after %s, want about 200ms", elapsed)
	}
	// Once the first is closed, the file opens.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := bolt.Open(path, bolt.WithLockTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s3.Close()
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not bolt"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a database succeeded")
	}
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Open = %v, want ErrUnavailable", err)
	}
}

func TestOpenMissingDir(t *testing.T) {
	_, err := bolt.Open(filepath.Join(t.TempDir(), "missing", "db"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open in a missing directory = %v, want os.ErrNotExist", err)
	}
}

func TestWriteToBackup(t *testing.T) {
	dir := t.TempDir()
	raw, err := bolt.OpenRaw(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	s := storage.Wrap(raw)
	defer s.Close()
	big := bytes.Repeat([]byte{7}, 300_000)
	err = s.Update(t.Context(), func(tx storage.Tx) error {
		if err := tx.Set([]byte("a"), []byte("1")); err != nil {
			return err
		}
		return tx.Set([]byte("big"), big)
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := raw.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("WriteTo = %d, %v (buffer %d bytes)", n, err, buf.Len())
	}
	backup := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(backup, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(backup)
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer b.Close()
	err = b.View(t.Context(), func(tx storage.ReadTx) error {
		kvs, err := tx.GetRange(storage.Range{})
		if err != nil {
			return err
		}
		if len(kvs) != 2 || string(kvs[0].Value) != "1" || !bytes.Equal(kvs[1].Value, big) {
			return fmt.Errorf("backup holds %d entries", len(kvs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.WriteTo(&buf); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("WriteTo after Close = %v, want ErrClosed", err)
	}
}

func BenchmarkBoltSet(b *testing.B) {
	s := open(b)
	defer s.Close()
	value := bytes.Repeat([]byte{0xab}, 256)
	i := 0
	for b.Loop() {
		key := fmt.Appendf(nil, "bench/%09d", i)
		i++
		err := s.Update(b.Context(), func(tx storage.Tx) error { return tx.Set(key, value) })
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltGet reads 10,000 keys of 256 bytes in turn, one read
// transaction each, with the read cache (warm after the first pass) and
// without it.
func BenchmarkBoltGet(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []bolt.Option
	}{{"cache", nil}, {"nocache", []bolt.Option{bolt.WithReadCacheSize(0)}}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "strongroom.db"), bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const n = 10_000
			value := bytes.Repeat([]byte{0xab}, 256)
			err = s.Update(b.Context(), func(tx storage.Tx) error {
				for i := range n {
					if err := tx.Set(fmt.Appendf(nil, "bench/%09d", i), value); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				key := fmt.Appendf(nil, "bench/%09d", i%n)
				i++
				err := s.View(b.Context(), func(tx storage.ReadTx) error {
					_, err := tx.Get(key)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBoltGetChunked(b *testing.B) {
	s := open(b)
	defer s.Close()
	value := bytes.Repeat([]byte{0xab}, 1<<20)
	err := s.Update(b.Context(), func(tx storage.Tx) error { return tx.Set([]byte("big"), value) })
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		err := s.View(b.Context(), func(tx storage.ReadTx) error {
			_, err := tx.Get([]byte("big"))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateParallel measures durable writes of distinct keys from 32
// goroutines (writers=32) and, for the latency of a lone writer, from one
// (writers=1), by configuration: group commit as opened by default, with a
// batch delay, and one transaction per Update (serial).
func BenchmarkUpdateParallel(b *testing.B) {
	configs := []struct {
		name string
		opts []bolt.Option
	}{
		{"group", nil},
		{"serial", []bolt.Option{bolt.WithoutGroupCommit()}},
		{"delay=200µs", []bolt.Option{bolt.WithBatchDelay(200 * time.Microsecond)}},
		{"delay=2ms", []bolt.Option{bolt.WithBatchDelay(2 * time.Millisecond)}},
		{"delay=10ms", []bolt.Option{bolt.WithBatchDelay(10 * time.Millisecond)}},
	}
	for _, writers := range []int{32, 1} {
		for _, c := range configs {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, c.name), func(b *testing.B) {
				s, err := bolt.Open(filepath.Join(b.TempDir(), "strongroom.db"), c.opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				benchWriters(b, s, writers)
			})
		}
	}
}

// benchWriters runs b.N Updates, each setting one new 256-byte value, from
// the given number of goroutines, and reports writes/s and the median and
// 99th percentile latency of an Update.
func benchWriters(b *testing.B, s storage.Store, writers int) {
	value := bytes.Repeat([]byte{0xab}, 256)
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
	)
	write := func(record *[]time.Duration) error {
		key := fmt.Appendf(nil, "bench/%09d", next.Add(1))
		t0 := time.Now()
		err := s.Update(context.Background(), func(tx storage.Tx) error { return tx.Set(key, value) })
		*record = append(*record, time.Since(t0))
		return err
	}
	b.ResetTimer()
	if writers == 1 {
		for range b.N {
			if err := write(&lat); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		procs := runtime.GOMAXPROCS(0)
		if writers%procs != 0 {
			b.Fatalf("%d writers over GOMAXPROCS=%d", writers, procs)
		}
		b.SetParallelism(writers / procs)
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			for pb.Next() {
				if err := write(&mine); err != nil {
					b.Error(err)
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
