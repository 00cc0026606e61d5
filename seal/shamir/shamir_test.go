package shamir

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// detReader is a deterministic byte stream for reproducible splits:
// SHA-256(seed || counter) for counter = 0, 1, 2, ... (8-byte big-endian),
// concatenated. It depends on nothing that a Go release could change.
type detReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newDetReader(seed string) *detReader { return &detReader{seed: []byte(seed)} }

func (r *detReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.New()
			h.Write(r.seed)
			h.Write(binary.BigEndian.AppendUint64(nil, r.ctr))
			r.ctr++
			r.buf = h.Sum(nil)
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// TestCombineKnownAnswerDegree1 checks Combine against shares computed by
// hand from the published field facts verified in TestMulKnownAnswers.
//
// Secret byte s = 0x2a, threshold 2, polynomial f(x) = 0x2a + 0x57·x:
//
//	x = 0x01: 0x57·0x01 = 0x57 (identity)   f = 0x2a ^ 0x57 = 0x7d
//	x = 0x83: 0x57·0x83 = 0xc1 (FIPS-197)   f = 0x2a ^ 0xc1 = 0xeb
//	x = 0x13: 0x57·0x13 = 0xfe (FIPS-197)   f = 0x2a ^ 0xfe = 0xd4
//
// Shares are {y, x}: 7d01, eb83, d413. Any two determine the line, so every
// pair (in either order), and all three together, give back 0x2a.
func TestCombineKnownAnswerDegree1(t *testing.T) {
	shares := [][]byte{{0x7d, 0x01}, {0xeb, 0x83}, {0xd4, 0x13}}
	for i := range shares {
		for j := range shares {
			if i == j {
				continue
			}
			got, err := Combine([][]byte{shares[i], shares[j]})
			if err != nil {
				t.Fatalf("Combine(%d, %d): %v", i, j, err)
			}
			if !bytes.Equal(got, []byte{0x2a}) {
				t.Errorf("Combine(%d, %d) = %x, want 2a", i, j, got)
			}
		}
	}
	got, err := Combine(shares)
	if err != nil || !bytes.Equal(got, []byte{0x2a}) {
		t.Errorf("Combine(all three) = %x, %v; want 2a", got, err)
	}
}

// TestCombineKnownAnswerDegree2 uses threshold 3 and the Vault-style
// x-coordinates 1, 2, 3. Secret byte 0x2a, f(x) = 0x2a + 0x57·x + 0x13·x^2.
//
// Squares: 1^2 = 1, 2^2 = 4, 3^2 = (x+1)^2 = x^2+1 = 5.
// Linear terms: 0x57·2 = 0xae (FIPS-197 xtime), 0x57·3 = 0xae^0x57 = 0xf9.
// Quadratic terms: 0x13·4 = 0x4c (shift, no overflow), 0x13·5 = 0x4c^0x13 = 0x5f.
//
//	f(1) = 0x2a ^ 0x57 ^ 0x13 = 0x6e
//	f(2) = 0x2a ^ 0xae ^ 0x4c = 0xc8
//	f(3) = 0x2a ^ 0xf9 ^ 0x5f = 0x8c
//
// The Lagrange weights at 0 for x = {1, 2, 3} are all 1, e.g.
// w_1 = (2·3)/((1^2)·(1^3)) = 6/(3·2) = 6/6 = 1, so the secret is
// 0x6e ^ 0xc8 ^ 0x8c = 0x2a, which Combine must reproduce in any order.
func TestCombineKnownAnswerDegree2(t *testing.T) {
	shares := [][]byte{{0x6e, 0x01}, {0xc8, 0x02}, {0x8c, 0x03}}
	for _, order := range [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		set := [][]byte{shares[order[0]], shares[order[1]], shares[order[2]]}
		got, err := Combine(set)
		if err != nil {
			t.Fatalf("Combine(%v): %v", order, err)
		}
		if !bytes.Equal(got, []byte{0x2a}) {
			t.Errorf("Combine(%v) = %x, want 2a", order, got)
		}
	}
}

// TestCombineKnownAnswerMultiByte checks the multi-byte layout (all
// y-values first, the shared x-coordinate last) with the two-byte secret
// {0x2a, 0x00}, threshold 2: byte 0 uses f(x) = 0x2a + 0x57·x from
// TestCombineKnownAnswerDegree1, byte 1 uses g(x) = 0x00 + 0x57·x, whose
// values are just the published products 0x57·x.
//
//	x = 0x01: f = 0x7d, g = 0x57     share 7d 57 01
//	x = 0x83: f = 0xeb, g = 0xc1     share eb c1 83
//	x = 0x13: f = 0xd4, g = 0xfe     share d4 fe 13
func TestCombineKnownAnswerMultiByte(t *testing.T) {
	shares := [][]byte{{0x7d, 0x57, 0x01}, {0xeb, 0xc1, 0x83}, {0xd4, 0xfe, 0x13}}
	for i := range shares {
		for j := i + 1; j < len(shares); j++ {
			got, err := Combine([][]byte{shares[i], shares[j]})
			if err != nil || !bytes.Equal(got, []byte{0x2a, 0x00}) {
				t.Errorf("Combine(%d, %d) = %x, %v; want 2a00", i, j, got, err)
			}
		}
	}
}

// TestSplitLayoutKnownAnswer drives SplitWithRand with a scripted reader to
// pin both the share layout and the order in which random bytes are used.
//
// parts = 2, threshold = 2, secret {0x2a}. The reader yields:
//
//	0xff  x-coordinate draw for share 0, range size 255: 0xff >= 255, rejected
//	0x00  accepted: j = 0 + 0, share 0 gets perm[0] = 1
//	0x00  share 1, range size 254 (limit 254): j = 1 + 0, perm[1] = 2
//	0x57  coefficient of x for secret byte 0
//
// f(x) = 0x2a + 0x57·x: f(1) = 0x7d, f(2) = 0x2a ^ 0xae = 0x84.
func TestSplitLayoutKnownAnswer(t *testing.T) {
	r := bytes.NewReader([]byte{0xff, 0x00, 0x00, 0x57})
	shares, err := SplitWithRand(r, []byte{0x2a}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{{0x7d, 0x01}, {0x84, 0x02}}
	if !slices.EqualFunc(shares, want, bytes.Equal) {
		t.Errorf("shares = %x, want %x", shares, want)
	}
	if r.Len() != 0 {
		t.Errorf("%d scripted bytes left unread", r.Len())
	}

	// A second script exercising the swap: share 0 draws 2 (perm[0] <-> perm[2],
	// x = 3), share 1 draws 253 (j = 1 + 253 = 254, x = perm[254] = 255).
	// Secret 0x2a with slope 0x57: f(3) = 0x2a ^ 0xf9 = 0xd3; f(0xff) is
	// checked through Combine instead of by hand.
	r = bytes.NewReader([]byte{0x02, 0xfd, 0x57})
	shares, err = SplitWithRand(r, []byte{0x2a}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if shares[0][1] != 0x03 || shares[1][1] != 0xff {
		t.Errorf("x-coordinates = %d, %d; want 3, 255", shares[0][1], shares[1][1])
	}
	if shares[0][0] != 0xd3 {
		t.Errorf("f(3) = 0x%02x, want 0xd3", shares[0][0])
	}
	if got, err := Combine(shares); err != nil || !bytes.Equal(got, []byte{0x2a}) {
		t.Errorf("Combine = %x, %v; want 2a", got, err)
	}
}

type goldenVector struct {
	Comment   string   `json:"comment"`
	Seed      string   `json:"seed"`
	Secret    string   `json:"secret"`
	Parts     int      `json:"parts"`
	Threshold int      `json:"threshold"`
	Shares    []string `json:"shares"`
}

// goldenInputs are the vectors in testdata/split_golden.json. The shares are
// SplitWithRand(newDetReader(seed), secret, parts, threshold).
var goldenInputs = []goldenVector{
	{
		Comment:   "32-byte secret, 5 parts, threshold 3 (the Vault default)",
		Seed:      "strongroom/seal/shamir golden 1",
		Secret:    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		Parts:     5,
		Threshold: 3,
	},
	{
		Comment:   "ASCII secret, 3 parts, threshold 2",
		Seed:      "strongroom/seal/shamir golden 2",
		Secret:    hex.EncodeToString([]byte("correct horse battery staple")),
		Parts:     3,
		Threshold: 2,
	},
	{
		Comment:   "one-byte secret, 4 parts, threshold 4",
		Seed:      "strongroom/seal/shamir golden 3",
		Secret:    "ff",
		Parts:     4,
		Threshold: 4,
	},
}

const goldenPath = "testdata/split_golden.json"

// TestSplitGolden pins the output of SplitWithRand for fixed readers, so any
// change to the share format, the field, or the way random bytes are
// consumed is caught. Regenerate deliberately with
// go test ./seal/shamir -run TestSplitGolden -update.
func TestSplitGolden(t *testing.T) {
	var got []goldenVector
	for _, in := range goldenInputs {
		shares, err := SplitWithRand(newDetReader(in.Seed), mustHex(t, in.Secret), in.Parts, in.Threshold)
		if err != nil {
			t.Fatalf("%s: %v", in.Comment, err)
		}
		v := in
		for _, s := range shares {
			v.Shares = append(v.Shares, hex.EncodeToString(s))
		}
		got = append(got, v)
	}

	if *update {
		data, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenPath)
	}

	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want []goldenVector
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("golden file has %d vectors, want %d", len(want), len(got))
	}
	for i := range want {
		if !slices.Equal(got[i].Shares, want[i].Shares) || got[i].Secret != want[i].Secret {
			t.Errorf("vector %d (%s): SplitWithRand output changed\n got %q\nwant %q", i, want[i].Comment, got[i].Shares, want[i].Shares)
		}
	}

	// Independently of the reader: the stored shares must still combine to
	// the stored secret, from every threshold-sized prefix and from all.
	for _, v := range want {
		var shares [][]byte
		for _, s := range v.Shares {
			shares = append(shares, mustHex(t, s))
		}
		for _, set := range [][][]byte{shares[:v.Threshold], shares[len(shares)-v.Threshold:], shares} {
			sec, err := Combine(set)
			if err != nil {
				t.Fatalf("%s: Combine: %v", v.Comment, err)
			}
			if hex.EncodeToString(sec) != v.Secret {
				t.Errorf("%s: Combine = %x, want %s", v.Comment, sec, v.Secret)
			}
		}
	}
}

func checkShares(t *testing.T, secret []byte, shares [][]byte, parts int) {
	t.Helper()
	if len(shares) != parts {
		t.Fatalf("got %d shares, want %d", len(shares), parts)
	}
	var seen [256]bool
	for i, s := range shares {
		if len(s) != len(secret)+ShareOverhead {
			t.Fatalf("share %d is %d bytes, want %d", i, len(s), len(secret)+ShareOverhead)
		}
		x := s[len(s)-1]
		if x == 0 {
			t.Fatalf("share %d has x-coordinate 0", i)
		}
		if seen[x] {
			t.Fatalf("x-coordinate %d repeated", x)
		}
		seen[x] = true
	}
}

// pick returns k distinct shares in a random order.
func pick(t *testing.T, shares [][]byte, k int) [][]byte {
	t.Helper()
	idx := make([]int, len(shares))
	for i := range idx {
		idx[i] = i
	}
	var b [1]byte
	for i := len(idx) - 1; i > 0; i-- {
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		j := int(b[0]) % (i + 1) // slight bias is fine for test sampling
		idx[i], idx[j] = idx[j], idx[i]
	}
	out := make([][]byte, k)
	for i := range out {
		out[i] = shares[idx[i]]
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	configs := []struct {
		parts, threshold int
		allLengths       bool // every length 1..64, else a sample
	}{
		{2, 2, true},
		{3, 2, true},
		{5, 3, true},
		{10, 7, true},
		{16, 16, true},
		{255, 2, false},
		{255, 128, false},
		{255, 255, false},
	}
	for _, c := range configs {
		lengths := []int{1, 2, 31, 32, 33, 64}
		if c.allLengths {
			lengths = lengths[:0]
			for n := 1; n <= 64; n++ {
				lengths = append(lengths, n)
			}
		}
		for _, n := range lengths {
			secret := make([]byte, n)
			rand.Read(secret)
			shares, err := Split(secret, c.parts, c.threshold)
			if err != nil {
				t.Fatalf("Split(%d bytes, %d, %d): %v", n, c.parts, c.threshold, err)
			}
			checkShares(t, secret, shares, c.parts)
			for _, k := range []int{c.threshold, c.parts} {
				got, err := Combine(pick(t, shares, k))
				if err != nil {
					t.Fatalf("%d/%d, %d bytes, %d shares: Combine: %v", c.parts, c.threshold, n, k, err)
				}
				if !bytes.Equal(got, secret) {
					t.Fatalf("%d/%d, %d bytes, %d shares: Combine = %x, want %x", c.parts, c.threshold, n, k, got, secret)
				}
			}
		}
	}
}

// TestAllSubsets: every ordered choice of 3 of the 5 shares recovers the
// secret (5·4·3 = 60 ordered triples), and so does every set of 4 and 5.
func TestAllSubsets(t *testing.T) {
	secret := []byte("strongroom root key, 32 bytes!!!")
	shares, err := Split(secret, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range 5 {
		for j := range 5 {
			for k := range 5 {
				if i == j || j == k || i == k {
					continue
				}
				n++
				got, err := Combine([][]byte{shares[i], shares[j], shares[k]})
				if err != nil || !bytes.Equal(got, secret) {
					t.Errorf("Combine(%d, %d, %d) = %q, %v", i, j, k, got, err)
				}
			}
		}
	}
	if n != 60 {
		t.Fatalf("tried %d triples, want 60", n)
	}
	for skip := range 5 {
		four := slices.Delete(slices.Clone(shares), skip, skip+1)
		if got, err := Combine(four); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("Combine(all but %d) = %q, %v", skip, got, err)
		}
	}
}

// TestBelowThreshold: with fewer than threshold shares Combine still returns
// 32 bytes (it cannot know the threshold), but they are not the secret; the
// chance of a match by accident is 2^-256.
func TestBelowThreshold(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	shares, err := Split(secret, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		for j := i + 1; j < 5; j++ {
			got, err := Combine([][]byte{shares[i], shares[j]})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(got, secret) {
				t.Errorf("2 of a 3-threshold split recovered the secret")
			}
		}
	}

	shares, err = Split(secret, 255, 255)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Combine(shares[:254]); err != nil || bytes.Equal(got, secret) {
		t.Errorf("254 of a 255-threshold split: %v, recovered=%v", err, bytes.Equal(got, secret))
	}
}

func TestSplitAllXCoordinates(t *testing.T) {
	shares, err := SplitWithRand(newDetReader("all x"), []byte{1}, 255, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkShares(t, []byte{1}, shares, 255) // 255 distinct non-zero values: all of 1..255
}

func TestSplitDoesNotModifySecret(t *testing.T) {
	secret := []byte("do not touch")
	orig := slices.Clone(secret)
	if _, err := Split(secret, 3, 2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secret, orig) {
		t.Errorf("Split modified its input")
	}
}

func TestSplitSharesIndependent(t *testing.T) {
	shares, err := Split([]byte("abc"), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(shares[1])
	clear(shares[0])
	_ = append(shares[0], 0xff, 0xff, 0xff, 0xff)
	if !bytes.Equal(shares[1], before) {
		t.Errorf("shares share a backing array")
	}
}

// failingReader yields n good bytes and then fails.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = 0x01
	}
	r.n -= k
	return k, nil
}

func TestSplitRandomnessFailure(t *testing.T) {
	boom := errors.New("entropy source unplugged")
	// 0: fails while choosing x-coordinates; 3: fails while drawing
	// coefficients (3 parts need 3 x draws, all accepted since 0x01 < limit).
	for _, good := range []int{0, 1, 3, 5} {
		shares, err := SplitWithRand(&failingReader{n: good, err: boom}, []byte("0123456789"), 3, 2)
		if err == nil {
			t.Fatalf("%d good bytes: no error", good)
		}
		if !errors.Is(err, boom) {
			t.Errorf("%d good bytes: error %v does not wrap the reader's error", good, err)
		}
		if shares != nil {
			t.Errorf("%d good bytes: got shares alongside an error", good)
		}
	}
	// A reader that runs dry is an error too, not a short split.
	if _, err := SplitWithRand(bytes.NewReader([]byte{0, 0}), []byte{1}, 2, 2); !errors.Is(err, io.EOF) {
		t.Errorf("short reader: err = %v, want io.EOF", err)
	}
}

// refusalMessages are all fixed refusal messages. Tests check that every
// refusal is one of these, which proves no message carries input bytes.
var refusalMessages = []string{
	ErrPartsTooFew.Error(),
	ErrTooManyParts.Error(),
	ErrThresholdTooSmall.Error(),
	ErrEmptySecret.Error(),
	ErrTooFewShares.Error(),
	errShareTooShort.Error(),
	errShareMismatch.Error(),
	ErrDuplicateShare.Error(),
}

func TestSplitRefusals(t *testing.T) {
	secret := []byte("test")
	tests := []struct {
		name             string
		secret           []byte
		parts, threshold int
		want             error
	}{
		{"parts below threshold", secret, 2, 3, ErrPartsTooFew},
		{"negative parts", secret, -1, 2, ErrPartsTooFew},
		{"too many parts", secret, 1000, 3, ErrTooManyParts},
		{"256 parts", secret, 256, 256, ErrTooManyParts},
		{"threshold 1", secret, 10, 1, ErrThresholdTooSmall},
		{"1 of 1", secret, 1, 1, ErrThresholdTooSmall},
		{"0 of 0 (Vault order: threshold check)", secret, 0, 0, ErrThresholdTooSmall},
		{"negative threshold", secret, 3, -1, ErrThresholdTooSmall},
		{"nil secret", nil, 3, 2, ErrEmptySecret},
		{"empty secret", []byte{}, 3, 2, ErrEmptySecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shares, err := Split(tt.secret, tt.parts, tt.threshold)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if shares != nil {
				t.Errorf("got shares alongside an error")
			}
			if !slices.Contains(refusalMessages, err.Error()) {
				t.Errorf("unexpected message %q", err)
			}
		})
	}
}

func TestCombineRefusals(t *testing.T) {
	tests := []struct {
		name  string
		parts [][]byte
		want  error
	}{
		{"nil", nil, ErrTooFewShares},
		{"one share", [][]byte{[]byte("foo")}, ErrTooFewShares},
		{"length mismatch", [][]byte{[]byte("foo"), []byte("ba")}, ErrShareLength},
		{"later share longer", [][]byte{[]byte("foo"), []byte("bar"), []byte("bazz")}, ErrShareLength},
		{"later share shorter", [][]byte{[]byte("foo"), []byte("bar"), []byte("b")}, ErrShareLength},
		{"too short", [][]byte{[]byte("f"), []byte("b")}, ErrShareLength},
		{"empty shares", [][]byte{{}, {}}, ErrShareLength},
		{"nil shares", [][]byte{nil, nil}, ErrShareLength},
		{"identical shares", [][]byte{[]byte("foo"), []byte("foo")}, ErrDuplicateShare},
		{"same x, different y", [][]byte{{0xde, 0xad, 0x07}, {0xbe, 0xef, 0x07}}, ErrDuplicateShare},
		{"duplicate among three", [][]byte{[]byte("ab"), []byte("cd"), []byte("xb")}, ErrDuplicateShare},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret, err := Combine(tt.parts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if secret != nil {
				t.Errorf("got a secret alongside an error")
			}
			if !slices.Contains(refusalMessages, err.Error()) {
				t.Errorf("unexpected message %q", err)
			}
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	all := []error{
		ErrPartsTooFew, ErrTooManyParts, ErrThresholdTooSmall, ErrEmptySecret,
		ErrTooFewShares, ErrShareLength, ErrDuplicateShare, ErrMalformedShare,
	}
	for i, a := range all {
		if !strings.HasPrefix(a.Error(), "shamir: ") {
			t.Errorf("%q lacks the package prefix", a)
		}
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}

// TestCombineXZero: like Vault, Combine accepts an x-coordinate of 0 (which
// Split never produces); that share's y-values are the secret itself.
func TestCombineXZero(t *testing.T) {
	got, err := Combine([][]byte{{0x2a, 0x00}, {0x7d, 0x01}})
	if err != nil || !bytes.Equal(got, []byte{0x2a}) {
		t.Errorf("Combine = %x, %v; want 2a", got, err)
	}
}

func TestCombineDoesNotModifyShares(t *testing.T) {
	shares, err := Split([]byte("secret"), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	orig := make([][]byte, len(shares))
	for i := range shares {
		orig[i] = slices.Clone(shares[i])
	}
	if _, err := Combine(shares); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(shares, orig, bytes.Equal) {
		t.Errorf("Combine modified its input")
	}
}

func BenchmarkSplit(b *testing.B) {
	secret := make([]byte, 32)
	rand.Read(secret)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(secret, 5, 3); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCombine(b *testing.B) {
	secret := make([]byte, 32)
	rand.Read(secret)
	shares, err := Split(secret, 5, 3)
	if err != nil {
		b.Fatal(err)
	}
	set := shares[1:4]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Combine(set); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleSplit() {
	// Not a real key: real keys come from crypto/rand and are wiped after use.
	secret := []byte("0123456789abcdef0123456789abcdef")
	shares, err := Split(secret, 5, 3)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(shares), "shares of", len(shares[0]), "bytes")

	recovered, err := Combine([][]byte{shares[4], shares[0], shares[2]})
	if err != nil {
		panic(err)
	}
	fmt.Println(bytes.Equal(recovered, secret))

	_, err = Combine([][]byte{shares[0], shares[0]})
	fmt.Println(errors.Is(err, ErrDuplicateShare))

	for _, s := range shares {
		clear(s)
	}
	clear(recovered)
	// Output:
	// 5 shares of 33 bytes
	// true
	// true
}
