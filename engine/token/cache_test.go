package token

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewCache(2, 10*time.Second)
	e := &Entry{CreationTime: now.Unix(), TTL: time.Minute, ExpireTime: now.Add(time.Minute).Unix()}
	c.Put("srs.a", e, now)
	if got, ok := c.Get("srs.a", now.Add(time.Second)); !ok || got != e {
		t.Fatal("fresh entry not served")
	}
	if _, ok := c.Get("srs.a", now.Add(11*time.Second)); ok {
		t.Fatal("entry served past MaxAge")
	}
	c.Put("srs.a", e, now.Add(55*time.Second))
	if _, ok := c.Get("srs.a", now.Add(61*time.Second)); ok {
		t.Fatal("expired token served from the cache")
	}
	c.Put("srs.b", e, now)
	c.Forget("srs.b")
	if _, ok := c.Get("srs.b", now); ok {
		t.Fatal("forgotten token served")
	}
	c.Put("srs.1", e, now)
	c.Put("srs.2", e, now)
	c.Put("srs.3", e, now) // over max: the cache starts over
	if len(c.entries) > 2 {
		t.Fatalf("cache holds %d entries, max 2", len(c.entries))
	}
	c.Clear()
	if _, ok := c.Get("srs.3", now); ok {
		t.Fatal("entry served after Clear")
	}
}
