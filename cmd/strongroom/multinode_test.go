package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"

	vault "github.com/hashicorp/vault/api"

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
		logger, level := newLogger("error", "standard", io.Discard)
		nd, err := startOn(ctx, cfg, logger, level, sharedStore{Store: st, bolt: db, typ: "bolt"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.close(context.Background()) })
		clients[i] = newClient(t, nd.addrs[0])
	}
	return clients
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
	const perNode, each = 3, 15
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, len(c)*perNode)
	for _, cl := range c {
		for range perNode {
			wg.Go(func() {
				kv := cl.KVv2("secret")
				for done := 0; done < each; {
					cur, n := 0, 0
					s, err := kv.Get(ctx, "counter")
					switch {
					case errors.Is(err, vault.ErrSecretNotFound):
					case err != nil:
						errs <- err
						return
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
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
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
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				cl := c[i%nodes]
				wg.Go(func() {
					for j := range each {
						if _, err := cl.KVv2("secret").Put(context.Background(), "hot", map[string]any{"w": i, "j": j}); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
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
	var wg sync.WaitGroup
	errs := make(chan error, len(c)*perNode)
	for _, cl := range c {
		for range perNode {
			wg.Go(func() {
				for range each {
					if _, err := cl.Logical().Write("transit/keys/k/rotate", nil); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
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
