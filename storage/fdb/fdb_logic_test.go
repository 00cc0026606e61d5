package fdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/storagetest"
	"github.com/strongroom/strongroom/storage/tuple"
)

// testTuning keeps the defaults but shortens the waits.
func testTuning() tuning {
	t := defaultTuning
	t.probe = 200 * time.Millisecond
	t.watchPause = 20 * time.Millisecond
	return t
}

// openFake opens a DB on c under prefix.
func openFake(t *testing.T, c *fakeCluster, prefix string, tune tuning) *DB {
	t.Helper()
	db, err := openRaw(Config{Prefix: prefix}, c.connect, tune)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).withDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (Config{}).Validate(); err == nil {
		t.Fatal("Validate accepted a zero api_version without defaults")
	}
	good := Config{ClusterFile: "/etc/foundationdb/fdb.cluster", APIVersion: 710, Prefix: "prod/strongroom-1:a_b.c"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{APIVersion: 699, Prefix: "p"}, "api_version"},
		{Config{APIVersion: 740, Prefix: "p"}, "api_version"},
		{Config{APIVersion: 730, Prefix: ""}, "prefix"},
		{Config{APIVersion: 730, Prefix: "with space"}, "prefix"},
		{Config{APIVersion: 730, Prefix: "nul\x00"}, "prefix"},
		{Config{APIVersion: 730, Prefix: strings.Repeat("p", MaxPrefixLen+1)}, "prefix"},
		{Config{APIVersion: 730, Prefix: "p", ClusterFile: "a\x00b"}, "cluster_file"},
	} {
		err := c.cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("Validate(%+v) = %v, want a ConfigError on %s", c.cfg, err, c.field)
		}
	}
	if err := (Config{APIVersion: 730, Prefix: strings.Repeat("p", MaxPrefixLen)}).Validate(); err != nil {
		t.Errorf("longest prefix: %v", err)
	}
}

func TestOpenRaw(t *testing.T) {
	c := newFakeCluster()
	var gotFile string
	var gotVersion int
	connect := func(file string, v int) (database, error) {
		gotFile, gotVersion = file, v
		return c, nil
	}
	cf := filepath.Join(t.TempDir(), "fdb.cluster")
	if err := os.WriteFile(cf, []byte("test:test@127.0.0.1:4500\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := openRaw(Config{ClusterFile: cf}, connect, testTuning())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if gotFile != cf || gotVersion != DefaultAPIVersion {
		t.Fatalf("connect(%q, %d)", gotFile, gotVersion)
	}
	if db.Config().Prefix != DefaultPrefix || !bytes.Equal(db.prefix, tuple.Pack(DefaultPrefix)) {
		t.Fatalf("prefix %q (%q)", db.Config().Prefix, db.prefix)
	}

	// A missing cluster file, before connecting.
	_, err = openRaw(Config{ClusterFile: filepath.Join(t.TempDir(), "none")}, connect, testTuning())
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing cluster file: %v", err)
	}
	// A bad configuration.
	var ce *ConfigError
	if _, err := openRaw(Config{Prefix: "a b"}, connect, testTuning()); !errors.As(err, &ce) {
		t.Fatalf("bad prefix: %v", err)
	}
	// The client refuses the API version: the code and its name are kept.
	_, err = openRaw(Config{APIVersion: 720}, func(string, int) (database, error) { return nil, code(2201) }, testTuning())
	if err == nil || !strings.Contains(err.Error(), "api_version_already_set (2201)") || !strings.Contains(err.Error(), "api_version 720") {
		t.Fatalf("API version refused: %v", err)
	}
	// A cluster that does not answer: Open fails after the probe timeout.
	dead := newFakeCluster()
	dead.block = make(chan struct{})
	defer close(dead.block)
	start := time.Now()
	_, err = openRaw(Config{}, dead.connect, testTuning())
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("unreachable cluster: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the probe took %s", d)
	}
}

// TestPrefix: every physical key is under the tuple-encoded prefix, and
// two prefixes on one cluster are two separate stores.
func TestPrefix(t *testing.T) {
	c := newFakeCluster()
	a := storage.Wrap(openFake(t, c, "alpha", testTuning()))
	b := storage.Wrap(openFake(t, c, "beta", testTuning()))
	put := func(s storage.Store, k, v string) {
		t.Helper()
		if err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Set([]byte(k), []byte(v)) }); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "k", "from a")
	put(b, "k", "from b")
	put(a, "big", strings.Repeat("x", 3*storage.MaxChunkSize)) // chunked: several areas
	pa, pb := tuple.Pack("alpha"), tuple.Pack("beta")
	if !bytes.Equal(pa, []byte("\x02alpha\x00")) {
		t.Fatalf("tuple prefix %q", pa)
	}
	var na, nb int
	for _, k := range c.keys() {
		switch {
		case strings.HasPrefix(k, string(pa)):
			na++
		case strings.HasPrefix(k, string(pb)):
			nb++
		default:
			t.Errorf("key %q outside both prefixes", k)
		}
	}
	if na < 5 || nb != 1 {
		t.Fatalf("%d keys under alpha, %d under beta", na, nb)
	}
	// Each sees its own value, and clearing one keyspace leaves the other.
	read := func(s storage.Store, k string) string {
		var v []byte
		err := s.View(t.Context(), func(tx storage.ReadTx) error {
			var err error
			v, err = tx.Get([]byte(k))
			return err
		})
		if err != nil {
			return err.Error()
		}
		return string(v)
	}
	if read(a, "k") != "from a" || read(b, "k") != "from b" {
		t.Fatal("the prefixes share keys")
	}
	raw := openFake(t, c, "alpha", testTuning())
	if err := raw.Update(t.Context(), func(tx storage.RawTx) error { return tx.ClearRange(nil, nil) }); err != nil {
		t.Fatal(err)
	}
	for _, k := range c.keys() {
		if strings.HasPrefix(k, string(pa)) {
			t.Fatalf("ClearRange(nil, nil) left %q", k)
		}
	}
	if read(b, "k") != "from b" {
		t.Fatal("clearing alpha cleared beta")
	}
}

// TestHeadKeyMatchesLayout: Watch's headKey is the physical key
// storage.Wrap writes for a logical key.
func TestHeadKeyMatchesLayout(t *testing.T) {
	c := newFakeCluster()
	db := openFake(t, c, "p", testTuning())
	s := storage.Wrap(db)
	for _, k := range []string{"a", "tenant/x/epoch", "\x00", "a\x00b", "\xff\x00\xff", strings.Repeat("k", 200)} {
		if err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Set([]byte(k), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.value(string(db.key(headKey([]byte(k))))); !ok {
			t.Errorf("no physical key %q for %q; keys: %q", db.key(headKey([]byte(k))), k, c.keys())
		}
	}
}

// TestErrorTable: each FoundationDB code becomes the sentinels in the
// table, keeps its code and name in the message, and never matches the
// sentinels of another class.
func TestErrorTable(t *testing.T) {
	all := []error{storage.ErrConflict, storage.ErrTimeout, storage.ErrUnavailable, storage.ErrTxTooLarge,
		storage.ErrKeyTooLarge, storage.ErrValueTooLarge, ErrCommitUnknown, context.Canceled}
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		code     int
		ctx      context.Context
		atCommit bool
		want     []error
	}{
		{1020, live, true, []error{storage.ErrConflict}},
		{1007, live, false, []error{storage.ErrConflict, storage.ErrTimeout}},
		{1007, live, true, []error{storage.ErrConflict, storage.ErrTimeout}},
		{1009, live, false, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1037, live, false, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1038, live, true, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1042, live, true, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1051, live, false, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1078, live, false, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1213, live, false, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1223, live, false, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1235, live, true, []error{storage.ErrConflict, storage.ErrUnavailable}},
		{1021, live, true, []error{ErrCommitUnknown, storage.ErrUnavailable}},
		{1022, live, true, []error{ErrCommitUnknown, storage.ErrUnavailable}},
		{1039, live, true, []error{ErrCommitUnknown, storage.ErrUnavailable}},
		{1039, live, false, []error{storage.ErrUnavailable}},
		{1031, live, false, []error{storage.ErrTimeout, storage.ErrUnavailable}},
		{1031, done, false, []error{storage.ErrTimeout, context.Canceled}},
		{1031, done, true, []error{storage.ErrTimeout, context.Canceled, ErrCommitUnknown, storage.ErrUnavailable}},
		{1004, live, false, []error{storage.ErrTimeout, storage.ErrUnavailable}},
		{1025, done, false, []error{storage.ErrTimeout, context.Canceled}},
		{2101, live, true, []error{storage.ErrTxTooLarge}},
		{2102, live, true, []error{storage.ErrKeyTooLarge}},
		{2103, live, true, []error{storage.ErrValueTooLarge}},
		{1026, live, false, []error{storage.ErrUnavailable}},
		{1515, live, false, []error{storage.ErrUnavailable}},
		{2104, live, false, []error{storage.ErrUnavailable}},
		{1500, live, false, []error{storage.ErrUnavailable}}, // unlisted 1xxx: the cluster
		{2017, live, true, nil},  // a misuse: no sentinel
		{4100, live, false, nil}, // internal_error
	}
	for _, c := range cases {
		err := translate(c.ctx, "op", code(c.code), c.atCommit)
		name := classify(c.code).name
		if !strings.Contains(err.Error(), fmt.Sprintf("%s (%d)", name, c.code)) || !strings.HasPrefix(err.Error(), "fdb: op: ") {
			t.Errorf("%d: message %q lacks the code and name", c.code, err)
		}
		var ce *CodeError
		if !errors.As(err, &ce) || ce.Code != c.code {
			t.Errorf("%d: errors.As found %v", c.code, ce)
		}
		for _, s := range all {
			if want := slices.Contains(c.want, s); errors.Is(err, s) != want {
				t.Errorf("%d (atCommit %v, ctx %v): errors.Is(%v) = %v, want %v", c.code, c.atCommit, c.ctx.Err(), s, !want, want)
			}
		}
	}
	// A timeout within deadlineSlack of the context's deadline is the
	// deadline's, whichever timer fired first.
	soon, cancelSoon := context.WithTimeout(context.Background(), deadlineSlack/2)
	defer cancelSoon()
	if err := translate(soon, "get", code(1031), false); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("timeout at the deadline: %v", err)
	}
	// The bindings' text is kept beside the name.
	err := translate(live, "commit", &CodeError{Code: 1020, Desc: "FoundationDB error code 1020 (Transaction not committed due to conflict with another transaction)"}, true)
	if !strings.Contains(err.Error(), "not_committed: FoundationDB error code 1020 (Transaction not committed") {
		t.Errorf("message: %v", err)
	}
	// Other errors keep their identity.
	if err := translate(live, "get", os.ErrPermission, false); !errors.Is(err, os.ErrPermission) {
		t.Errorf("plain error: %v", err)
	}
}

// TestUpdateOneAttempt: the raw layer makes one attempt: a conflict comes
// back as ErrConflict after one run of fn, and fn's error comes back as is.
func TestUpdateOneAttempt(t *testing.T) {
	c := newFakeCluster()
	db := openFake(t, c, "p", testTuning())
	calls := 0
	c.commitFail = []fakeFailure{{code: 1020}}
	err := db.Update(t.Context(), func(tx storage.RawTx) error { calls++; return tx.Set([]byte("k"), []byte("v")) })
	if !errors.Is(err, storage.ErrConflict) || calls != 1 {
		t.Fatalf("Update = %v after %d calls, want ErrConflict after 1", err, calls)
	}
	boom := errors.New("boom")
	err = db.Update(t.Context(), func(tx storage.RawTx) error {
		if err := tx.Set([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v, want the function's error itself", err)
	}
	if err := db.View(t.Context(), func(tx storage.RawReadTx) error { return boom }); err != boom {
		t.Fatalf("View = %v", err)
	}
	if len(c.keys()) != 0 {
		t.Fatalf("failed Updates committed %q", c.keys())
	}
	// A real conflict: a write between this transaction's read and its commit.
	err = db.Update(t.Context(), func(tx storage.RawTx) error {
		if _, err := tx.Get([]byte("x")); !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		c.put(db.key([]byte("x")), []byte("other node"))
		return tx.Set([]byte("x"), []byte("mine"))
	})
	if !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), "not_committed (1020)") {
		t.Fatalf("conflicting Update = %v", err)
	}
	// The transaction is unusable once fn returned.
	var kept storage.RawTx
	_ = db.Update(t.Context(), func(tx storage.RawTx) error { kept = tx; return nil })
	if err := kept.Set([]byte("late"), []byte("v")); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Set after fn: %v", err)
	}
	if _, err := kept.Get([]byte("late")); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Get after fn: %v", err)
	}
}

// TestReadErrors: errors of reads and of starting a transaction are
// translated; a retryable one makes storage.Wrap run fn again.
func TestReadErrors(t *testing.T) {
	c := newFakeCluster()
	db := openFake(t, c, "p", testTuning())
	s := storage.Wrap(db)
	fails := 1
	c.mu.Lock()
	c.getErr = func([]byte) error {
		if fails > 0 {
			fails--
			return code(1009) // future_version: retryable
		}
		return nil
	}
	c.mu.Unlock()
	calls := 0
	err := s.Update(t.Context(), func(tx storage.Tx) error {
		calls++
		_, err := tx.Get([]byte("k"))
		if errors.Is(err, storage.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil || calls != 2 {
		t.Fatalf("Update = %v after %d runs, want success on the second", err, calls)
	}
	c.mu.Lock()
	c.getErr = func([]byte) error { return code(1037) }
	c.mu.Unlock()
	err = s.View(t.Context(), func(tx storage.ReadTx) error { _, err := tx.Get([]byte("k")); return err })
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "fdb: get: process_behind (1037)") {
		t.Fatalf("View = %v", err)
	}
	c.mu.Lock()
	c.getErr = nil
	c.createErr = code(1026)
	c.mu.Unlock()
	err = s.Update(t.Context(), func(tx storage.Tx) error { return nil })
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "fdb: begin: connection_failed (1026)") {
		t.Fatalf("Update = %v", err)
	}
	if _, err := db.Watch(t.Context(), []byte("k")); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Watch = %v", err)
	}
}

// TestCommitErrors: through storage.Wrap, retryable commit errors are
// retried, and an unknown commit result comes back to the caller after a
// single run of fn, whether or not the fake applied the writes.
func TestCommitErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    []fakeFailure
		calls   int
		want    []error
		wantNot []error
		applied bool
	}{
		{"conflict retried", []fakeFailure{{code: 1020}, {code: 1020}}, 3, nil, nil, true},
		{"too old retried", []fakeFailure{{code: 1007}}, 2, nil, nil, true},
		{"process_behind retried", []fakeFailure{{code: 1037}}, 2, nil, nil, true},
		{"unknown result, applied", []fakeFailure{{code: 1021, apply: true}}, 1,
			[]error{ErrCommitUnknown, storage.ErrUnavailable}, []error{storage.ErrConflict}, true},
		{"unknown result, not applied", []fakeFailure{{code: 1021}}, 1,
			[]error{ErrCommitUnknown, storage.ErrUnavailable}, []error{storage.ErrConflict}, false},
		{"commit timed out", []fakeFailure{{code: 1031, apply: true}}, 1,
			[]error{storage.ErrTimeout, ErrCommitUnknown}, []error{storage.ErrConflict}, true},
		{"too large", []fakeFailure{{code: 2101}}, 1, []error{storage.ErrTxTooLarge}, []error{storage.ErrConflict}, false},
		{"busy cluster, retries spent", slices.Repeat([]fakeFailure{{code: 1213}}, storage.MaxAttempts), storage.MaxAttempts,
			[]error{storage.ErrConflict, storage.ErrUnavailable}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster()
			db := openFake(t, c, "p", testTuning())
			s := storage.Wrap(db)
			c.commitFail = tc.fail
			calls := 0
			err := s.Update(t.Context(), func(tx storage.Tx) error {
				calls++
				n := 0
				if v, err := tx.Get([]byte("counter")); err == nil {
					fmt.Sscan(string(v), &n)
				}
				return tx.Set([]byte("counter"), fmt.Append(nil, n+1))
			})
			if calls != tc.calls {
				t.Errorf("fn ran %d times, want %d", calls, tc.calls)
			}
			if tc.want == nil && err != nil {
				t.Fatalf("Update = %v", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Update = %v, want it to match %v", err, w)
				}
			}
			for _, w := range tc.wantNot {
				if errors.Is(err, w) {
					t.Errorf("Update = %v matches %v", err, w)
				}
			}
			_, present := c.value(string(db.key(headKey([]byte("counter")))))
			if present != tc.applied {
				t.Errorf("counter stored = %v, want %v", present, tc.applied)
			}
		})
	}
}

// TestPaging: range reads go in batches that grow from minBatch to
// maxBatch, continue after the last key, stop at Limit, and give the same
// entries as one read would, forward and reverse.
func TestPaging(t *testing.T) {
	c := newFakeCluster()
	tune := testTuning()
	tune.minBatch, tune.maxBatch = 4, 16
	db := openFake(t, c, "p", tune)
	const n = 100
	var all []string
	err := db.Update(t.Context(), func(tx storage.RawTx) error {
		for i := range n {
			k := fmt.Sprintf("k%03d", i)
			all = append(all, k)
			if err := tx.Set([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func(r storage.RawRange, stopAfter int) ([]string, []rangeCall) {
		t.Helper()
		before := len(c.rangeCalls())
		var got []string
		err := db.View(t.Context(), func(tx storage.RawReadTx) error {
			return tx.Range(r, func(k, v []byte) bool {
				if string(v) != "v"+string(k) {
					t.Errorf("%s = %s", k, v)
				}
				got = append(got, string(k))
				return stopAfter == 0 || len(got) < stopAfter
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, c.rangeCalls()[before:]
	}
	limits := func(calls []rangeCall) []int {
		var l []int
		for _, c := range calls {
			l = append(l, c.limit)
		}
		return l
	}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name   string
		r      storage.RawRange
		stop   int
		want   []string
		limits []int
	}{
		{"all", storage.RawRange{}, 0, all, []int{4, 8, 16, 16, 16, 16, 16, 16}},
		{"reverse", storage.RawRange{Reverse: true}, 0, reversed, []int{4, 8, 16, 16, 16, 16, 16, 16}},
		{"limit across batches", storage.RawRange{Limit: 30}, 0, all[:30], []int{4, 8, 16, 2}},
		{"limit at a batch boundary", storage.RawRange{Limit: 12}, 0, all[:12], []int{4, 8}},
		{"reverse limit", storage.RawRange{Limit: 13, Reverse: true}, 0, reversed[:13], []int{4, 8, 1}},
		{"bounds", storage.RawRange{Begin: []byte("k010"), End: []byte("k020")}, 0, all[10:20], []int{4, 8}},
		{"reverse bounds", storage.RawRange{Begin: []byte("k010"), End: []byte("k020"), Reverse: true}, 0, reversed[80:90], []int{4, 8}},
		{"yield stops", storage.RawRange{}, 5, all[:5], []int{4, 8}},
		{"empty", storage.RawRange{Begin: []byte("z")}, 0, nil, []int{4}},
		{"inverted", storage.RawRange{Begin: []byte("k5"), End: []byte("k1")}, 0, nil, nil},
	} {
		got, calls := read(tc.r, tc.stop)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %d keys %q..., want %d", tc.name, len(got), got[:min(len(got), 3)], len(tc.want))
		}
		if l := limits(calls); !slices.Equal(l, tc.limits) {
			t.Errorf("%s: batch limits %v, want %v", tc.name, l, tc.limits)
		}
		// Each batch continues right after (before, in reverse) the
		// previous one's last key, within the prefix.
		for i, call := range calls {
			if !bytes.HasPrefix(call.begin, db.prefix) || (!bytes.HasPrefix(call.end, db.prefix) && !bytes.Equal(call.end, db.end)) {
				t.Errorf("%s: batch %d bounds %q %q outside the prefix", tc.name, i, call.begin, call.end)
			}
			if i == 0 {
				continue
			}
			prev := calls[i-1]
			if tc.r.Reverse {
				if !bytes.Equal(call.begin, prev.begin) || bytes.Compare(call.end, prev.end) >= 0 {
					t.Errorf("%s: batch %d [%q, %q) does not continue [%q, %q)", tc.name, i, call.begin, call.end, prev.begin, prev.end)
				}
			} else if !bytes.Equal(call.end, prev.end) || call.begin[len(call.begin)-1] != 0x00 {
				t.Errorf("%s: batch %d begins at %q", tc.name, i, call.begin)
			}
		}
	}

	// Large entries: batches do not grow past the byte budget.
	tune.batchBytes = 10_000
	big := openFake(t, c, "big", tune)
	err = big.Update(t.Context(), func(tx storage.RawTx) error {
		for i := range 40 {
			if err := tx.Set(fmt.Appendf(nil, "b%02d", i), bytes.Repeat([]byte{'x'}, 3000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before := len(c.rangeCalls())
	count := 0
	err = big.View(t.Context(), func(tx storage.RawReadTx) error {
		return tx.Range(storage.RawRange{}, func(k, v []byte) bool { count++; return true })
	})
	if err != nil || count != 40 {
		t.Fatalf("big range: %d entries, %v", count, err)
	}
	for _, call := range c.rangeCalls()[before:] {
		if call.limit > 4 {
			t.Fatalf("a batch of %d entries of 3 kB with a 10 kB budget: %v", call.limit, limits(c.rangeCalls()[before:]))
		}
	}

	// Long bounds (a key near storage.MaxKeySize plus 0x00) are cut so
	// that FoundationDB accepts them, without changing the result.
	long := append(bytes.Repeat([]byte{'k'}, keyLimit+50), 0)
	got, calls := read(storage.RawRange{Begin: []byte("k050"), End: long}, 0)
	if !slices.Equal(got, all[50:]) {
		t.Fatalf("long End: %d keys", len(got))
	}
	for _, call := range calls {
		if len(call.begin) > keyLimit+1 || len(call.end) > keyLimit+1 {
			t.Fatalf("bound of %d bytes sent", max(len(call.begin), len(call.end)))
		}
	}

	// A failing batch fails the range, with the code translated.
	c.rangeErr = func(call rangeCall) error {
		if call.limit > 4 {
			return code(1037)
		}
		return nil
	}
	err = db.View(t.Context(), func(tx storage.RawReadTx) error {
		return tx.Range(storage.RawRange{}, func(k, v []byte) bool { return true })
	})
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "process_behind (1037)") {
		t.Fatalf("failing batch: %v", err)
	}
}

func TestTimeoutMillis(t *testing.T) {
	now := time.Now()
	bg := context.Background()
	at := func(d time.Duration) context.Context {
		ctx, cancel := context.WithDeadline(bg, now.Add(d))
		t.Cleanup(cancel)
		return ctx
	}
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want int64
		err  error
	}{
		{"no deadline", bg, 10_000, nil},
		{"later deadline", at(time.Hour), 10_000, nil},
		{"earlier deadline", at(1500 * time.Millisecond), 1500, nil},
		{"rounded up", at(1500*time.Microsecond + 1), 2, nil},
		{"past deadline", at(-time.Millisecond), 0, context.DeadlineExceeded},
		{"cancelled", cancelled, 0, context.Canceled},
	} {
		ms, err := timeoutMillis(c.ctx, now, 10*time.Second)
		if c.err != nil {
			if !errors.Is(err, c.err) || !errors.Is(err, storage.ErrTimeout) {
				t.Errorf("%s: %d, %v; want ErrTimeout and %v", c.name, ms, err, c.err)
			}
			continue
		}
		if err != nil || ms != c.want {
			t.Errorf("%s: %d, %v; want %d", c.name, ms, err, c.want)
		}
	}
}

// TestContextTimeouts: the transaction's timeout comes from the context's
// deadline; a context that ends cancels the transaction's reads; a cluster
// that does not answer fails after MaxTxTimeout (shortened here).
func TestContextTimeouts(t *testing.T) {
	c := newFakeCluster()
	tune := testTuning()
	db := openFake(t, c, "p", tune)
	s := storage.Wrap(db)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.View(t.Context(), func(tx storage.ReadTx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	ts := c.timeouts[len(c.timeouts)-2:]
	if ts[0] <= 2900 || ts[0] > 3000 || ts[1] != MaxTxTimeout.Milliseconds() {
		t.Fatalf("timeouts %v, want about 3000 then %d", ts, MaxTxTimeout.Milliseconds())
	}

	// A blocked read ends with the context's deadline.
	c.mu.Lock()
	c.block = make(chan struct{})
	c.mu.Unlock()
	defer close(c.block)
	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.View(ctx, func(tx storage.ReadTx) error { _, err := tx.Get([]byte("k")); return err })
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("View past its deadline = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}

	// A context cancelled while fn waits: the read fails, nothing commits,
	// and storage.Wrap does not retry.
	ctx, cancel = context.WithCancel(t.Context())
	calls := 0
	time.AfterFunc(30*time.Millisecond, cancel)
	err = s.Update(ctx, func(tx storage.Tx) error {
		calls++
		if err := tx.Set([]byte("cancelled"), []byte("x")); err != nil {
			return err
		}
		_, err := tx.Get([]byte("k"))
		return err
	})
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Update cancelled while reading = %v after %d calls", err, calls)
	}
	if _, ok := c.value(string(db.key(headKey([]byte("cancelled"))))); ok {
		t.Fatal("a cancelled Update committed")
	}

	// No deadline, and the cluster does not answer: the transaction's own
	// timeout (MaxTxTimeout, shortened) ends it, as unavailable.
	tune.txTimeout = 80 * time.Millisecond
	short := &DB{db: c, cfg: db.cfg, prefix: db.prefix, end: db.end, tune: tune, closing: make(chan struct{})}
	err = short.View(t.Context(), func(tx storage.RawReadTx) error { _, err := tx.Get([]byte("k")); return err })
	if !errors.Is(err, storage.ErrTimeout) || !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "transaction_timed_out (1031)") {
		t.Fatalf("unanswered read = %v", err)
	}
}

// TestLongestKeysFitFoundationDB: with the longest prefix a
// configuration allows, the longest logical keys, including the worst case
// for escaping (every byte 0x00), fit FoundationDB's 10,000-byte limit;
// the conformance suite below runs with that limit too.
func TestLongestKeysFitFoundationDB(t *testing.T) {
	c := newFakeCluster()
	db := openFake(t, c, strings.Repeat("p", MaxPrefixLen), testTuning())
	s := storage.Wrap(db)
	for _, key := range [][]byte{bytes.Repeat([]byte{'k'}, storage.MaxKeySize), make([]byte, storage.MaxKeySize)} {
		big := bytes.Repeat([]byte{'v'}, 3*storage.MaxChunkSize) // chunked: chunk numbers lengthen the key
		if err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Set(key, big) }); err != nil {
			t.Fatalf("a %d-byte key: %v", len(key), err)
		}
		var got []byte
		err := s.View(t.Context(), func(tx storage.ReadTx) error {
			var err error
			got, err = tx.Get(key)
			return err
		})
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("reading a %d-byte key back: %v", len(key), err)
		}
	}
}

// TestPhysicalKeyGuard: a physical key over FoundationDB's limit, which
// storage.Wrap never produces, is refused by the backend itself with
// ErrKeyTooLarge before the commit.
func TestPhysicalKeyGuard(t *testing.T) {
	c := newFakeCluster()
	db := openFake(t, c, "strongroom", testTuning())
	long := bytes.Repeat([]byte{'k'}, keyLimit)
	err := db.Update(t.Context(), func(tx storage.RawTx) error { return tx.Set(long, []byte("v")) })
	if !errors.Is(err, storage.ErrKeyTooLarge) {
		t.Fatalf("a physical key of %d bytes plus the prefix: %v", len(long), err)
	}
}

// TestClose: Close waits for the transactions in progress; afterwards
// every call fails with ErrClosed.
func TestClose(t *testing.T) {
	c := newFakeCluster()
	db, err := openRaw(Config{}, c.connect, testTuning())
	if err != nil {
		t.Fatal(err)
	}
	inFn := make(chan struct{})
	release := make(chan struct{})
	var committed atomic.Bool
	go func() {
		err := db.Update(context.Background(), func(tx storage.RawTx) error {
			close(inFn)
			<-release
			return tx.Set([]byte("k"), []byte("v"))
		})
		committed.Store(err == nil)
	}()
	<-inFn
	closed := make(chan struct{})
	go func() { db.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close did not wait for the transaction")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	if !committed.Load() {
		t.Fatal("the transaction in progress did not commit")
	}
	if err := db.Update(t.Context(), func(storage.RawTx) error { return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Update after Close: %v", err)
	}
	if err := db.View(t.Context(), func(storage.RawReadTx) error { return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("View after Close: %v", err)
	}
	if _, err := db.Watch(t.Context(), []byte("k")); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func fired(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// TestWatch: DB.Watch fires on changes to the key's record by this
// store's writes and by any other writer; not for other keys or failed
// transactions; and closes with its context, the store, or after a pause
// when FoundationDB's watch fails.
func TestWatch(t *testing.T) {
	c := newFakeCluster()
	db := openFake(t, c, "p", testTuning())
	s := storage.Wrap(db)
	ctx := t.Context()
	epoch := []byte("tenant/a/epoch")
	put := func(fn func(tx storage.Tx) error) error { return s.Update(ctx, fn) }
	watch := func() <-chan struct{} {
		t.Helper()
		ch, err := db.Watch(ctx, epoch)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}

	ch := watch()
	put(func(tx storage.Tx) error { return tx.Set([]byte("tenant/a/other"), []byte("x")) })
	put(func(tx storage.Tx) error {
		if err := tx.Set(epoch, []byte("1")); err != nil {
			return err
		}
		return errors.New("boom")
	})
	if fired(ch, 50*time.Millisecond) {
		t.Fatal("fired for another key or a failed transaction")
	}
	put(func(tx storage.Tx) error { return tx.Set(epoch, []byte("1")) })
	if !fired(ch, time.Second) {
		t.Fatal("a committed Set did not fire")
	}
	// Another node's write (straight into the cluster).
	ch = watch()
	c.put(db.key(headKey(epoch)), []byte("\x01from another node"))
	if !fired(ch, time.Second) {
		t.Fatal("another writer's change did not fire")
	}
	for name, write := range map[string]func(tx storage.Tx) error{
		"Delete":      func(tx storage.Tx) error { return tx.Delete(epoch) },
		"Set":         func(tx storage.Tx) error { return tx.Set(epoch, []byte("after")) },
		"DeleteRange": func(tx storage.Tx) error { return tx.DeleteRange([]byte("tenant/a/"), []byte("tenant/b")) },
	} {
		// FoundationDB watches compare values: each write changes one.
		if err := put(func(tx storage.Tx) error { return tx.Set(epoch, []byte("before "+name)) }); err != nil {
			t.Fatal(err)
		}
		ch := watch()
		if err := put(write); err != nil {
			t.Fatal(err)
		}
		if !fired(ch, time.Second) {
			t.Fatalf("%s did not fire", name)
		}
	}
	ch = watch()
	if err := storage.SetLarge(ctx, s, epoch, bytes.Repeat([]byte("e"), 5<<20), nil); err != nil {
		t.Fatal(err)
	}
	if !fired(ch, time.Second) {
		t.Fatal("SetLarge did not fire")
	}
	// FoundationDB compares values: rewriting the same value may not
	// fire (the contract allows both).
	unchanged := watch()
	c.put(db.key(headKey(epoch)), func() []byte { v, _ := c.value(string(db.key(headKey(epoch)))); return v }())
	if fired(unchanged, 50*time.Millisecond) {
		t.Log("an unchanged value fired the watch")
	}

	// Its context.
	cctx, cancel := context.WithCancel(ctx)
	ch, _ = db.Watch(cctx, epoch)
	cancel()
	if !fired(ch, time.Second) {
		t.Fatal("did not end with its context")
	}
	// A failing FoundationDB watch fires after the pause.
	c.mu.Lock()
	c.watchErr = code(1032)
	c.mu.Unlock()
	start := time.Now()
	ch = watch()
	if !fired(ch, time.Second) {
		t.Fatal("a failed watch did not fire")
	}
	if d := time.Since(start); d < db.tune.watchPause {
		t.Fatalf("a failed watch fired after %s, before the pause", d)
	}
	c.mu.Lock()
	c.watchErr = nil
	c.mu.Unlock()
	// Bad keys.
	if _, err := db.Watch(ctx, nil); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("empty key: %v", err)
	}
	if _, err := db.Watch(ctx, make([]byte, storage.MaxKeySize+1)); !errors.Is(err, storage.ErrKeyTooLarge) {
		t.Fatalf("long key: %v", err)
	}
	// A key too long to store: never fires, ends with the store.
	long := bytes.Repeat([]byte{'k'}, storage.MaxKeySize)
	chLong, err := db.Watch(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	// Fired and ended watches leave no FoundationDB watch behind: what is
	// active is the new one, the long key's (when its raw key is within
	// FoundationDB's limit), and the unchanged-value watch if it has not
	// fired; each is registered when its transaction commits, in the
	// background. Then the store closing ends every watch, and they are
	// cancelled.
	ch = watch()
	want := 1
	if len(db.key(headKey(long))) <= db.tune.keyLimit {
		want++
	}
	if !fired(unchanged, 0) {
		want++
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.activeWatches() != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := c.activeWatches(); n != want {
		t.Fatalf("%d FoundationDB watches active, want %d (fired or ended ones are cancelled)", n, want)
	}
	db.Close()
	if !fired(ch, time.Second) || !fired(chLong, time.Second) {
		t.Fatal("the watches did not end when the store closed")
	}
	if n := c.activeWatches(); n != 0 {
		t.Fatalf("%d FoundationDB watches left after Close", n)
	}
	if _, err := db.Watch(ctx, epoch); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
}

// TestConformanceFake runs the conformance suite on the fake, through the
// whole logic of this package and storage.Wrap, with FoundationDB's limits.
func TestConformanceFake(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		c := newFakeCluster()
		tune := testTuning()
		db, err := openRaw(Config{Prefix: "conformance"}, c.connect, tune)
		if err != nil {
			t.Fatal(err)
		}
		return storage.Wrap(db)
	})
}

// TestWrappedWatchSeesOtherStore: two stores on one cluster stand for two
// nodes; a Store.Watch (what the nodes' epoch watchers use) on one fires
// when the other commits a write of the key, through the raw watch.
func TestWrappedWatchSeesOtherStore(t *testing.T) {
	c := newFakeCluster()
	a := storage.Wrap(openFake(t, c, "p", testTuning()))
	b := storage.Wrap(openFake(t, c, "p", testTuning()))
	ctx := t.Context()
	key := []byte("tenant/a/epoch")
	w, ok := a.(storage.Watcher)
	if !ok {
		t.Fatal("a wrapped store is not a Watcher")
	}
	ch, err := w.Watch(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if fired(ch, 50*time.Millisecond) {
		t.Fatal("fired before any write")
	}
	if err := b.Update(ctx, func(tx storage.Tx) error { return tx.Set(key, []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if !fired(ch, time.Second) {
		t.Fatal("node a's watch did not see node b's write")
	}
}
