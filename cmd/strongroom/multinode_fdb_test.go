//go:build fdb

package main

// Multi-node tests on a real FoundationDB cluster: built with -tags fdb
// (cgo, libfdb_c), run when FDB_CLUSTER_FILE names a test cluster's
// cluster file, skipped otherwise. Each test writes under its own random
// prefix and clears it at the end.
//
// The bodies of multinode_test.go call startNodes (one shared bolt store)
// by name, so they cannot run on FoundationDB as they are; the tests below
// are FoundationDB variants of three of them, with every node on its own
// store, as separate processes would be.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/fdb"
)

// startFDBNodes starts n nodes in this process on the FoundationDB cluster
// of $FDB_CLUSTER_FILE, under a fresh prefix, each with its own listener,
// seal state, caches and store (its own storage.Store; the FoundationDB
// client and its connection are the process's). It skips the test without
// FDB_CLUSTER_FILE.
func startFDBNodes(t *testing.T, n int) []*vault.Client {
	t.Helper()
	cf := os.Getenv("FDB_CLUSTER_FILE")
	if cf == "" {
		t.Skip("FDB_CLUSTER_FILE is not set: the FoundationDB multi-node tests need a test cluster; see `make test-fdb`")
	}
	b := make([]byte, 8)
	rand.Read(b)
	prefix := "strongroom-test/" + hex.EncodeToString(b)
	cfg, err := ParseConfig("fdb-nodes.hcl", []byte(fmt.Sprintf(`
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
storage "foundationdb" {
  cluster_file = %q
  prefix       = %q
}
seal "shamir" {}
`, cf, prefix)))
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after every node has closed.
	t.Cleanup(func() {
		db, err := fdb.OpenRaw(cfg.Storage.FoundationDB.config())
		if err != nil {
			t.Errorf("clearing prefix %s: %v", prefix, err)
			return
		}
		defer db.Close()
		if err := db.Update(context.Background(), func(tx storage.RawTx) error { return tx.ClearRange(nil, nil) }); err != nil {
			t.Errorf("clearing prefix %s: %v", prefix, err)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clients := make([]*vault.Client, n)
	for i := range n {
		st, _, typ, err := openStore(cfg.Storage)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = startTestNode(t, ctx, cfg, sharedStore{Store: st, typ: typ, owned: true})
	}
	return clients
}

// TestFDBNodesShareData: a secret written through one node reads the same
// through the others, and each node keeps its own seal state.
func TestFDBNodesShareData(t *testing.T) {
	c := startFDBNodes(t, 3)
	initMounted(t, c, "secret", "kv-v2")
	if _, err := c[0].KVv2("secret").Put(context.Background(), "app", map[string]any{"password": "s3cret"}); err != nil {
		t.Fatal(err)
	}
	for i, cl := range c {
		s, err := cl.KVv2("secret").Get(context.Background(), "app")
		if err != nil || s.Data["password"] != "s3cret" {
			t.Fatalf("node %d: %v %v", i, s, err)
		}
	}
	if err := c[2].Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	for i, cl := range c[:2] {
		if st, err := cl.Sys().SealStatus(); err != nil || st.Sealed {
			t.Fatalf("node %d after sealing node 2: %+v %v", i, st, err)
		}
	}
}

// TestFDBNodesConcurrentCASWritesAreNotLost is
// TestNodesConcurrentCASWritesAreNotLost on FoundationDB: the conflicts
// are FoundationDB's (not_committed), retried by storage.Wrap.
func TestFDBNodesConcurrentCASWritesAreNotLost(t *testing.T) {
	c := startFDBNodes(t, 3)
	initMounted(t, c, "secret", "kv-v2")
	concurrentCASWrites(t, c, 10)
}

// TestFDBNodesSeeTransitChanges: node 1 caches a transit key; a rotation
// on node 0 reaches it within coherenceWindow. On separate stores the
// epoch watches go through FoundationDB (storage.Wrap's Watch follows the
// backend's).
func TestFDBNodesSeeTransitChanges(t *testing.T) {
	c := startFDBNodes(t, 2)
	initMounted(t, c, "transit", "transit")
	a, b := c[0].Logical(), c[1].Logical()
	if _, err := a.Write("transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	pt := map[string]any{"plaintext": "aGVsbG8="}
	if _, err := b.Write("transit/encrypt/k", pt); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write("transit/keys/k/rotate", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		s, err := b.Write("transit/encrypt/k", pt)
		return err == nil && strings.HasPrefix(s.Data["ciphertext"].(string), "vault:v2:")
	})
}

// TestFDBNodesTenants: a namespace created through node 0 is seen by the
// other nodes; initialised through node 0 and unsealed on each node, its
// data written through node 0 is read through node 2; its operator's seal
// through node 1 seals it on node 2 within the coherence window, while
// the root namespace keeps serving there.
func TestFDBNodesTenants(t *testing.T) {
	c := startFDBNodes(t, 3)
	initMounted(t, c, "rootkv", "kv")
	if _, err := c[0].Logical().Write("sys/namespaces/acme", nil); err != nil {
		t.Fatal(err)
	}
	for _, cl := range c[1:] {
		waitFor(t, coherenceWindow, func() bool {
			_, err := nsClient(t, cl.Address(), "acme", "").Sys().SealStatus()
			return err == nil
		})
	}
	res := initTenant(t, c[0].Address(), "acme")
	for _, cl := range c[1:] {
		for _, k := range res.Keys[:3] {
			if _, err := nsClient(t, cl.Address(), "acme", "").Sys().Unseal(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	a0 := nsClient(t, c[0].Address(), "acme", res.RootToken)
	if err := a0.Sys().Mount("kv", &vault.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a0.Logical().Write("kv/x", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	a2 := nsClient(t, c[2].Address(), "acme", res.RootToken)
	waitFor(t, coherenceWindow, func() bool {
		s, err := a2.Logical().Read("kv/x")
		return err == nil && s != nil && s.Data["v"] == "1"
	})
	if err := nsClient(t, c[1].Address(), "acme", res.RootToken).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, coherenceWindow, func() bool {
		_, err := a2.Logical().Read("kv/x")
		return statusCode(err) == 503
	})
	if _, err := c[2].Logical().Write("rootkv/y", map[string]any{"v": "2"}); err != nil {
		t.Fatalf("the root namespace on node 2 after the tenant's seal: %v", err)
	}
}
