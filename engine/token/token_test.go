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
	// Non-expiring tokens (OpenBao's answers): the root token of
	// initialisation shows no renewable and no issue time; a root child
	// made by auth/token/create shows renewable false and its issue time.
	d = LookupData(root, e, now)
	if _, ok := d["renewable"]; ok || d["issue_time"] != nil {
		t.Fatalf("the initial root token's lookup: %v", d)
	}
	child := &Entry{Policies: []string{"root"}, Path: "auth/token/create", CreationTime: now.Unix(), Type: "service"}
	d = LookupData("", child, now)
	if d["renewable"] != false || d["issue_time"] != time.Unix(now.Unix(), 0).UTC().Format(time.RFC3339Nano) || d["expire_time"] != nil {
		t.Fatalf("a root child's lookup: %v", d)
	}
}

// TestLimitedTokensStayOutOfCaches: a token with a use limit is never
// cached, so revoking it bumps no epoch (no node's cache is emptied); a
// token without one bumps it.
func TestLimitedTokensStayOutOfCaches(t *testing.T) {
	b := unsealed(t)
	ctx := context.Background()
	now := time.Now()
	var plain, limited string
	if err := b.Update(ctx, func(tx *seal.Tx) error {
		var err error
		if plain, err = Create(tx, &Entry{Policies: []string{"default"}, CreationTime: now.Unix(), Type: "service"}); err != nil {
			return err
		}
		limited, err = Create(tx, &Entry{Policies: []string{"default"}, NumUses: 1, CreationTime: now.Unix(), Type: "service"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c := NewCache(10, time.Minute)
	c.Put(limited, &Entry{NumUses: 1}, now)
	if _, ok := c.Get(limited, now); ok {
		t.Fatal("a token with a use limit was cached")
	}
	epoch := func() uint64 {
		n, err := b.EpochCounter(ctx, seal.EpochTokens)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	revoke := func(tok string) {
		if err := b.Update(ctx, func(tx *seal.Tx) error {
			th, err := Hash(&tx.ReadTx, tok)
			if err != nil {
				return err
			}
			return RevokeTree(tx, th)
		}); err != nil {
			t.Fatal(err)
		}
	}
	e0 := epoch()
	revoke(limited)
	if e := epoch(); e != e0 {
		t.Fatalf("revoking a limited token moved the epoch %d -> %d", e0, e)
	}
	revoke(plain)
	if e := epoch(); e != e0+1 {
		t.Fatalf("revoking a token moved the epoch %d -> %d, want +1", e0, e)
	}
}
