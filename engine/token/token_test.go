package token

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/sealtest"
)

func unsealed(t testing.TB) *seal.Barrier { return sealtest.Unsealed(t) }

func TestCreateLookupExpire(t *testing.T) {
	b := unsealed(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	var root, short string
	if err := b.Update(ctx, func(tx *seal.Tx) error {
		var err error
		if root, err = CreateRoot(tx, now); err != nil {
			return err
		}
		short, err = Create(tx, &Entry{Policies: []string{"default"}, CreationTime: now.Unix(), TTL: time.Minute, ExpireTime: now.Add(time.Minute).Unix(), Renewable: true, Type: "service", Parent: []byte("p")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(root, Prefix) || len(root) != len(Prefix)+32 || root == short {
		t.Fatalf("tokens %q %q", root, short)
	}
	lookup := func(tok string, at time.Time) (*Entry, error) {
		var e *Entry
		err := b.View(ctx, func(tx *seal.ReadTx) error {
			var err error
			e, err = Lookup(tx, tok, at)
			return err
		})
		return e, err
	}
	e, err := lookup(root, now.Add(1000*time.Hour))
	if err != nil || !e.IsRoot() || e.Accessor == "" {
		t.Fatalf("root lookup: %+v %v", e, err)
	}
	se, err := lookup(short, now.Add(30*time.Second))
	if err != nil || se.IsRoot() {
		t.Fatalf("short-lived token before expiry: %+v %v", se, err)
	}
	if _, err := lookup(short, now.Add(61*time.Second)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired token: %v", err)
	}
	for _, bad := range []string{"", "srs.", "hvs.abc", root + "x", strings.Repeat("srs.", 100)} {
		if _, err := lookup(bad, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("lookup(%q) = %v", bad, err)
		}
	}
	d := LookupData(short, se, now.Add(30*time.Second))
	if d["ttl"] != int64(30) || d["orphan"] != false || d["expire_time"] == nil || d["creation_ttl"] != int64(60) {
		t.Fatalf("lookup data: %v", d)
	}
}
