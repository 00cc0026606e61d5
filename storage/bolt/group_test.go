package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/storage/storagetest"
)

func TestConformanceWithoutGroupCommit(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutGroupCommit())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceSmallBatches runs the suite with a batch delay and batches
// of at most 3 calls, so that batches fill up and cut the delay short.
func TestConformanceSmallBatches(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "db"),
			bolt.WithBatchDelay(200*time.Microsecond), bolt.WithMaxBatchSize(3))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func openGroup(t *testing.T, opts ...bolt.Option) (*bolt.DB, storage.Store) {
	t.Helper()
	raw, err := bolt.OpenRaw(filepath.Join(t.TempDir(), "db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s := storage.Wrap(raw)
	t.Cleanup(func() { _ = s.Close() })
	return raw, s
}

// blockLeader starts an Update whose function waits until release is
// closed, and returns once that function runs: it leads a batch and holds
// the write transaction, so the Updates started meanwhile queue up and
// share the next batch. done is closed when the Update has returned.
func blockLeader(t *testing.T, s storage.Store) (release, done chan struct{}) {
	t.Helper()
	release, done = make(chan struct{}), make(chan struct{})
	running := make(chan struct{})
	go func() {
		defer close(done)
		err := s.Update(context.Background(), func(tx storage.Tx) error {
			close(running)
			<-release
			return tx.Set([]byte("leader"), []byte("x"))
		})
		if err != nil {
			t.Errorf("leader: %v", err)
		}
	}()
	<-running
	return release, done
}

// waitQueued waits until n calls are queued behind the running batch.
func waitQueued(t *testing.T, raw *bolt.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for raw.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued after 10s, want %d", raw.Queued(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func get(t *testing.T, s storage.Store, key string) ([]byte, error) {
	t.Helper()
	var v []byte
	err := s.View(t.Context(), func(tx storage.ReadTx) error {
		var err error
		v, err = tx.Get([]byte(key))
		return err
	})
	return v, err
}

// TestGroupCommitMixedBatch queues Updates that succeed and fail in every
// way behind a blocked leader, so that they all share one transaction, and
// checks that each gets its own outcome, that each function ran once, that
// the failed ones left nothing, that MaxTxSize counts per call, and that the
// whole batch took one commit.
func TestGroupCommitMixedBatch(t *testing.T) {
	raw, s := openGroup(t)
	errBoom := errors.New("boom")
	nine := bytes.Repeat([]byte{9}, 9_000_000)
	counter := []byte("counter")
	incr := func(tx storage.Tx) error {
		n := 0
		if v, err := tx.Get(counter); err == nil {
			n = int(v[0])
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return tx.Set(counter, []byte{byte(n + 1)})
	}
	cancelled, cancel := context.WithCancel(context.Background())
	type tc struct {
		name string
		ctx  context.Context
		fn   func(tx storage.Tx) error
		// check judges the result of Update, and the panic it raised.
		check func(err error, panicked any) bool
		calls atomic.Int32
	}
	ok := func(err error, p any) bool { return err == nil && p == nil }
	cases := []*tc{
		{name: "ok1", fn: func(tx storage.Tx) error {
			if err := incr(tx); err != nil {
				return err
			}
			return tx.Set([]byte("a"), []byte("1"))
		}, check: ok},
		{name: "boom after writing", fn: func(tx storage.Tx) error {
			if err := incr(tx); err != nil {
				return err
			}
			if err := tx.Set([]byte("x"), []byte("x")); err != nil {
				return err
			}
			return errBoom
		}, check: func(err error, p any) bool { return err == errBoom && p == nil }},
		{name: "ok2 sees ok1", fn: func(tx storage.Tx) error {
			if v, err := tx.Get([]byte("a")); err != nil || string(v) != "1" {
				return fmt.Errorf("ok2: Get(a) = %q, %v", v, err)
			}
			if _, err := tx.Get([]byte("x")); !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("ok2: Get(x) = %v: sees a failed call's write", err)
			}
			if err := incr(tx); err != nil {
				return err
			}
			return tx.Set([]byte("b"), []byte("2"))
		}, check: ok},
		{name: "over MaxTxSize", fn: func(tx storage.Tx) error {
			if err := incr(tx); err != nil {
				return err
			}
			if err := tx.Set([]byte("t1"), nine); err != nil {
				return err
			}
			return tx.Set([]byte("t2"), nine)
		}, check: func(err error, p any) bool { return errors.Is(err, storage.ErrTxTooLarge) && p == nil }},
		{name: "9 MB", fn: func(tx storage.Tx) error { return tx.Set([]byte("big1"), nine) }, check: ok},
		{name: "another 9 MB", fn: func(tx storage.Tx) error { return tx.Set([]byte("big2"), nine) }, check: ok},
		{name: "panic", fn: func(tx storage.Tx) error {
			if err := incr(tx); err != nil {
				return err
			}
			if err := tx.Set([]byte("p"), []byte("p")); err != nil {
				return err
			}
			panic("kaboom")
		}, check: func(err error, p any) bool { return p == "kaboom" }},
		{name: "boom before writing", fn: func(tx storage.Tx) error {
			return errBoom
		}, check: func(err error, p any) bool { return err == errBoom && p == nil }},
		{name: "cancelled while queued", ctx: cancelled, fn: func(tx storage.Tx) error {
			return tx.Set([]byte("cancelled"), []byte("x"))
		}, check: func(err error, p any) bool {
			return errors.Is(err, storage.ErrTimeout) && errors.Is(err, context.Canceled)
		}},
		{name: "ok3 sees ok2", fn: func(tx storage.Tx) error {
			if v, err := tx.Get([]byte("b")); err != nil || string(v) != "2" {
				return fmt.Errorf("ok3: Get(b) = %q, %v", v, err)
			}
			if err := incr(tx); err != nil {
				return err
			}
			return tx.Set([]byte("c"), []byte("3"))
		}, check: ok},
	}

	release, leaderDone := blockLeader(t, s)
	var wg sync.WaitGroup
	for i, c := range cases {
		ctx := c.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		wg.Go(func() {
			var err error
			var p any
			func() {
				defer func() { p = recover() }()
				err = s.Update(ctx, func(tx storage.Tx) error {
					c.calls.Add(1)
					return c.fn(tx)
				})
			}()
			if !c.check(err, p) {
				t.Errorf("%s: Update = %v, panic %v", c.name, err, p)
			}
		})
		waitQueued(t, raw, i+1) // keep the queue in the order of cases
	}
	cancel()
	before := raw.Stats()
	close(release)
	wg.Wait()
	<-leaderDone
	after := raw.Stats()

	for _, c := range cases {
		want := int32(1)
		if c.ctx != nil {
			want = 0
		}
		if n := c.calls.Load(); n != want {
			t.Errorf("%s: function ran %d times, want %d", c.name, n, want)
		}
	}
	if n := after.Commits - before.Commits; n != 2 {
		t.Errorf("%d commits for the leader and one batch, want 2", n)
	}
	// Three failed calls had written something: each is undone by a replay.
	if n := after.Replays - before.Replays; n != 3 {
		t.Errorf("%d replays, want 3", n)
	}
	for key, want := range map[string]string{"leader": "x", "a": "1", "b": "2", "c": "3", "counter": "\x03"} {
		if v, err := get(t, s, key); err != nil || string(v) != want {
			t.Errorf("Get(%s) = %q, %v; want %q", key, v, err, want)
		}
	}
	for _, key := range []string{"big1", "big2"} {
		if v, err := get(t, s, key); err != nil || !bytes.Equal(v, nine) {
			t.Errorf("Get(%s) = %d bytes, %v", key, len(v), err)
		}
	}
	for _, key := range []string{"x", "t1", "t2", "p", "cancelled"} {
		if _, err := get(t, s, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%s) = %v: a failed call's write was committed", key, err)
		}
	}
}

// TestGroupCommitSharesCommits writes from 32 goroutines at once and checks
// that they took fewer commits (fsyncs) than Updates.
func TestGroupCommitSharesCommits(t *testing.T) {
	raw, s := openGroup(t)
	const writers, rounds = 32, 20
	before := raw.Stats()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				err := s.Update(t.Context(), func(tx storage.Tx) error {
					return tx.Set(fmt.Appendf(nil, "k/%02d/%02d", w, i), []byte("v"))
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	after := raw.Stats()
	updates, commits := after.Updates-before.Updates, after.Commits-before.Commits
	t.Logf("%d Updates in %d commits", updates, commits)
	if updates != writers*rounds {
		t.Errorf("Stats counted %d Updates, want %d", updates, writers*rounds)
	}
	if commits == 0 || commits >= updates {
		t.Errorf("%d Updates took %d commits: they were not grouped", updates, commits)
	}
	var n int
	err := s.View(t.Context(), func(tx storage.ReadTx) error {
		kvs, err := tx.GetRange(storage.PrefixRange([]byte("k/")))
		n = len(kvs)
		return err
	})
	if err != nil || n != writers*rounds {
		t.Fatalf("%d keys, %v; want %d", n, err, writers*rounds)
	}
}

func TestWithoutGroupCommitStats(t *testing.T) {
	raw, s := openGroup(t, bolt.WithoutGroupCommit())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 5 {
				if err := s.Update(t.Context(), func(tx storage.Tx) error {
					return tx.Set(fmt.Appendf(nil, "k/%d/%d", w, i), []byte("v"))
				}); err != nil {
					t.Errorf("Update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if st := raw.Stats(); st.Updates != 40 || st.Commits != 40 {
		t.Fatalf("Stats = %+v, want 40 Updates in 40 commits", st)
	}
}

// TestMaxBatchSize queues 5 calls behind a blocked leader with batches of
// at most 2: they take 3 commits.
func TestMaxBatchSize(t *testing.T) {
	raw, s := openGroup(t, bolt.WithMaxBatchSize(2))
	release, leaderDone := blockLeader(t, s)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			if err := s.Update(t.Context(), func(tx storage.Tx) error {
				return tx.Set(fmt.Appendf(nil, "k%d", i), []byte("v"))
			}); err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	waitQueued(t, raw, 5)
	before := raw.Stats()
	close(release)
	wg.Wait()
	<-leaderDone
	if n := raw.Stats().Commits - before.Commits; n != 1+3 {
		t.Fatalf("%d commits, want 1 for the leader and 3 for 5 calls in batches of 2", n)
	}
}

// TestBatchDelayEndsWhenFull: with a batch delay of an hour and batches of
// two, the second Update ends the wait and both share one commit.
func TestBatchDelayEndsWhenFull(t *testing.T) {
	raw, s := openGroup(t, bolt.WithBatchDelay(time.Hour), bolt.WithMaxBatchSize(2))
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if err := s.Update(t.Context(), func(tx storage.Tx) error {
				return tx.Set(fmt.Appendf(nil, "k%d", i), []byte("v"))
			}); err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch still waited for the batch delay")
	}
	if st := raw.Stats(); st.Updates != 2 || st.Commits != 1 {
		t.Fatalf("Stats = %+v, want 2 Updates in 1 commit", st)
	}
}

// TestGroupCommitGoexit: a function that ends its goroutine (as t.FailNow
// does) while it leads a batch commits nothing, the other call of the batch
// gets an error matching ErrConflict (which Wrap retries), and the store
// keeps working.
func TestGroupCommitGoexit(t *testing.T) {
	raw, s := openGroup(t)
	release, leaderDone := blockLeader(t, s)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = s.Update(context.Background(), func(tx storage.Tx) error {
			_ = tx.Set([]byte("goexit"), []byte("x"))
			runtime.Goexit()
			return nil
		})
		t.Error("Update returned after its function called runtime.Goexit")
	}()
	waitQueued(t, raw, 1)
	other := make(chan error, 1)
	go func() {
		other <- raw.Update(context.Background(), func(tx storage.RawTx) error {
			return tx.Set([]byte("other"), []byte("v"))
		})
	}()
	waitQueued(t, raw, 2)
	close(release)
	<-exited
	<-leaderDone
	if err := <-other; !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("the other call of the abandoned batch = %v, want ErrConflict", err)
	}
	for _, key := range []string{"goexit", "other"} {
		err := raw.View(t.Context(), func(tx storage.RawReadTx) error {
			_, err := tx.Get([]byte(key))
			return err
		})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("raw Get(%s) = %v: the abandoned batch committed", key, err)
		}
	}
	if err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Set([]byte("after"), []byte("v")) }); err != nil {
		t.Fatalf("Update after the abandoned batch: %v", err)
	}
}

// TestGroupCommitClose: calls queued when the store closes do not hang:
// each either made it into a commit before Close or gets ErrClosed.
func TestGroupCommitClose(t *testing.T) {
	raw, s := openGroup(t)
	release, leaderDone := blockLeader(t, s)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			errs <- raw.Update(context.Background(), func(tx storage.RawTx) error {
				return tx.Set([]byte("k"), []byte("v"))
			})
		}()
	}
	waitQueued(t, raw, 3)
	closed := make(chan error, 1)
	go func() { closed <- raw.Close() }()
	time.Sleep(10 * time.Millisecond) // most likely, Close now waits for the leader's transaction
	close(release)
	<-leaderDone
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	refused := 0
	for range 3 {
		switch err := <-errs; {
		case errors.Is(err, storage.ErrClosed):
			refused++
		case err != nil:
			t.Errorf("queued Update after Close = %v, want nil or ErrClosed", err)
		}
	}
	t.Logf("%d of 3 queued Updates refused with ErrClosed", refused)
	err := raw.Update(context.Background(), func(tx storage.RawTx) error { return nil })
	if !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
}
