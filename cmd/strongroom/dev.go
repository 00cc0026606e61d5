package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/strongroom/strongroom/engine/sys"
)

// runDev starts a server on a temporary bolt store, initialises it with one
// unseal key, unseals it, and prints the address, unseal key and root token,
// as `vault server -dev` does. The store is removed at shutdown.
func runDev(ctx context.Context, addr string, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "strongroom-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := &Config{
		Listeners: []*Listener{{Type: "tcp", Address: addr, TLSDisable: true}},
		Storage:   &Storage{Type: "bolt", Bolt: &BoltStorage{Path: filepath.Join(dir, "strongroom.db")}},
		LogLevel:  "info",
	}
	if diags := cfg.Listeners[0].check(); diags.HasErrors() {
		return diagError(diags)
	}
	return serve(ctx, cfg, stdout, stderr, func(n *node) error {
		res, err := n.sys.Init(ctx, sys.InitRequest{SecretShares: 1, SecretThreshold: 1})
		if err != nil {
			return fmt.Errorf("dev init: %w", err)
		}
		if _, err := n.sys.Unseal(ctx, sys.UnsealRequest{Key: res.KeysB64[0]}); err != nil {
			return fmt.Errorf("dev unseal: %w", err)
		}
		fmt.Fprintf(stdout, devBanner, n.addrs[0], n.addrs[0], res.KeysB64[0], res.RootToken)
		return nil
	})
}

const devBanner = `==> Strongroom server started! Listening on %s

WARNING! dev mode is enabled! In this mode, Strongroom runs on a temporary
store and starts unsealed with a single unseal key. Nothing survives a restart.

You may need to set the following environment variables:

    $ export VAULT_ADDR='%s'

The unseal key and root token are displayed below in case you want to
seal/unseal the server or re-authenticate.

Unseal Key: %s
Root Token: %s

Development mode should NOT be used in production installations!
`
