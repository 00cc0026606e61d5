package transit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// TestServedFromMemory shows that a loaded key costs no storage access:
// with the tenant sealed under it, the cached key still encrypts and
// decrypts, until Purge (which the server calls at seal) drops it.
func TestServedFromMemory(t *testing.T) {
	env := newEnv(t)
	b := env.b
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	ct := str(t, ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), "ciphertext")

	env.barrier.Seal()
	ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")})
	ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct})
	if _, err := call(t, b, engine.OpUpdate, "keys/k/rotate", nil); !errors.Is(err, seal.ErrSealed) {
		t.Fatalf("rotate while sealed: %v", err)
	}
	// Periodic notices the seal and purges.
	if err := b.Periodic(context.Background(), time.Now()); !errors.Is(err, seal.ErrSealed) {
		t.Fatalf("periodic while sealed: %v", err)
	}
	if _, err := call(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct}); !errors.Is(err, seal.ErrSealed) {
		t.Fatalf("decrypt after purge: %v", err)
	}
	if slabs, _ := b.arena.stats(); slabs != 0 {
		t.Fatalf("%d slabs left after purge", slabs)
	}
}

// TestInvalidate simulates another node changing a key: this node keeps
// its loaded copy until Invalidate.
func TestInvalidate(t *testing.T) {
	env := newEnv(t)
	b1 := env.b
	b2 := New(env.view, Options{})
	defer b2.Close()
	ok(t, b1, engine.OpUpdate, "keys/k", nil)
	ok(t, b1, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")})
	ok(t, b2, engine.OpUpdate, "keys/k/rotate", nil)
	if v := num(t, ok(t, b1, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), "key_version"); v != 1 {
		t.Fatalf("before invalidation: version %d", v)
	}
	b1.Invalidate("k")
	if v := num(t, ok(t, b1, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), "key_version"); v != 2 {
		t.Fatalf("after invalidation: version %d", v)
	}
	ok(t, b2, engine.OpUpdate, "keys/k/rotate", nil)
	b1.Invalidate("")
	if v := num(t, ok(t, b1, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), "key_version"); v != 3 {
		t.Fatalf("after invalidating all: version %d", v)
	}
}

// TestCacheFollowsChanges checks that every change made through this
// backend is served at once: rotate, config, trim, delete, restore.
func TestCacheFollowsChanges(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "keys/k", map[string]any{"exportable": true, "allow_plaintext_backup": true})
	ct1 := str(t, ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x")}), "ciphertext")
	backup := str(t, ok(t, b, engine.OpRead, "backup/k", nil), "backup")
	ok(t, b, engine.OpUpdate, "keys/k/rotate", nil)
	ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 2, "min_encryption_version": 2, "deletion_allowed": true})
	if got := fails(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct1}); got != msgTooOld {
		t.Fatalf("after config: %q", got)
	}
	ok(t, b, engine.OpUpdate, "keys/k/trim", map[string]any{"min_available_version": 2})
	ok(t, b, engine.OpDelete, "keys/k", nil)
	if got := fails(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct1}); got != msgDecrypt {
		t.Fatalf("after delete: %q", got)
	}
	ok(t, b, engine.OpUpdate, "restore", map[string]any{"backup": backup})
	ok(t, b, engine.OpUpdate, "decrypt/k", map[string]any{"ciphertext": ct1})
}

// TestAutoRotate drives Periodic with an injected clock.
func TestAutoRotate(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&t0)
	env := newEnv(t, func(o *Options) {
		o.Now = func() time.Time { return *now.Load() }
		o.AutoRotateInterval = 10 * time.Minute
	})
	b := env.b
	ctx := context.Background()
	ok(t, b, engine.OpUpdate, "keys/auto", map[string]any{"auto_rotate_period": "1h"})
	ok(t, b, engine.OpUpdate, "keys/manual", nil)
	byok(t, b, "imported", "aes256-gcm96", seq(0, 32), map[string]any{})
	ok(t, b, engine.OpUpdate, "keys/imported/config", map[string]any{"auto_rotate_period": "1h"})
	latest := func(name string) int { return num(t, ok(t, b, engine.OpRead, "keys/"+name, nil), "latest_version") }

	at := func(d time.Duration) time.Time {
		ts := t0.Add(d)
		now.Store(&ts)
		return ts
	}
	if err := b.Periodic(ctx, at(55*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if latest("auto") != 1 {
		t.Fatal("rotated before its period")
	}
	// The period has passed, but the next check is due at 65 minutes.
	if err := b.Periodic(ctx, at(62*time.Minute)); err != nil || latest("auto") != 1 {
		t.Fatalf("checked within the interval: %v", err)
	}
	if err := b.Periodic(ctx, at(66*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if latest("auto") != 2 || latest("manual") != 1 || latest("imported") != 1 {
		t.Fatalf("after the period: auto %d, manual %d, imported %d", latest("auto"), latest("manual"), latest("imported"))
	}
	// The new version was created at 66 minutes by the clock: the next
	// rotation is due an hour later.
	if err := b.Periodic(ctx, at(110*time.Minute)); err != nil || latest("auto") != 2 {
		t.Fatalf("rotated again too early: %v", err)
	}
	if err := b.Periodic(ctx, at(127*time.Minute)); err != nil || latest("auto") != 3 {
		t.Fatalf("second rotation: %v, version %d", err, latest("auto"))
	}
}

// TestConcurrentUse encrypts and decrypts from several goroutines while
// keys rotate, are invalidated and evicted.
func TestConcurrentUse(t *testing.T) {
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "cache-config", map[string]any{"size": 10})
	for i := range 12 {
		ok(t, b, engine.OpUpdate, "keys/k"+itoa(i), map[string]any{"type": aeadTypes[i%4], "derived": i%3 == 0})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := "k" + itoa((w+i)%12)
				body := map[string]any{"plaintext": b64("p")}
				if (w+i)%12%3 == 0 {
					body["context"] = b64("c")
				}
				resp, err := call(t, b, engine.OpUpdate, "encrypt/"+name, body)
				if err != nil {
					errs <- err
					return
				}
				delete(body, "plaintext")
				body["ciphertext"] = resp.Data.(*encryptResponse).Ciphertext
				resp, err = call(t, b, engine.OpUpdate, "decrypt/"+name, body)
				if err != nil || resp.Data.(*decryptResponse).Plaintext != b64("p") {
					errs <- fmt.Errorf("decrypt %s: %v", name, err)
					return
				}
			}
		}()
	}
	for i := range 30 {
		ok(t, b, engine.OpUpdate, "keys/k"+itoa(i%12)+"/rotate", nil)
		b.Invalidate("k" + itoa((i+5)%12))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestArena(t *testing.T) {
	a := newArena()
	var secs []secret
	for i := 1; i <= 2000; i++ {
		src := seq(i, 1+i%100)
		s := a.alloc(src)
		if string(s.bytes()) != string(src) {
			t.Fatal("arena returned other bytes")
		}
		secs = append(secs, s)
	}
	big := a.alloc(seq(0, 5000))
	if len(big.bytes()) != 5000 {
		t.Fatal("large secret")
	}
	slabs, bytes := a.stats()
	if slabs < 2 || bytes < 64<<10 {
		t.Fatalf("stats %d %d", slabs, bytes)
	}
	for _, s := range secs {
		a.free(s)
	}
	a.free(big)
	a.trim()
	if slabs, _ := a.stats(); slabs != 0 {
		t.Fatalf("%d slabs after freeing everything", slabs)
	}
	if (secret{}).bytes() != nil || a.alloc(nil) != (secret{}) {
		t.Fatal("empty secret")
	}
}

func TestKeyringReferences(t *testing.T) {
	a := newArena()
	p := &storedPolicy{Name: "k", Type: typeToWire[keyAES256GCM96], LatestVersion: 1, MinDecryptionVersion: 1}
	p.setEntry(1, storedKeyEntry{Key: seq(0, 32), HMACKey: seq(32, 32)})
	k, err := buildKeyring(a, p)
	if err != nil {
		t.Fatal(err)
	}
	if !k.acquire() {
		t.Fatal("acquire")
	}
	k.retire()
	if k.freed.Load() || string(k.version(1).key()) != string(seq(0, 32)) {
		t.Fatal("freed while in use")
	}
	if k.acquire() {
		t.Fatal("acquired after retirement")
	}
	k.release()
	if !k.freed.Load() {
		t.Fatal("not freed after the last release")
	}
}

// TestMemory10kKeys loads 10,000 AES-256 keys and reports the memory they
// take: the Go heap (runtime.MemStats) and the locked arena.
func TestMemory10kKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 10,000 keys")
	}
	const n = 10_000
	env := newEnv(t)
	b := env.b
	storeKeys(t, b, n)
	heap0 := heapInUse()
	ctx := context.Background()
	for i := range n {
		k, err := b.acquire(ctx, "key-"+itoa(i))
		if err != nil || k == nil {
			t.Fatalf("load key-%d: %v", i, err)
		}
		k.release()
	}
	heap1 := heapInUse()
	_, locked := b.arena.stats()
	perKey := float64(heap1-heap0) / n
	t.Logf("10,000 aes256-gcm96 keys loaded: heap %.1f MB (%.0f bytes/key), locked arena %.2f MB",
		float64(heap1-heap0)/(1<<20), perKey, float64(locked)/(1<<20))
	if b.cacheLen.Load() != n {
		t.Fatalf("%d keys cached", b.cacheLen.Load())
	}
	if perKey > 16<<10 || locked > 2<<20 {
		t.Fatalf("memory per key %.0f bytes, locked %d bytes", perKey, locked)
	}
	// Encrypting with any of them costs no storage access now.
	env.barrier.Seal()
	ok(t, b, engine.OpUpdate, "encrypt/key-9999", map[string]any{"plaintext": b64("x")})
	b.Purge()
	if slabs, _ := b.arena.stats(); slabs != 0 {
		t.Fatalf("%d slabs after purge", slabs)
	}
}

// storeKeys writes n AES-256 keys straight to storage, 1,000 per
// transaction (creating them one request at a time costs one fsync each).
func storeKeys(t testing.TB, b *Backend, n int) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 1000 {
		var pols []*storedPolicy
		for i := start; i < min(start+1000, n); i++ {
			p, err := b.newPolicy("key-"+itoa(i), keyAES256GCM96, keyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pols = append(pols, p)
		}
		err := b.view.Update(ctx, func(tx *seal.Tx) error {
			for _, p := range pols {
				if err := writePolicy(tx, p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
