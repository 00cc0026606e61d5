package transit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

var benchTypes = []string{"aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "xchacha20-poly1305", "aes256-gcm96-derived"}

// benchKey creates the key of a benchmark and returns a request body for
// a 32-byte plaintext.
func benchKey(b *testing.B, be *Backend, typ string) (name string, body map[string]any) {
	name = typ
	create := map[string]any{"type": typ}
	body = map[string]any{"plaintext": base64.StdEncoding.EncodeToString(seq(0, 32))}
	if typ == "aes256-gcm96-derived" {
		create = map[string]any{"type": "aes256-gcm96", "derived": true}
		body["context"] = b64("tenant-42")
	}
	ok(b, be, engine.OpUpdate, "keys/"+name, create)
	return name, body
}

// BenchmarkEncrypt measures POST encrypt/<name> of 32 bytes at the
// HandleRequest level: JSON decoding, key lookup, AEAD, encoding.
func BenchmarkEncrypt(b *testing.B) {
	be := newBackend(b)
	ctx := context.Background()
	for _, typ := range benchTypes {
		b.Run(typ, func(b *testing.B) {
			name, body := benchKey(b, be, typ)
			raw, _ := json.Marshal(body)
			req := &engine.Request{Operation: engine.OpUpdate, Path: "encrypt/" + name, Body: raw}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.HandleRequest(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecrypt measures POST decrypt/<name> of a 32-byte plaintext.
func BenchmarkDecrypt(b *testing.B) {
	be := newBackend(b)
	ctx := context.Background()
	for _, typ := range benchTypes {
		b.Run(typ, func(b *testing.B) {
			name, body := benchKey(b, be, typ)
			ct := str(b, ok(b, be, engine.OpUpdate, "encrypt/"+name, body), "ciphertext")
			delete(body, "plaintext")
			body["ciphertext"] = ct
			raw, _ := json.Marshal(body)
			req := &engine.Request{Operation: engine.OpUpdate, Path: "decrypt/" + name, Body: raw}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.HandleRequest(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncryptParallel runs encrypt/aes256-gcm96 from every P.
func BenchmarkEncryptParallel(b *testing.B) {
	be := newBackend(b)
	name, body := benchKey(b, be, "aes256-gcm96")
	raw, _ := json.Marshal(body)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := &engine.Request{Operation: engine.OpUpdate, Path: "encrypt/" + name, Body: raw}
		for pb.Next() {
			if _, err := be.HandleRequest(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLoad10kKeys loads 10,000 AES-256 keys from storage and reports
// the heap and locked memory they occupy once loaded.
func BenchmarkLoad10kKeys(b *testing.B) {
	const n = 10_000
	env := newEnv(b)
	storeKeys(b, env.b, n)
	ctx := context.Background()
	var heapMB, lockedMB float64
	for b.Loop() {
		b.StopTimer()
		env.b.Purge()
		h0 := heapInUse()
		b.StartTimer()
		for i := range n {
			k, err := env.b.acquire(ctx, "key-"+itoa(i))
			if err != nil || k == nil {
				b.Fatal(err)
			}
			k.release()
		}
		b.StopTimer()
		heapMB = float64(heapInUse()-h0) / (1 << 20)
		_, locked := env.b.arena.stats()
		lockedMB = float64(locked) / (1 << 20)
		b.StartTimer()
	}
	b.ReportMetric(heapMB, "heap-MB/10k")
	b.ReportMetric(lockedMB, "locked-MB/10k")
}
