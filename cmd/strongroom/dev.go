package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/sys"
	"github.com/strongroom/strongroom/softhsm"
)

// runDev starts a server on a temporary bolt store, initialises and
// unseals it, and prints the address, the key and the root token, as
// `vault server -dev` does. With SoftHSM2 installed (and sealType not
// "shamir") the seal is pkcs11 on a throwaway SoftHSM2 token whose master
// key is generated at init: the server auto-unseals, and the key printed is
// a recovery key. Otherwise the seal is shamir with one unseal key. The
// store and the token are removed at shutdown.
func runDev(ctx context.Context, addr, sealType string, stdout, stderr io.Writer) error {
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
	sealNote := "shamir, one unseal key"
	_, haveSoftHSM := softhsm.Available()
	switch {
	case sealType == "shamir":
	case sealType != "pkcs11" && sealType != "":
		return fmt.Errorf("-dev-seal must be pkcs11 or shamir")
	case !haveSoftHSM && sealType == "pkcs11":
		return fmt.Errorf("-dev-seal=pkcs11 needs SoftHSM2 (apt-get install softhsm2)")
	case haveSoftHSM:
		tok, err := softhsm.Create(filepath.Join(dir, "softhsm"), "strongroom-dev")
		if err != nil {
			return fmt.Errorf("dev SoftHSM2 token: %w", err)
		}
		// SoftHSM2 reads its configuration path at C_Initialize, from this
		// process's environment.
		if err := os.Setenv(softhsm.EnvConf, tok.ConfPath); err != nil {
			return err
		}
		cfg.Seals = []*Seal{{Type: "pkcs11", PKCS11: &PKCS11Seal{
			Lib: tok.Lib, TokenLabel: tok.Label, PIN: tok.PIN, KeyLabel: "strongroom-dev-master", GenerateKey: true,
		}}}
		sealNote = fmt.Sprintf("pkcs11 (auto-unseal) on a throwaway SoftHSM2 token %q in %s", tok.Label, tok.Dir)
	}
	return serve(ctx, cfg, stdout, stderr, func(n *node) error {
		req := sys.InitRequest{SecretShares: 1, SecretThreshold: 1}
		if n.hsm != nil {
			req = sys.InitRequest{RecoveryShares: 1, RecoveryThreshold: 1}
		}
		res, err := n.sys.Init(ctx, req)
		if err != nil {
			return fmt.Errorf("dev init: %w", err)
		}
		label, key := "Unseal Key", ""
		if n.hsm != nil {
			label, key = "Recovery Key", res.RecoveryKeysB64[0]
		} else {
			key = res.KeysB64[0]
			if _, err := n.sys.Unseal(ctx, sys.UnsealRequest{Key: key}); err != nil {
				return fmt.Errorf("dev unseal: %w", err)
			}
		}
		// Vault's dev server mounts kv-v2 at secret/.
		if err := n.mounts.Mount(ctx, "secret", mounts.MountInput{Type: "kv-v2", Description: "key/value secret storage"}); err != nil {
			return fmt.Errorf("dev mount secret/: %w", err)
		}
		fmt.Fprintf(stdout, devBanner, n.addrs[0], sealNote, n.addrs[0], label, key, res.RootToken)
		return nil
	})
}

const devBanner = `==> Strongroom server started! Listening on %s

WARNING! dev mode is enabled! In this mode, Strongroom runs on a temporary
store and starts unsealed. Nothing survives a restart.

Seal: %s

You may need to set the following environment variables:

    $ export VAULT_ADDR='%s'

The key and root token are displayed below in case you want to
seal/unseal the server or re-authenticate.

%s: %s
Root Token: %s

Development mode should NOT be used in production installations!
`
