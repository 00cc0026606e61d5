package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"testing"
)

// TestTransitRandom covers random[/<source>][/<bytes>][/<format>] and the
// body's bytes and format, and refusals of bad sizes, formats and sources.
func TestTransitRandom(t *testing.T) {
	_, lg := transitServer(t)
	get := func(path string, data map[string]any) string {
		t.Helper()
		return str(t, write(t, lg, path, data).Data, "random_bytes")
	}
	b64len := func(s string) int {
		t.Helper()
		return len(unb64(t, s))
	}
	hexlen := func(s string) int {
		t.Helper()
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("not hex: %q", s)
		}
		return len(b)
	}
	// vault write -f transit/random: 32 bytes, base64.
	r1, r2 := get("transit/random", nil), get("transit/random", nil)
	if b64len(r1) != 32 || r1 == r2 {
		t.Fatalf("random: %q %q", r1, r2)
	}
	if n := b64len(get("transit/random/64", nil)); n != 64 {
		t.Fatalf("random/64: %d bytes", n)
	}
	if n := hexlen(get("transit/random/16/hex", nil)); n != 16 {
		t.Fatalf("random/16/hex: %d bytes", n)
	}
	if n := b64len(get("transit/random/platform/8", nil)); n != 8 {
		t.Fatalf("random/platform/8: %d bytes", n)
	}
	if n := hexlen(get("transit/random", map[string]any{"bytes": 24, "format": "hex"})); n != 24 {
		t.Fatalf("bytes=24 format=hex: %d bytes", n)
	}
	if n := b64len(get("transit/random", map[string]any{"bytes": "5", "format": "base64"})); n != 5 {
		t.Fatalf("bytes=\"5\": %d bytes", n)
	}
	if n := b64len(get("transit/random/all", map[string]any{"bytes": 1})); n != 1 {
		t.Fatalf("random/all bytes=1: %d bytes", n)
	}
	s := write(t, lg, "transit/random/seal/4", nil)
	if b64len(str(t, s.Data, "random_bytes")) != 4 || len(s.Warnings) != 1 {
		t.Fatalf("random/seal/4: %v warnings %v", s.Data, s.Warnings)
	}
	if n := b64len(get("transit/random", map[string]any{"bytes": 128 * 1024})); n != 128*1024 {
		t.Fatalf("128 KiB: %d bytes", n)
	}
	for _, tc := range []struct {
		path string
		data map[string]any
		want string
	}{
		{"transit/random", map[string]any{"bytes": 0}, "'bytes' cannot be less than 1"},
		{"transit/random", map[string]any{"bytes": -5}, "'bytes' cannot be less than 1"},
		{"transit/random/0", nil, "'bytes' cannot be less than 1"},
		{"transit/random", map[string]any{"bytes": 128*1024 + 1}, "'bytes' should be less than"},
		{"transit/random/abc", nil, "error parsing url-set byte count"},
		{"transit/random", map[string]any{"format": "base32"}, "unsupported encoding format"},
		{"transit/random", map[string]any{"source": "dice"}, "unsupported entropy source"},
		{"transit/random", map[string]any{"bytes": "lots"}, "cannot parse"},
	} {
		writeErr(t, lg, tc.path, tc.data, 400, tc.want)
	}
}

// TestTransitHash covers hash[/<algorithm>] with every algorithm, both
// formats, against the standard library.
func TestTransitHash(t *testing.T) {
	_, lg := transitServer(t)
	input := []byte("hash me, strongroom")
	algs := map[string]func() hash.Hash{
		"sha2-224": sha256.New224, "sha2-256": sha256.New, "sha2-384": sha512.New384, "sha2-512": sha512.New,
		"sha3-224": func() hash.Hash { return sha3.New224() }, "sha3-256": func() hash.Hash { return sha3.New256() },
		"sha3-384": func() hash.Hash { return sha3.New384() }, "sha3-512": func() hash.Hash { return sha3.New512() },
	}
	for alg, f := range algs {
		h := f()
		h.Write(input)
		sum := h.Sum(nil)
		// vault write transit/hash/<alg> input=...: hex by default.
		if got := str(t, write(t, lg, "transit/hash/"+alg, map[string]any{"input": b64(input)}).Data, "sum"); got != hex.EncodeToString(sum) {
			t.Fatalf("%s (url): %s", alg, got)
		}
		if got := str(t, write(t, lg, "transit/hash", map[string]any{"input": b64(input), "algorithm": alg, "format": "base64"}).Data, "sum"); got != base64.StdEncoding.EncodeToString(sum) {
			t.Fatalf("%s (body, base64): %s", alg, got)
		}
	}
	// The default is sha2-256, hex; the known answer of the empty input.
	if got := str(t, write(t, lg, "transit/hash", map[string]any{"input": ""}).Data, "sum"); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("sha2-256 of nothing: %s", got)
	}
	// The algorithm in the URL wins over the body's.
	want := sha512.Sum512(input)
	if got := str(t, write(t, lg, "transit/hash/sha2-512", map[string]any{"input": b64(input), "algorithm": "sha2-224"}).Data, "sum"); got != hex.EncodeToString(want[:]) {
		t.Fatalf("url algorithm not used: %s", got)
	}
	writeErr(t, lg, "transit/hash", map[string]any{"input": b64(input), "algorithm": "md5"}, 400, "unsupported algorithm md5")
	writeErr(t, lg, "transit/hash/sha1", map[string]any{"input": b64(input)}, 400, "unsupported algorithm sha1")
	writeErr(t, lg, "transit/hash", map[string]any{"input": b64(input), "format": "raw"}, 400, "unsupported encoding format")
	writeErr(t, lg, "transit/hash", map[string]any{"input": "*not base64*"}, 400, "unable to decode input as base64")
	writeErr(t, lg, "transit/hash", map[string]any{}, 400, "input missing")
}

// TestTransitCacheConfigAndList covers cache-config read and write (bounds,
// and keys still usable when the cache is smaller than the key count),
// LIST transit/keys, and config/keys disable_upsert.
func TestTransitCacheConfigAndList(t *testing.T) {
	_, lg := transitServer(t)
	// LIST on an empty mount: 404, which the client reports as no secret.
	if l, err := lg.List("transit/keys"); err != nil || l != nil {
		t.Fatalf("empty list: %v %v", l, err)
	}
	if d := read(t, lg, "transit/cache-config").Data; num(t, d["size"]) != 0 {
		t.Fatalf("default cache-config: %v", d)
	}
	// vault write transit/cache-config size=25
	if d := write(t, lg, "transit/cache-config", map[string]any{"size": "25"}).Data; num(t, d["size"]) != 25 {
		t.Fatalf("cache-config write: %v", d)
	}
	if d := read(t, lg, "transit/cache-config").Data; num(t, d["size"]) != 25 {
		t.Fatalf("cache-config after write: %v", d)
	}
	writeErr(t, lg, "transit/cache-config", map[string]any{"size": 5}, 400, "size must be 0 or a value greater or equal to 10")
	writeErr(t, lg, "transit/cache-config", map[string]any{"size": -1}, 400, "size must be 0")
	if d := read(t, lg, "transit/cache-config").Data; num(t, d["size"]) != 25 {
		t.Fatalf("refused write changed the size: %v", d)
	}
	// The smallest cache, with more keys than it holds: every key works.
	write(t, lg, "transit/cache-config", map[string]any{"size": 10})
	var names []string
	cts := map[string]string{}
	for i := range 15 {
		name := fmt.Sprintf("k%02d", i)
		names = append(names, name)
		write(t, lg, "transit/keys/"+name, nil)
		cts[name] = encrypt(t, lg, name, []byte(name), nil)
	}
	for _, name := range names {
		if got := decrypt(t, lg, name, cts[name], nil); string(got) != name {
			t.Fatalf("key %s after eviction: %q", name, got)
		}
	}
	write(t, lg, "transit/cache-config", map[string]any{"size": 0})
	if d := read(t, lg, "transit/cache-config").Data; num(t, d["size"]) != 0 {
		t.Fatalf("cache-config back to 0: %v", d)
	}

	// vault list transit/keys
	l, err := lg.List("transit/keys")
	if err != nil || l == nil {
		t.Fatalf("list: %v", err)
	}
	var got []string
	for _, k := range l.Data["keys"].([]any) {
		got = append(got, k.(string))
	}
	if !slices.Equal(got, names) {
		t.Fatalf("list = %v, want %v", got, names)
	}

	// config/keys disable_upsert stops encrypt from creating keys.
	if d := read(t, lg, "transit/config/keys").Data; d["disable_upsert"] != false {
		t.Fatalf("config/keys default: %v", d)
	}
	write(t, lg, "transit/config/keys", map[string]any{"disable_upsert": "true"})
	writeErr(t, lg, "transit/encrypt/fresh", map[string]any{"plaintext": b64s("x")}, 400, "encryption key not found")
	if s, err := lg.Read("transit/keys/fresh"); err != nil || s != nil {
		t.Fatalf("key created despite disable_upsert: %v %v", s, err)
	}
	write(t, lg, "transit/config/keys", map[string]any{"disable_upsert": false})
	ct := encrypt(t, lg, "fresh", []byte("x"), nil)
	if d := read(t, lg, "transit/keys/fresh").Data; d["type"] != "aes256-gcm96" || !bytes.Equal(decrypt(t, lg, "fresh", ct, nil), []byte("x")) {
		t.Fatalf("upserted key: %v", d)
	}
	writeErr(t, lg, "transit/encrypt/fresh-ec", map[string]any{"plaintext": b64s("x"), "type": "ecdsa-p256"}, 400, "not supported for this operation")
}
