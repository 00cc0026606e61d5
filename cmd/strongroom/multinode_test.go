package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"golang.org/x/sync/errgroup"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

// startNodes starts n nodes in this process on one shared bolt store, each
// with its own listener, seal state and caches (the in-process stand-in
// for n nodes on one FoundationDB cluster).
func startNodes(t *testing.T, n int) []*vault.Client {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.OpenRaw(filepath.Join(dir, "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := storage.Wrap(db)
	t.Cleanup(func() { st.Close() })
	cfg, err := ParseConfig("nodes.hcl", []byte(boltConfig(dir)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clients := make([]*vault.Client, n)
	for i := range n {
		clients[i] = startTestNode(t, ctx, cfg, sharedStore{Store: st, bolt: db, typ: "bolt"})
	}
	return clients
}

// startTestNode starts one in-process node of cfg on st, closed at the
// end of the test, and returns a client of it.
func startTestNode(t *testing.T, ctx context.Context, cfg *Config, st sharedStore) *vault.Client {
	t.Helper()
	logger, level := newLogger("error", "standard", io.Discard)
	nd, err := startOn(ctx, cfg, logger, level, st)
	if err != nil {
		if st.owned {
			st.Close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.close(context.Background()) })
	cl := newClient(t, nd.addrs[0])
	// Runs before the node closes: a connection the client dialled but
	// never used would hold Shutdown for 5 s (net/http).
	t.Cleanup(func() { cl.CloneConfig().HttpClient.CloseIdleConnections() })
	return cl
}

// initMounted initialises the shared store through c[0] with one unseal
// key, mounts typ at path there, then unseals the other nodes (which load
// the mount table as they unseal) and gives every client the root token.
// It returns the unseal key.
func initMounted(t *testing.T, c []*vault.Client, path, typ string) string {
	t.Helper()
	res, err := c[0].Sys().Init(&vault.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c[0].Sys().Unseal(res.Keys[0]); err != nil {
		t.Fatal(err)
	}
	c[0].SetToken(res.RootToken)
	if err := c[0].Sys().Mount(path, &vault.MountInput{Type: typ}); err != nil {
		t.Fatal(err)
	}
	for _, cl := range c[1:] {
		if _, err := cl.Sys().Unseal(res.Keys[0]); err != nil {
			t.Fatal(err)
		}
		cl.SetToken(res.RootToken)
	}
	return res.Keys[0]
}

// TestNodesKeepTheirOwnSealState: initialising through one node
// initialises the shared store, but every node is sealed until it is
// unsealed itself, keeps its own unseal progress, and seals alone.
func TestNodesKeepTheirOwnSealState(t *testing.T) {
	c := startNodes(t, 3)
	res, err := c[0].Sys().Init(&vault.InitRequest{SecretShares: 5, SecretThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, cl := range c {
		st, err := cl.Sys().SealStatus()
		if err != nil || !st.Initialized || !st.Sealed {
			t.Fatalf("node %d after init through node 0: %+v %v", i, st, err)
		}
	}
	// Progress is per node.
	if st, err := c[1].Sys().Unseal(res.Keys[0]); err != nil || st.Progress != 1 {
		t.Fatalf("node 1 first key: %+v %v", st, err)
	}
	for _, i := range []int{0, 2} {
		if st, _ := c[i].Sys().SealStatus(); st.Progress != 0 {
			t.Fatalf("node %d sees node 1's unseal progress: %d", i, st.Progress)
		}
	}
	for _, k := range res.Keys[:3] {
		if _, err := c[0].Sys().Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := c[0].Sys().SealStatus(); st.Sealed {
		t.Fatal("node 0 still sealed")
	}
	for _, i := range []int{1, 2} {
		if st, _ := c[i].Sys().SealStatus(); !st.Sealed {
			t.Fatalf("unsealing node 0 unsealed node %d", i)
		}
	}
	for _, cl := range c[1:] {
		cl.Sys().ResetUnsealProcess()
		for _, k := range res.Keys[2:5] {
			if _, err := cl.Sys().Unseal(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, cl := range c {
		cl.SetToken(res.RootToken)
	}
	// The root token made on node 0 works on node 2 (read from storage).
	if _, err := c[2].Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("root token on node 2: %v", err)
	}
	if err := c[1].Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	if st, _ := c[1].Sys().SealStatus(); !st.Sealed {
		t.Fatal("node 1 did not seal")
	}
	for _, i := range []int{0, 2} {
		if st, _ := c[i].Sys().SealStatus(); st.Sealed {
			t.Fatalf("sealing node 1 sealed node %d", i)
		}
	}
}

// TestNodesConcurrentCASWritesAreNotLost: goroutines on every node
// increment one KV v2 counter with check-and-set; every increment lands
// exactly once, whichever node served it.
func TestNodesConcurrentCASWritesAreNotLost(t *testing.T) {
	c := startNodes(t, 3)
	initMounted(t, c, "secret", "kv-v2")
	concurrentCASWrites(t, c, 15)
}

// concurrentCASWrites runs 3 goroutines per node, each incrementing the
// KV v2 counter at secret/counter each times with check-and-set (retrying
// on a CAS refusal), and checks that every node reads every increment.
func concurrentCASWrites(t *testing.T, c []*vault.Client, each int) {
	t.Helper()
	const perNode = 3
	ctx := context.Background()
	var g errgroup.Group
	for _, cl := range c {
		for range perNode {
			g.Go(func() error {
				kv := cl.KVv2("secret")
				for done := 0; done < each; {
					cur, n := 0, 0
					s, err := kv.Get(ctx, "counter")
					switch {
					case errors.Is(err, vault.ErrSecretNotFound):
					case err != nil:
						return err
					default:
						cur = s.VersionMetadata.Version
						fmt.Sscan(fmt.Sprint(s.Data["n"]), &n)
					}
					_, err = kv.Put(ctx, "counter", map[string]any{"n": n + 1}, vault.WithCheckAndSet(cur))
					if err == nil {
						done++
						continue
					}
					if statusCode(err) != 400 {
						return err
					}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	want := len(c) * perNode * each
	for i, cl := range c {
		s, err := cl.KVv2("secret").Get(ctx, "counter")
		if err != nil {
			t.Fatal(err)
		}
		if s.VersionMetadata.Version != want || fmt.Sprint(s.Data["n"]) != fmt.Sprint(want) {
			t.Fatalf("node %d reads version %d, n = %v; want %d increments", i, s.VersionMetadata.Version, s.Data["n"], want)
		}
	}
}

// TestConcurrentPutsToOneSecret: plain writes (no check-and-set) to one
// KV v2 secret from many clients, through one node and through three,
// all succeed and each makes exactly one version. (Writes used to be
// refused with 500 after 16 lost races.)
func TestConcurrentPutsToOneSecret(t *testing.T) {
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			c := startNodes(t, nodes)
			initMounted(t, c, "secret", "kv-v2")
			const writers, each = 12, 20
			var g errgroup.Group
			for i := range writers {
				cl := c[i%nodes]
				g.Go(func() error {
					for j := range each {
						if _, err := cl.KVv2("secret").Put(context.Background(), "hot", map[string]any{"w": i, "j": j}); err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			s, err := c[0].KVv2("secret").Get(context.Background(), "hot")
			if err != nil || s.VersionMetadata.Version != writers*each {
				t.Fatalf("after %d writes: %v %v", writers*each, s.VersionMetadata, err)
			}
		})
	}
}

// TestNodesConcurrentRotationsAreNotLost: goroutines on every node rotate
// one transit key at once; every rotation makes exactly one new version,
// whichever node served it.
func TestNodesConcurrentRotationsAreNotLost(t *testing.T) {
	all := startNodes(t, 4)
	c, fresh := all[:3], all[3]
	key := initMounted(t, c, "transit", "transit")
	if _, err := c[0].Logical().Write("transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	const perNode, each = 3, 10
	var g errgroup.Group
	for _, cl := range c {
		for range perNode {
			g.Go(func() error {
				for range each {
					if _, err := cl.Logical().Write("transit/keys/k/rotate", nil); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	want := 1 + len(c)*perNode*each
	// A node unsealed now reads the key from storage, with no cache.
	fresh.Sys().Unseal(key)
	fresh.SetToken(c[0].Token())
	s, err := fresh.Logical().Read("transit/keys/k")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Data["latest_version"]); got != fmt.Sprint(want) {
		t.Fatalf("latest_version %s after %d rotations, want %d", got, want-1, want)
	}
}

// coherenceWindow is how soon a change made on one node must take effect
// on the others.
const coherenceWindow = time.Second

// TestNodesSeeTransitChanges: node 1 caches a transit key by using it;
// a rotation, a min_decryption_version change and a deletion made on
// node 0 each take effect on node 1 within coherenceWindow.
func TestNodesSeeTransitChanges(t *testing.T) {
	c := startNodes(t, 2)
	initMounted(t, c, "transit", "transit")
	a, b := c[0].Logical(), c[1].Logical()
	if _, err := a.Write("transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	pt := map[string]any{"plaintext": "aGVsbG8="}
	s, err := b.Write("transit/encrypt/k", pt)
	if err != nil {
		t.Fatal(err)
	}
	v1 := s.Data["ciphertext"].(string)
	if _, err := a.Write("transit/keys/k/rotate", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		s, err := b.Write("transit/encrypt/k", pt)
		return err == nil && strings.HasPrefix(s.Data["ciphertext"].(string), "vault:v2:")
	})
	// A v2 ciphertext made on node 0 decrypts on node 1.
	s, err = a.Write("transit/encrypt/k", pt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write("transit/decrypt/k", map[string]any{"ciphertext": s.Data["ciphertext"]}); err != nil {
		t.Fatalf("node 1 decrypting node 0's v2 ciphertext: %v", err)
	}
	if _, err := a.Write("transit/keys/k/config", map[string]any{"min_decryption_version": 2, "deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		_, err := b.Write("transit/decrypt/k", map[string]any{"ciphertext": v1})
		return statusCode(err) == 400
	})
	if _, err := a.Delete("transit/keys/k"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		_, err := b.Write("transit/encrypt/k", pt)
		// Vault's encrypt upserts a missing key: a new key means node 1
		// no longer serves the deleted one.
		if err != nil {
			return false
		}
		// The encrypt may still have used the deleted key, whose removal
		// then reaches node 1 before this read: a 404, nil and no error.
		s, err := b.Read("transit/keys/k")
		return err == nil && s != nil && fmt.Sprint(s.Data["latest_version"]) == "1"
	})
}

// TestNodesSeePolicyAndTokenChanges: a policy narrowed on node 0 and a
// token revoked on node 0 take effect on node 1, which has them cached,
// within coherenceWindow.
func TestNodesSeePolicyAndTokenChanges(t *testing.T) {
	c := startNodes(t, 2)
	initMounted(t, c, "secret", "kv-v2")
	a := c[0]
	if _, err := a.KVv2("secret").Put(context.Background(), "x", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sys().PutPolicy("reader", `path "secret/data/x" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	tok, err := a.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"reader"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c[1].Clone()
	if err != nil {
		t.Fatal(err)
	}
	b.SetToken(tok.Auth.ClientToken)
	read := func() int {
		_, err := b.KVv2("secret").Get(context.Background(), "x")
		if err == nil {
			return 200
		}
		return statusCode(err)
	}
	if code := read(); code != 200 {
		t.Fatalf("read with the reader policy on node 1: %d", code)
	}
	if err := a.Sys().PutPolicy("reader", `path "secret/data/other" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool { return read() == 403 })
	if err := a.Sys().PutPolicy("reader", `path "secret/data/x" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool { return read() == 200 })
	if err := a.Auth().Token().RevokeTree(tok.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool { return read() == 403 })
}

// TestNodesSeeMountChanges: a mount enabled on node 0 after node 1
// unsealed serves on node 1 within coherenceWindow, and a disabled one
// stops; a mount made on node 1 right after does not erase node 0's.
func TestNodesSeeMountChanges(t *testing.T) {
	c := startNodes(t, 2)
	initMounted(t, c, "secret", "kv-v2")
	a, b := c[0], c[1]
	if _, err := b.KVv2("secret").Put(context.Background(), "x", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sys().Mount("late", &vault.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		_, err := b.KVv2("late").Put(context.Background(), "y", map[string]any{"v": "2"})
		return err == nil
	})
	if err := b.Sys().Mount("other", &vault.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	// Node 1 wrote the table last: it must hold node 0's mount too, as
	// both nodes see it.
	for i, cl := range c {
		waitFor(t, coherenceWindow, func() bool {
			m, err := cl.Sys().ListMounts()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"secret/", "late/", "other/"} {
				if m[p] == nil {
					t.Logf("node %d lists %v", i, keys(m))
					return false
				}
			}
			return true
		})
	}
	if err := a.Sys().Unmount("late"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		// y exists until the mount goes: any refusal means it went.
		_, err := b.KVv2("late").Get(context.Background(), "y")
		return err != nil
	})
	if _, err := b.KVv2("secret").Get(context.Background(), "x"); err != nil {
		t.Fatalf("secret/ on node 1 after another mount went: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestNodesSeeAuditChanges: an audit device enabled on node 0 records the
// requests node 1 serves within coherenceWindow, and a device enabled on
// node 1 afterwards keeps node 0's in the table.
func TestNodesSeeAuditChanges(t *testing.T) {
	c := startNodes(t, 2)
	initMounted(t, c, "secret", "kv-v2")
	dir := t.TempDir()
	log0, log1 := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	if err := c[0].Sys().EnableAuditWithOptions("file0", &vault.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": log0}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		c[1].KVv2("secret").Get(context.Background(), "marker-b")
		raw, _ := os.ReadFile(log0)
		return strings.Contains(string(raw), "secret/data/marker-b")
	})
	if err := c[1].Sys().EnableAuditWithOptions("file1", &vault.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": log1}}); err != nil {
		t.Fatal(err)
	}
	for i, cl := range c {
		waitFor(t, coherenceWindow, func() bool {
			m, err := cl.Sys().ListAudit()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("node %d audit devices: %v", i, keys(m))
			return m["file0/"] != nil && m["file1/"] != nil
		})
	}
}

// TestNodesSeeKeyringRotation: `vault operator rotate` through node 0
// adds a keyring term; node 1 reads what node 0 writes under it, and
// reports the new term within the coherence window.
func TestNodesSeeKeyringRotation(t *testing.T) {
	c := startNodes(t, 2)
	initMounted(t, c, "kv", "kv")
	if _, err := c[1].Logical().Write("kv/before", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := c[0].Sys().Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := c[0].Logical().Write("kv/after", map[string]any{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"before", "after"} {
		if s, err := c[1].Logical().Read("kv/" + k); err != nil || s == nil {
			t.Fatalf("node 1 reading %s: %v %v", k, s, err)
		}
	}
	waitFor(t, coherenceWindow, func() bool {
		st, err := c[1].Sys().KeyStatus()
		return err == nil && st.Term == 2
	})
}

// TestNodesUnwrapOnce: a response wrapped on node 0 unwraps on node 1 at
// once (wrapping tokens are never cached), once only across the two, and
// a cubbyhole written through one node reads through the other, and a
// batch token made on one works on the other. A tune of an auth method on
// node 0 bounds logins on node 1.
func TestNodesUnwrapOnce(t *testing.T) {
	c := startNodes(t, 2)
	initMounted(t, c, "secret", "kv-v2")
	a, b := c[0], c[1]
	if _, err := a.KVv2("secret").Put(context.Background(), "x", map[string]any{"v": "wrapped"}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		a.SetWrappingLookupFunc(func(string, string) string { return "1m" })
		s, err := a.Logical().Read("secret/data/x")
		a.SetWrappingLookupFunc(func(string, string) string { return "" })
		if err != nil || s.WrapInfo == nil {
			t.Fatalf("wrap on node 0: %+v %v", s, err)
		}
		results := make(chan error, 2)
		for _, cl := range []*vault.Client{a, b} {
			go func() {
				u, err := cl.Logical().Unwrap(s.WrapInfo.Token)
				if err == nil && u.Data["data"].(map[string]any)["v"] != "wrapped" {
					err = fmt.Errorf("unwrapped %v", u.Data)
				}
				results <- err
			}()
		}
		ok, refused := 0, 0
		for range 2 {
			switch err := <-results; {
			case err == nil:
				ok++
			case statusCode(err) == http.StatusBadRequest:
				refused++
			default:
				t.Fatal(err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("two nodes unwrapping one token: %d answered, %d refused", ok, refused)
		}
	}
	// A batch token made on node 0 works on node 1, which stores nothing
	// of it.
	bt, err := a.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}, Type: "batch", TTL: "5m"})
	if err != nil {
		t.Fatal(err)
	}
	bb, _ := b.Clone()
	bb.SetToken(bt.Auth.ClientToken)
	if me, err := bb.Auth().Token().LookupSelf(); err != nil || me.Data["type"] != "batch" {
		t.Fatalf("batch token on node 1: %+v %v", me, err)
	}
	if _, err := a.Logical().Write("cubbyhole/n", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if s, err := b.Logical().Read("cubbyhole/n"); err != nil || s == nil || s.Data["v"] != "1" {
		t.Fatalf("cubbyhole through node 1: %+v %v", s, err)
	}

	if err := a.Sys().EnableAuthWithOptions("approle", &vault.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Logical().Write("auth/approle/role/r", map[string]any{"token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	rid, err := a.Logical().Read("auth/approle/role/r/role-id")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Logical().Write("sys/auth/approle/tune", map[string]any{"default_lease_ttl": "10m"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		sid, err := a.Logical().Write("auth/approle/role/r/secret-id", nil)
		if err != nil {
			return false
		}
		s, err := b.Logical().Write("auth/approle/login", map[string]any{"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"]})
		return err == nil && s.Auth != nil && s.Auth.LeaseDuration == 600
	})
}
