package shamir

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

// encodeShareSet packs shares as length-prefixed records (one length byte,
// then that many bytes), the input format of FuzzCombine.
func encodeShareSet(shares ...[]byte) []byte {
	var out []byte
	for _, s := range shares {
		out = append(out, byte(len(s)))
		out = append(out, s...)
	}
	return out
}

// decodeShareSet is the inverse of encodeShareSet; a truncated last record
// becomes a short share, so every input decodes to some share set.
func decodeShareSet(data []byte) [][]byte {
	var shares [][]byte
	for len(data) > 0 && len(shares) < 300 {
		n := min(int(data[0]), len(data)-1)
		shares = append(shares, data[1:1+n])
		data = data[1+n:]
	}
	return shares
}

// refCombine is the textbook Lagrange interpolation at 0, byte by byte, with
// table-based (variable-time) arithmetic, as Vault originally wrote it.
func refCombine(ref *refTables, shares [][]byte) []byte {
	n := len(shares[0]) - 1
	secret := make([]byte, n)
	for idx := range n {
		var result byte
		for i, si := range shares {
			basis := byte(1)
			for j, sj := range shares {
				if i == j {
					continue
				}
				num := sj[n]         // 0 - x_j
				den := si[n] ^ sj[n] // x_i - x_j
				term := ref.mul(num, ref.inv(den))
				basis = ref.mul(basis, term)
			}
			result ^= ref.mul(si[idx], basis)
		}
		secret[idx] = result
	}
	return secret
}

// expectedCombineError restates Combine's validation rules independently.
func expectedCombineError(shares [][]byte) error {
	if len(shares) < 2 {
		return ErrTooFewShares
	}
	if len(shares[0]) < 2 {
		return ErrShareLength
	}
	for _, s := range shares {
		if len(s) != len(shares[0]) {
			return ErrShareLength
		}
	}
	for i := range shares {
		for j := range i {
			if shares[i][len(shares[i])-1] == shares[j][len(shares[j])-1] {
				return ErrDuplicateShare
			}
		}
	}
	return nil
}

func FuzzCombine(f *testing.F) {
	ref := newRefTables(f)

	// Seeds: real splits (all shares, threshold-sized subsets), the
	// hand-computed vectors, and each refusal.
	for _, c := range []struct {
		seed             string
		secret           []byte
		parts, threshold int
	}{
		{"fuzz 1", []byte("strongroom root key, 32 bytes!!!"), 5, 3},
		{"fuzz 2", []byte{0x2a}, 3, 2},
		{"fuzz 3", []byte("abcdefgh"), 8, 8},
	} {
		shares, err := SplitWithRand(newDetReader(c.seed), c.secret, c.parts, c.threshold)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodeShareSet(shares...))
		f.Add(encodeShareSet(shares[:c.threshold]...))
		f.Add(encodeShareSet(shares[:c.threshold-1]...))
	}
	f.Add(encodeShareSet([]byte{0x7d, 0x01}, []byte{0xeb, 0x83}, []byte{0xd4, 0x13}))
	f.Add(encodeShareSet([]byte{0x6e, 0x01}, []byte{0xc8, 0x02}, []byte{0x8c, 0x03}))
	f.Add(encodeShareSet([]byte{0x2a, 0x00}, []byte{0x7d, 0x01}))
	f.Add([]byte{})
	f.Add(encodeShareSet([]byte("foo")))
	f.Add(encodeShareSet([]byte("foo"), []byte("ba")))
	f.Add(encodeShareSet([]byte("f"), []byte("b")))
	f.Add(encodeShareSet([]byte{}, []byte{}))
	f.Add(encodeShareSet([]byte("foo"), []byte("foo")))
	f.Add([]byte{5, 1, 2})

	fixedMessages := []string{
		ErrTooFewShares.Error(), errShareTooShort.Error(), errShareMismatch.Error(), ErrDuplicateShare.Error(),
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		shares := decodeShareSet(data)
		orig := make([][]byte, len(shares))
		for i := range shares {
			orig[i] = slices.Clone(shares[i])
		}

		secret, err := Combine(shares)

		if !slices.EqualFunc(shares, orig, bytes.Equal) {
			t.Fatalf("Combine modified its input")
		}
		want := expectedCombineError(shares)
		if want != nil {
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if !slices.Contains(fixedMessages, err.Error()) {
				t.Fatalf("unexpected message %q", err)
			}
			if secret != nil {
				t.Fatalf("secret returned alongside an error")
			}
			return
		}
		if err != nil {
			t.Fatalf("unexpected refusal: %v", err)
		}
		if len(secret) != len(shares[0])-ShareOverhead {
			t.Fatalf("secret is %d bytes for %d-byte shares", len(secret), len(shares[0]))
		}
		if r := refCombine(ref, shares); !bytes.Equal(secret, r) {
			t.Fatalf("Combine = %x, reference = %x", secret, r)
		}
	})
}

func FuzzParseShare(f *testing.F) {
	share := []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x7f, 0x80, 0xff, 0x2a}
	for _, s := range []string{
		hex.EncodeToString(share),
		strings.ToUpper(hex.EncodeToString(share)),
		base64.StdEncoding.EncodeToString(share),
		" \n" + hex.EncodeToString(share) + "\t",
		"abcd", "2a", "Kg==", "", " ", "zz", "abc", "not a share!", "====",
		"3q2-7wABf4D_Kg==", "3q2+7wABf4D/Kg", "3q2+\n7wABf4D/Kg==",
		strings.Repeat("00", MaxShareLen), strings.Repeat("00", MaxShareLen+1),
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseShare(in)
		if err != nil {
			checkParseRefusal(t, err)
			if got != nil {
				t.Fatalf("share returned alongside an error")
			}
			return
		}
		if len(got) < 2 || len(got) > MaxShareLen {
			t.Fatalf("accepted a %d-byte share", len(got))
		}

		// Whatever form was accepted, decoding the trimmed text with that
		// form gives the same bytes, and the canonical re-encoding of the
		// result parses back to the same bytes.
		trimmed := strings.TrimSpace(in)
		if h, herr := hex.DecodeString(trimmed); herr == nil {
			if !bytes.Equal(got, h) {
				t.Fatalf("valid hex %q parsed to %x, want %x", trimmed, got, h)
			}
			if !strings.EqualFold(hex.EncodeToString(got), trimmed) {
				t.Fatalf("hex %q re-encodes to %q", trimmed, hex.EncodeToString(got))
			}
		} else {
			b, berr := base64.StdEncoding.DecodeString(trimmed)
			if berr != nil || !bytes.Equal(got, b) {
				t.Fatalf("accepted %q, which is neither hex nor base64 for %x", trimmed, got)
			}
		}

		again, err := ParseShare(hex.EncodeToString(got))
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("hex re-encoding of %x parses to %x, %v", got, again, err)
		}
		b64 := base64.StdEncoding.EncodeToString(got)
		if _, herr := hex.DecodeString(b64); herr != nil { // else hex wins, by design
			again, err = ParseShare(b64)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("base64 re-encoding of %x parses to %x, %v", got, again, err)
			}
		}
	})
}
