package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	vault "github.com/hashicorp/vault/api"

	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

// TestNoPKCS11CallsOnRequestPath runs a pkcs11-sealed node in process,
// then makes 1,000 KV requests (writes and reads) and counts the PKCS#11
// calls the HSM made meanwhile: none.
func TestNoPKCS11CallsOnRequestPath(t *testing.T) {
	tok := softhsmtest.New(t)
	dir := t.TempDir()
	cfg, err := ParseConfig("hot.hcl", []byte(fmt.Sprintf(`
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
storage "bolt" { path = %q }
seal "pkcs11" {
  lib          = %q
  token_label  = %q
  pin          = %q
  key_label    = "hot"
  generate_key = true
}
`, filepath.Join(dir, "s.db"), tok.Lib, tok.Label, tok.PIN)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := start(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer n.close(context.Background())
	c := newClient(t, n.addrs[0])
	res, err := c.Sys().Init(&vault.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(res.RootToken)
	if err := c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	h := n.hsm.h.Load()
	before := h.Stats().Total()
	kv := c.KVv2("secret")
	for i := range 500 {
		key := fmt.Sprintf("k%d", i%50)
		if _, err := kv.Put(ctx, key, map[string]any{"v": i}); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if calls := h.Stats().Total() - before; calls != 0 {
		t.Fatalf("1,000 KV requests made %d PKCS#11 calls", calls)
	}
}
