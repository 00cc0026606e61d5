package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/strongroom/strongroom/seal/shamir"
)

// TestStoreHoldsNoSecret initialises and unseals a server, stops it, and
// scans the raw bolt file for the root token, every unseal key (raw, hex and
// base64) and the unseal key they combine into. None may appear. The root key
// and keyring, which never leave the process, are scanned for by the seal
// package's own test.
func TestStoreHoldsNoSecret(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, "-config", writeConfig(t, dir, boltConfig(dir)))
	c := newClient(t, p.addr)
	res := initAndUnseal(t, c, 5, 3)
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	p.stop(t)

	raw, err := os.ReadFile(filepath.Join(dir, "data", "strongroom.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		t.Fatal("empty store")
	}
	secrets := map[string][]byte{"root token": []byte(res.RootToken)}
	var shares [][]byte
	for i, k := range res.Keys {
		share, _ := hex.DecodeString(k)
		shares = append(shares, share)
		secrets["share raw "+k[:4]] = share
		secrets["share hex "+k[:4]] = []byte(k)
		secrets["share b64 "+k[:4]] = []byte(res.KeysB64[i])
	}
	unsealKey, err := shamir.Combine(shares[:3])
	if err != nil {
		t.Fatal(err)
	}
	secrets["combined unseal key"] = unsealKey
	secrets["combined unseal key b64"] = []byte(base64.StdEncoding.EncodeToString(unsealKey))
	// The scan must be able to find things: the storage type is in the file.
	if !bytes.Contains(raw, []byte("shamir")) {
		t.Fatal("scan sanity check: the plaintext seal config is not in the file")
	}
	for name, s := range secrets {
		if bytes.Contains(raw, s) {
			t.Errorf("the store file contains the %s", name)
		}
	}
}
