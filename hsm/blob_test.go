package hsm

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseBlob(t *testing.T) {
	gcm := func(n int) []byte {
		return append([]byte{blobVersion, byte(MechanismAESGCM)}, make([]byte, gcmIVLen+n+gcmTagLen)...)
	}
	kwp := func(n int) []byte {
		return append([]byte{blobVersion, byte(MechanismKWP)}, make([]byte, n+kwpOverhead)...)
	}
	for _, tc := range []struct {
		name string
		blob []byte
		ok   bool
	}{
		{"gcm-16", gcm(16), true},
		{"gcm-32", gcm(32), true},
		{"kwp-16", kwp(16), true},
		{"kwp-32", kwp(32), true},
		{"empty", nil, false},
		{"one byte", []byte{blobVersion}, false},
		{"header only", []byte{blobVersion, byte(MechanismAESGCM)}, false},
		{"gcm-24", gcm(24), false},
		{"gcm-31", gcm(31), false},
		{"gcm-33", gcm(33), false},
		{"kwp-24", kwp(24), false},
		{"kwp-17", kwp(17), false},
		{"version 0", append([]byte{0}, gcm(32)[1:]...), false},
		{"version 2", append([]byte{2}, gcm(32)[1:]...), false},
		{"mechanism 0", append([]byte{blobVersion, 0}, gcm(32)[2:]...), false},
		{"mechanism 3", append([]byte{blobVersion, 3}, gcm(32)[2:]...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := parseBlob(tc.blob)
			if tc.ok {
				if err != nil {
					t.Fatalf("parseBlob: %v", err)
				}
				if b.mech != Mechanism(tc.blob[1]) {
					t.Fatalf("mechanism %v, want %v", b.mech, Mechanism(tc.blob[1]))
				}
				return
			}
			if !errors.Is(err, ErrUnwrap) {
				t.Fatalf("parseBlob = %v, want ErrUnwrap", err)
			}
		})
	}
}

func TestGCMAADBindsHeader(t *testing.T) {
	got := gcmAAD([]byte("tenant/root"))
	want := append([]byte{blobVersion, byte(MechanismAESGCM)}, "tenant/root"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("gcmAAD = %x, want %x", got, want)
	}
}

// FuzzParseBlob feeds stored, attacker-reachable input to the parser: it
// must never panic, must accept only the lengths Wrap produces, and must
// slice without aliasing surprises.
func FuzzParseBlob(f *testing.F) {
	f.Add([]byte{1, 1})
	f.Add(append([]byte{1, 1}, make([]byte, 60)...))
	f.Add(append([]byte{1, 2}, make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := parseBlob(in)
		if err != nil {
			if !errors.Is(err, ErrUnwrap) {
				t.Fatalf("error %v does not match ErrUnwrap", err)
			}
			return
		}
		switch b.mech {
		case MechanismAESGCM:
			if len(b.iv) != gcmIVLen || !validKeyLen(len(b.body)-gcmTagLen) {
				t.Fatalf("accepted GCM blob of %d bytes", len(in))
			}
		case MechanismKWP:
			if b.iv != nil || !validKeyLen(len(b.body)-kwpOverhead) {
				t.Fatalf("accepted KWP blob of %d bytes", len(in))
			}
		default:
			t.Fatalf("accepted mechanism %v", b.mech)
		}
	})
}
