// Package fdb is Strongroom's FoundationDB storage backend, for clusters:
// several Strongroom nodes, all active, on one FoundationDB database.
//
// DB implements storage.RawStore; Open wraps it with storage.Wrap, which
// adds the logical keyspace, the limits, chunking, large values and the
// retry loop every backend shares. Every physical key is stored under one
// prefix, the FoundationDB tuple encoding of Config.Prefix (a one-element
// tuple holding a string, "strongroom" by default), so several deployments
// can share a database and FoundationDB tooling can read the keys.
//
// # Build
//
// The official bindings (github.com/apple/foundationdb/bindings/go) need cgo
// and the FoundationDB C client (libfdb_c and its header fdb_c.h). Only
// fdb_cgo.go imports them, behind the build tag fdb: a binary built without
// -tags fdb gets the OpenRaw of fdb_stub.go, so Open fails with
// ErrNotBuilt. Everything else (key prefixing, the one-attempt
// transactions, timeouts, error translation, paged range reads, watches)
// is in files without the tag and is tested against a fake of the small
// interfaces of adapter.go.
//
// # Transactions
//
// Update and View make one attempt each, as storage.RawStore asks:
// storage.Wrap retries. They do not use the bindings' Database.Transact,
// which retries by itself (the retries would multiply) and, on
// commit_unknown_result, runs the function again without telling anyone.
// Each transaction gets a timeout from its context's deadline, at most
// MaxTxTimeout, and is cancelled when its context ends before the commit.
//
// # Errors
//
// FoundationDB errors are translated into the storage sentinels at this
// adapter, by their numeric code, never by their text; the message keeps
// the code and its name, and errors.As finds the *CodeError. See errors.go
// for the table. A commit whose outcome FoundationDB cannot tell
// (commit_unknown_result, 1021) is never retried: the error matches
// ErrCommitUnknown and storage.ErrUnavailable, not storage.ErrConflict.
//
// # Limits
//
// FoundationDB refuses keys over 10,000 bytes and values over 100,000
// bytes. storage.Wrap stores values in chunks of at most 100,000 bytes, and
// a physical key is the prefix, one area byte and the logical key escaped
// (each 0x00 byte doubled) and terminated: storage.MaxKeySize is chosen so
// that this fits with the longest prefix (TestLongestKeysFitFoundationDB).
// A physical key over the limit, which Wrap never produces, fails with an
// error matching storage.ErrKeyTooLarge.
package fdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Configuration defaults and bounds.
const (
	// DefaultAPIVersion is the FoundationDB API version selected when
	// Config.APIVersion is zero: 7.3's, the version of the bindings this
	// module requires.
	DefaultAPIVersion = 730
	// MinAPIVersion and MaxAPIVersion bound Config.APIVersion: the 7.x
	// API versions, up to the bindings' header version.
	MinAPIVersion = 700
	MaxAPIVersion = 730
	// DefaultPrefix is the prefix used when Config.Prefix is empty.
	DefaultPrefix = "strongroom"
	// MaxPrefixLen is the longest Config.Prefix, in bytes.
	MaxPrefixLen = 64
)

// FoundationDB's own limits.
const (
	// keyLimit is the longest key FoundationDB stores (its
	// KEY_SIZE_LIMIT knob): longer keys are refused with key_too_large.
	keyLimit = 10_000
	// valueLimit is the largest value FoundationDB stores.
	valueLimit = 100_000
)

// MaxTxTimeout is the longest a transaction of this backend may take,
// commit included, when its context has no earlier deadline. storage.Wrap
// stops a transaction function after storage.MaxTxDuration (5 s,
// FoundationDB's own limit for reads); the rest leaves the commit time to
// finish when the cluster is slow, and bounds a call when the cluster
// cannot be reached at all (FoundationDB's client otherwise waits for it
// forever).
const MaxTxTimeout = 2 * storage.MaxTxDuration

// openProbeTimeout bounds the read Open makes to check that the cluster
// answers.
const openProbeTimeout = 10 * time.Second

// ErrNotBuilt is returned by Open and OpenRaw in a binary built without
// the fdb build tag.
var ErrNotBuilt = errors.New("fdb: built without FoundationDB support; rebuild with -tags fdb and libfdb_c installed")

// Config configures Open. The zero value is valid: FoundationDB's default
// cluster file, DefaultAPIVersion and DefaultPrefix.
type Config struct {
	// ClusterFile is the path of the cluster file. Empty means
	// FoundationDB's default: $FDB_CLUSTER_FILE, then ./fdb.cluster, then
	// /etc/foundationdb/fdb.cluster. The client rewrites the file when the
	// coordinators change, so it must be writable.
	ClusterFile string
	// APIVersion is the FoundationDB API version, MinAPIVersion to
	// MaxAPIVersion; 0 means DefaultAPIVersion. A process selects one API
	// version once: every Open in a process must use the same.
	APIVersion int
	// Prefix names this deployment's keyspace: letters, digits and
	// . _ - / : up to MaxPrefixLen bytes; empty means DefaultPrefix. The
	// nodes of one deployment use the same prefix.
	Prefix string
}

// ConfigError reports a Config field that is not valid. Field is the name
// of the field in the server's configuration file.
type ConfigError struct {
	Field  string // cluster_file, api_version or prefix
	Reason string // what the value must be, e.g. "must be between 700 and 730"
}

func (e *ConfigError) Error() string { return "fdb: " + e.Field + " " + e.Reason }

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.APIVersion == 0 {
		c.APIVersion = DefaultAPIVersion
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	return c
}

// Validate checks c as it is, without applying defaults: a zero APIVersion
// or an empty Prefix is refused. It returns a *ConfigError.
func (c Config) Validate() error {
	if c.APIVersion < MinAPIVersion || c.APIVersion > MaxAPIVersion {
		return &ConfigError{"api_version", fmt.Sprintf("must be between %d and %d", MinAPIVersion, MaxAPIVersion)}
	}
	if !validPrefix(c.Prefix) {
		return &ConfigError{"prefix", fmt.Sprintf("must be 1 to %d characters among letters, digits and . _ - / :", MaxPrefixLen)}
	}
	if bytes.IndexByte([]byte(c.ClusterFile), 0) >= 0 {
		return &ConfigError{"cluster_file", "must be a file path"}
	}
	return nil
}

func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > MaxPrefixLen {
		return false
	}
	for _, c := range []byte(p) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '_' || c == '-' || c == '/' || c == ':':
		default:
			return false
		}
	}
	return true
}

// Open connects to the FoundationDB cluster of cfg and returns it as a
// storage.Store. It fails with a *ConfigError for a bad cfg, with
// ErrNotBuilt in a binary built without the fdb tag, and with an error
// matching storage.ErrUnavailable when the cluster file is missing or the
// cluster does not answer a first read within 10 s.
//
// The Store's Watch is storage.Wrap's, in process: it sees the writes made
// through this Store only. DB.Watch watches through FoundationDB and sees
// every node's writes.
func Open(cfg Config) (storage.Store, error) {
	db, err := OpenRaw(cfg)
	if err != nil {
		return nil, err
	}
	return storage.Wrap(db), nil
}

// connectFunc selects the API version and opens the database handle of
// clusterFile. fdb_cgo.go's connect is the real one; tests pass fakes.
type connectFunc func(clusterFile string, apiVersion int) (database, error)

// tuning holds the timings and batch sizes of a DB; tests shorten them.
type tuning struct {
	txTimeout  time.Duration // cap of every transaction's timeout
	probe      time.Duration // timeout of Open's first read
	watchPause time.Duration // pause before a failed watch fires
	minBatch   int           // first and smallest range batch, in entries
	maxBatch   int           // largest range batch, in entries
	batchBytes int           // the size a range batch aims at
	keyLimit   int           // FoundationDB's key size limit
}

var defaultTuning = tuning{
	txTimeout:  MaxTxTimeout,
	probe:      openProbeTimeout,
	watchPause: 500 * time.Millisecond,
	minBatch:   8,
	maxBatch:   1024,
	batchBytes: 1 << 20,
	keyLimit:   keyLimit,
}

// DB is a FoundationDB database, under one prefix, as a storage.RawStore.
// Use Open unless you need the raw layer; wrap it with storage.Wrap to use
// it as a Store.
type DB struct {
	db     database
	cfg    Config
	prefix []byte // tuple.Pack(cfg.Prefix)
	end    []byte // storage.PrefixEnd(prefix)
	tune   tuning

	mu       sync.Mutex
	closed   bool
	closing  chan struct{} // closed by Close: ends the watches
	active   sync.WaitGroup
	watchers sync.WaitGroup
}

var (
	_ storage.RawStore = (*DB)(nil)
	_ storage.Watcher  = (*DB)(nil)
)

// openRaw is OpenRaw with the connection made by connect.
func openRaw(cfg Config, connect connectFunc, tune tuning) (*DB, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClusterFile != "" {
		if _, err := os.Stat(cfg.ClusterFile); err != nil {
			return nil, fmt.Errorf("fdb: cluster file: %w (%w)", err, storage.ErrUnavailable)
		}
	}
	fdb, err := connect(cfg.ClusterFile, cfg.APIVersion)
	if err != nil {
		return nil, translate(context.Background(), fmt.Sprintf("open (api_version %d, cluster file %q)", cfg.APIVersion, cfg.ClusterFile), err, false)
	}
	prefix := tuple.Pack(cfg.Prefix)
	d := &DB{
		db:      fdb,
		cfg:     cfg,
		prefix:  prefix,
		end:     storage.PrefixEnd(prefix),
		tune:    tune,
		closing: make(chan struct{}),
	}
	if err := d.probe(); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// probe reads one key, so that Open fails at once when the cluster cannot
// be reached instead of the first request.
func (d *DB) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.tune.probe)
	defer cancel()
	err := d.View(ctx, func(tx storage.RawReadTx) error {
		_, err := tx.Get(nil) // the prefix itself: never a stored key
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	})
	if err == nil {
		return nil
	}
	where := d.cfg.ClusterFile
	if where == "" {
		where = "the default cluster file"
	}
	if errors.Is(err, storage.ErrTimeout) {
		return fmt.Errorf("fdb: the cluster of %s did not answer a first read within %s: %w (%w)",
			where, d.tune.probe, err, storage.ErrUnavailable)
	}
	return fmt.Errorf("fdb: a first read from the cluster of %s failed: %w (%w)", where, err, storage.ErrUnavailable)
}

// Config returns the configuration d was opened with, defaults applied.
func (d *DB) Config() Config { return d.cfg }

// enter registers a transaction in progress, or returns ErrClosed.
func (d *DB) enter() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return storage.ErrClosed
	}
	d.active.Add(1)
	return nil
}

// Close implements storage.RawStore. It ends every watch (their channels
// close), waits for the transactions in progress, and makes later calls
// return ErrClosed. Closing twice is not an error.
//
// The FoundationDB database handle stays open: the bindings keep one per
// cluster file and hand the same one to every Open in the process, so
// destroying it would break the other stores on that cluster; and the
// client's network thread runs until the process exits in any case.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.closing)
	d.mu.Unlock()
	d.active.Wait()
	d.watchers.Wait()
	return nil
}

// key returns the physical key of raw key k: the prefix, then k.
func (d *DB) key(k []byte) []byte {
	return append(append(make([]byte, 0, len(d.prefix)+len(k)), d.prefix...), k...)
}

// bounds returns the physical bounds of the raw range [begin, end): empty
// bounds are the start and the end of the prefix. Both are cut to one byte
// over FoundationDB's key limit, which changes no comparison with a key it
// can hold and keeps the bounds legal.
func (d *DB) bounds(begin, end []byte) (pb, pe []byte) {
	pb = d.key(begin)
	if len(end) == 0 {
		pe = bytes.Clone(d.end)
	} else {
		pe = d.key(end)
	}
	return d.clampBound(pb), d.clampBound(pe)
}

func (d *DB) clampBound(b []byte) []byte {
	if len(b) > d.tune.keyLimit+1 {
		return b[:d.tune.keyLimit+1]
	}
	return b
}

// begin starts a transaction for ctx: it sets its timeout from ctx's
// deadline (at most the tuning's cap) and cancels it when ctx ends. stop
// detaches the transaction from ctx; it reports false when ctx ended first
// and the transaction is cancelled.
func (d *DB) begin(ctx context.Context) (tr transaction, stop func() bool, err error) {
	ms, err := timeoutMillis(ctx, time.Now(), d.tune.txTimeout)
	if err != nil {
		return nil, nil, err
	}
	tr, err = d.db.createTransaction()
	if err != nil {
		return nil, nil, translate(ctx, "begin", err, false)
	}
	if err := tr.setTimeout(ms); err != nil {
		tr.cancel()
		return nil, nil, translate(ctx, "set timeout", err, false)
	}
	return tr, context.AfterFunc(ctx, tr.cancel), nil
}

// timeoutMillis is the timeout, in whole milliseconds rounded up, of a
// transaction started at now for ctx: the time left before ctx's deadline,
// at most limit. A deadline already past gives the context's error (the
// FoundationDB option would read 0 as "no timeout").
func timeoutMillis(ctx context.Context, now time.Time, limit time.Duration) (int64, error) {
	if err := storage.ContextErr(ctx); err != nil {
		return 0, err
	}
	d := limit
	if dl, ok := ctx.Deadline(); ok && dl.Sub(now) < d {
		d = dl.Sub(now)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%w: %w", storage.ErrTimeout, context.DeadlineExceeded)
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond), nil
}

// Update implements storage.RawStore: one attempt, never retried here. fn
// runs in a fresh FoundationDB transaction, which is committed if fn
// returns nil. An error returned by fn comes back unchanged and nothing is
// committed. Commit errors are translated (errors.go): a conflict matches
// storage.ErrConflict, so storage.Wrap runs fn again; a commit whose
// outcome is unknown matches ErrCommitUnknown and is not retried.
//
// If ctx ends while fn runs, the transaction is cancelled (its reads fail
// with an error matching storage.ErrTimeout and ctx.Err()) and nothing is
// committed. Once the commit has started, only the transaction's timeout
// stops it, and a commit stopped that way may have been applied.
func (d *DB) Update(ctx context.Context, fn func(tx storage.RawTx) error) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.active.Done()
	tr, stop, err := d.begin(ctx)
	if err != nil {
		return err
	}
	t := &rawTx{d: d, tr: tr, ctx: ctx}
	fnErr := fn(t)
	t.done = true
	live := stop()
	if fnErr != nil || !live {
		tr.cancel() // nothing commits; release the transaction now
		if fnErr != nil {
			return fnErr
		}
		return storage.ContextErr(ctx)
	}
	if err := tr.commit(); err != nil {
		return translate(ctx, "commit", err, true)
	}
	return nil
}

// View implements storage.RawStore with a FoundationDB transaction that is
// only read: all its reads see the snapshot of its read version. It is
// never committed. An error returned by fn comes back unchanged.
func (d *DB) View(ctx context.Context, fn func(tx storage.RawReadTx) error) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.active.Done()
	tr, stop, err := d.begin(ctx)
	if err != nil {
		return err
	}
	t := &rawTx{d: d, tr: tr, ctx: ctx}
	err = fn(t)
	t.done = true
	stop()
	tr.cancel() // releases the transaction now rather than at finalisation
	return err
}

// rawTx is a FoundationDB transaction as a storage.RawTx, in the raw
// keyspace under d's prefix.
type rawTx struct {
	d    *DB
	tr   transaction
	ctx  context.Context
	done bool
}

var _ storage.RawTx = (*rawTx)(nil)

// errTxDone is returned by a transaction used after its function returned.
var errTxDone = fmt.Errorf("fdb: transaction used after its function returned: %w", storage.ErrClosed)

// Get implements storage.RawReadTx. A key too long for FoundationDB cannot
// be stored, so it reads as missing.
func (t *rawTx) Get(key []byte) ([]byte, error) {
	if t.done {
		return nil, errTxDone
	}
	pk := t.d.key(key)
	if len(pk) > t.d.tune.keyLimit {
		return nil, storage.ErrNotFound
	}
	v, err := t.tr.get(pk)
	if err != nil {
		return nil, translate(t.ctx, "get", err, false)
	}
	if v == nil {
		return nil, storage.ErrNotFound
	}
	return v, nil
}

// Range implements storage.RawReadTx. It reads the range in batches, each
// a FoundationDB range read with a limit, continuing after the last key of
// the previous batch, so a large range is never one large read: the first
// batch has tune.minBatch entries, and each next one doubles while batches
// stay under half of tune.batchBytes, and halves when one goes over it,
// between tune.minBatch and tune.maxBatch entries. r.Limit caps the total.
func (t *rawTx) Range(r storage.RawRange, yield func(key, value []byte) bool) error {
	if t.done {
		return errTxDone
	}
	begin, end := t.d.bounds(r.Begin, r.End)
	if bytes.Compare(begin, end) >= 0 {
		return nil
	}
	left := r.Limit // entries still wanted; <= 0 means no limit
	n := t.d.tune.minBatch
	for {
		want := n
		if left > 0 && left < want {
			want = left
		}
		kvs, err := t.tr.getRange(begin, end, want, r.Reverse)
		if err != nil {
			return translate(t.ctx, "range", err, false)
		}
		size := 0
		for _, kv := range kvs {
			if !bytes.HasPrefix(kv.key, t.d.prefix) {
				return fmt.Errorf("fdb: range read returned key %q outside the prefix", kv.key)
			}
			if !yield(kv.key[len(t.d.prefix):], kv.value) {
				return nil
			}
			size += len(kv.key) + len(kv.value)
		}
		if left > 0 {
			if left -= len(kvs); left <= 0 {
				return nil
			}
		}
		if len(kvs) < want {
			return nil // the range is exhausted
		}
		last := kvs[len(kvs)-1].key
		if r.Reverse {
			end = last
		} else {
			begin = append(bytes.Clone(last), 0x00)
		}
		n = nextBatch(n, size, t.d.tune)
	}
}

// nextBatch returns the number of entries to ask for after a batch of n
// entries that held size bytes.
func nextBatch(n, size int, tune tuning) int {
	switch {
	case size > tune.batchBytes:
		n /= 2
	case size < tune.batchBytes/2:
		n *= 2
	}
	return min(max(n, tune.minBatch), tune.maxBatch)
}

// Set implements storage.RawTx. A physical key over FoundationDB's 10,000
// bytes is refused with an error matching storage.ErrKeyTooLarge (and
// storage.Wrap then fails the transaction), rather than at the commit.
func (t *rawTx) Set(key, value []byte) error {
	if t.done {
		return errTxDone
	}
	pk := t.d.key(key)
	if len(pk) > t.d.tune.keyLimit {
		return fmt.Errorf("fdb: key_too_large: the physical key has %d bytes (prefix %d, raw key %d), FoundationDB's limit is %d: %w",
			len(pk), len(t.d.prefix), len(key), t.d.tune.keyLimit, storage.ErrKeyTooLarge)
	}
	if len(value) > valueLimit {
		return fmt.Errorf("fdb: value_too_large: %d bytes, FoundationDB's limit is %d: %w", len(value), valueLimit, storage.ErrValueTooLarge)
	}
	t.tr.set(pk, value)
	return nil
}

// Clear implements storage.RawTx. Clearing a key too long to be stored
// does nothing.
func (t *rawTx) Clear(key []byte) error {
	if t.done {
		return errTxDone
	}
	if pk := t.d.key(key); len(pk) <= t.d.tune.keyLimit {
		t.tr.clear(pk)
	}
	return nil
}

// ClearRange implements storage.RawTx.
func (t *rawTx) ClearRange(begin, end []byte) error {
	if t.done {
		return errTxDone
	}
	pb, pe := t.d.bounds(begin, end)
	if bytes.Compare(pb, pe) < 0 {
		t.tr.clearRange(pb, pe)
	}
	return nil
}
