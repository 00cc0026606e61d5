package tenant

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/hsm/hsmtest"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// TestPurgeLeaseKeepsOtherNodesOff: while one node holds the lease on a
// purge, another node neither lists it as due nor runs it; once the lease
// has run out, the other node takes the purge over and finishes it.
func TestPurgeLeaseKeepsOtherNodesOff(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	cfg := Config{PurgeGrace: time.Minute}
	a := newNode(t, st, clk, &key, cfg)
	b := newNode(t, st, clk, &key, cfg)
	if _, err := a.Create(ctx, "gone", CreateInput{}); err != nil {
		t.Fatal(err)
	}
	initShamir(t, a, "gone")
	tn, _ := a.Lookup(ctx, "gone")
	id, idHex := tn.ID, hex.EncodeToString(tn.ID)
	if s, err := a.Delete(ctx, "gone"); err != nil || s != DeleteDone {
		t.Fatalf("delete: %q %v", s, err)
	}
	if p := mustPurge(t, a, idHex); p.ClearedAt == 0 || p.Holder != "" {
		t.Fatalf("after the first pass: %+v; want cleared, no lease", p)
	}
	lateWrite(t, st, id)
	clk.add(2 * time.Minute) // the second pass is due
	if _, err := a.claimPurge(ctx, idHex); err != nil {
		t.Fatal(err)
	}
	if p := mustPurge(t, a, idHex); p.Holder != a.holder {
		t.Fatalf("holder %q, want a's %q", p.Holder, a.holder)
	}
	if due := mustDue(t, b, clk.Now()); len(due) != 0 {
		t.Fatalf("b lists %v while a holds the lease", due)
	}
	if due := mustDue(t, a, clk.Now()); !slices.Equal(due, []string{idHex}) {
		t.Fatalf("a lists %v; its own lease does not keep it off", due)
	}
	if err := b.purge(ctx, idHex); !errors.Is(err, errPurgeHeld) {
		t.Fatalf("b's purge under a's lease: %v", err)
	}
	if n := tenantRecords(t, st, id); n != 1 {
		t.Fatalf("%d records after b's refused purge, want the late one", n)
	}
	clk.add(purgeLease) // a stopped: its lease runs out
	if due := mustDue(t, b, clk.Now()); !slices.Equal(due, []string{idHex}) {
		t.Fatalf("b lists %v after the lease ran out", due)
	}
	if err := b.purge(ctx, idHex); err != nil {
		t.Fatal(err)
	}
	if n := tenantRecords(t, st, id); n != 0 {
		t.Fatalf("%d records after b's second pass", n)
	}
	if p, err := a.purgeRecord(ctx, idHex); err != nil || p != nil {
		t.Fatalf("purge record after the second pass: %+v %v", p, err)
	}
}

// TestFailedPurgeRetriesLater: a purge whose HSM key cannot be destroyed
// (the token refuses, as in an outage) is tried again after the sweep
// interval, then after twice that, and so on, with one warning per
// attempt, not on every sweep; once the token works again the next
// attempt destroys the key and clears the records. The token is real
// SoftHSM2; only the refusal is injected.
func TestFailedPurgeRetriesLater(t *testing.T) {
	ctx := context.Background()
	h := &outageHSM{NamedHSM: hsmtest.Open(t)}
	h.down.Store(true)
	logs := &syncBuffer{}
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	const sweep = 10 * time.Second
	m := newNode(t, st, clk, &key, Config{HSM: h, HSMLabelPrefix: "master", SweepInterval: sweep,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	e, err := m.Create(ctx, "gone", CreateInput{SealType: SealAuto})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := m.Lookup(ctx, "gone")
	if _, err := tn.Sys.Init(ctx, sys.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1}); err != nil {
		t.Fatal(err)
	}
	id := tn.ID
	if s, err := m.Delete(ctx, "gone"); err != nil || s != DeleteInProgress {
		t.Fatalf("delete with the token down: %q %v", s, err)
	}
	// Delete's own attempt, then the background one it starts.
	settle := func(attempts int64) {
		t.Helper()
		waitLong(t, func() bool { return h.destroys.Load() >= attempts && purgesIdle(m) })
		time.Sleep(20 * time.Millisecond) // no further attempt follows
		if n := h.destroys.Load(); n != attempts {
			t.Fatalf("%d attempts to destroy the key, want %d", n, attempts)
		}
	}
	settle(2)
	warnings := func() int { return strings.Count(logs.String(), "namespace purge interrupted") }
	if w := warnings(); w != 1 {
		t.Fatalf("%d purge warnings, want 1:\n%s", w, logs)
	}
	// Each sweep calls FinishPurges; attempts come after waits of 1, 2, 4
	// sweep intervals.
	attempts := int64(2)
	for _, wait := range []int{1, 2, 4} {
		for range wait - 1 {
			clk.add(sweep)
			if err := m.FinishPurges(ctx, clk.Now()); err != nil {
				t.Fatal(err)
			}
			settle(attempts)
		}
		clk.add(sweep)
		if err := m.FinishPurges(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		attempts++
		settle(attempts)
	}
	if w := warnings(); w != 4 {
		t.Fatalf("%d purge warnings after 4 failed attempts:\n%s", w, logs)
	}
	if p := mustPurge(t, m, e.TenantID); p.Holder != "" || p.HSMDestroyed {
		t.Fatalf("after failed attempts: %+v; want no lease held, key not destroyed", p)
	}
	h.down.Store(false)
	clk.add(8 * sweep)
	if err := m.FinishPurges(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	waitLong(t, func() bool { return purgesIdle(m) && tenantRecords(t, st, id) == 0 })
	if p := mustPurge(t, m, e.TenantID); !p.HSMDestroyed || p.ClearedAt == 0 {
		t.Fatalf("after the token came back: %+v", p)
	}
	if n, err := h.NamedHSM.(interface {
		IndexNamedKeys(context.Context, string) (int, error)
	}).IndexNamedKeys(ctx, tenantKeyPrefix("master", e.TenantID)+"/"); err != nil || n != 0 {
		t.Fatalf("%d keys of the tenant left on the token (%v)", n, err)
	}
	m.purgeMu.Lock()
	left := len(m.retry)
	m.purgeMu.Unlock()
	if left != 0 {
		t.Fatalf("%d retry waits kept after the purge succeeded", left)
	}
}

// outageHSM refuses to destroy keys while down, and counts the attempts.
type outageHSM struct {
	NamedHSM
	down     atomic.Bool
	destroys atomic.Int64
}

func (h *outageHSM) DestroyNamedKey(ctx context.Context, label string) error {
	h.destroys.Add(1)
	if h.down.Load() {
		return errors.New("CKR_DEVICE_ERROR")
	}
	return h.NamedHSM.DestroyNamedKey(ctx, label)
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// waitLong waits up to 10 s for cond: not the coherence window (waitUntil)
// but background purges, which under -race on a loaded machine may take
// more than a second.
func waitLong(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("not within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func purgesIdle(m *Manager) bool {
	m.purgeMu.Lock()
	defer m.purgeMu.Unlock()
	return len(m.purging) == 0
}

func mustPurge(t *testing.T, m *Manager, idHex string) *purgeRecord {
	t.Helper()
	p, err := m.purgeRecord(context.Background(), idHex)
	if err != nil || p == nil {
		t.Fatalf("purge record: %+v %v", p, err)
	}
	return p
}

func mustDue(t *testing.T, m *Manager, now time.Time) []string {
	t.Helper()
	due, err := m.duePurges(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	return due
}

// lateWrite writes a record straight into tenant id's subspace, as a
// request under way at the delete would.
func lateWrite(t *testing.T, st storage.Store, id []byte) {
	t.Helper()
	err := st.Update(context.Background(), func(tx storage.Tx) error {
		return tx.Set(append(seal.TenantPrefix(id), []byte("late record")...), []byte("ciphertext"))
	})
	if err != nil {
		t.Fatal(err)
	}
}
