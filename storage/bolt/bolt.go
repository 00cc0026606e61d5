// Package bolt is Strongroom's embedded single-node storage backend, on
// go.etcd.io/bbolt: one file, one bucket, fsync on every commit.
//
// DB implements storage.RawStore; Open wraps it with storage.Wrap, which
// adds the limits, chunking, large values and retries every backend shares.
// bbolt serialises writers, so every Update is serializable; a View sees one
// snapshot and does not block writers (except while the file's memory map
// grows).
//
// Concurrent Updates share commits (group commit, see group.go): the calls
// that arrive while a commit is being written run, one after the other, in
// the next write transaction, and one fsync makes them all durable. Each
// call still has its own outcome: a call whose function fails commits none
// of its writes and changes nothing for the others. WithoutGroupCommit gives
// one transaction per Update.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/strongroom/strongroom/storage"
)

// DefaultLockTimeout is how long Open waits for the file lock that another
// process (or another Open of the same file) holds before it gives up.
const DefaultLockTimeout = 2 * time.Second

// fileMode is the permission of a new database file.
const fileMode = 0o600

// bucket is the one bucket that holds every key.
var bucket = []byte("strongroom")

// Option configures Open and OpenRaw.
type Option func(*config)

type config struct {
	lockTimeout time.Duration
	batchDelay  time.Duration
	maxBatch    int
	serial      bool
	cacheSize   int
}

// WithLockTimeout sets how long Open waits for the file lock; d <= 0 means
// DefaultLockTimeout.
func WithLockTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.lockTimeout = d
		}
	}
}

// DefaultBatchDelay is how long the leader of a group commit waits for more
// Updates before it starts a transaction: none. Batches form on their own
// while the previous commit is being written (its fsync takes a few hundred
// microseconds), so waiting longer only adds latency; see group.go for the
// measurements.
const DefaultBatchDelay = 0

// DefaultMaxBatchSize is the most Update calls one group commit holds.
const DefaultMaxBatchSize = 1000

// WithBatchDelay makes the leader of a group commit wait up to d for more
// Update calls (or until a full batch, WithMaxBatchSize, is queued) before it
// starts the transaction. Larger batches mean fewer fsyncs, at the cost of
// d more latency on every Update, even an uncontended one. d <= 0 means no
// wait (DefaultBatchDelay).
func WithBatchDelay(d time.Duration) Option {
	return func(c *config) { c.batchDelay = max(d, 0) }
}

// WithMaxBatchSize caps how many Update calls share one transaction; n <= 0
// means DefaultMaxBatchSize, and 1 turns group commit off like
// WithoutGroupCommit, though calls still queue in order.
func WithMaxBatchSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBatch = n
		}
	}
}

// WithReadCacheSize sets the most bytes the read cache holds (see
// cache.go); n <= 0 turns the cache off. The default is
// DefaultReadCacheSize.
func WithReadCacheSize(n int) Option {
	return func(c *config) { c.cacheSize = max(n, 0) }
}

// WithoutGroupCommit gives every Update its own bbolt transaction and fsync,
// run on the caller's goroutine, as bbolt's DB.Update does.
func WithoutGroupCommit() Option {
	return func(c *config) { c.serial = true }
}

// Open opens or creates the database file at path (mode 0600) and returns
// it as a storage.Store. If another process holds the file, Open fails
// after the lock timeout with an error matching storage.ErrUnavailable; a
// file that is not a valid database also gives storage.ErrUnavailable.
func Open(path string, opts ...Option) (storage.Store, error) {
	db, err := OpenRaw(path, opts...)
	if err != nil {
		return nil, err
	}
	return storage.Wrap(db), nil
}

// DB is a bbolt file as a storage.RawStore. Use Open unless you need the raw
// layer, for a backup with WriteTo or to inspect physical keys in tests;
// wrap it with storage.Wrap to use it as a Store.
type DB struct {
	db     *bbolt.DB
	path   string
	serial bool
	group  committer
	stats  struct{ updates, commits, replays, scrubbed atomic.Uint64 }

	// readers is held shared by every read transaction and exclusively by
	// Scrub, so that no reader sees a page Scrub overwrites.
	readers sync.RWMutex

	// cache serves warm point reads (nil: off); see cache.go.
	cache *readCache
}

var _ storage.RawStore = (*DB)(nil)

// OpenRaw opens or creates the database file at path like Open, without
// storage.Wrap.
func OpenRaw(path string, opts ...Option) (*DB, error) {
	cfg := config{lockTimeout: DefaultLockTimeout, batchDelay: DefaultBatchDelay, maxBatch: DefaultMaxBatchSize,
		cacheSize: DefaultReadCacheSize}
	for _, o := range opts {
		o(&cfg)
	}
	bdb, err := bbolt.Open(path, fileMode, &bbolt.Options{
		Timeout:      cfg.lockTimeout,
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: the file is locked by another process (waited %s): %w",
			path, cfg.lockTimeout, storage.ErrUnavailable)
	}
	if err != nil {
		if t := translateBolt(err); t != nil {
			err = t
		}
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = bdb.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("bolt: open %s: create bucket: %w", path, translate(err))
	}
	d := &DB{db: bdb, path: path, serial: cfg.serial}
	if cfg.cacheSize > 0 {
		d.cache = newReadCache(cfg.cacheSize)
	}
	d.group.init(cfg.batchDelay, cfg.maxBatch)
	return d, nil
}

// Update implements storage.RawStore. fn runs in a bbolt read-write
// transaction, which it shares with the other Update calls of its group
// commit (those queued while the previous commit was written): they run one
// after the other, each seeing the writes of those before it, and commit
// together. Update returns once that commit is durable. If fn fails (or
// panics), none of its writes commit and the others are not affected; a
// panic is raised again, with the same value, on the caller's goroutine
// (its trace then starts there if fn ran on another caller's goroutine).
//
// Writers are serialised, so fn never conflicts; ErrConflict comes back
// only when the batch was abandoned before it could commit (another call's
// function exited its goroutine) and fn's writes must be made again. ctx is
// checked before fn runs; bbolt cannot interrupt a transaction (storage.Wrap
// checks ctx around it).
func (d *DB) Update(ctx context.Context, fn func(tx storage.RawTx) error) error {
	d.stats.updates.Add(1)
	if d.serial {
		return d.updateSerial(fn)
	}
	return d.updateGrouped(ctx, fn)
}

// updateSerial runs fn in its own bbolt transaction.
func (d *DB) updateSerial(fn func(tx storage.RawTx) error) error {
	var (
		fnErr    error
		log      []op
		starting bool
	)
	defer func() {
		if starting {
			d.cache.commitEnded([][]op{log})
		}
	}()
	err := d.db.Update(func(btx *bbolt.Tx) error {
		t := &tx{b: btx.Bucket(bucket)}
		if d.cache != nil {
			t.log = &log
		}
		defer t.end()
		fnErr = fn(t)
		if fnErr == nil && d.cache != nil {
			// bbolt commits when this function returns.
			d.cache.commitStarting([][]op{log})
			starting = true
		}
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err == nil {
		d.stats.commits.Add(1)
	}
	return translate(err)
}

// Stats counts a DB's write transactions since it was opened.
type Stats struct {
	// Updates is the number of Update calls.
	Updates uint64
	// Commits is the number of write transactions committed: each one is
	// one fsync, and holds the writes of one or more Update calls.
	Commits uint64
	// Replays is the number of times a shared transaction was rolled back
	// because a call that had written something failed, and the writes of
	// the calls before it were applied again.
	Replays uint64
	// Scrubbed is the number of free pages Scrub overwrote.
	Scrubbed uint64
	// Cache describes the read cache.
	Cache CacheStats
}

// CacheStats returns the state of d's read cache (zero when it is off).
func (d *DB) CacheStats() CacheStats {
	if d.cache == nil {
		return CacheStats{}
	}
	return d.cache.stats()
}

// Stats returns the counters of d.
func (d *DB) Stats() Stats {
	return Stats{
		Updates:  d.stats.updates.Load(),
		Commits:  d.stats.commits.Load(),
		Replays:  d.stats.replays.Load(),
		Scrubbed: d.stats.scrubbed.Load(),
		Cache:    d.CacheStats(),
	}
}

// View implements storage.RawStore with a bbolt read-only transaction.
// Point reads of warm keys are served by the read cache (cache.go), which
// gives them the values of the transaction's snapshot.
//
// Under storage.WithCacheOnly it begins no bbolt transaction: the cache
// answers the point reads, and the first it cannot answer, and any range,
// fail with storage.ErrCacheMiss. The values it serves are all current at
// the time of the first read (see cache.go), one snapshot.
func (d *DB) View(ctx context.Context, fn func(tx storage.RawReadTx) error) error {
	d.readers.RLock()
	defer d.readers.RUnlock()
	if d.cache != nil && storage.CacheOnly(ctx) {
		t := &tx{cache: d.cache, g0: d.cache.gen.Load(), cacheOnly: true}
		defer t.end()
		return fn(t)
	}
	t := &tx{cache: d.cache}
	if d.cache != nil {
		t.g0 = d.cache.gen.Load() // before the snapshot is taken
	}
	btx, err := d.db.Begin(false)
	if err != nil {
		return translate(err)
	}
	t.btx = btx
	defer func() {
		t.end()
		_ = btx.Rollback() // a read-only transaction has nothing to lose
	}()
	return fn(t)
}

// Close implements storage.RawStore. It waits for transactions in progress.
// Closing twice is not an error.
func (d *DB) Close() error {
	return translate(d.db.Close())
}

// WriteTo writes a consistent copy of the whole database file to w, from one
// read transaction, without blocking writers. The copy can be opened with
// Open. It returns the number of bytes written.
func (d *DB) WriteTo(w io.Writer) (int64, error) {
	d.readers.RLock()
	defer d.readers.RUnlock()
	var n int64
	var wErr error
	err := d.db.View(func(btx *bbolt.Tx) error {
		n, wErr = btx.WriteTo(w)
		return wErr
	})
	if wErr != nil {
		return n, fmt.Errorf("bolt: backup: %w", wErr)
	}
	return n, translate(err)
}

// Snapshot implements storage.Snapshotter with WriteTo.
func (d *DB) Snapshot(w io.Writer) (int64, error) { return d.WriteTo(w) }

// Path returns the path of the database file.
func (d *DB) Path() string { return d.path }

// tx is a bbolt transaction as a storage.RawTx. Its slices point into the
// memory map and are valid only while the transaction lasts; storage.Wrap
// copies what it keeps.
type tx struct {
	// b is the bucket; in a read transaction it is looked up on first use
	// from btx, since reads the cache serves do not need it.
	b    *bbolt.Bucket
	btx  *bbolt.Tx
	done bool
	// cache, in a read transaction, serves and keeps point reads for a
	// snapshot taken after generation g0 (see cache.go).
	cache *readCache
	g0    uint64
	// cacheOnly marks a read transaction that has no btx: it answers from
	// the cache or fails with storage.ErrCacheMiss (storage.WithCacheOnly).
	cacheOnly bool
	// log, when not nil, records every write that succeeded, for replay
	// in a group commit (see group.go).
	log *[]op
}

var _ storage.RawTx = (*tx)(nil)

// errTxDone is returned by a tx used after its function returned; bbolt
// would crash on it.
var errTxDone = fmt.Errorf("bolt: transaction used after its function returned: %w", storage.ErrClosed)

func (t *tx) end() { t.done = true }

// bucket returns the bucket, looking it up in a read transaction.
func (t *tx) bucket() *bbolt.Bucket {
	if t.b == nil {
		t.b = t.btx.Bucket(bucket)
	}
	return t.b
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.done {
		return nil, errTxDone
	}
	if t.cache != nil {
		if v, ok := t.cache.get(key, t.g0); ok {
			return v, nil
		}
		if t.cacheOnly {
			return nil, storage.ErrCacheMiss // counted by the View run again
		}
		t.cache.misses.Add(1)
	}
	v := t.bucket().Get(key)
	if v == nil {
		return nil, storage.ErrNotFound
	}
	if t.cache != nil {
		t.cache.put(key, v, t.g0)
	}
	return v, nil
}

func (t *tx) Range(r storage.RawRange, yield func(key, value []byte) bool) error {
	if t.done {
		return errTxDone
	}
	if t.cacheOnly {
		return storage.ErrCacheMiss
	}
	c := t.bucket().Cursor()
	var k, v []byte
	n := 0
	if !r.Reverse {
		if len(r.Begin) == 0 {
			k, v = c.First()
		} else {
			k, v = c.Seek(r.Begin)
		}
		for ; k != nil && (len(r.End) == 0 || bytes.Compare(k, r.End) < 0); k, v = c.Next() {
			n++
			if !yield(k, v) || n == r.Limit {
				return nil
			}
		}
		return nil
	}
	if len(r.End) == 0 {
		k, v = c.Last()
	} else if k, _ = c.Seek(r.End); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && (len(r.Begin) == 0 || bytes.Compare(k, r.Begin) >= 0); k, v = c.Prev() {
		n++
		if !yield(k, v) || n == r.Limit {
			return nil
		}
	}
	return nil
}

func (t *tx) Set(key, value []byte) error {
	if t.done {
		return errTxDone
	}
	if err := t.b.Put(key, value); err != nil {
		return translate(err)
	}
	// RawTx.Set hands key and value over: the log may keep them as they are.
	t.record(op{kind: opSet, a: key, b: value})
	return nil
}

func (t *tx) Clear(key []byte) error {
	if t.done {
		return errTxDone
	}
	if err := t.b.Delete(key); err != nil {
		return translate(err)
	}
	if t.log != nil {
		t.record(op{kind: opClear, a: bytes.Clone(key)})
	}
	return nil
}

func (t *tx) ClearRange(begin, end []byte) error {
	if t.done {
		return errTxDone
	}
	if err := clearRange(t.b, begin, end); err != nil {
		return translate(err)
	}
	if t.log != nil {
		t.record(op{kind: opClearRange, a: bytes.Clone(begin), b: bytes.Clone(end)})
	}
	return nil
}

// record logs a write that succeeded, when t keeps a log. bbolt checks a
// write before it changes anything (and a cursor delete in a live
// read-write transaction of a bucket without nested buckets cannot fail),
// so a write that failed changed nothing and needs no replay.
func (t *tx) record(o op) {
	if t.log != nil {
		*t.log = append(*t.log, o)
	}
}

// clearRange removes every key k of b with begin <= k < end (an empty end
// means the end of the keyspace).
func clearRange(b *bbolt.Bucket, begin, end []byte) error {
	c := b.Cursor()
	// Seek again after each delete: a bbolt cursor skips an entry when it
	// moves on from a deleted one.
	seek := func() []byte {
		if len(begin) == 0 {
			k, _ := c.First()
			return k
		}
		k, _ := c.Seek(begin)
		return k
	}
	for k := seek(); k != nil && (len(end) == 0 || bytes.Compare(k, end) < 0); k = seek() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// translate turns bbolt's errors into storage sentinels. Other errors (from
// the file system) keep their identity, behind a "bolt:" prefix.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if t := translateBolt(err); t != nil {
		return fmt.Errorf("bolt: %w", t)
	}
	return fmt.Errorf("bolt: %w", err)
}

// translateBolt returns the storage error for one of bbolt's errors, or nil
// for any other error. bbolt's own sentinels do not leak: they are
// formatted with %v.
func translateBolt(err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen), errors.Is(err, bolterrors.ErrTxClosed):
		return storage.ErrClosed
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("file lock: %w", storage.ErrUnavailable)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return fmt.Errorf("not a valid database file (%v): %w", err, storage.ErrUnavailable)
	case errors.Is(err, bolterrors.ErrDatabaseReadOnly), errors.Is(err, bolterrors.ErrMaxSizeReached):
		return fmt.Errorf("%v: %w", err, storage.ErrUnavailable)
	case errors.Is(err, bolterrors.ErrKeyRequired):
		return fmt.Errorf("%v: %w", err, storage.ErrInvalidKey)
	case errors.Is(err, bolterrors.ErrKeyTooLarge):
		return fmt.Errorf("%v: %w", err, storage.ErrKeyTooLarge)
	case errors.Is(err, bolterrors.ErrValueTooLarge):
		return fmt.Errorf("%v: %w", err, storage.ErrValueTooLarge)
	case errors.Is(err, bolterrors.ErrTxNotWritable), errors.Is(err, bolterrors.ErrBucketNotFound),
		errors.Is(err, bolterrors.ErrIncompatibleValue):
		return fmt.Errorf("%v", err)
	}
	return nil
}
