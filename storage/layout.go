package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/storage/tuple"
)

// Physical layout. Wrap stores every logical key K in these areas of the
// raw keyspace, each named by its first byte (enc(K) is K escaped and
// terminated as in FoundationDB's tuple byte strings: every 0x00 becomes
// 0x00 0xFF, then a 0x00 ends it, so enc is one-to-one and preserves
// order):
//
//	0x01 enc(K)          head: 0x01 value                     (inline value, up to MaxChunkSize-1 bytes)
//	                           0x02 id[16] len[8] chunks[4]   (reference to blob id)
//	0x02 enc(K)          blob index: id[16]; present exactly when K's head is a reference
//	0x03 id[16] i[4]     chunk i of blob id, at most MaxChunkSize bytes
//	0x04 id[16]          staging record of a blob not yet linked: 0x01 unix-nanos[8]
//
// Integers are big-endian. Areas 0x00 and 0x05 to 0xff are reserved.
// Because enc preserves order, the heads of a logical range are one
// contiguous physical range with one entry per logical key, so range reads
// with a Limit map to raw range reads with the same Limit. Nothing is ever
// appended to enc(K): enc is not prefix-free (enc("a") = "a\x00" is a prefix
// of enc("a\x00") = "a\x00\xff\x00"), and only a suffix that starts with a
// byte below 0xFF would keep the order. Chunks therefore live under blob ids,
// not under the key. The layout is frozen by testdata/layout.golden.
const (
	areaHead    = 0x01
	areaIndex   = 0x02
	areaBlob    = 0x03
	areaStaging = 0x04

	headInline = 0x01
	headBlob   = 0x02

	stagingV1 = 0x01

	blobIDLen      = 16
	blobRefLen     = 1 + blobIDLen + 8 + 4
	chunkKeyLen    = 1 + blobIDLen + 4
	stagingLen     = 1 + 8
	maxInlineValue = MaxChunkSize - 1
)

// errCorrupt reports physical data that does not follow the layout.
var errCorrupt = errors.New("storage: stored data is corrupt")

// blobID names a blob: a value stored as chunks in the blob area.
type blobID [blobIDLen]byte

// appendEncodedKey appends enc(key) to dst: every 0x00 byte of key becomes
// 0x00 0xFF and a 0x00 terminates it. For any a and b,
// bytes.Compare(enc(a), enc(b)) == bytes.Compare(a, b). enc(a) is a proper
// prefix of enc(b) only when b extends a with a 0x00 byte; enc(b) then goes
// on with 0xFF, so enc(a) followed by any suffix that starts below 0xFF still
// sorts before enc(b).
func appendEncodedKey(dst, key []byte) []byte { return tuple.AppendEscaped(dst, key) }

// decodeKey reverses appendEncodedKey. enc must be exactly one encoded
// key: a missing terminator, a 0x00 followed by anything but 0xFF, or bytes
// after the terminator are errors.
func decodeKey(enc []byte) ([]byte, error) {
	key := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != 0x00 {
			key = append(key, c)
			continue
		}
		if i == len(enc)-1 {
			return key, nil
		}
		if enc[i+1] != 0xff {
			return nil, fmt.Errorf("%w: bad escape in key encoding", errCorrupt)
		}
		key = append(key, 0x00)
		i++
	}
	return nil, fmt.Errorf("%w: unterminated key encoding", errCorrupt)
}

// areaKey returns area followed by enc(key).
func areaKey(area byte, key []byte) []byte {
	return appendEncodedKey(append(make([]byte, 0, 2+len(key)+len(key)/8), area), key)
}

// areaBounds maps the logical bounds [begin, end) to the physical bounds of
// area; empty bounds become the start or end of the area.
func areaBounds(area byte, begin, end []byte) (pb, pe []byte) {
	if len(begin) == 0 {
		pb = []byte{area}
	} else {
		pb = areaKey(area, begin)
	}
	if len(end) == 0 {
		pe = []byte{area + 1}
	} else {
		pe = areaKey(area, end)
	}
	return pb, pe
}

// decodeAreaKey returns the logical key of a head or index key.
func decodeAreaKey(area byte, pk []byte) ([]byte, error) {
	if len(pk) < 2 || pk[0] != area {
		return nil, fmt.Errorf("%w: key outside area %#x", errCorrupt, area)
	}
	return decodeKey(pk[1:])
}

// clampBound shortens a range bound to MaxKeySize+1 bytes. That changes no
// comparison with a valid key (at most MaxKeySize bytes), and keeps the
// physical bounds small.
func clampBound(b []byte) []byte {
	if len(b) > MaxKeySize+1 {
		return b[:MaxKeySize+1]
	}
	return b
}

// checkKey enforces the key rules of Tx and ReadTx.
func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: %d bytes", ErrKeyTooLarge, len(key))
	}
	return nil
}

// inlineHead returns the head value of a value stored inline.
func inlineHead(value []byte) []byte {
	return append(append(make([]byte, 0, 1+len(value)), headInline), value...)
}

// blobRef is the head of a value stored as a blob.
type blobRef struct {
	id     blobID
	length uint64
	chunks uint32
}

func (r blobRef) encode() []byte {
	b := make([]byte, 0, blobRefLen)
	b = append(b, headBlob)
	b = append(b, r.id[:]...)
	b = binary.BigEndian.AppendUint64(b, r.length)
	return binary.BigEndian.AppendUint32(b, r.chunks)
}

func decodeBlobRef(head []byte) (blobRef, error) {
	var r blobRef
	if len(head) != blobRefLen || head[0] != headBlob {
		return r, fmt.Errorf("%w: bad blob reference", errCorrupt)
	}
	copy(r.id[:], head[1:])
	r.length = binary.BigEndian.Uint64(head[1+blobIDLen:])
	r.chunks = binary.BigEndian.Uint32(head[1+blobIDLen+8:])
	if r.length > MaxValueSize || uint64(r.chunks) != chunkCount(int(r.length)) {
		return r, fmt.Errorf("%w: blob %x: bad length or chunk count", errCorrupt, r.id)
	}
	return r, nil
}

// chunkCount is the number of chunks of a blob of n bytes.
func chunkCount(n int) uint64 {
	return uint64((n + MaxChunkSize - 1) / MaxChunkSize)
}

// blobPrefix is the physical prefix of every chunk of id.
func blobPrefix(id blobID) []byte {
	return append([]byte{areaBlob}, id[:]...)
}

// blobEnd is the first physical key after every chunk of id.
func blobEnd(id blobID) []byte {
	return PrefixEnd(blobPrefix(id))
}

func chunkKey(id blobID, i uint32) []byte {
	b := make([]byte, 0, chunkKeyLen)
	b = append(b, areaBlob)
	b = append(b, id[:]...)
	return binary.BigEndian.AppendUint32(b, i)
}

func stagingKey(id blobID) []byte {
	return append([]byte{areaStaging}, id[:]...)
}

func stagingValue(unixNano int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{stagingV1}, uint64(unixNano))
}

func decodeStaging(v []byte) (unixNano int64, err error) {
	if len(v) != stagingLen || v[0] != stagingV1 {
		return 0, fmt.Errorf("%w: bad staging record", errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v[1:])), nil
}

func decodeBlobID(b []byte) (blobID, error) {
	var id blobID
	if len(b) != blobIDLen {
		return id, fmt.Errorf("%w: bad blob id", errCorrupt)
	}
	copy(id[:], b)
	return id, nil
}

// assembleBlob reads the chunks of r in order and checks that they are all
// there.
func assembleBlob(tx RawReadTx, r blobRef) ([]byte, error) {
	value := make([]byte, 0, r.length)
	next := uint32(0)
	var bad error
	prefix := blobPrefix(r.id)
	err := tx.Range(RawRange{Begin: prefix, End: blobEnd(r.id)}, func(k, v []byte) bool {
		if len(k) != chunkKeyLen || !bytes.HasPrefix(k, prefix) ||
			binary.BigEndian.Uint32(k[len(prefix):]) != next ||
			uint64(len(value)+len(v)) > r.length {
			bad = fmt.Errorf("%w: blob %x: unexpected chunk after %d of %d", errCorrupt, r.id, next, r.chunks)
			return false
		}
		value = append(value, v...)
		next++
		return true
	})
	switch {
	case err != nil:
		return nil, err
	case bad != nil:
		return nil, bad
	case next != r.chunks || uint64(len(value)) != r.length:
		return nil, fmt.Errorf("%w: blob %x: %d of %d chunks, %d of %d bytes", errCorrupt, r.id, next, r.chunks, len(value), r.length)
	}
	return value, nil
}
