package fdb

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeCluster is an in-memory FoundationDB behind the interfaces of
// adapter.go: serializable transactions with optimistic conflict checks
// at the commit (read ranges against the writes of later commits),
// snapshot reads at the read version, read-your-writes, range reads with
// limit and reverse, watches that compare values, FoundationDB's key,
// value and transaction size limits, the timeout option and cancellation,
// and injected errors.
type fakeCluster struct {
	mu      sync.Mutex
	snap    *fakeSnap
	log     []fakeCommitRec
	watches map[*fakeWatch]bool

	keyLimit, valueLimit, txLimit int

	// Injections, read under mu.
	createErr  error
	getErr     func(key []byte) error
	rangeErr   func(call rangeCall) error
	commitFail []fakeFailure // the next commits fail, in order
	watchErr   error         // new watches fail with it
	block      chan struct{} // when set, reads wait until it is closed, or the transaction ends
	ranges     []rangeCall   // every getRange call
	timeouts   []int64       // every setTimeout value
}

type fakeFailure struct {
	code  int
	apply bool // the writes are applied all the same (commit_unknown_result after success)
}

type rangeCall struct {
	begin, end []byte
	limit      int
	reverse    bool
}

type fakeCommitRec struct {
	version int64
	writes  []fakeRange
}

type fakeRange struct{ b, e string } // [b, e)

func (r fakeRange) overlaps(o fakeRange) bool { return r.b < o.e && o.b < r.e }

// fakeSnap is one committed version; never changed once published.
type fakeSnap struct {
	version int64
	keys    []string // sorted
	vals    map[string][]byte
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{
		snap:       &fakeSnap{vals: map[string][]byte{}},
		watches:    map[*fakeWatch]bool{},
		keyLimit:   keyLimit,
		valueLimit: valueLimit,
		txLimit:    10_000_000,
	}
}

// connect is a connectFunc that returns c.
func (c *fakeCluster) connect(string, int) (database, error) { return c, nil }

func (c *fakeCluster) createTransaction() (transaction, error) {
	c.mu.Lock()
	if c.createErr != nil {
		err := c.createErr
		c.mu.Unlock()
		return nil, err
	}
	t := &fakeTx{c: c, snap: c.snap, done: make(chan struct{})}
	c.mu.Unlock()
	return t, nil
}

// value returns the committed value of k.
func (c *fakeCluster) value(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.snap.vals[k]
	return v, ok
}

// keys returns the committed keys.
func (c *fakeCluster) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.snap.keys)
}

// put commits k = v directly (a write by "another node").
func (c *fakeCluster) put(k, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyLocked([]fakeMut{{op: mutSet, a: string(k), v: bytes.Clone(v)}}, []fakeRange{{string(k), string(k) + "\x00"}})
}

func (c *fakeCluster) rangeCalls() []rangeCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ranges)
}

func (c *fakeCluster) activeWatches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.watches)
}

type mutOp int

const (
	mutSet mutOp = iota
	mutClear
	mutClearRange
)

type fakeMut struct {
	op   mutOp
	a, b string
	v    []byte
}

// view is a mutable copy of a snapshot: the overlay of a transaction that
// wrote, and the base of a new commit.
type view struct {
	keys []string
	vals map[string][]byte
}

func newView(s *fakeSnap) *view {
	v := &view{keys: slices.Clone(s.keys), vals: make(map[string][]byte, len(s.vals))}
	for k, x := range s.vals {
		v.vals[k] = x
	}
	return v
}

func (v *view) apply(m fakeMut) {
	switch m.op {
	case mutSet:
		if _, ok := v.vals[m.a]; !ok {
			i, _ := slices.BinarySearch(v.keys, m.a)
			v.keys = slices.Insert(v.keys, i, m.a)
		}
		v.vals[m.a] = m.v
	case mutClear:
		if _, ok := v.vals[m.a]; ok {
			i, _ := slices.BinarySearch(v.keys, m.a)
			v.keys = slices.Delete(v.keys, i, i+1)
			delete(v.vals, m.a)
		}
	case mutClearRange:
		i, _ := slices.BinarySearch(v.keys, m.a)
		j, _ := slices.BinarySearch(v.keys, m.b)
		if i < j {
			for _, k := range v.keys[i:j] {
				delete(v.vals, k)
			}
			v.keys = slices.Delete(v.keys, i, j)
		}
	}
}

// applyLocked commits muts as a new version and fires the watches whose
// value changed.
func (c *fakeCluster) applyLocked(muts []fakeMut, writes []fakeRange) {
	v := newView(c.snap)
	for _, m := range muts {
		v.apply(m)
	}
	c.snap = &fakeSnap{version: c.snap.version + 1, keys: v.keys, vals: v.vals}
	c.log = append(c.log, fakeCommitRec{version: c.snap.version, writes: writes})
	for w := range c.watches {
		w.checkLocked()
	}
}

// fakeTx is one transaction of the fake.
type fakeTx struct {
	c    *fakeCluster
	snap *fakeSnap
	own  *view // nil until the first write

	muts     []fakeMut
	reads    []fakeRange
	writes   []fakeRange
	size     int
	deferred error
	watches  []*fakeWatch

	mu        sync.Mutex
	failed    error // transaction_cancelled or transaction_timed_out
	done      chan struct{}
	committed bool
}

func code(c int) error { return &CodeError{Code: c} }

// stop ends the transaction with err (cancel, timeout).
func (t *fakeTx) stop(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != nil || t.committed {
		return
	}
	t.failed = err
	close(t.done)
	t.c.mu.Lock()
	for _, w := range t.watches {
		w.fireLocked(code(1025))
	}
	t.c.mu.Unlock()
}

func (t *fakeTx) check() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// wait blocks while the cluster blocks reads.
func (t *fakeTx) wait() error {
	t.c.mu.Lock()
	block := t.c.block
	t.c.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-t.done:
		}
	}
	return t.check()
}

func (t *fakeTx) setTimeout(ms int64) error {
	t.c.mu.Lock()
	t.c.timeouts = append(t.c.timeouts, ms)
	t.c.mu.Unlock()
	time.AfterFunc(time.Duration(ms)*time.Millisecond, func() { t.stop(code(1031)) })
	return nil
}

func (t *fakeTx) lookup(k string) ([]byte, bool) {
	if t.own != nil {
		v, ok := t.own.vals[k]
		return v, ok
	}
	v, ok := t.snap.vals[k]
	return v, ok
}

func (t *fakeTx) sortedKeys() []string {
	if t.own != nil {
		return t.own.keys
	}
	return t.snap.keys
}

func (t *fakeTx) get(key []byte) ([]byte, error) {
	if err := t.wait(); err != nil {
		return nil, err
	}
	t.c.mu.Lock()
	inject := t.c.getErr
	t.c.mu.Unlock()
	if inject != nil {
		if err := inject(key); err != nil {
			return nil, err
		}
	}
	k := string(key)
	t.reads = append(t.reads, fakeRange{k, k + "\x00"})
	v, ok := t.lookup(k)
	if !ok {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

func (t *fakeTx) getRange(begin, end []byte, limit int, reverse bool) ([]keyValue, error) {
	if err := t.wait(); err != nil {
		return nil, err
	}
	call := rangeCall{bytes.Clone(begin), bytes.Clone(end), limit, reverse}
	t.c.mu.Lock()
	t.c.ranges = append(t.c.ranges, call)
	inject := t.c.rangeErr
	t.c.mu.Unlock()
	if inject != nil {
		if err := inject(call); err != nil {
			return nil, err
		}
	}
	if limit <= 0 {
		return nil, code(2210) // exact_mode_without_limits
	}
	b, e := string(begin), string(end)
	if b > e {
		return nil, code(2005)
	}
	keys := t.sortedKeys()
	i := sort.SearchStrings(keys, b)
	j := sort.SearchStrings(keys, e)
	sel := keys[i:j]
	if len(sel) > limit {
		if reverse {
			sel = sel[len(sel)-limit:]
		} else {
			sel = sel[:limit]
		}
	}
	out := make([]keyValue, len(sel))
	for n, k := range sel {
		v, _ := t.lookup(k)
		out[n] = keyValue{key: []byte(k), value: bytes.Clone(v)}
	}
	if reverse {
		slices.Reverse(out)
	}
	// The read conflict range is what was read.
	rr := fakeRange{b, e}
	if len(out) == limit {
		last := string(out[len(out)-1].key)
		if reverse {
			rr.b = last
		} else {
			rr.e = last + "\x00"
		}
	}
	t.reads = append(t.reads, rr)
	return out, nil
}

func (t *fakeTx) write(m fakeMut, w fakeRange, size int) {
	if t.own == nil {
		t.own = newView(t.snap)
	}
	t.own.apply(m)
	t.muts = append(t.muts, m)
	t.writes = append(t.writes, w)
	t.size += size
}

func (t *fakeTx) set(key, value []byte) {
	switch {
	case len(key) > t.c.keyLimit:
		t.deferred = code(2102)
		return
	case len(value) > t.c.valueLimit:
		t.deferred = code(2103)
		return
	}
	k := string(key)
	t.write(fakeMut{op: mutSet, a: k, v: bytes.Clone(value)}, fakeRange{k, k + "\x00"}, len(key)+len(value))
}

func (t *fakeTx) clear(key []byte) {
	k := string(key)
	t.write(fakeMut{op: mutClear, a: k}, fakeRange{k, k + "\x00"}, len(key))
}

func (t *fakeTx) clearRange(begin, end []byte) {
	b, e := string(begin), string(end)
	if b > e {
		t.deferred = code(2005)
		return
	}
	t.write(fakeMut{op: mutClearRange, a: b, b: e}, fakeRange{b, e}, len(begin)+len(end))
}

func (t *fakeTx) watch(key []byte) future {
	v, ok := t.lookup(string(key))
	w := &fakeWatch{c: t.c, key: string(key), init: v, present: ok, ch: make(chan struct{})}
	t.mu.Lock()
	failed := t.failed
	t.mu.Unlock()
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if failed != nil {
		w.fireLocked(code(1025))
		return w
	}
	t.watches = append(t.watches, w)
	return w
}

func (t *fakeTx) commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != nil {
		return t.failed
	}
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.commitFail) > 0 {
		f := c.commitFail[0]
		c.commitFail = c.commitFail[1:]
		if f.apply && len(t.muts) > 0 {
			c.applyLocked(t.muts, t.writes)
		}
		return code(f.code)
	}
	if t.deferred != nil {
		return t.deferred
	}
	if t.size > c.txLimit {
		return code(2101)
	}
	if len(t.muts) > 0 {
		for _, rec := range c.log {
			if rec.version <= t.snap.version {
				continue
			}
			for _, w := range rec.writes {
				for _, r := range t.reads {
					if w.overlaps(r) {
						return code(1020)
					}
				}
			}
		}
		c.applyLocked(t.muts, t.writes)
	}
	t.committed = true
	for _, w := range t.watches {
		if w.fired {
			// Cancelled before the commit: as in FoundationDB, a
			// cancelled watch future stays cancelled.
			continue
		}
		if c.watchErr != nil {
			w.fireLocked(c.watchErr)
			continue
		}
		c.watches[w] = true
		w.checkLocked()
	}
	return nil
}

func (t *fakeTx) cancel() { t.stop(code(1025)) }

// fakeWatch is a watch future: it fires when the committed value of its
// key differs from the one its transaction saw.
type fakeWatch struct {
	c       *fakeCluster
	key     string
	init    []byte
	present bool
	ch      chan struct{}
	err     error
	fired   bool
}

func (w *fakeWatch) checkLocked() {
	v, ok := w.c.snap.vals[w.key]
	if ok != w.present || !bytes.Equal(v, w.init) {
		w.fireLocked(nil)
	}
}

func (w *fakeWatch) fireLocked(err error) {
	if w.fired {
		return
	}
	w.fired, w.err = true, err
	delete(w.c.watches, w)
	close(w.ch)
}

func (w *fakeWatch) get() error {
	<-w.ch
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.err
}

func (w *fakeWatch) cancel() {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.fireLocked(code(1101))
}

// TestFakeCancelledWatchStaysCancelled: a watch future cancelled before its
// transaction commits is not registered by the commit, as in FoundationDB.
// (Watch's awaitChange cancels the future, then the transaction; a commit
// running between the two once left a watch behind in TestWatch.)
func TestFakeCancelledWatchStaysCancelled(t *testing.T) {
	c := newFakeCluster()
	tr, err := c.createTransaction()
	if err != nil {
		t.Fatal(err)
	}
	f := tr.watch([]byte("k"))
	f.cancel()
	if err := tr.commit(); err != nil {
		t.Fatal(err)
	}
	if n := c.activeWatches(); n != 0 {
		t.Fatalf("%d watches active after a cancelled one's commit", n)
	}
}
