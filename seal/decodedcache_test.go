package seal

import (
	"context"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/storage"
)

// TestGetDecoded: an unchanged record is decoded once and then served from
// the cache; a rewritten one is opened and decoded again; bytes copied to
// another key are opened there, and refused, never served from the cache;
// a barrier sealed while a transaction runs answers ErrSealed on a hit too;
// records over the size limit are not kept, and a full cache starts over.
func TestGetDecoded(t *testing.T) {
	ctx := context.Background()
	st, _ := openBolt(t)
	b := New(st, []byte("t1"), Options{})
	shares := initUnseal(t, b, 1, 1)
	c := NewDecodedCache(2, 64) // stored bytes: the plaintext and Overhead (45)
	decodes := 0
	decode := func(raw []byte) (any, error) {
		decodes++
		return string(raw), nil
	}
	get := func(key string) (any, error) {
		t.Helper()
		var v any
		err := b.View(ctx, func(tx *ReadTx) error {
			var err error
			v, err = tx.GetDecoded(c, []byte(key), decode)
			return err
		})
		return v, err
	}

	putRecord(t, b, "a", "one")
	for range 3 {
		if v, err := get("a"); err != nil || v != "one" {
			t.Fatalf("GetDecoded(a) = %v, %v", v, err)
		}
	}
	if decodes != 1 || c.Len() != 1 {
		t.Fatalf("three reads decoded %d times, cache holds %d", decodes, c.Len())
	}
	putRecord(t, b, "a", "two")
	if v, err := get("a"); err != nil || v != "two" || decodes != 2 {
		t.Fatalf("after a rewrite: %v, %v, %d decodes", v, err, decodes)
	}
	if _, err := get("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing record: %v", err)
	}

	// The stored bytes of "a", copied under "b" in the raw store.
	err := st.Update(ctx, func(tx storage.Tx) error {
		raw, err := tx.Get(b.dataKey([]byte("a")))
		if err != nil {
			return err
		}
		return tx.Set(b.dataKey([]byte("b")), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := get("b"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a record moved to another key: %v, %v; want ErrDecrypt", v, err)
	}

	// Sealed between the start of a transaction and a cache hit.
	err = b.View(ctx, func(tx *ReadTx) error {
		b.Seal()
		_, err := tx.GetDecoded(c, []byte("a"), decode)
		return err
	})
	if !errors.Is(err, ErrSealed) {
		t.Fatalf("a hit after the seal: %v, want ErrSealed", err)
	}
	if _, err := b.Unseal(ctx, shares[0], false); err != nil || b.Sealed() {
		t.Fatalf("unseal: %v", err)
	}

	// Size and count bounds.
	putRecord(t, b, "big", string(make([]byte, 64)))
	before := decodes
	get("big")
	get("big")
	if decodes != before+2 {
		t.Errorf("a record over the size limit was cached")
	}
	putRecord(t, b, "c", "three")
	get("c") // the third entry: the cache (a, c at most 2) starts over
	if n := c.Len(); n > 2 {
		t.Errorf("cache holds %d entries, limit 2", n)
	}
}

// TestForgetDecoded: a view's records leave the cache; another view's stay.
func TestForgetDecoded(t *testing.T) {
	ctx := context.Background()
	st, _ := openBolt(t)
	b := New(st, []byte("t1"), Options{})
	initUnseal(t, b, 1, 1)
	c := NewDecodedCache(10, 4096)
	one, two := b.Sub([]byte("one/")), b.Sub([]byte("two/"))
	for _, v := range []*View{one, two} {
		if err := v.Update(ctx, func(tx *Tx) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
		err := v.View(ctx, func(tx *ReadTx) error {
			_, err := tx.GetDecoded(c, []byte("k"), func(raw []byte) (any, error) { return string(raw), nil })
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("%d records cached, want 2", c.Len())
	}
	one.ForgetDecoded(c)
	if c.Len() != 1 {
		t.Fatalf("%d records cached after forgetting one view, want 1", c.Len())
	}
	decoded := false
	err := two.View(ctx, func(tx *ReadTx) error {
		_, err := tx.GetDecoded(c, []byte("k"), func(raw []byte) (any, error) { decoded = true; return string(raw), nil })
		return err
	})
	if err != nil || decoded {
		t.Fatalf("the other view's record: %v, decoded again %v", err, decoded)
	}
}
