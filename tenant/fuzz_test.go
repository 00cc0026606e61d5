package tenant

import (
	"strings"
	"testing"
)

// FuzzParseName: a namespace name from a request is either refused or
// one segment that matches the name rules and round-trips.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"acme", "acme/", "/a/", "a/b", "root", "Sys", "", "..", "a\x00b", strings.Repeat("x", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name, err := ParseName(in)
		if err != nil {
			return
		}
		if !namePattern.MatchString(name) || strings.Contains(name, "/") || reservedNames[strings.ToLower(name)] {
			t.Fatalf("ParseName(%q) = %q", in, name)
		}
		if again, err := ParseName(name + "/"); err != nil || again != name {
			t.Fatalf("%q does not round-trip: %q %v", name, again, err)
		}
	})
}

// FuzzSplitTenantBlob: a stored blob either parses into a nonce without
// a slash and the rest, or is refused; it never panics.
func FuzzSplitTenantBlob(f *testing.F) {
	f.Add([]byte{16, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', 1, 2, 3})
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{200, 1})
	f.Fuzz(func(t *testing.T, blob []byte) {
		nonce, rest, err := splitTenantBlob(blob)
		if err != nil {
			return
		}
		if nonce == "" || strings.Contains(nonce, "/") || 1+len(nonce)+len(rest) != len(blob) {
			t.Fatalf("split %x: %q %x", blob, nonce, rest)
		}
	})
}

// FuzzParseSealType: anything but the known names is refused.
func FuzzParseSealType(f *testing.F) {
	for _, s := range []string{"", "shamir", "auto", "pkcs11", "AUTO", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		st, err := ParseSealType(in)
		if err == nil && st != SealShamir && st != SealAuto {
			t.Fatalf("ParseSealType(%q) = %q", in, st)
		}
	})
}
