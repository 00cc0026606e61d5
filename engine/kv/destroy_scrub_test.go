package kv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
	"github.com/strongroom/strongroom/storage/tuple"
)

// rawValues returns every physical value in the store.
func rawValues(t *testing.T, st storage.Store) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := st.View(context.Background(), func(tx storage.ReadTx) error {
		kvs, err := tx.GetRange(storage.Range{})
		for _, kv := range kvs {
			out[string(kv.Value)] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDestroyRemovesCiphertextFromFile: after `kv destroy`, the destroyed
// version is gone from the raw bolt file, not only its plaintext but its
// record encrypted under the keyring term that still exists. Without the
// scrub, bbolt's free pages would keep it.
func TestDestroyRemovesCiphertextFromFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bar := seal.New(st, []byte("root"), seal.Options{})
	res, err := bar.Init(ctx, seal.InitRequest{SecretShares: 1, SecretThreshold: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bar.Unseal(ctx, res.Shares[0], false)
	b := NewV2(bar.Sub(tuple.Pack("mount", "m")), Options{})

	secret := make([]byte, 300_000)
	rand.Read(secret)
	body := `{"data":{"blob":"` + base64.StdEncoding.EncodeToString(secret) + `"}}`
	ok(t, b, engine.OpUpdate, "data/s", `{"data":{"v":"one"}}`, "")
	before := rawValues(t, st)
	ok(t, b, engine.OpUpdate, "data/s", body, "")
	var record [][]byte // the encrypted chunks of version 2
	for v := range rawValues(t, st) {
		if !before[v] && len(v) > 50_000 {
			record = append(record, []byte(v))
		}
	}
	if len(record) == 0 {
		t.Fatal("found no stored record of version 2")
	}
	raw, _ := os.ReadFile(path)
	for _, r := range record {
		if !bytes.Contains(raw, r[:256]) {
			t.Fatal("premise: version 2's encrypted record is not in the file before destroy")
		}
	}
	ok(t, b, engine.OpUpdate, "destroy/s", `{"versions":[2]}`, "")
	raw, _ = os.ReadFile(path)
	for i, r := range record {
		for off := 0; off+256 <= len(r); off += 4096 {
			if bytes.Contains(raw, r[off:off+256]) {
				t.Fatalf("chunk %d of the destroyed version's ciphertext is still in the file at offset %d", i, off)
			}
		}
	}
	// Version 1 is intact.
	resp := ok(t, b, engine.OpRead, "data/s", "", "version=1")
	if resp == nil || resp.Data == nil {
		t.Fatal("version 1 unreadable after destroying version 2")
	}
}
