package storage

import (
	"bytes"
	"testing"
	"time"
)

func encode(key []byte) []byte { return appendEncodedKey(nil, key) }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestEncodeKey(t *testing.T) {
	cases := []struct{ key, enc []byte }{
		{[]byte("a"), []byte("a\x00")},
		{[]byte("\x00"), []byte("\x00\xff\x00")},
		{[]byte("a\x00b"), []byte("a\x00\xffb\x00")},
		{[]byte("\xff"), []byte("\xff\x00")},
		{[]byte("\x00\x00"), []byte("\x00\xff\x00\xff\x00")},
	}
	for _, c := range cases {
		if got := encode(c.key); !bytes.Equal(got, c.enc) {
			t.Errorf("encode(%q) = %q, want %q", c.key, got, c.enc)
		}
		if got, err := decodeKey(c.enc); err != nil || !bytes.Equal(got, c.key) {
			t.Errorf("decodeKey(%q) = %q, %v", c.enc, got, err)
		}
	}
}

func TestDecodeKeyRejects(t *testing.T) {
	for _, enc := range [][]byte{
		nil, []byte("a"), []byte("a\x00b"), []byte("\x00\x01"), []byte("\x00\xff"), []byte("a\x00\x00"),
	} {
		if got, err := decodeKey(enc); err == nil {
			t.Errorf("decodeKey(%q) = %q, want an error", enc, got)
		}
	}
}

// FuzzKeyEncoding checks the properties the physical layout relies on: the
// encoding round-trips and keeps byte order. It also pins down how it
// behaves with suffixes, as FoundationDB's tuple layer uses it: enc(a) is a
// prefix of enc(b) only when b extends a with 0x00, and a suffix starting
// below 0xFF keeps enc(a)+suffix before enc(b) for every b > a.
func FuzzKeyEncoding(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"a", "b"}, {"a", "a\x00"}, {"a\x00", "a\x01"}, {"\x00", "\xff"},
		{"a\xff", "a\x00\xff"}, {"\x00\x00", "\x00"}, {"ab", "a"}, {"a\x00\xff", "a\x00\xff\x00"},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ea, eb := encode(a), encode(b)
		da, err := decodeKey(ea)
		if err != nil || !bytes.Equal(da, a) {
			t.Fatalf("round trip of %q: %q, %v", a, da, err)
		}
		if got, want := sign(bytes.Compare(ea, eb)), sign(bytes.Compare(a, b)); got != want {
			t.Fatalf("order: compare(%q, %q) = %d, but compare of encodings = %d", a, b, want, got)
		}
		if len(ea) < len(eb) && bytes.HasPrefix(eb, ea) {
			if !bytes.HasPrefix(b, a) || b[len(a)] != 0x00 || eb[len(ea)] != 0xff {
				t.Fatalf("enc(%q) is a prefix of enc(%q)", a, b)
			}
		}
		if bytes.Compare(a, b) < 0 {
			if bytes.Compare(append(ea, 0xfe, 0xff, 0xff), eb) >= 0 {
				t.Fatalf("enc(%q)+suffix sorts after enc(%q)", a, b)
			}
		}
	})
}

// FuzzDecodeKey feeds arbitrary physical bytes (as read back from a file)
// to the decoder: it must not panic, and what it accepts re-encodes to the
// same bytes.
func FuzzDecodeKey(f *testing.F) {
	for _, s := range []string{"", "a\x00", "\x00\xff\x00", "\x00", "\x00\x01", "a\x00b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, enc []byte) {
		key, err := decodeKey(enc)
		if err != nil {
			return
		}
		if re := encode(key); !bytes.Equal(re, enc) {
			t.Fatalf("decodeKey(%q) = %q, which encodes to %q", enc, key, re)
		}
	})
}

func TestClampBound(t *testing.T) {
	long := bytes.Repeat([]byte{'b'}, MaxKeySize+50)
	c := clampBound(long)
	if len(c) != MaxKeySize+1 {
		t.Fatalf("clampBound kept %d bytes", len(c))
	}
	// No valid key compares differently with the clamped bound.
	for _, k := range [][]byte{
		bytes.Repeat([]byte{'b'}, MaxKeySize),
		append(bytes.Repeat([]byte{'b'}, MaxKeySize-1), 'c'),
		append(bytes.Repeat([]byte{'b'}, MaxKeySize-1), 'a'),
		[]byte("b"), []byte("c"),
	} {
		if sign(bytes.Compare(k, long)) != sign(bytes.Compare(k, c)) {
			t.Fatalf("clamping changed the comparison with a %d-byte key", len(k))
		}
	}
}

func TestBlobRefRoundTrip(t *testing.T) {
	ref := blobRef{id: blobID{1, 2, 3}, length: 5 << 20, chunks: uint32(chunkCount(5 << 20))}
	got, err := decodeBlobRef(ref.encode())
	if err != nil || got != ref {
		t.Fatalf("decodeBlobRef(encode(%+v)) = %+v, %v", ref, got, err)
	}
	bad := ref
	bad.chunks++
	if _, err := decodeBlobRef(bad.encode()); err == nil {
		t.Fatal("a reference with a wrong chunk count decoded")
	}
	if _, err := decodeBlobRef(ref.encode()[:blobRefLen-1]); err == nil {
		t.Fatal("a short reference decoded")
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt < 100; attempt++ {
		d := backoff(attempt)
		full := min(minBackoff<<min(attempt-1, 30), maxBackoff)
		if d < full/2 || d > full {
			t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, full/2, full)
		}
	}
	if backoff(100) > maxBackoff || backoff(100) < time.Duration(0) {
		t.Fatal("backoff overflows")
	}
}
