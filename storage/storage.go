// Package storage defines Strongroom's ordered key-value store: the Store,
// Tx and ReadTx interfaces every backend implements, the sentinel errors they
// return, and the FoundationDB limits every backend enforces.
//
// The shape follows FoundationDB: ordered byte keys, serializable read-write
// transactions given as closures that may run more than once, and range
// reads. Backends (storage/bolt, storage/fdb) implement the small Raw
// interfaces; Wrap turns a raw backend into a Store and adds, in one place for
// every backend, the key and transaction limits, the chunking of values over
// MaxChunkSize bytes, large values spanning several transactions, and the
// retry loop.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// The FoundationDB limits. Every backend enforces them, so that a
// deployment can move from the embedded store to FoundationDB unchanged.
const (
	// MaxKeySize is the largest key, in bytes, a Tx accepts. FoundationDB
	// stores keys of up to 10,000 bytes; a logical key becomes a physical
	// one with a prefix (up to 66 bytes), an area byte, tuple escaping
	// (every 0x00 byte doubled) and a terminator, so a logical key of
	// 4,900 bytes is the longest whose physical key always fits
	// (66 + 1 + 2×4,900 + 1 = 9,868, with room for a chunk number).
	MaxKeySize = 4_900
	// MaxChunkSize is the largest value stored under one physical key.
	// Larger values are split into chunks transparently.
	MaxChunkSize = 100_000
	// MaxTxSize is the largest total of key and value bytes written by one
	// transaction.
	MaxTxSize = 10_000_000
	// MaxValueSize is the largest logical value the store accepts through
	// SetLarge (64 MiB); Tx.Set accepts what fits in MaxTxSize.
	MaxValueSize = 64 << 20
)

// MaxTxDuration is the longest a transaction may run, FoundationDB's five
// seconds. Wrap enforces it on every backend: an operation started after it
// fails with ErrTimeout, and an Update that outlives it is not committed.
const MaxTxDuration = 5 * time.Second

// Sentinel errors. Backends translate their own errors into these at the
// adapter; callers match them with errors.Is, never by text.
var (
	// ErrNotFound is returned by ReadTx.Get for a key that holds no value.
	ErrNotFound = errors.New("storage: key not found")
	// ErrInvalidKey is returned for an empty key. (Range bounds may be
	// empty; there an empty key means the start or end of the keyspace.)
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrConflict means the transaction conflicted with a concurrent one and
	// was not committed. Update retries it; it reaches the caller only once
	// the retry budget is spent.
	ErrConflict = errors.New("storage: transaction conflict")
	// ErrKeyTooLarge is returned for a key over MaxKeySize bytes.
	ErrKeyTooLarge = errors.New("storage: key exceeds 4,900 bytes")
	// ErrValueTooLarge is returned for a value over MaxValueSize bytes.
	ErrValueTooLarge = errors.New("storage: value too large")
	// ErrTxTooLarge is returned when a transaction writes more than
	// MaxTxSize bytes. Nothing of the transaction is committed.
	ErrTxTooLarge = errors.New("storage: transaction exceeds 10,000,000 bytes")
	// ErrClosed is returned by every call on a closed Store.
	ErrClosed = errors.New("storage: store is closed")
	// ErrTimeout is returned when a transaction outlives its context or the
	// backend's transaction time limit.
	ErrTimeout = errors.New("storage: transaction timed out")
	// ErrNotEmpty is returned by Copy when the target store holds records.
	ErrNotEmpty = errors.New("storage: the target store is not empty")
	// ErrUnavailable means the backend cannot be reached.
	ErrUnavailable = errors.New("storage: backend unavailable")
)

// Store is an ordered key-value store with serializable transactions.
type Store interface {
	// Update runs fn in a serializable read-write transaction and commits
	// it if fn returns nil. fn may run more than once (after a conflict),
	// so it must have no side effects outside tx. If fn returns an error,
	// nothing it wrote is committed and the error is returned as is.
	// Returns ErrConflict once retries are spent, ErrTxTooLarge,
	// ErrTimeout, ErrClosed.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent
	// snapshot. Returns ErrTimeout, ErrClosed.
	View(ctx context.Context, fn func(tx ReadTx) error) error
	// Close releases the store. Every later call returns ErrClosed.
	Close() error
}

// KeyValue is one entry returned by a range read.
type KeyValue struct {
	Key   []byte
	Value []byte // nil when the range was read with KeysOnly
}

// Range selects the keys k with Begin <= k < End, in key order.
//
// An empty Begin (nil or zero length) means the start of the keyspace and an
// empty End means its end, so PrefixEnd's nil result works as an End. Bounds
// are not limited to MaxKeySize: Begin may be the last key of a page plus a
// 0x00 byte.
type Range struct {
	Begin, End []byte
	// Limit caps the number of entries returned; 0 means no limit.
	Limit int
	// Reverse returns entries from End downwards.
	Reverse bool
	// KeysOnly skips loading values, so listing large values is cheap.
	KeysOnly bool
}

// PrefixRange returns the Range of every key that starts with prefix.
func PrefixRange(prefix []byte) Range {
	return Range{Begin: append([]byte(nil), prefix...), End: PrefixEnd(prefix)}
}

// PrefixEnd returns the first key after every key starting with prefix
// (FoundationDB's strinc). It returns nil, meaning "end of keyspace", when
// prefix is empty or all 0xff.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ReadTx reads one consistent snapshot.
type ReadTx interface {
	// Get returns the value of key, or ErrNotFound. The returned slice is
	// owned by the caller. Returns ErrInvalidKey for an empty key and
	// ErrKeyTooLarge for one over MaxKeySize.
	Get(key []byte) ([]byte, error)
	// GetRange returns the entries of r in order (reverse order when
	// r.Reverse), at most r.Limit of them when r.Limit > 0.
	GetRange(r Range) ([]KeyValue, error)
}

// Tx is a read-write transaction. Reads see the transaction's own writes.
type Tx interface {
	ReadTx
	// Set stores value under key, replacing any previous value. Values over
	// MaxChunkSize are chunked. The caller may reuse value once Set returns.
	// Returns ErrInvalidKey, ErrKeyTooLarge, ErrValueTooLarge, and
	// ErrTxTooLarge once the transaction has written more than MaxTxSize
	// bytes (the transaction is then failed and will not commit).
	Set(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	// Returns ErrInvalidKey, ErrKeyTooLarge, ErrTxTooLarge.
	Delete(key []byte) error
	// DeleteRange removes every key k with begin <= k < end. As in Range,
	// an empty begin or end means the start or end of the keyspace.
	DeleteRange(begin, end []byte) error
}

// Scrubber is implemented by stores that can overwrite what deleted records
// left in their files (bolt's free pages keep old values until reused).
// Callers that must make deleted data unrecoverable (KV destroy, tenant
// deletion) call Scrub after the delete commits. A Store without it keeps
// deleted values only until its own garbage collection.
type Scrubber interface {
	// Scrub overwrites the space of deleted records. It may block other
	// transactions while it runs.
	Scrub(ctx context.Context) error
}

// Scrub calls s.Scrub when s is a Scrubber, and does nothing otherwise.
func Scrub(ctx context.Context, s Store) error {
	if sc, ok := s.(Scrubber); ok {
		return sc.Scrub(ctx)
	}
	return nil
}

// Snapshotter is implemented by stores that can write a consistent copy of
// all their records (still barrier-encrypted) for a backup, without stopping
// writers.
type Snapshotter interface {
	// Snapshot writes the copy to w and returns the bytes written.
	Snapshot(w io.Writer) (int64, error)
}
