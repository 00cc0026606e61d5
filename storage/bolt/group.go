package bolt

// Group commit.
//
// A durable bbolt commit costs one fdatasync, a few hundred microseconds,
// whatever it holds, so one transaction per Update caps writes at a few
// thousand a second however many clients write. Update therefore queues its
// call, and the calls queued while a commit is being written share the next
// transaction and its fsync. There is no background goroutine: the caller
// that finds no commit in progress becomes the leader, runs the queued calls
// (its own first) in one bbolt transaction, commits, hands the lead to the
// first call queued meanwhile, and wakes the others of its batch. An
// uncontended Update thus runs at once on its own goroutine, as before; under
// load the batches grow with the number of writers by themselves.
//
// Why not bbolt's DB.Batch:
//
//   - It always waits MaxBatchDelay (10 ms) for the batch to fill, so a
//     lone writer gets 40 times slower; here the batch is whatever queued
//     during the previous commit, and WithBatchDelay adds a wait only on
//     request.
//   - When one function fails, it rolls back the whole transaction, runs
//     every other function of the batch again, and runs the failing one
//     again alone, through the same closure. Here every function runs once
//     per call (once per attempt of storage.Wrap's retry loop): a failing
//     call that wrote nothing (the common "not found" or "refused" case) is
//     simply skipped; one that wrote something is undone by rolling back
//     and replaying the recorded writes of the calls before it, without
//     running their functions again.
//
// Contract, per Update call (what storage.RawStore promises):
//
//   - Serializable: the calls of a batch run in queue order, each seeing the
//     writes of the successful calls before it, which is what running them
//     one after the other would give. When a call fails, its writes are
//     undone and the writes before it are replayed exactly (their functions
//     do not run again), so every call, failed or not, saw a state that
//     commits: no call observes writes that are then lost, unless the
//     commit itself fails, and then every successful call of the batch gets
//     that error.
//   - A call whose fn returns an error (or panics) commits none of its
//     writes, gets its error unchanged (or its panic raised again on its own
//     goroutine) and changes nothing for the other calls.
//   - Update returns nil only once the transaction holding fn's writes is
//     committed and synced. The transaction may hold other calls' writes
//     too; bbolt has no size limit, and storage.Wrap's MaxTxSize and
//     MaxTxDuration are checked per call, as before.
//   - fn runs on the leader's goroutine, which may not be the caller's. It
//     must not call runtime.Goexit (t.FailNow): that ends the leader's
//     goroutine; the batch is then rolled back and its other calls get an
//     error matching storage.ErrConflict, which storage.Wrap retries.
//
// Measurements (2 shared cores, ext4 on a virtual disk, one fsync'd commit
// about 220 µs; go test ./storage/bolt -bench UpdateParallel, 256-byte
// values, distinct keys):
//
//	                         32 writers         1 writer
//	                         writes/s  p50      writes/s  p50
//	one transaction/Update     4,000   7.5 ms     4,400   210 µs
//	group commit, no delay    50,000   0.6 ms     4,500   210 µs
//	delay 200 µs              21,000   1.5 ms       740   1.3 ms
//	delay 2 ms                12,000   2.6 ms       400   2.5 ms
//	delay 10 ms                2,950    11 ms        94    11 ms
//	(bbolt DB.Batch, 10 ms     2,800              93)
//
// A delay only adds latency: the fsync of the previous commit is already
// the window in which the next batch gathers (about half the writers each),
// and with a delay every batch waits for it in full, since 32 writers never
// fill a batch of DefaultMaxBatchSize. Hence DefaultBatchDelay = 0.
// WithBatchDelay is there for when fewer, larger commits matter more than
// latency: with a very fast fsync batches stay small, and every bbolt
// commit rewrites its tree path and meta page.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/strongroom/strongroom/storage"
)

// opKind is the kind of a recorded write.
type opKind uint8

const (
	opSet opKind = iota
	opClear
	opClearRange
)

// op is one write of a call, kept for replay: Set(a, b), Clear(a) or
// ClearRange(a, b).
type op struct {
	kind opKind
	a, b []byte
}

// replay applies the writes of log to b again, in order.
func replay(b *bbolt.Bucket, log []op) error {
	for _, o := range log {
		var err error
		switch o.kind {
		case opSet:
			err = b.Put(o.a, o.b)
		case opClear:
			err = b.Delete(o.a)
		case opClearRange:
			err = clearRange(b, o.a, o.b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var (
	// errPanicked marks a call whose function panicked; Update raises the
	// panic again on the caller's goroutine.
	errPanicked = errors.New("bolt: transaction function panicked")
	// errGoexit is returned to a call whose function called runtime.Goexit.
	errGoexit = errors.New("bolt: transaction function called runtime.Goexit; nothing was committed")
	// errAborted is returned to the other calls of a batch abandoned
	// before it could commit; storage.Wrap retries them.
	errAborted = fmt.Errorf("bolt: the shared transaction was abandoned before it committed: %w", storage.ErrConflict)
)

// call is one Update waiting for, or running in, a group commit.
type call struct {
	ctx context.Context
	fn  func(tx storage.RawTx) error
	// wake receives true when the call is to lead the next batch, false
	// when its result is ready.
	wake chan bool
	// log records fn's writes, for replay.
	log []op
	// The result, final once done is set.
	done     bool
	err      error
	panicked bool
	panicVal any
}

// committer queues the Update calls of a DB for group commit.
type committer struct {
	delay    time.Duration
	maxBatch int
	// full is signalled when maxBatch calls are queued, to cut a delay short.
	full chan struct{}

	mu      sync.Mutex
	queue   []*call
	leading bool // a leader is running; the queue is empty otherwise
}

func (g *committer) init(delay time.Duration, maxBatch int) {
	g.delay, g.maxBatch = delay, maxBatch
	g.full = make(chan struct{}, 1)
}

// queued returns how many calls wait for a batch.
func (g *committer) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// updateGrouped runs fn in a group commit.
func (d *DB) updateGrouped(ctx context.Context, fn func(tx storage.RawTx) error) error {
	g := &d.group
	if ctx == nil {
		ctx = context.Background() // ctx was ignored before group commit
	}
	c := &call{ctx: ctx, fn: fn, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.leading
	g.leading = true
	if len(g.queue) >= g.maxBatch {
		select {
		case g.full <- struct{}{}:
		default:
		}
	}
	g.mu.Unlock()
	if !lead {
		lead = <-c.wake
	}
	if lead {
		// c is at the head of the queue, so it is in the batch.
		d.lead()
	}
	if c.panicked {
		panic(c.panicVal)
	}
	return c.err
}

// lead runs one batch: the calls at the head of the queue, the leader's own
// first. Then it hands the lead to the next queued call, if any, and wakes
// the other calls of the batch. It does so even if a function ends the
// goroutine, so that no call waits forever.
func (d *DB) lead() {
	g := &d.group
	g.linger()
	g.mu.Lock()
	n := min(len(g.queue), g.maxBatch)
	batch := g.queue[:n:n]
	if n == len(g.queue) {
		g.queue = nil
	} else {
		g.queue = slices.Clone(g.queue[n:])
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		var next *call
		if len(g.queue) > 0 {
			next = g.queue[0]
		} else {
			g.leading = false
		}
		g.mu.Unlock()
		if next != nil {
			next.wake <- true
		}
		for _, c := range batch[1:] {
			c.wake <- false
		}
	}()
	d.runBatch(batch)
}

// linger waits up to the batch delay for more calls, unless the batch is
// full already.
func (g *committer) linger() {
	if g.delay <= 0 {
		return
	}
	g.mu.Lock()
	select {
	case <-g.full: // stale: drop it
	default:
	}
	n := len(g.queue)
	g.mu.Unlock()
	if n >= g.maxBatch {
		return
	}
	t := time.NewTimer(g.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.full:
	}
}

// runBatch runs the functions of batch in one bbolt transaction and commits
// the writes of those that succeeded, setting the result of every call.
func (d *DB) runBatch(batch []*call) {
	var (
		btx      *bbolt.Tx
		ok       []*call // calls that succeeded, in order; their writes are in btx
		cur      *call   // the call whose function is running
		finished bool
	)
	// failRest gives err to every call without a result.
	failRest := func(err error) {
		for _, c := range batch {
			if !c.done {
				c.done, c.err = true, err
			}
		}
	}
	defer func() {
		if finished {
			return
		}
		// A function called runtime.Goexit (or bbolt panicked): nothing
		// commits, and the calls still waiting go back to Wrap's retry.
		if btx != nil {
			_ = btx.Rollback()
		}
		if cur != nil && !cur.done {
			cur.done, cur.err = true, errGoexit
		}
		failRest(errAborted)
	}()

	btx, err := d.db.Begin(true)
	if err != nil {
		btx = nil
		failRest(translate(err))
		finished = true
		return
	}
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.done, c.err = true, fmt.Errorf("bolt: %w: %w", storage.ErrTimeout, err)
			continue
		}
		cur = c
		err := runCall(btx, c)
		cur = nil
		if err == nil {
			ok = append(ok, c)
			continue
		}
		c.done, c.err = true, err
		wrote := len(c.log) > 0
		c.log = nil
		if !wrote {
			continue // nothing to undo
		}
		// Undo c's writes: start over and replay those of the calls before
		// it that succeeded. Their functions do not run again, so the state
		// is exactly the one c started from.
		d.stats.replays.Add(1)
		_ = btx.Rollback()
		if btx, err = d.db.Begin(true); err != nil {
			btx = nil
			failRest(translate(err))
			finished = true
			return
		}
		b := btx.Bucket(bucket)
		for _, o := range ok {
			if err := replay(b, o.log); err != nil {
				_ = btx.Rollback()
				btx = nil
				failRest(fmt.Errorf("bolt: replaying the shared transaction: %v: %w", err, storage.ErrConflict))
				finished = true
				return
			}
		}
	}
	if len(ok) == 0 {
		_ = btx.Rollback()
		finished = true
		return
	}
	logs := make([][]op, len(ok))
	for i, c := range ok {
		logs[i] = c.log
	}
	err = d.commit(btx, logs)
	btx = nil
	if err == nil {
		d.stats.commits.Add(1)
	}
	for _, c := range ok {
		c.done, c.err, c.log = true, err, nil
	}
	finished = true
}

// commit commits btx, which holds the writes of logs, announcing them to the
// read cache (Commit closes btx, also when it fails).
func (d *DB) commit(btx *bbolt.Tx, logs [][]op) error {
	if d.cache != nil {
		d.cache.commitStarting(logs)
		defer d.cache.commitEnded(logs)
	}
	return translate(btx.Commit())
}

// runCall runs the function of c in btx, recording its writes in c.log. A
// panic is recovered and kept in c; runtime.Goexit goes on.
func runCall(btx *bbolt.Tx, c *call) (err error) {
	t := &tx{b: btx.Bucket(bucket), log: &c.log}
	returned := false
	defer func() {
		t.end()
		if returned {
			return
		}
		if p := recover(); p != nil {
			c.panicked, c.panicVal = true, p
			err = errPanicked
		}
	}()
	err = c.fn(t)
	returned = true
	return err
}
