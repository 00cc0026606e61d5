package tenant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine/kv"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newNode is one node's manager over store, its cluster initialised (by
// the first node) and unsealed with key.
func newNode(t testing.TB, st storage.Store, clk *clock, key *string, cfg Config) *Manager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	parts := Parts{Engines: map[string]mounts.Factory{"kv": kv.Factory}, StorageType: "bolt", TokenCacheSize: 10, TokenCacheAge: time.Second}
	root := New(st, []byte("root"), "", seal.Options{}, parts)
	if *key == "" {
		res, err := root.Sys.Init(ctx, sys.InitRequest{SecretShares: 1, SecretThreshold: 1})
		if err != nil {
			t.Fatal(err)
		}
		*key = res.Keys[0]
	}
	if _, err := root.Sys.Unseal(ctx, sys.UnsealRequest{Key: *key}); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Root, cfg.Parts, cfg.Now = st, root, parts, clk.Now
	return NewManager(ctx, cfg)
}

func openStore(t testing.TB) storage.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// initShamir initialises namespace name with one unseal key and unseals it.
func initShamir(t *testing.T, m *Manager, name string) string {
	t.Helper()
	ctx := context.Background()
	tn, err := m.Lookup(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tn.Sys.Init(ctx, sys.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Sys.Unseal(ctx, sys.UnsealRequest{Key: res.Keys[0]}); err != nil {
		t.Fatal(err)
	}
	return res.Keys[0]
}

func TestParseName(t *testing.T) {
	for in, want := range map[string]string{"acme": "acme", "acme/": "acme", "/a.b_c-1/": "a.b_c-1"} {
		if got, err := ParseName(in); err != nil || got != want {
			t.Errorf("ParseName(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "/", "a/b", "root", "SYS", "auth", "identity", "-a", "a b", "ü"} {
		if _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
	// Vault's text for a reserved name quotes it with its slash.
	if _, err := ParseName("root"); err == nil || err.Error() != `"root/" is a reserved path and cannot be used as a namespace name` {
		t.Errorf("ParseName(root): %v", err)
	}
}

// TestLifecycle: create, look up, reuse after delete with a fresh id,
// rename keeping the id and the keys.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{})
	if _, err := m.Lookup(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup before create: %v", err)
	}
	e, err := m.Create(ctx, "acme", CreateInput{})
	if err != nil || e.SealType != SealShamir || len(e.TenantID) != 32 {
		t.Fatalf("create: %+v %v", e, err)
	}
	if !m.Has(ctx, "acme") || m.Has(ctx, "other") {
		t.Fatal("Has")
	}
	if _, err := m.Create(ctx, "acme", CreateInput{SealType: SealAuto}); err == nil {
		t.Fatal("auto without an HSM, and a seal type change, accepted")
	}
	initShamir(t, m, "acme")
	tn, _ := m.Lookup(ctx, "acme")
	if tn.Barrier.Sealed() || !bytes.Equal(tn.ID, e.id()) {
		t.Fatal("tenant not unsealed, or another id")
	}
	// Rename: same tenant object, still unsealed, under the new name.
	if _, err := m.Rename(ctx, "acme", "acme2"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name after rename: %v", err)
	}
	tn2, err := m.Lookup(ctx, "acme2")
	if err != nil || tn2 != tn || tn2.Barrier.Sealed() {
		t.Fatalf("renamed tenant: %v", err)
	}
	if _, err := m.Create(ctx, "other", CreateInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rename(ctx, "acme2", "other"); !errors.Is(err, ErrExists) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	// Delete: the tenant is sealed at once; the name comes back fresh.
	if s, err := m.Delete(ctx, "acme2"); err != nil || s != DeleteDone {
		t.Fatalf("delete: %q %v", s, err)
	}
	if !tn.Barrier.Sealed() {
		t.Fatal("a deleted tenant is still unsealed")
	}
	if s, err := m.Delete(ctx, "acme2"); err != nil || s != DeleteNone {
		t.Fatalf("second delete: %q %v", s, err)
	}
	e2, err := m.Create(ctx, "acme2", CreateInput{})
	if err != nil || e2.TenantID == e.TenantID {
		t.Fatalf("reused name: %+v %v", e2, err)
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "acme2" || list[1].Name != "other" {
		t.Fatalf("list: %+v %v", list, err)
	}
}

// TestDeleteClearsInBoundedBatches: the records of a deleted tenant are
// cleared batch by batch, and nothing of it is left; another tenant is
// untouched.
func TestDeleteClearsInBoundedBatches(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{PurgeBatch: 7})
	for _, n := range []string{"gone", "kept"} {
		if _, err := m.Create(ctx, n, CreateInput{}); err != nil {
			t.Fatal(err)
		}
		initShamir(t, m, n)
		tn, _ := m.Lookup(ctx, n)
		err := tn.Barrier.Update(ctx, func(tx *seal.Tx) error {
			for i := range 100 {
				if err := tx.Set([]byte(fmt.Sprintf("r%03d", i)), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	gone, _ := m.Lookup(ctx, "gone")
	kept, _ := m.Lookup(ctx, "kept")
	goneID := gone.ID
	count := func(id []byte) int { return tenantRecords(t, st, id) }
	if count(goneID) < 100 {
		t.Fatal("setup")
	}
	before := count(kept.ID)
	// One batch at a time, as the purge does.
	if n, err := seal.PurgeTenant(ctx, st, kept.ID, 7); err != nil || n != 7 {
		t.Fatalf("one batch: %d %v", n, err)
	}
	if count(kept.ID) != before-7 {
		t.Fatal("a batch cleared more or less than its size")
	}
	if s, err := m.Delete(ctx, "gone"); err != nil || s != DeleteDone {
		t.Fatalf("delete: %q %v", s, err)
	}
	if n := count(goneID); n != 0 {
		t.Fatalf("%d records of the deleted tenant remain", n)
	}
	if ids := unfinishedPurges(t, m); len(ids) != 0 {
		t.Fatalf("purges with records left: %v", ids)
	}
}

// TestShredTenantUnreadable: once the seal records are shredded, the
// tenant's own shares no longer open it, and its records are refused.
func TestShredTenantUnreadable(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{})
	if _, err := m.Create(ctx, "x", CreateInput{}); err != nil {
		t.Fatal(err)
	}
	tkey := initShamir(t, m, "x")
	tn, _ := m.Lookup(ctx, "x")
	err := m.cfg.Root.Barrier.Update(ctx, func(tx *seal.Tx) error { _, err := tx.ShredTenant(tn.ID); return err })
	if err != nil {
		t.Fatal(err)
	}
	tn.Sys.Seal()
	if _, err := tn.Sys.Unseal(ctx, sys.UnsealRequest{Key: tkey}); err == nil {
		t.Fatal("a shredded tenant unsealed")
	}
	// A tenant cannot shred itself.
	if err := tn.Barrier.Update(ctx, func(tx *seal.Tx) error { _, err := tx.ShredTenant(tn.ID); return err }); err == nil {
		t.Fatal("self-shred accepted")
	}
}

// TestIdleUnloadAndBound: sealed tenants past IdleTimeout are unloaded by
// the sweep; an unsealed shamir tenant is never unloaded (its keys would
// need its shares); MaxLoaded bounds the rest.
func TestIdleUnloadAndBound(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{IdleTimeout: time.Minute, MaxLoaded: 3})
	for i := range 5 {
		if _, err := m.Create(ctx, fmt.Sprintf("n%d", i), CreateInput{}); err != nil {
			t.Fatal(err)
		}
	}
	initShamir(t, m, "n0") // unsealed: pinned
	for i := 1; i < 5; i++ {
		clk.add(time.Second)
		if _, err := m.Lookup(ctx, fmt.Sprintf("n%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Loaded(); got != 3 {
		t.Fatalf("%d loaded, MaxLoaded 3", got)
	}
	m.mu.Lock()
	_, pinned := m.loaded["n0"]
	_, oldest := m.loaded["n1"]
	m.mu.Unlock()
	if !pinned || oldest {
		t.Fatalf("unloaded the wrong tenants: n0 loaded %v, n1 loaded %v", pinned, oldest)
	}
	clk.add(2 * time.Minute)
	m.sweep(ctx, clk.Now(), false)
	if got := m.Loaded(); got != 1 {
		t.Fatalf("%d loaded after the idle sweep, want the unsealed shamir tenant only", got)
	}
	n0, _ := m.Lookup(ctx, "n0")
	if n0.Barrier.Sealed() {
		t.Fatal("the sweep sealed an unsealed shamir tenant")
	}
}

// unsealedOnTwoNodes starts two nodes on one store, creates the shamir
// namespace name through a and returns its tenant as b loaded and unsealed
// it.
func unsealedOnTwoNodes(t *testing.T, name string) (a, b *Manager, tb *Tenant) {
	t.Helper()
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	a = newNode(t, st, clk, &key, Config{})
	b = newNode(t, st, clk, &key, Config{})
	if _, err := a.Create(ctx, name, CreateInput{}); err != nil {
		t.Fatal(err)
	}
	waitUntilWithin(t, 5*time.Second, func() bool { return b.Has(ctx, name) }) // setup, under whatever load
	tkey := initShamir(t, a, name)
	tb, err := b.Lookup(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Sys.Unseal(ctx, sys.UnsealRequest{Key: tkey}); err != nil {
		t.Fatal(err)
	}
	return a, b, tb
}

// TestTwoNodesSeeRegistryChanges: a delete or rename through one node
// reaches the other within the coherence window (the registry epoch).
func TestTwoNodesSeeRegistryChanges(t *testing.T) {
	ctx := context.Background()
	a, b, tb := unsealedOnTwoNodes(t, "shared")
	if _, err := a.Rename(ctx, "shared", "moved"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return b.Has(ctx, "moved") && !b.Has(ctx, "shared") })
	if tm, err := b.Lookup(ctx, "moved"); err != nil || tm != tb || tm.Barrier.Sealed() {
		t.Fatalf("node b after the rename: %v", err)
	}
	if _, err := a.Delete(ctx, "moved"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return tb.Barrier.Sealed() && !b.Has(ctx, "moved") })
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	waitUntilWithin(t, time.Second, cond)
}

// hammer calls fn over and over on a goroutine of its own until the
// returned stop is called; stop returns once fn has.
func hammer(fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				fn()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// waitUntilWithin is waitUntil with a window of d, for tests whose subject
// is not the coherence window and that load the machine while they wait.
func waitUntilWithin(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentCreatesAllVisible: namespaces created at once through one
// node are all found afterwards, though the registry epoch moved by
// several steps at a time (which makes the node forget and re-read its
// index while others are being added).
func TestConcurrentCreatesAllVisible(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := m.Create(ctx, name, CreateInput{}); err != nil {
					t.Error(err)
					return
				}
				if _, err := m.Lookup(ctx, name); err != nil {
					t.Errorf("lookup right after create of %s: %v", name, err)
				}
			}
		})
	}
	wg.Wait()
	for w := range 8 {
		for i := range 25 {
			if name := fmt.Sprintf("w%d-%d", w, i); !m.Has(ctx, name) {
				t.Fatalf("%s is missing", name)
			}
		}
	}
}

// TestRemoteChangesCoalesce: a burst of namespace creations through node
// a reaches node b within the coherence window, with far fewer reads of
// the whole registry on b than there were changes.
func TestRemoteChangesCoalesce(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	a := newNode(t, st, clk, &key, Config{})
	b := newNode(t, st, clk, &key, Config{})
	if b.Has(ctx, "burst-0-0") { // loads b's index before the burst
		t.Fatal("setup")
	}
	const n = 60
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				if _, err := a.Create(ctx, fmt.Sprintf("burst-%d-%d", w, i), CreateInput{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	waitUntilWithin(t, 5*time.Second, func() bool { // completeness is the subject, not the window
		for w := range 4 {
			for i := range n / 4 {
				if !b.Has(ctx, fmt.Sprintf("burst-%d-%d", w, i)) {
					return false
				}
			}
		}
		return true
	})
	if got := b.refreshes.Load(); got < 1 || got > n/3 {
		t.Fatalf("node b read the registry %d times for %d changes", got, n)
	}
	t.Logf("node b read the registry %d times for %d changes", b.refreshes.Load(), n)
}

// TestSecondPurgePassClearsLateWrites: a record that lands under a
// deleted tenant's prefix after the delete cleared it (a request already
// under way on another node) is cleared by the purge's second pass,
// PurgeGrace after the first, and not before; then the purge record goes.
func TestSecondPurgePassClearsLateWrites(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{PurgeGrace: time.Minute})
	if _, err := m.Create(ctx, "late", CreateInput{}); err != nil {
		t.Fatal(err)
	}
	initShamir(t, m, "late")
	tn, _ := m.Lookup(ctx, "late")
	id := tn.ID
	if s, err := m.Delete(ctx, "late"); err != nil || s != DeleteDone {
		t.Fatalf("delete: %q %v", s, err)
	}
	purges := func() int {
		n := 0
		if err := m.eachPurge(ctx, func(*purgeRecord) { n++ }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tenantRecords(t, st, id); n != 0 || purges() != 1 {
		t.Fatalf("after the delete: %d records, %d purge records; want 0 and 1", n, purges())
	}
	// The late write, straight into the tenant's subspace.
	err := st.Update(ctx, func(tx storage.Tx) error {
		return tx.Set(append(seal.TenantPrefix(id), []byte("late record")...), []byte("ciphertext"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids := unfinishedPurges(t, m); len(ids) != 0 {
		t.Fatalf("purges %v unfinished: the first pass is done", ids)
	}
	// Not yet due: nothing happens.
	if err := m.FinishPurges(ctx, clk.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := tenantRecords(t, st, id); n != 1 || purges() != 1 {
		t.Fatalf("before the grace: %d records, %d purge records; want 1 and 1", n, purges())
	}
	clk.add(2 * time.Minute)
	if err := m.FinishPurges(ctx, clk.Now()); err != nil {
		t.Fatal(err)
	}
	waitLong(t, func() bool { return tenantRecords(t, st, id) == 0 && purges() == 0 })
}

// BenchmarkRegistryRead reads the registry of 3,000 namespaces, as a
// refresh after another node's change does: cold (every entry opened and
// decoded) and warm (the decoded entries cached by key and ciphertext).
func BenchmarkRegistryRead(b *testing.B) {
	ctx := context.Background()
	st, clk, key := openStore(b), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(b, st, clk, &key, Config{})
	const n = 3000
	for i := range n {
		if _, err := m.Create(ctx, fmt.Sprintf("ns%05d", i), CreateInput{}); err != nil {
			b.Fatal(err)
		}
	}
	read := func(b *testing.B) {
		if idx, err := m.readIndex(ctx); err != nil || len(idx) != n {
			b.Fatalf("%d entries, %v", len(idx), err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			m.decoded = seal.NewDecodedCache(registryCacheMax, 4096)
			read(b)
		}
	})
	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			read(b)
		}
	})
}

// TestClusterSealForgetsDecodedRegistry: the cluster's seal drops the
// registry's decoded entries with the index, and the registry reads again
// (cold) after the unseal.
func TestClusterSealForgetsDecodedRegistry(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{})
	for _, n := range []string{"a", "b"} {
		if _, err := m.Create(ctx, n, CreateInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if idx, err := m.readIndex(ctx); err != nil || len(idx) != 2 || m.decoded.Len() != 2 {
		t.Fatalf("index %d (%v), %d decoded", len(idx), err, m.decoded.Len())
	}
	m.cfg.Root.Sys.Seal()
	if n := m.decoded.Len(); n != 0 {
		t.Fatalf("%d decoded registry entries kept after the seal", n)
	}
	if _, err := m.cfg.Root.Sys.Unseal(ctx, sys.UnsealRequest{Key: key}); err != nil {
		t.Fatal(err)
	}
	if !m.Has(ctx, "a") || !m.Has(ctx, "b") {
		t.Fatal("namespaces missing after the unseal")
	}
}

// unfinishedPurges returns the tenant ids of the purges whose first pass
// has not ended.
func unfinishedPurges(t *testing.T, m *Manager) []string {
	t.Helper()
	var ids []string
	err := m.eachPurge(context.Background(), func(p *purgeRecord) {
		if p.ClearedAt == 0 {
			ids = append(ids, p.TenantID)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestRenameSeenAtomically: while another node renames a namespace, lookups
// of the new name on this node never get a tenant other than the one
// already loaded (unsealed) under the old name, and that one stays
// unsealed. A refresh that published the new index before moving the
// loaded tenant let such a lookup load a second, sealed, tenant, and the
// one in use was then unloaded.
func TestRenameSeenAtomically(t *testing.T) {
	ctx := context.Background()
	for round := range 20 {
		a, b, tb := unsealedOnTwoNodes(t, "old")
		foreign := make(chan *Tenant, 1)
		stop := hammer(func() {
			if tn, err := b.Lookup(ctx, "new"); err == nil && tn != tb {
				select {
				case foreign <- tn:
				default:
				}
			}
			// Keep looking up without holding the processor: the node's
			// watcher must run too.
			runtime.Gosched()
		})
		if _, err := a.Rename(ctx, "old", "new"); err != nil {
			t.Fatal(err)
		}
		// The subject is atomicity, not the window (TestTwoNodesSee-
		// RegistryChanges holds that): the hammering goroutine shares the
		// processors with the watcher, so a loaded machine gets longer.
		waitUntilWithin(t, 5*time.Second, func() bool { return b.Has(ctx, "new") })
		time.Sleep(20 * time.Millisecond)
		stop()
		select {
		case <-foreign:
			t.Fatalf("round %d: a lookup of the new name loaded a second tenant", round)
		default:
		}
		if tb.Barrier.Sealed() {
			t.Fatalf("round %d: the loaded tenant was sealed by the rename", round)
		}
	}
}

// TestRefreshKeepsLocalChanges: refreshes running while this node creates
// namespaces never drop one of them from its index (a refresh installs the
// registry it read; a namespace created meanwhile must stay).
func TestRefreshKeepsLocalChanges(t *testing.T) {
	ctx := context.Background()
	st, clk, key := openStore(t), &clock{now: time.Unix(1e9, 0)}, ""
	m := newNode(t, st, clk, &key, Config{})
	if _, err := m.entries(ctx); err != nil {
		t.Fatal(err)
	}
	stop := hammer(func() { m.refresh(ctx) })
	const n = 200
	var cw sync.WaitGroup
	for w := range 4 {
		cw.Go(func() {
			for i := w; i < n; i += 4 {
				if _, err := m.Create(ctx, fmt.Sprintf("n%03d", i), CreateInput{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	cw.Wait()
	stop()
	for i := range n {
		if name := fmt.Sprintf("n%03d", i); !m.Has(ctx, name) {
			t.Fatalf("%s created, missing from the index", name)
		}
	}
}
