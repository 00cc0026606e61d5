package httpapi

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
)

// header returns the first value of the header named key, which must be in
// canonical form (net/http stores request headers so): unlike Header.Get it
// does not canonicalise key again on every request.
func header(h http.Header, key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// newRequestID returns a random version 4 UUID, Vault's request_id format.
//
// A request ID names a request in the response, the audit log and the
// server's log; it grants nothing and guards nothing, so it comes from
// math/rand/v2's generator (ChaCha8, seeded by the runtime from the
// operating system, per thread and without a lock) instead of crypto/rand,
// which cost a system call or a locked DRBG read on every request (about
// 7% of a transit encrypt's handler time, BenchmarkTransitEncrypt's
// profile). Tokens, nonces and keys never come from here.
func newRequestID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
