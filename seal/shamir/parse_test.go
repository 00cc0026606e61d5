package shamir

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// malformedLength matches the one refusal message with a variable part (the
// decoded length, never the content).
var malformedLength = regexp.MustCompile(`^shamir: malformed share: decoded share is \d+ bytes, want 2 to 256$`)

// checkParseRefusal fails unless err is a well-formed ParseShare refusal.
func checkParseRefusal(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformedShare) {
		t.Fatalf("err = %v, want ErrMalformedShare", err)
	}
	msg := err.Error()
	fixed := []string{errShareEmpty.Error(), errShareTooLong.Error(), errShareEncoding.Error()}
	if !slices.Contains(fixed, msg) && !malformedLength.MatchString(msg) {
		t.Fatalf("unexpected message %q", msg)
	}
}

func TestParseShare(t *testing.T) {
	share := []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x7f, 0x80, 0xff, 0x2a}
	hexLower := hex.EncodeToString(share)
	b64 := base64.StdEncoding.EncodeToString(share) // "3q2+7wABf4D/Kg==": has '+', '/', '='
	tests := []struct {
		name, in string
	}{
		{"hex lower", hexLower},
		{"hex upper", strings.ToUpper(hexLower)},
		{"hex mixed case", "DeAdBeEf0001" + hexLower[12:]},
		{"base64", b64},
		{"hex with surrounding whitespace", " \t\n" + hexLower + "\r\n "},
		{"base64 with surrounding whitespace", "\n  " + b64 + "\t"},
		{"base64 with embedded line break", b64[:8] + "\n" + b64[8:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseShare(tt.in)
			if err != nil {
				t.Fatalf("ParseShare(%q): %v", tt.in, err)
			}
			if !bytes.Equal(got, share) {
				t.Errorf("ParseShare(%q) = %x, want %x", tt.in, got, share)
			}
		})
	}
}

func TestParseShareSplitOutput(t *testing.T) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	shares, err := Split(secret, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	var parsed [][]byte
	for i, s := range shares {
		// Vault's "operator init" prints both forms.
		h, err := ParseShare(hex.EncodeToString(s))
		if err != nil || !bytes.Equal(h, s) {
			t.Fatalf("share %d hex: %x, %v", i, h, err)
		}
		b, err := ParseShare(base64.StdEncoding.EncodeToString(s))
		if err != nil || !bytes.Equal(b, s) {
			t.Fatalf("share %d base64: %x, %v", i, b, err)
		}
		parsed = append(parsed, b)
	}
	got, err := Combine(parsed[2:])
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Combine(parsed) = %x, %v", got, err)
	}
}

// TestParseShareHexWins pins Vault's precedence: text that is valid hex is
// decoded as hex even if it is also valid base64.
func TestParseShareHexWins(t *testing.T) {
	got, err := ParseShare("abcd") // hex ab cd; as base64 it would be 69 b7 1d
	if err != nil || !bytes.Equal(got, []byte{0xab, 0xcd}) {
		t.Errorf("ParseShare(abcd) = %x, %v; want abcd", got, err)
	}
}

// TestParseShareTypoFallsBackToBase64 pins a Vault-compatible hazard: a hex
// share with a typo, if its length is a multiple of 4, is valid base64 and
// is accepted as a different share. Only using the combined key reveals it.
func TestParseShareTypoFallsBackToBase64(t *testing.T) {
	got, err := ParseShare("abcg") // 'g' is not hex; "abcg" is base64 for 69 b7 20
	if err != nil || !bytes.Equal(got, []byte{0x69, 0xb7, 0x20}) {
		t.Errorf("ParseShare(abcg) = %x, %v; want 69b720", got, err)
	}
}

func TestParseShareLengthBounds(t *testing.T) {
	for _, n := range []int{2, 3, MaxShareLen} {
		s := bytes.Repeat([]byte{0x5a}, n)
		for _, enc := range []string{hex.EncodeToString(s), base64.StdEncoding.EncodeToString(s)} {
			got, err := ParseShare(enc)
			if err != nil || !bytes.Equal(got, s) {
				t.Errorf("%d bytes: ParseShare = %d bytes, %v", n, len(got), err)
			}
		}
	}
}

func TestParseShareRefusals(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"only whitespace", " \t\r\n "},
		{"not hex or base64", "not a share!"},
		{"invalid hex digits, not base64 either", "zz"},
		{"odd-length hex, not base64 either", "abc"},
		{"base64url alphabet", "3q2-7wABf4D_Kg=="},
		{"base64 missing padding", "3q2+7wABf4D/Kg"},
		{"hex with interior space", "dead beef"},
		{"one byte as hex", "2a"},
		{"one byte as base64", "Kg=="},
		{"zero bytes as base64 padding", "===="},
		{"257 bytes as hex", strings.Repeat("00", MaxShareLen+1)},
		{"257 bytes as base64", base64.StdEncoding.EncodeToString(make([]byte, MaxShareLen+1))},
		{"over the encoded length cap", strings.Repeat("A", maxEncodedShareLen+4)},
		{"NUL bytes", "\x00\x00\x00\x00"},
		{"invalid UTF-8", "\xff\xfe\xfd\xfc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseShare(tt.in)
			if got != nil {
				t.Errorf("got %x alongside an error", got)
			}
			checkParseRefusal(t, err)
		})
	}
}

func TestParseShareErrorDoesNotEchoInput(t *testing.T) {
	// A plausible hex share of a 32-byte key (33 bytes, 66 digits) with one
	// typo: the message must not contain it, nor any fragment of it. (66 is
	// not a multiple of 4, so the typo cannot make it valid base64.)
	in := "f7a3c9e1d2b4a6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2g4e6"
	if len(in) != 66 {
		t.Fatalf("test input is %d characters", len(in))
	}
	_, err := ParseShare(in)
	checkParseRefusal(t, err)
	for i := 0; i+6 <= len(in); i++ {
		if strings.Contains(err.Error(), in[i:i+6]) {
			t.Fatalf("error %q contains input fragment %q", err, in[i:i+6])
		}
	}
}
