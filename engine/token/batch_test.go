package token

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

func makeBatch(t testing.TB, b *seal.Barrier, e *Entry) string {
	t.Helper()
	var tok string
	if err := b.View(context.Background(), func(tx *seal.ReadTx) error {
		var err error
		tok, err = CreateBatch(tx, e)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return tok
}

func lookup(b *seal.Barrier, tok string, now time.Time) (*Entry, error) {
	var e *Entry
	err := b.View(context.Background(), func(tx *seal.ReadTx) error {
		var err error
		e, err = Lookup(tx, tok, now)
		return err
	})
	return e, err
}

// TestBatchTokenLifecycle: a batch token carries its entry, writes
// nothing, survives a keyring rotation, expires at its TTL, and refuses
// what a batch token cannot have.
func TestBatchTokenLifecycle(t *testing.T) {
	b := unsealed(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	tok := makeBatch(t, b, &Entry{Policies: []string{"default", "app"}, Path: "auth/token/create", DisplayName: "token",
		Meta: map[string]string{"team": "x"}, CreationTime: now.Unix(), TTL: time.Hour})
	if _, err := b.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := lookup(b, tok, now.Add(59*time.Minute))
	if err != nil || e.Type != "batch" || e.Accessor != "" || len(e.Policies) != 2 || e.Meta["team"] != "x" ||
		e.ExpireTime != now.Add(time.Hour).Unix() || e.Renewable {
		t.Fatalf("lookup: %+v %v", e, err)
	}
	if _, err := lookup(b, tok, now.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("at its TTL: %v", err)
	}
	for name, e := range map[string]*Entry{
		"root":      {Policies: []string{"root"}, TTL: time.Hour},
		"no ttl":    {Policies: []string{"default"}},
		"num_uses":  {Policies: []string{"default"}, TTL: time.Hour, NumUses: 2},
		"renewable": {Policies: []string{"default"}, TTL: time.Hour, Renewable: true},
		"metadata":  {Policies: []string{"default"}, TTL: time.Hour, Meta: map[string]string{"big": string(make([]byte, MaxBatchTokenLen))}},
	} {
		err := b.View(ctx, func(tx *seal.ReadTx) error { _, err := CreateBatch(tx, e); return err })
		if !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzBatchToken presents any string as a batch token: only the tokens the
// tenant made open; everything else is ErrInvalid, never a panic or
// another error.
func FuzzBatchToken(f *testing.F) {
	b := unsealed(f)
	now := time.Now()
	good := makeBatch(f, b, &Entry{Policies: []string{"default"}, CreationTime: now.Unix(), TTL: time.Hour})
	// The same blob in another spelling: its last character with other
	// unused low bits (strict decoding refuses it).
	last := good[len(good)-1]
	alt := good[:len(good)-1] + string(rune(last^1))
	for _, s := range []string{good, good[:len(good)-1], good + "A", "srb.", "srb.AAAA", "srb.=", BatchPrefix + good, alt} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if !IsBatch(tok) {
			tok = BatchPrefix + tok
		}
		e, err := lookup(b, tok, now)
		switch {
		case err == nil:
			if tok != good || e.Type != "batch" {
				t.Fatalf("%q opened as %+v", tok, e)
			}
		case !errors.Is(err, ErrInvalid):
			t.Fatalf("%q: %v", tok, err)
		}
	})
}

// BenchmarkCreate measures auth/token/create of a service token (a durable
// write of the entry and its indexes) and of a batch token (a read
// transaction and one seal), and the lookup of each, on a real bbolt store.
func BenchmarkCreate(b *testing.B) {
	for _, typ := range []string{"service", "batch"} {
		be, _, root := newBackend(b)
		be.Now = time.Now
		body := []byte(`{"policies":["default"],"ttl":"1h","type":"` + typ + `"}`)
		var tok string
		b.Run(typ, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := be.HandleRequest(context.Background(), &engine.Request{Operation: engine.OpUpdate, Path: "create", ClientToken: root, Body: body, Sudo: true})
				if err != nil {
					b.Fatal(err)
				}
				tok = resp.Auth.ClientToken
			}
		})
		b.Run(typ+"-lookup", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lookup(be.Barrier, tok, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
