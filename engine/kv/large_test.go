package kv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// TestLargeValue round-trips a 32 MiB secret value through v2 (written
// with SetLarge across several transactions) and v1, then destroys it.
func TestLargeValue(t *testing.T) {
	if testing.Short() {
		t.Skip("32 MiB round trip")
	}
	raw := make([]byte, 24<<20) // 32 MiB once base64-encoded
	rand.Read(raw)
	value := base64.StdEncoding.EncodeToString(raw)
	body, err := json.Marshal(map[string]any{"data": map[string]string{"blob": value}})
	if err != nil {
		t.Fatal(err)
	}
	e := newV2(t)
	ok(t, e.b, engine.OpUpdate, "data/big", `{"data":{"small":1}}`, "")
	ok(t, e.b, engine.OpUpdate, "data/big", string(body), "")
	resp := ok(t, e.b, engine.OpRead, "data/big", "", "")
	data := resp.Data.(dataResponse).Data
	var got struct{ Blob string }
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Blob) != 32<<20 || got.Blob != value {
		t.Fatalf("read back %d bytes", len(got.Blob))
	}
	if resp.Data.(dataResponse).Metadata.Version != 2 {
		t.Fatalf("version %d", resp.Data.(dataResponse).Metadata.Version)
	}
	// Patch of the large version writes another large version.
	ok(t, e.b, engine.OpPatch, "data/big", `{"data":{"more":true}}`, "")
	sub := dataOf(t, ok(t, e.b, engine.OpRead, "subkeys/big", "", ""))
	if wire(t, sub["subkeys"]) != `{"blob":null,"more":null}` {
		t.Fatalf("subkeys: %v", sub["subkeys"])
	}
	ok(t, e.b, engine.OpUpdate, "destroy/big", `{"versions":[2,3]}`, "")
	if n := len(rawKeys(t, e.view, versionPrefix("big"))); n != 1 {
		t.Fatalf("%d version records after destroy", n)
	}

	v1, _ := newV1(t)
	ok(t, v1, engine.OpUpdate, "big", fmt.Sprintf(`{"blob":%q}`, value), "")
	raw1 := ok(t, v1, engine.OpRead, "big", "", "").Data.(json.RawMessage)
	if !bytes.Equal(raw1, []byte(fmt.Sprintf(`{"blob":%q}`, value))) {
		t.Fatal("v1 large value differs")
	}
	if got := wire(t, ok(t, v1, engine.OpList, "", "", "").Data); got != `{"keys":["big"]}` {
		t.Fatalf("v1 list: %s", got)
	}
}

// TestThousandVersions writes 1,000 versions of one secret and checks
// that all are kept, readable, and that the metadata record stays small.
func TestThousandVersions(t *testing.T) {
	const n = 1000
	e := newV2(t)
	ok(t, e.b, engine.OpUpdate, "metadata/many", fmt.Sprintf(`{"max_versions":%d}`, n), "")
	for i := 1; i <= n; i++ {
		ok(t, e.b, engine.OpUpdate, "data/many", fmt.Sprintf(`{"data":{"i":%d}}`, i), "")
	}
	ok(t, e.b, engine.OpUpdate, "delete/many", `{"versions":[1,500,999]}`, "")
	md := dataOf(t, ok(t, e.b, engine.OpRead, "metadata/many", "", ""))
	if md["current_version"] != json.Number("1000") || md["oldest_version"] != json.Number("1") || len(md["versions"].(map[string]any)) != n {
		t.Fatalf("current %v oldest %v versions %d", md["current_version"], md["oldest_version"], len(md["versions"].(map[string]any)))
	}
	for _, v := range []int{2, 777, 1000} {
		got := dataOf(t, ok(t, e.b, engine.OpRead, "data/many", "", fmt.Sprintf("version=%d", v)))
		if wire(t, got["data"]) != fmt.Sprintf(`{"i":%d}`, v) {
			t.Fatalf("version %d: %v", v, got["data"])
		}
	}
	var size int
	err := e.view.View(context.Background(), func(tx *seal.ReadTx) error {
		raw, err := tx.Get(entryKey("many"))
		size = len(raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("metadata of %d versions: %d bytes", n, size)
	if size > 50_000 {
		t.Fatalf("metadata of %d versions is %d bytes", n, size)
	}
	// The next write prunes version 1 only.
	ok(t, e.b, engine.OpUpdate, "data/many", `{"data":{"i":1001}}`, "")
	if k := rawKeys(t, e.view, versionPrefix("many")); len(k) != n || string(k[0]) != string(versionKey("many", 2)) {
		t.Fatalf("%d records after the 1001st write", len(k))
	}
	// Deleting the secret removes all 1,000 records in one transaction.
	ok(t, e.b, engine.OpDelete, "metadata/many", "", "")
	if k := rawKeys(t, e.view, nil); len(k) != 0 {
		t.Fatalf("%d records left", len(k))
	}
}
