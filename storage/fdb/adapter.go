package fdb

// The small interfaces between this package's logic and the FoundationDB
// bindings. fdb_cgo.go (build tag fdb) implements them with the bindings,
// one call each; the tests implement them with an in-memory fake. Errors
// of the FoundationDB client come back as *CodeError, so that the logic can
// translate them without importing the bindings.

// database is a FoundationDB database handle.
type database interface {
	// createTransaction starts a transaction (fdb.Database.CreateTransaction).
	createTransaction() (transaction, error)
}

// transaction is one FoundationDB transaction, with read-your-writes. Its
// methods are called from one goroutine, except cancel.
type transaction interface {
	// setTimeout sets the transaction's timeout option, in milliseconds
	// from its creation; when it elapses, the transaction is cancelled and
	// its operations fail with transaction_timed_out (1031).
	setTimeout(ms int64) error
	// get reads key: nil without error when key holds no value.
	get(key []byte) ([]byte, error)
	// getRange reads at most limit (> 0) entries of [begin, end), in
	// descending order when reverse: one batch, read in full before it
	// returns. Fewer than limit entries means the range is exhausted.
	getRange(begin, end []byte, limit int, reverse bool) ([]keyValue, error)
	// set, clear and clearRange buffer writes; the client reports a bad
	// one (a key or value over the limits) at the commit.
	set(key, value []byte)
	clear(key []byte)
	clearRange(begin, end []byte)
	// watch creates a watch of key; it becomes active when the
	// transaction commits.
	watch(key []byte) future
	// commit commits the transaction and waits for the outcome.
	commit() error
	// cancel cancels the transaction: operations in progress and later
	// ones fail with transaction_cancelled (1025). It may be called from
	// any goroutine, at any time.
	cancel()
}

// future is a FoundationDB future without a value (a watch).
type future interface {
	// get waits until the future is ready and returns its error.
	get() error
	// cancel cancels the future; get then returns operation_cancelled
	// (1101). It may be called from any goroutine.
	cancel()
}

// keyValue is one entry of a range read.
type keyValue struct {
	key, value []byte
}
