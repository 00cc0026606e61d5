package storage

import "context"

// RawStore is what a backend implements: an ordered map of physical keys to
// physical values with transactions, and nothing more. Wrap turns a RawStore
// into a Store; the logical key space, the limits, chunking, large values and
// retries live there, once for every backend.
//
// A RawStore does not check sizes, does not chunk and does not retry.
// Its errors are the sentinels of this package (ErrNotFound, ErrConflict,
// ErrClosed, ErrTimeout, ErrUnavailable ...), translated from the backend's
// own errors at the adapter; errors returned by fn are passed through
// unchanged.
type RawStore interface {
	// Update runs fn in one read-write transaction and commits it if fn
	// returns nil. It makes one attempt: a transaction that conflicts
	// returns an error matching ErrConflict and commits nothing. If fn
	// returns an error, the transaction is rolled back and that error is
	// returned unchanged. Reads through the transaction see its own writes.
	// ctx may be used to abandon the transaction; a backend that cannot
	// interrupt one may ignore it.
	Update(ctx context.Context, fn func(tx RawTx) error) error
	// View runs fn in a read-only transaction over one consistent snapshot.
	// An error returned by fn is returned unchanged.
	View(ctx context.Context, fn func(tx RawReadTx) error) error
	// Close releases the backend. Later calls return ErrClosed. Close may
	// wait for transactions in progress.
	Close() error
}

// RawRange selects the physical keys k with Begin <= k < End. An empty
// Begin means the start of the keyspace, an empty End its end. Wrap never
// passes Begin > End.
type RawRange struct {
	Begin, End []byte
	// Limit stops the range after that many entries; 0 means no limit.
	Limit int
	// Reverse visits the entries from End downwards.
	Reverse bool
}

// RawReadTx reads physical keys. It is not safe for concurrent use, and it
// must not be used after the function it was given to returns.
type RawReadTx interface {
	// Get returns the value stored at key, or ErrNotFound. The returned
	// slice is valid only until the next call on the transaction and must
	// not be modified. Get keeps no reference to key: the caller reuses it.
	Get(key []byte) ([]byte, error)
	// Range calls yield for each entry of r in order (descending when
	// r.Reverse), at most r.Limit of them when r.Limit > 0, and stops early
	// when yield returns false. key and value are valid only during the
	// call to yield and must not be modified; yield must not call the
	// transaction. The whole range is never loaded at once.
	Range(r RawRange, yield func(key, value []byte) bool) error
}

// RawTx is a physical read-write transaction. Its reads see its own writes.
type RawTx interface {
	RawReadTx
	// Set stores value at key. The backend takes ownership of both slices:
	// the caller never modifies them afterwards, so a backend may keep them
	// until the transaction ends without copying. Wrap never writes an empty
	// key or an empty value, so a backend need not tell an empty value from
	// a missing key.
	Set(key, value []byte) error
	// Clear removes key; clearing a missing key is not an error.
	Clear(key []byte) error
	// ClearRange removes every key k with begin <= k < end (an empty end
	// means the end of the keyspace).
	ClearRange(begin, end []byte) error
}
