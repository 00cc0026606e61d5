package storage_test

import (
	"fmt"
	"testing"

	"github.com/strongroom/strongroom/storage"
)

// TestTxStats: the wrapped store counts transactions by kind, conflicts,
// retries and give-ups (conflicts injected into the commit of real bolt),
// and its latency buckets are cumulative and end at the count.
func TestTxStats(t *testing.T) {
	_, f, s := openRaw(t)
	rep, ok := s.(storage.StatsReporter)
	if !ok {
		t.Fatal("the wrapped store does not report TxStats")
	}
	before := rep.TxStats()
	f.set(nil, func(n int) error {
		if n <= 2 {
			return fmt.Errorf("injected: %w", storage.ErrConflict)
		}
		return nil
	})
	if err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Set([]byte("a"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	f.set(nil, func(int) error { return storage.ErrConflict })
	if err := s.Update(t.Context(), func(tx storage.Tx) error { return tx.Set([]byte("b"), []byte("1")) }); err == nil {
		t.Fatal("an always-conflicting Update succeeded")
	}
	f.set(nil, nil)
	for range 3 {
		if _, err := getValue(t, s, "a"); err != nil {
			t.Fatal(err)
		}
	}
	st := rep.TxStats()
	if d := st.Update.Count - before.Update.Count; d != 2 {
		t.Errorf("updates: %d, want 2", d)
	}
	if d := st.View.Count - before.View.Count; d != 3 {
		t.Errorf("views: %d, want 3", d)
	}
	// 2 conflicts in the first Update, MaxAttempts in the second.
	if d := st.Conflicts - before.Conflicts; d != 2+storage.MaxAttempts {
		t.Errorf("conflicts: %d, want %d", d, 2+storage.MaxAttempts)
	}
	if d := st.Retries - before.Retries; d != 2+storage.MaxAttempts-1 {
		t.Errorf("retries: %d, want %d", d, 2+storage.MaxAttempts-1)
	}
	if d := st.GaveUp - before.GaveUp; d != 1 {
		t.Errorf("gave up: %d, want 1", d)
	}
	for _, l := range []storage.Latency{st.Update, st.View} {
		if len(l.Buckets) != len(storage.LatencyBounds) || l.Sum <= 0 {
			t.Fatalf("latency %+v", l)
		}
		for i := 1; i < len(l.Buckets); i++ {
			if l.Buckets[i] < l.Buckets[i-1] {
				t.Fatalf("buckets not cumulative: %v", l.Buckets)
			}
		}
		if l.Buckets[len(l.Buckets)-1] > l.Count {
			t.Fatalf("last bucket %d above count %d", l.Buckets[len(l.Buckets)-1], l.Count)
		}
	}
	// The always-conflicting Update paused for its backoffs, so it is
	// slower than the first bucket.
	if st.Update.Buckets[0] == st.Update.Count {
		t.Errorf("every update in the first bucket, including one with %d backoffs: %v", storage.MaxAttempts-1, st.Update.Buckets)
	}
}
