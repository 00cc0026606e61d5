package tuple

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

// Known answers from the FoundationDB tuple layer specification
// (design/tuple.md in apple/foundationdb).
func TestPackKnownAnswers(t *testing.T) {
	cases := []struct {
		in   []any
		want string
	}{
		{[]any{"hello"}, "0268656c6c6f00"},
		{[]any{[]byte{0x01, 0x00}}, "010100ff00"},
		{[]any{[]byte("foo\x00bar")}, "01666f6f00ff62617200"},
		{[]any{0}, "14"},
		{[]any{1}, "1501"},
		{[]any{-1}, "13fe"},
		{[]any{255}, "15ff"},
		{[]any{256}, "160100"},
		{[]any{-255}, "1300"},
		{[]any{-256}, "12feff"},
		{[]any{int64(1) << 62}, "1c4000000000000000"},
		{[]any{"t", []byte{0xAA}, 7}, "027400" + "01aa00" + "1507"},
	}
	for _, c := range cases {
		got := hex.EncodeToString(Pack(c.in...))
		if got != c.want {
			t.Errorf("Pack(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestRoundTripAndOrder(t *testing.T) {
	ints := []int64{-1 << 63, -1<<63 + 1, -70000, -256, -255, -1, 0, 1, 255, 256, 70000, 1<<63 - 1}
	for i, a := range ints {
		got, err := Unpack(Pack(a))
		if err != nil || !reflect.DeepEqual(got, []any{a}) {
			t.Fatalf("round trip %d: %v %v", a, got, err)
		}
		if i > 0 && bytes.Compare(Pack(ints[i-1]), Pack(a)) >= 0 {
			t.Fatalf("order broken between %d and %d", ints[i-1], a)
		}
	}
	strs := []string{"", "\x00", "\x00\x00", "\x00\x01", "a", "a\x00", "ab", "b"}
	for i := 1; i < len(strs); i++ {
		if bytes.Compare(Pack(strs[i-1]), Pack(strs[i])) >= 0 {
			t.Fatalf("order broken between %q and %q", strs[i-1], strs[i])
		}
	}
	// A packed prefix is a prefix of the longer tuple.
	if !bytes.HasPrefix(Pack("t", "x", 3), Pack("t", "x")) {
		t.Fatal("prefix property broken")
	}
}

func TestUnpackMalformed(t *testing.T) {
	for _, in := range []string{"02", "0261", "16ff", "ff", "33"} {
		b, _ := hex.DecodeString(in)
		if _, err := Unpack(b); err != ErrMalformed {
			t.Errorf("Unpack(%s) err = %v, want ErrMalformed", in, err)
		}
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(Pack("a", []byte{0}, -5, 1<<40))
	f.Add([]byte{0x02, 0x00, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		elems, err := Unpack(b)
		if err != nil {
			return
		}
		if got := Pack(elems...); !bytes.Equal(got, b) {
			// Non-canonical integer encodings may decode; they must
			// re-encode to the same values.
			again, err := Unpack(got)
			if err != nil || !reflect.DeepEqual(again, elems) {
				t.Fatalf("re-encoding changed the value: %x -> %x", b, got)
			}
		}
	})
}

// FuzzAppendEscaped: the one-allocation escaping equals the byte-by-byte
// definition, appended after any existing bytes.
func FuzzAppendEscaped(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "a\x00b\x00\x00", "\xff\x00"} {
		f.Add([]byte("pre"), []byte(s))
	}
	f.Fuzz(func(t *testing.T, dst, b []byte) {
		want := append([]byte(nil), dst...)
		for _, c := range b {
			want = append(want, c)
			if c == 0x00 {
				want = append(want, 0xff)
			}
		}
		want = append(want, 0x00)
		if got := AppendEscaped(append([]byte(nil), dst...), b); !bytes.Equal(got, want) {
			t.Fatalf("AppendEscaped(%x, %x) = %x, want %x", dst, b, got, want)
		}
	})
}

// The typed appenders encode exactly as AppendElem does, and Pack and
// AppendBytes into a buffer with room allocate once and not at all (a key built per request must not box its
// elements or grow its buffer).
func TestTypedAppendersAndAllocations(t *testing.T) {
	for _, s := range []string{"", "hello", "a\x00b", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"} {
		if got, want := AppendString([]byte("p"), s), AppendElem([]byte("p"), s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %x, want %x", s, got, want)
		}
		if got, want := AppendBytes([]byte("p"), []byte(s)), AppendElem([]byte("p"), []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("AppendBytes(%q) = %x, want %x", s, got, want)
		}
	}
	folder, name, key := "some/folder/", "secret-name", []byte("\x02m\x00\x02some/\x00\x02n\x00")
	if n := testing.AllocsPerRun(100, func() { _ = Pack("m", folder, name, int64(12)) }); n != 1 {
		t.Errorf("Pack allocated %v times, want 1", n)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendBytes(buf[:0], key) }); n != 0 {
		t.Errorf("AppendBytes into a buffer with room allocated %v times, want 0", n)
	}
}

// BenchmarkAppendEscaped escapes a 60-byte storage key of the shape a KV
// read builds (a tenant prefix, a mount, a tuple of three strings).
func BenchmarkAppendEscaped(b *testing.B) {
	key := []byte("\x02t\x00\x01\x8a\x13\x00\xff\x07\x02d\x00\x02mount-1234abcd\x00\x02m\x00\x02\x00\x02srload-123\x00")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEscaped(buf[:0], key)
	}
}
