package shamir

// Arithmetic in GF(2^8) = GF(2)[x] / (x^8 + x^4 + x^3 + x + 1), the field
// AES uses (reduction polynomial 0x11b). It is the same field as HashiCorp
// Vault's shamir package, which is what makes shares interchangeable.
//
// Every function here runs in constant time: no branch and no memory access
// depends on the value of an operand. There are deliberately no log/exp
// tables, because an index derived from a secret byte leaks it through the
// cache.

// add returns a + b. In characteristic 2, addition and subtraction are both
// XOR.
func add(a, b byte) byte {
	return a ^ b
}

// mul returns a·b using a fixed eight-round shift-and-add ("Russian
// peasant") loop. Each round adds a when the low bit of b is set, then
// doubles a (xtime), reducing by 0x1b when the top bit falls off. Both
// conditions are turned into all-zeros / all-ones masks (-(bit)) rather than
// branches.
func mul(a, b byte) byte {
	var r byte
	for range 8 {
		r ^= -(b & 1) & a
		a = (a << 1) ^ (-(a >> 7) & 0x1b)
		b >>= 1
	}
	return r
}

// inv returns a^-1 for a != 0, and 0 for a == 0. The multiplicative group
// has order 255, so a^-1 = a^254, computed with a fixed square-and-multiply
// chain: 254 = 2+4+8+16+32+64+128, so the result is the product of the
// squares a^2, a^4, ..., a^128. The sequence of operations is the same for
// every input.
func inv(a byte) byte {
	r := byte(1)
	s := a
	for range 7 {
		s = mul(s, s)
		r = mul(r, s)
	}
	return r
}
