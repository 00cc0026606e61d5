package shamir

import "testing"

// refMulSlow is an independent, obviously-correct (and variable-time)
// multiplication used only as a test oracle: a schoolbook carry-less product
// of degree <= 14, then reduction modulo x^8+x^4+x^3+x+1 (0x11b) from the
// top bit down.
func refMulSlow(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for i := 14; i >= 8; i-- {
		if p>>i&1 == 1 {
			p ^= 0x11b << (i - 8)
		}
	}
	return byte(p)
}

// refTables holds the classic log/antilog tables of the AES field with
// generator 0x03, built from refMulSlow. This is the table-driven
// implementation that Vault's shamir package used before it switched to a
// constant-time multiply.
type refTables struct {
	exp [255]byte
	log [256]byte
}

func newRefTables(tb testing.TB) *refTables {
	tb.Helper()
	t := &refTables{}
	var seen [256]bool
	x := byte(1)
	for i := range t.exp {
		if seen[x] {
			tb.Fatalf("0x03 is not a generator: 0x03^%d repeats 0x%02x", i, x)
		}
		seen[x] = true
		t.exp[i] = x
		t.log[x] = byte(i)
		x = refMulSlow(x, 0x03)
	}
	if x != 1 {
		tb.Fatalf("0x03^255 = 0x%02x, want 0x01", x)
	}
	return t
}

func (t *refTables) mul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return t.exp[(int(t.log[a])+int(t.log[b]))%255]
}

func (t *refTables) inv(a byte) byte {
	if a == 0 {
		return 0
	}
	return t.exp[(255-int(t.log[a]))%255]
}

func TestMulKnownAnswers(t *testing.T) {
	tests := []struct {
		a, b, want byte
		source     string
	}{
		// FIPS-197 §4.2: {57}·{83} = {c1}.
		{0x57, 0x83, 0xc1, "FIPS-197 4.2"},
		// FIPS-197 §4.2.1: xtime chain and {57}·{13} = {fe}.
		{0x57, 0x02, 0xae, "FIPS-197 4.2.1"},
		{0x57, 0x04, 0x47, "FIPS-197 4.2.1"},
		{0x57, 0x08, 0x8e, "FIPS-197 4.2.1"},
		{0x57, 0x10, 0x07, "FIPS-197 4.2.1"},
		{0x57, 0x13, 0xfe, "FIPS-197 4.2.1"},
		// {53} and {ca} are inverses (the standard Rijndael inverse example).
		{0x53, 0xca, 0x01, "Rijndael inverse example"},
		// Vault's shamir_test.go field tests.
		{0x03, 0x07, 0x09, "Vault TestField_Mult"},
		{0x03, 0x00, 0x00, "Vault TestField_Mult"},
		{0x00, 0x03, 0x00, "Vault TestField_Mult"},
		// Identity and absorbing elements.
		{0x01, 0xff, 0xff, "identity"},
		{0xff, 0x01, 0xff, "identity"},
		{0x00, 0x00, 0x00, "zero"},
	}
	for _, tt := range tests {
		if got := mul(tt.a, tt.b); got != tt.want {
			t.Errorf("mul(0x%02x, 0x%02x) = 0x%02x, want 0x%02x (%s)", tt.a, tt.b, got, tt.want, tt.source)
		}
		if got := mul(tt.b, tt.a); got != tt.want {
			t.Errorf("mul(0x%02x, 0x%02x) = 0x%02x, want 0x%02x (%s, commuted)", tt.b, tt.a, got, tt.want, tt.source)
		}
	}
}

func TestAddKnownAnswers(t *testing.T) {
	// FIPS-197 §4.1: {57} + {83} = {d4}; Vault: 16+16 = 0, 3+4 = 7.
	if got := add(0x57, 0x83); got != 0xd4 {
		t.Errorf("add(0x57, 0x83) = 0x%02x, want 0xd4", got)
	}
	if got := add(16, 16); got != 0 {
		t.Errorf("add(16, 16) = %d, want 0", got)
	}
	if got := add(3, 4); got != 7 {
		t.Errorf("add(3, 4) = %d, want 7", got)
	}
}

func TestInvKnownAnswers(t *testing.T) {
	tests := []struct{ a, want byte }{
		{0x00, 0x00}, // by convention (0^254 = 0); never used as a divisor
		{0x01, 0x01},
		{0x53, 0xca},
		{0xca, 0x53},
	}
	for _, tt := range tests {
		if got := inv(tt.a); got != tt.want {
			t.Errorf("inv(0x%02x) = 0x%02x, want 0x%02x", tt.a, got, tt.want)
		}
	}
	// Vault's TestField_Divide: 3/3 = 1, 6/3 = 2, 0/7 = 0.
	if got := mul(3, inv(3)); got != 1 {
		t.Errorf("3/3 = %d, want 1", got)
	}
	if got := mul(6, inv(3)); got != 2 {
		t.Errorf("6/3 = %d, want 2", got)
	}
	if got := mul(0, inv(7)); got != 0 {
		t.Errorf("0/7 = %d, want 0", got)
	}
}

func TestInvExhaustive(t *testing.T) {
	ref := newRefTables(t)
	for a := 1; a < 256; a++ {
		ia := inv(byte(a))
		if got := mul(byte(a), ia); got != 1 {
			t.Errorf("0x%02x · inv(0x%02x)=0x%02x = 0x%02x, want 0x01", a, a, ia, got)
		}
		if want := ref.inv(byte(a)); ia != want {
			t.Errorf("inv(0x%02x) = 0x%02x, table says 0x%02x", a, ia, want)
		}
	}
}

func TestMulExhaustive(t *testing.T) {
	ref := newRefTables(t)
	for a := range 256 {
		for b := range 256 {
			got := mul(byte(a), byte(b))
			if want := ref.mul(byte(a), byte(b)); got != want {
				t.Fatalf("mul(0x%02x, 0x%02x) = 0x%02x, table says 0x%02x", a, b, got, want)
			}
			if want := refMulSlow(byte(a), byte(b)); got != want {
				t.Fatalf("mul(0x%02x, 0x%02x) = 0x%02x, schoolbook says 0x%02x", a, b, got, want)
			}
		}
	}
}

func TestEvaluate(t *testing.T) {
	// f(x) = 0x2a + 0x57·x + 0x13·x^2; see TestCombineKnownAnswerDegree2.
	coeffs := []byte{0x2a, 0x57, 0x13}
	for _, tt := range []struct{ x, want byte }{
		{0x00, 0x2a}, {0x01, 0x6e}, {0x02, 0xc8}, {0x03, 0x8c},
	} {
		if got := evaluate(coeffs, tt.x); got != tt.want {
			t.Errorf("f(0x%02x) = 0x%02x, want 0x%02x", tt.x, got, tt.want)
		}
	}
}
